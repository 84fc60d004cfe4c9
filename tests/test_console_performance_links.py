"""Where the dashboard's and the scorecard's links lead: an interval's row to exactly its
contacts, case and satisfaction figures unfiltered by queue or channel, several queues or
channels carried through, an agent's "handled" to the work they finished, satisfaction to the
cases closed with an answer; and how a short period's medians and backlog are compared."""

from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.contacts import refresh_contact_rollups
from contactcenter.performance.period import Period, close_time_caveats
from contactcenter.routing.models import Queue, WorkState
from tests import factories
from tests.test_console import sign_in, text
from tests.test_console_performance import contact, drill_links, tile


@pytest.fixture
def queue(session: Session, city: Jurisdiction) -> Queue:
    made = factories.make_queue(session, city, "general", name="General", is_default=True)
    session.commit()
    return made


@pytest.fixture
def signed_in(client: FlaskClient, session: Session, city: Jurisdiction) -> FlaskClient:
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR, name="Sam Boss")
    session.commit()
    assert sign_in(client, boss.email).status_code == 302
    return client


def _link(page: str, figure: str, where: str | None = None) -> str:
    scope = tile(page, where) if where else page
    found = re.search(rf'href="([^"]*)" data-drill="{figure}"', scope)
    assert found, figure
    return html.unescape(found.group(1))


def _total(client: FlaskClient, link: str) -> int:
    response = client.get(link)
    assert response.status_code == 200, (link, text(response))
    found = re.search(r'<strong id="total">([\d,]+)</strong>', text(response))
    assert found
    return int(found.group(1).replace(",", ""))


def test_an_hours_row_lists_the_contacts_of_that_hour_only(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    now = utcnow().replace(minute=30, second=0, microsecond=0)
    hour_ago = now - dt.timedelta(hours=1)
    if hour_ago.date() != now.date():  # the test needs two hours of one local day
        now, hour_ago = now + dt.timedelta(hours=1), now
    contact(session, city, queue, created_at=hour_ago)
    contact(session, city, queue, created_at=now)
    contact(session, city, queue, created_at=now + dt.timedelta(minutes=5))
    session.commit()
    refresh_contact_rollups(session, utcnow())
    session.commit()
    page = text(signed_in.get("/console/performance?grain=hour&range=last7"))
    links = [link for link in drill_links(page) if "start_at=" in link and "offered" in link]
    assert links, "the hourly rows link their own hour"
    totals = sorted(_total(signed_in, link) for link in links)
    assert totals[-2:] == [1, 2] and sum(totals) == 3


def test_a_bad_interval_is_a_400(signed_in: FlaskClient) -> None:
    for query in ("start_at=2026-11-03T11:00:00", "end_at=soon", "start_at=" + "9" * 60):
        response = signed_in.get(f"/console/performance/cases?figure=offered&{query}")
        assert response.status_code == 400, query


def test_case_and_satisfaction_tiles_are_not_filtered_by_queue_or_channel(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    roads = factories.make_queue(session, city, "roads", name="Roads")
    contact(session, city, queue, created_at=utcnow(), channel=Channel.SMS)
    contact(session, city, roads, created_at=utcnow(), channel=Channel.EMAIL)
    session.commit()
    page = text(
        signed_in.get(f"/console/performance?queue={queue.id}&queue={roads.id}&channel=sms")
    )
    offered = _link(page, "offered", "offered")
    assert f"queue={queue.id}" in offered and f"queue={roads.id}" in offered
    assert "channel=sms" in offered
    assert _total(signed_in, offered) == 1
    for figure in ("opened", "backlog", "surveyed", "rated"):
        link = _link(page, figure)
        assert "queue=" not in link and "channel=" not in link, (figure, link)
    assert _total(signed_in, _link(page, "opened")) == 2


def test_an_agents_handled_lists_the_work_they_finished(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    worker, _ = factories.make_agent(session, [city], name="Wanda Worker")
    done = contact(session, city, queue, created_at=utcnow() - dt.timedelta(minutes=10))
    done.first_assigned_at = done.assigned_at = done.created_at + dt.timedelta(seconds=5)
    done.completed_at = utcnow()
    done.state = WorkState.COMPLETED
    done.agent_id = worker.id
    holding = contact(session, city, queue, created_at=utcnow(), answered_after=1)
    holding.agent_id = worker.id
    session.commit()
    link = f"/console/performance/cases?figure=handled&agent={worker.id}&jurisdiction={city.slug}"
    listed = text(signed_in.get(link))
    assert '<strong id="total">1</strong>' in listed
    assert f'href="/console/cases/{done.case_id}"' in listed


def test_satisfaction_links_list_the_cases_closed_with_an_answer(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    now = utcnow()
    for score in (5, 2):
        case = factories.make_case(session, city, status=CaseStatus.RESOLVED, resolved_at=now)
        case.satisfaction = score
    factories.make_case(session, city, status=CaseStatus.RESOLVED, resolved_at=now)
    session.commit()
    for path in ("/console/performance", "/console/scorecard"):
        page = text(signed_in.get(path))
        rated = [link for link in drill_links(page) if "figure=rated" in link]
        assert rated, path
        assert _total(signed_in, rated[0]) == 2
    assert "figure=rated" in _link(
        text(signed_in.get("/console/scorecard")), "rated", "sat_average"
    )
    assert session.query(Case).count() == 3


def test_a_week_beside_the_week_before_hides_the_same_months_median_and_the_backlog(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    factories.make_case(session, city)
    session.commit()
    today = utcnow().date()
    monday = today - dt.timedelta(days=today.weekday())
    query = f"range=custom&from={monday}&to={monday + dt.timedelta(days=6)}"
    for path in ("/console/performance", "/console/scorecard"):
        page = text(signed_in.get(f"{path}?{query}"))
        backlog = tile(page, "backlog")
        assert "Previous period: —" in backlog
        median = tile(page, "median_days")
        assert "Over " in median, path
        _note, comparable = close_time_caveats(
            Period(monday, monday + dt.timedelta(days=6)),
            Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1)),
        )
        if not comparable:
            assert "Previous period: —" in median


def test_the_median_note_names_the_months_and_whole_months_need_none() -> None:
    week = Period(dt.date(2026, 3, 9), dt.date(2026, 3, 15))
    assert close_time_caveats(week, week.previous()) == ("over March 2026", False)
    straddling = Period(dt.date(2026, 3, 2), dt.date(2026, 3, 8))
    assert close_time_caveats(straddling, straddling.previous()) == ("over March 2026", True)
    march = Period(dt.date(2026, 3, 1), dt.date(2026, 3, 31))
    assert close_time_caveats(march, march.previous()) == ("", True)
    turn = Period(dt.date(2025, 12, 29), dt.date(2026, 1, 4))
    assert close_time_caveats(turn, turn.previous())[0] == "over December 2025 to January 2026"
