"""The staffing page (``/console/staffing``): the plan on a hand-built history, the calculator
without JavaScript, refusals as messages, escaping, who may see it, and a real browser drawing
the chart and using the calculator."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.jurisdictions.models import Jurisdiction
from tests import factories
from tests.test_console import sign_in, text
from tests.test_console_browser import _shot
from tests.test_console_staffing_api import history
from tests.test_forecast import MONDAY, local

PAGE = "/console/staffing"
PASSWORD = "correct horse battery"


def signed_in(client: FlaskClient, session: Session, *cities: Jurisdiction, role: Role) -> Any:
    agent, _ = factories.make_agent(session, list(cities), role=role)
    session.commit()
    assert sign_in(client, agent.email).status_code == 302
    return agent


def cell(page: str, row_id: str, name: str) -> str:
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.S)
    assert found, row_id
    value = re.search(rf'data-figure="{name}">(.*?)</t[dh]>', found.group(1), re.S)
    assert value, (row_id, name)
    return value.group(1).strip()


def fact(page: str, name: str) -> str:
    found = re.search(rf'<dd data-figure="{name}">(.*?)</dd>', page, re.S)
    assert found, name
    return found.group(1).strip()


@pytest.fixture
def supervisor(client: FlaskClient, session: Session, city: Jurisdiction) -> Any:
    return signed_in(client, session, city, role=Role.SUPERVISOR)


def test_the_plan_shows_forecast_actual_and_agents_per_half_hour(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    supervisor: Any,
    count_queries: Callable[[], Any],
) -> None:
    history(session, city, 100)
    with count_queries() as one_week:
        response = client.get(f"{PAGE}?start={MONDAY}&weeks=1")
    assert response.status_code == 200, text(response)
    page = text(response)
    nine = f"at-{local(MONDAY, 9).isoformat()}"
    assert cell(page, nine, "forecast") == "100.0"
    assert cell(page, nine, "actual") == "0"
    assert cell(page, nine, "agents") == "14"
    assert cell(page, nine, "scheduled_agents") == "20"
    assert cell(page, nine, "service_level") == "88.8 %"
    assert cell(page, nine, "probability_waiting") == "17.4 %"
    assert cell(page, nine, "asa") == "7.8 s"
    assert cell(page, f"day-{MONDAY}", "peak_scheduled") == "20"
    assert cell(page, f"day-{MONDAY}", "scheduled_hours") == "10"  # 20 agents for half an hour
    assert page.count('<tr id="at-') == 7 * 48
    assert "180 s handle time" in page and "four weeks before the forecast" in page
    assert 'id="staffing-data"' in page and "chart-4.6.1.umd.min.js" in page
    assert "https://" not in page  # nothing from elsewhere: the chart library is ours
    with count_queries() as two_weeks:
        assert client.get(f"{PAGE}?start={MONDAY}&weeks=2").status_code == 200
    assert two_weeks.count == one_week.count


def test_the_calculator_answers_the_worked_example_without_javascript(
    client: FlaskClient, city: Jurisdiction, supervisor: Any
) -> None:
    response = client.get(
        f"{PAGE}?contacts=100&interval_minutes=30&calc_aht=180&calc_target_percent=80"
        "&calc_target_seconds=20&calc_max_occupancy=85&calc_shrinkage=30"
    )
    assert response.status_code == 200, text(response)
    page = text(response)
    assert fact(page, "traffic") == "10.00 Erlangs"
    assert fact(page, "agents") == "14"
    assert fact(page, "scheduled_agents") == "20"
    assert fact(page, "service_level") == "88.8 %"
    assert fact(page, "asa") == "7.8 s"
    assert re.search(r"<th scope=\"row\">14 \(needed\)</th>", page)
    # The plan's form keeps the calculator's figures, and the calculator the plan's.
    assert '<input type="hidden" name="contacts" value="100">' in page
    assert '<input type="hidden" name="max_occupancy" value="85">' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("contacts=-5", "Contacts: at least 0"),
        ("contacts=lots", "Contacts: enter a number."),
        ("contacts=10&calc_target_percent=100", "Target share (%): more than 0 and less than 100"),
        ("contacts=10&interval_minutes=7.5", "In minutes: enter a whole number."),
        ("contacts=10&calc_shrinkage=100", "Shrinkage (%): at least 0 and less than 100"),
        ("contacts=900000&calc_aht=3600", "more than this calculator takes"),
        ("contacts=2000000", "Contacts: at least 0 and at most 1,000,000."),
        ("weeks=99", "Weeks: at least 1 and at most 12"),
        ("start=someday", "First day: enter a date (YYYY-MM-DD)."),
        ("channel=fax", "Channel: choose one from the list."),
        ("max_occupancy=0", "Maximum occupancy (%): more than 0 and at most 100"),
        ("aht_seconds=nan", "Handle time (s): enter a number."),
    ],
)
def test_bad_input_is_a_400_with_the_message_next_to_the_field(
    client: FlaskClient, city: Jurisdiction, supervisor: Any, query: str, message: str
) -> None:
    response = client.get(f"{PAGE}?{query}")
    assert response.status_code == 400
    page = html.unescape(text(response))
    assert message in page
    assert 'id="calculator-form"' in page  # the page is still there to correct


def test_what_was_typed_is_escaped(
    client: FlaskClient, city: Jurisdiction, supervisor: Any
) -> None:
    response = client.get(f"{PAGE}?contacts=<script>alert(1)</script>&start=<b>x</b>")
    page = text(response)
    assert response.status_code == 400
    assert "<script>alert(1)" not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_only_supervisors_of_the_jurisdiction_see_it(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    assert client.get(PAGE).status_code == 302  # to the sign-in page
    signed_in(client, session, city, role=Role.AGENT)
    assert client.get(PAGE).status_code == 403
    boss = client.application.test_client()
    signed_in(boss, session, city, role=Role.SUPERVISOR)
    response = boss.get(f"{PAGE}?jurisdiction={other_city.slug}")
    assert response.status_code == 404
    assert other_city.name not in text(response)


def test_a_supervisor_of_several_jurisdictions_picks_one(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    signed_in(client, session, city, other_city, role=Role.SUPERVISOR)
    page = text(client.get(PAGE))
    assert f"jurisdiction={other_city.slug}" in page and f"jurisdiction={city.slug}" in page
    history(session, other_city, 40)
    chosen = text(client.get(f"{PAGE}?jurisdiction={other_city.slug}&start={MONDAY}&weeks=1"))
    assert cell(chosen, f"at-{local(MONDAY, 9).isoformat()}", "forecast") == "40.0"


def test_a_queue_brings_its_own_contacts_and_target(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    supervisor: Any,
) -> None:
    roads = factories.make_queue(session, city, "roads", name="Roads <b>&</b> bridges")
    roads.service_targets = {"voice": {"seconds": 30, "percent": 90}}
    theirs = factories.make_queue(session, other_city, "roads", name="Their roads")
    session.commit()
    history(session, city, 40, queue_id=roads.id)
    history(session, city, 10)
    page = text(client.get(f"{PAGE}?start={MONDAY}&weeks=1&queue={roads.id}"))
    assert cell(page, f"at-{local(MONDAY, 9).isoformat()}", "forecast") == "40.0"
    assert "90 % answered within 30 s" in page
    assert "Roads &lt;b&gt;&amp;&lt;/b&gt; bridges" in page and "<b>&</b>" not in page
    assert "Their roads" not in page
    refused = client.get(f"{PAGE}?queue={theirs.id}")
    assert refused.status_code == 400
    assert "Queue: choose one from the list." in text(refused)


def _sign_in_browser(page: Any, email: str) -> None:
    page.goto("/console/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))


def test_in_a_browser_the_chart_draws_and_the_calculator_answers(
    browser_page: Any, session: Session, city: Jurisdiction
) -> None:
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR)
    session.commit()
    history(session, city, 100)
    page = browser_page
    _sign_in_browser(page, boss.email)
    page.goto(f"{PAGE}?start={MONDAY}&weeks=1")
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.getElementById('chart-forecast'))"
    )
    drawn = page.evaluate(
        """() => {
            const chart = window.Chart.getChart(document.getElementById('chart-forecast'));
            return {labels: chart.data.labels.length,
                    sets: chart.data.datasets.map(d => d.label),
                    top: Math.max(...chart.data.datasets[0].data)};
        }"""
    )
    _shot(page, "console-staffing")
    assert drawn == {
        "labels": 7 * 48,
        "sets": ["Forecast", "Actual", "Agents to schedule"],
        "top": 100,
    }

    page.get_by_label("Contacts", exact=True).fill("100")
    page.locator("#calc_aht").fill("180")
    page.get_by_role("button", name="Calculate").click()
    page.wait_for_load_state()
    _shot(page, "console-staffing-calculator")
    assert page.locator('#calculator-result [data-figure="agents"]').inner_text() == "14"
    assert page.locator('#calculator-result [data-figure="scheduled_agents"]').inner_text() == "20"
    # The plan is still the one asked for.
    assert page.locator("#weeks").input_value() == "1"
    assert page.locator("#start").input_value() == MONDAY.isoformat()
    page.wait_for_function(
        "() => window.Chart && window.Chart.getChart(document.getElementById('chart-forecast'))"
    )


def test_the_default_start_is_this_weeks_monday(
    client: FlaskClient, city: Jurisdiction, supervisor: Any
) -> None:
    page = text(client.get(PAGE))
    found = re.search(r'id="start" name="start" type="date" value="([\d-]+)"', page)
    assert found
    assert dt.date.fromisoformat(found.group(1)).weekday() == 0
    # Today's half-hours are the ones unfolded.
    today = dt.datetime.now(ZoneInfo(city.timezone)).date()
    opened = re.findall(r'<details class="staffing-day" open>\s*<summary>([^<]*)</summary>', page)
    assert opened == [f"{today.strftime('%A %d %B %Y')}: each half-hour"]
