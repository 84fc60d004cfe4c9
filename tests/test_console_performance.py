"""The console's performance screens (``/console/performance``, ``/console/scorecard``, the
drill-down ``/console/performance/cases`` and the CSV exports): who may see them, one
jurisdiction's figures never another's, bad query strings answered 400, the figures of a small
floor with their links to the cases behind them, escaping, and a bounded number of queries.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Role
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.contacts import refresh_contact_rollups
from contactcenter.routing.models import Queue, WorkItem, WorkState
from tests import factories
from tests.test_console import sign_in, text

HOSTILE = "<script>alert(1)</script><b>bold</b>"
PAGES = ("/console/performance", "/console/scorecard", "/console/performance/cases?figure=opened")


@pytest.fixture
def queue(session: Session, city: Jurisdiction) -> Queue:
    made = factories.make_queue(session, city, "general", name="General", is_default=True)
    session.commit()
    return made


@pytest.fixture
def supervisor(session: Session, city: Jurisdiction) -> Agent:
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR, name="Sam Boss")
    session.commit()
    return boss


@pytest.fixture
def signed_in(client: FlaskClient, supervisor: Agent) -> FlaskClient:
    response = sign_in(client, supervisor.email)
    assert response.status_code == 302, text(response)
    return client


def contact(
    session: Session,
    city: Jurisdiction,
    queue: Queue,
    *,
    created_at: dt.datetime,
    answered_after: int | None = None,
    abandoned: bool = False,
    channel: Channel = Channel.SMS,
    case: Case | None = None,
) -> WorkItem:
    """A contact that arrived at ``created_at``: answered after so many seconds, abandoned, or
    still waiting."""
    item = factories.make_work(
        session, city, queue, channel=channel, created_at=created_at, case=case
    )
    if answered_after is not None:
        item.assigned_at = created_at + dt.timedelta(seconds=answered_after)
        item.first_assigned_at = item.assigned_at
        item.state = WorkState.ASSIGNED
    if abandoned:
        item.state = WorkState.CANCELLED
    session.flush()
    return item


def drill_links(page: str) -> list[str]:
    return [
        html.unescape(m) for m in re.findall(r'href="(/console/performance/cases\?[^"]*)"', page)
    ]


# --- Who may see them -------------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/console/performance/export/cases.csv"])
def test_an_agent_is_refused_every_performance_page(
    client: FlaskClient, session: Session, city: Jurisdiction, path: str
) -> None:
    agent, _ = factories.make_agent(session, [city])
    session.commit()
    sign_in(client, agent.email)
    response = client.get(path)
    assert response.status_code == 403
    assert "Performance" not in text(response).split("<main", 1)[0]  # no nav link either


@pytest.mark.parametrize("path", PAGES)
def test_signed_out_the_pages_send_to_the_sign_in_page(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]


def test_a_supervisor_has_the_performance_scorecard_and_staffing_links(
    signed_in: FlaskClient,
) -> None:
    page = text(signed_in.get("/console/performance"))
    nav = page.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    assert 'href="/console/performance" aria-current="page">Performance<' in nav
    assert 'href="/console/scorecard"' in nav
    assert 'href="/console/staffing"' in nav


def test_a_supervisor_of_several_jurisdictions_chooses_one_first(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    boss, _ = factories.make_agent(session, [city, other_city], role=Role.SUPERVISOR)
    session.commit()
    sign_in(client, boss.email)
    for path in ("/console/performance", "/console/scorecard"):
        page = text(client.get(path))
        assert f"{path}?jurisdiction=springfield" in page
        assert f"{path}?jurisdiction=shelbyville" in page


# --- One jurisdiction's figures only ----------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/console/performance?jurisdiction=shelbyville",
        "/console/scorecard?jurisdiction=shelbyville",
        "/console/performance/cases?figure=opened&jurisdiction=shelbyville",
        "/console/performance/export/cases.csv?jurisdiction=shelbyville",
    ],
)
def test_another_jurisdiction_is_not_found(
    signed_in: FlaskClient, other_city: Jurisdiction, path: str
) -> None:
    assert signed_in.get(path).status_code == 404


def test_another_jurisdictions_queue_is_not_found(
    signed_in: FlaskClient, session: Session, other_city: Jurisdiction, queue: Queue
) -> None:
    theirs = factories.make_queue(session, other_city, "theirs")
    session.commit()
    assert signed_in.get(f"/console/performance?queue={theirs.id}").status_code == 404
    assert signed_in.get(f"/console/performance?queue={queue.id}").status_code == 200


def test_the_drill_down_lists_this_jurisdictions_cases_only(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    mine = factories.make_case(session, city)
    theirs = factories.make_case(session, other_city)
    session.commit()
    page = text(signed_in.get("/console/performance/cases?figure=opened"))
    assert mine.tracking_number in page
    assert f'href="/console/cases/{mine.id}"' in page
    assert theirs.tracking_number not in page


def test_the_export_holds_this_jurisdictions_cases_only(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    mine = factories.make_case(session, city)
    theirs = factories.make_case(session, other_city)
    session.commit()
    response = signed_in.get("/console/performance/export/cases.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    body = text(response)
    assert mine.tracking_number in body
    assert theirs.tracking_number not in body


# --- The figures ------------------------------------------------------------------------------


def tile(page: str, key: str) -> str:
    """The tile of figure ``key`` on a page, as HTML."""
    match = re.search(rf'<li class="tile[^"]*" data-figure="{key}">(.*?)</li>', page, re.S)
    assert match, key
    return match.group(1)


def test_the_dashboard_shows_the_periods_figures_against_the_last_and_the_target(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    now = utcnow()
    today = [contact(session, city, queue, created_at=now, answered_after=10) for _ in range(3)]
    today.append(contact(session, city, queue, created_at=now))
    contact(session, city, queue, created_at=now - dt.timedelta(days=1), answered_after=5)
    session.commit()
    refresh_contact_rollups(session, utcnow())
    session.commit()

    page = text(signed_in.get("/console/performance"))
    offered = tile(page, "offered")
    assert ">4</a>" in offered
    assert "Previous period: 1" in offered
    assert "(whole days, while this period runs only to now)" in page  # today so far
    assert '<span class="visually-hidden">up from 1 in the previous period</span>' in offered
    assert "What this counts" in offered and "aria-describedby" in offered
    service_level = tile(page, "service_level")
    assert "100.0 %" in service_level and "Target 80.0 %" in service_level
    assert "met" in service_level
    assert 'id="table-intervals"' in page and 'id="table-queues"' in page  # tables, no JS
    for link in drill_links(page):  # every link leads to a list, none to a refusal
        assert signed_in.get(link).status_code == 200, link
    assert '<script type="application/json" id="chart-data">' in page

    link = html.unescape(re.search(r'href="([^"]*)" data-drill="offered"', offered).group(1))
    assert "range=custom" in link
    listed = text(signed_in.get(link))
    for item in today:
        assert f'href="/console/cases/{item.case_id}"' in listed
    assert '<strong id="total">4</strong>' in listed


def test_a_filter_narrows_the_figures_and_their_drill_downs(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    roads = factories.make_queue(session, city, "roads", name="Roads")
    now = utcnow()
    contact(session, city, queue, created_at=now, channel=Channel.SMS)
    contact(session, city, roads, created_at=now, channel=Channel.EMAIL)
    contact(session, city, roads, created_at=now, channel=Channel.SMS)
    session.commit()
    refresh_contact_rollups(session, utcnow())
    session.commit()
    page = text(signed_in.get(f"/console/performance?queue={roads.id}&channel=sms"))
    assert ">1</a>" in tile(page, "offered")
    link = html.unescape(
        re.search(r'href="([^"]*)" data-drill="offered"', tile(page, "offered")).group(1)
    )
    assert f"queue={roads.id}" in link and "channel=sms" in link
    assert '<strong id="total">1</strong>' in text(signed_in.get(link))


def test_the_scorecard_breaks_the_cases_down_and_links_each_row_to_its_cases(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    for _ in range(2):
        factories.make_case(session, city, district="Ward 1")
    factories.make_case(session, city)
    session.commit()
    page = text(signed_in.get("/console/scorecard?dimension=district"))
    assert ">3</a>" in tile(page, "opened")
    assert "Goal 80.0 %" in tile(page, "within_target_rate")
    links = drill_links(page)
    ward = [link for link in links if "figure=opened" in link and "district=Ward+1" in link]
    assert ward
    assert '<strong id="total">2</strong>' in text(signed_in.get(ward[0]))
    unknown = [link for link in links if "figure=opened" in link and "district=none" in link]
    assert unknown
    assert '<strong id="total">1</strong>' in text(signed_in.get(unknown[0]))
    for link in links:
        assert signed_in.get(link).status_code == 200, link


@pytest.mark.parametrize("path", ["/console/performance", "/console/scorecard"])
def test_every_figure_shown_says_what_it_counts(signed_in: FlaskClient, path: str) -> None:
    page = text(signed_in.get(path))
    tiles = re.findall(r'<li class="tile[^"]*" data-figure="([a-z_]+)">(.*?)</li>', page, re.S)
    assert len(tiles) >= 15
    for key, body in tiles:
        described = re.search(r'aria-describedby="([^"]+)"', body)
        assert described, key
        definition = re.search(rf'<p id="{described.group(1)}">(.*?)</p>', body, re.S)
        assert definition and len(definition.group(1)) > 20, key
        assert "No definition given." not in body, key


@pytest.mark.parametrize("kind", ["cases", "contacts", "interactions"])
def test_each_export_is_a_csv_of_the_period(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue, kind: str
) -> None:
    item = contact(session, city, queue, created_at=utcnow())
    session.commit()
    response = signed_in.get(f"/console/performance/export/{kind}.csv?range=last7")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert f"springfield-{kind}-" in response.headers["Content-Disposition"]
    header, *rows = text(response).splitlines()
    assert "tracking_number" in header.split(",")
    if kind != "interactions":  # the case was filed with no message
        assert session.get_one(Case, item.case_id).tracking_number in "\n".join(rows)


# --- Bad query strings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "range=forever",
        "range=custom&from=2026-13-01&to=2026-12-31",
        "range=custom&from=yesterday&to=2026-01-01",
        "range=custom&from=2026-02-01&to=2026-01-01",
        "range=custom&from=2020-01-01&to=2026-01-01",
        "range=custom&from=1000-01-01&to=1000-01-02",
        "range=custom&from=2026-01-01",
        "grain=decade",
        "range=last30&grain=15min",
        "range=custom&from=2025-01-01&to=2025-12-31&grain=hour",
        "queue=abc",
        "queue=99999999999999999999",
        "queue=-1",
        "channel=fax",
    ],
)
def test_a_bad_dashboard_query_is_a_400_page(signed_in: FlaskClient, query: str) -> None:
    response = signed_in.get(f"/console/performance?{query}")
    assert response.status_code == 400, query
    assert "<h1>" in text(response)


@pytest.mark.parametrize("query", ["dimension=planet", "range=next_year", "from=2026-1-1&to=x"])
def test_a_bad_scorecard_query_is_a_400_page(signed_in: FlaskClient, query: str) -> None:
    assert signed_in.get(f"/console/scorecard?{query}").status_code == 400


@pytest.mark.parametrize(
    "query",
    [
        "",
        "figure=everything",
        "figure=opened&page=0",
        "figure=opened&page=abc",
        "figure=opened&page=99999999",
        "figure=opened&agent=boss",
        "figure=opened&department=%3Cscript%3E",
        "figure=opened&district=a%00b",
        "figure=opened&district=" + "x" * 65,
        "figure=opened&channel=fax",
    ],
)
def test_a_bad_drill_down_query_is_a_400_page(signed_in: FlaskClient, query: str) -> None:
    assert signed_in.get(f"/console/performance/cases?{query}").status_code == 400, query


def test_a_page_past_the_end_is_not_found(signed_in: FlaskClient) -> None:
    assert signed_in.get("/console/performance/cases?figure=opened&page=2").status_code == 404


def test_an_unknown_export_is_not_found(signed_in: FlaskClient) -> None:
    assert signed_in.get("/console/performance/export/residents.csv").status_code == 404


# --- The drill-down ---------------------------------------------------------------------------


def test_the_drill_down_pages_through_the_cases_newest_first(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    now = utcnow()
    cases = []
    for n in range(53):
        case = factories.make_case(session, city)
        case.created_at = now - dt.timedelta(minutes=53 - n)
        cases.append(case)
    session.commit()
    first = text(signed_in.get("/console/performance/cases?figure=opened"))
    assert re.search(r'<strong id="total">53</strong>', first)
    listed = re.findall(r'href="/console/cases/(\d+)"', first)
    assert [int(i) for i in listed] == [c.id for c in reversed(cases)][:50]
    assert 'rel="next"' in first and 'rel="prev"' not in first
    next_url = html.unescape(re.findall(r'href="([^"]*)" rel="next"', first)[0])
    second = text(signed_in.get(next_url))
    assert [int(i) for i in re.findall(r'href="/console/cases/(\d+)"', second)] == [
        c.id for c in cases[:3]
    ][::-1]
    assert 'rel="prev"' in second and 'rel="next"' not in second


def test_what_staff_and_residents_typed_is_escaped_in_the_drill_down(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    kind = factories.service_type(session, city, code="pothole")
    kind.name = f"Pothole {HOSTILE}"
    case = factories.make_case(session, city, description=HOSTILE, service_type=kind)
    case.district = f"Ward {HOSTILE}"
    worker, _ = factories.make_agent(session, [city], name=f"Eve {HOSTILE}")
    item = contact(session, city, queue, created_at=utcnow(), answered_after=5, case=case)
    item.agent_id = worker.id
    session.commit()
    for figure in ("opened", "answered"):
        page = text(signed_in.get(f"/console/performance/cases?figure={figure}"))
        assert case.tracking_number in page
        assert "<script>alert(1)" not in page and "<b>bold</b>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert HOSTILE not in text(signed_in.get("/console/performance/cases?figure=opened"))


def test_the_drill_down_filters_by_queue_and_channel(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Queue
) -> None:
    other = factories.make_queue(session, city, "roads", name="Roads")
    now = utcnow()
    here = contact(session, city, queue, created_at=now, channel=Channel.SMS)
    there = contact(session, city, other, created_at=now, channel=Channel.SMS)
    mail = contact(session, city, queue, created_at=now, channel=Channel.EMAIL)
    session.commit()
    tracking = {w.id: session.get_one(Case, w.case_id).tracking_number for w in (here, there, mail)}
    page = text(signed_in.get(f"/console/performance/cases?figure=offered&queue={queue.id}"))
    assert tracking[here.id] in page and tracking[mail.id] in page
    assert tracking[there.id] not in page
    assert "queue: General" in page
    page = text(
        signed_in.get(f"/console/performance/cases?figure=offered&queue={queue.id}&channel=email")
    )
    assert tracking[mail.id] in page
    assert tracking[here.id] not in page


# --- Bounded work -----------------------------------------------------------------------------


def _floor(session: Session, city: Jurisdiction, queue: Queue, n: int) -> None:
    now = utcnow()
    for i in range(n):
        contact(session, city, queue, created_at=now - dt.timedelta(minutes=i), answered_after=i)
        factories.make_case(session, city, status=CaseStatus.CLOSED)
    session.commit()
    refresh_contact_rollups(session, utcnow())
    session.commit()


@pytest.mark.parametrize(
    "path",
    [
        "/console/performance",
        "/console/performance?range=last7&grain=hour",
        "/console/scorecard",
        "/console/scorecard?dimension=district",
        "/console/scorecard?dimension=channel",
        "/console/performance/cases?figure=offered",
        "/console/performance/cases?figure=opened",
    ],
)
def test_the_pages_run_the_same_number_of_queries_whatever_the_volume(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    queue: Queue,
    count_queries: Callable[[], Any],
    path: str,
) -> None:
    _floor(session, city, queue, 2)
    with count_queries() as few:
        assert signed_in.get(path).status_code == 200
    _floor(session, city, queue, 30)
    with count_queries() as many:
        assert signed_in.get(path).status_code == 200
    assert many.count == few.count, path
    assert many.count <= 40
