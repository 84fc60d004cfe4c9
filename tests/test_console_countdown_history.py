"""SLA countdowns on the work page and a resident's whole history on the resident page (issue 5),
through the test client with CSRF on, and the countdown once in a real browser.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.models import WorkState
from tests import factories
from tests.test_console import (
    PASSWORD,
    agent,
    queue,
    signed_in,
    text,
)

__all__ = ["agent", "queue", "signed_in"]  # fixtures, re-used

HOSTILE = "<script>alert(1)</script><b>x</b>"


@pytest.fixture(autouse=True)
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


def _assign(
    session: Session, city: Jurisdiction, queue: Any, agent: Agent, due: dt.datetime
) -> Case:
    case = factories.make_case(session, city, due_at=due)
    item = factories.make_work(session, city, queue, case=case)
    item.state, item.agent_id, item.assigned_at = WorkState.ASSIGNED, agent.id, utcnow()
    session.commit()
    return case


def _person(session: Session, city: Jurisdiction, phone: str = "+16135550100") -> Resident:
    person = Resident(jurisdiction_id=city.id, display_name="Marge")
    session.add(person)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=city.id, resident=person, kind=ContactKind.PHONE, address=phone
        )
    )
    session.flush()
    return person


def _message(
    session: Session,
    person: Resident,
    body: str,
    at: dt.datetime,
    *,
    case: Case | None = None,
    channel: Channel = Channel.SMS,
    direction: Direction = Direction.INBOUND,
) -> Interaction:
    message = Interaction(
        jurisdiction_id=person.jurisdiction_id,
        case_id=case.id if case else None,
        resident_id=person.id,
        channel=channel,
        direction=direction,
        body=body,
        created_at=at,
        delivery_status=DeliveryStatus.RECEIVED,
    )
    session.add(message)
    session.flush()
    return message


def _history(page: str) -> str:
    start = page.index('<ol id="resident-interactions"')
    return page[start : page.index("</ol>", start)]


# ---------------------------------------------------------------------------------------------
# Countdowns


def test_the_work_page_marks_due_times_for_a_countdown_and_keeps_the_absolute_time(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Any, agent: Agent
) -> None:
    due = utcnow() + dt.timedelta(hours=2)
    _assign(session, city, queue, agent, due)
    page = text(signed_in.get("/console/"))
    work = page[page.index('<ol id="work"') :]
    marked = re.search(r'<time datetime="([^"]+)" data-countdown>([^<]+)</time>', work)
    assert marked is not None
    assert dt.datetime.fromisoformat(marked.group(1)) == due
    assert marked.group(2).strip()  # the absolute time, for no-JS and screen readers


def test_countdown_js_is_linked_deferred_from_every_page_and_served(
    signed_in: FlaskClient,
) -> None:
    page = text(signed_in.get("/console/"))
    assert re.search(r'<script src="/console/static/countdown\.js[^"]*" defer></script>', page)
    with signed_in.get("/console/static/countdown.js") as script:
        assert script.status_code == 200
        body = script.get_data(as_text=True)
    assert "data-countdown" in body and "overdue by " in body and "due in " in body
    assert 'aria-hidden", "true"' in body
    assert "fetch(" not in body and "XMLHttpRequest" not in body


# ---------------------------------------------------------------------------------------------
# The resident's whole history


def test_the_resident_page_lists_interactions_on_every_channel_newest_first_escaped(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    person = _person(session, city)
    first = factories.make_case(session, city, resident=person)
    second = factories.make_case(session, city, resident=person)
    now = utcnow()
    oldest = _message(session, person, "Pothole again", now - dt.timedelta(hours=3), case=first)
    email = _message(
        session,
        person,
        HOSTILE,
        now - dt.timedelta(hours=2),
        case=second,
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
    )
    stop = _message(session, person, "STOP", now - dt.timedelta(hours=1))
    session.commit()

    page = text(signed_in.get(f"/console/residents/{person.id}"))
    history = _history(page)
    order = [history.index(f'id="interaction-{m.id}"') for m in (stop, email, oldest)]
    assert order == sorted(order)  # newest first
    assert HOSTILE not in page and html.escape(HOSTILE) in history
    stop_row = history[order[0] : order[1]]
    assert "STOP" in stop_row and "No case" in stop_row and "sms" in stop_row
    email_row = history[order[1] : order[2]]
    assert "email" in email_row and "outbound" in email_row
    assert f'href="/console/cases/{second.id}"' in email_row and second.tracking_number in email_row
    oldest_row = history[order[2] :]
    assert first.tracking_number in oldest_row and "inbound" in oldest_row
    assert "<time datetime=" in oldest_row


def test_the_resident_page_shows_at_most_the_100_newest_interactions(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    person = _person(session, city)
    start = utcnow() - dt.timedelta(days=1)
    messages = [
        _message(session, person, f"message {n}", start + dt.timedelta(minutes=n))
        for n in range(105)
    ]
    session.commit()

    history = _history(text(signed_in.get(f"/console/residents/{person.id}")))
    assert history.count('id="interaction-') == 100
    assert f'id="interaction-{messages[-1].id}"' in history
    assert all(f'id="interaction-{m.id}"' not in history for m in messages[:5])


def test_the_resident_page_leaves_out_other_residents_interactions(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    person = _person(session, city)
    someone_else = _person(session, city, "+16135550199")
    _message(session, someone_else, "not theirs", utcnow())
    session.commit()
    page = text(signed_in.get(f"/console/residents/{person.id}"))
    assert "not theirs" not in page and 'id="resident-interactions"' not in page


def test_another_citys_resident_page_answers_404_and_shows_no_history(
    signed_in: FlaskClient, session: Session, other_city: Jurisdiction
) -> None:
    foreign = _person(session, other_city, "+16135550199")
    _message(session, foreign, "secret", utcnow())
    session.commit()
    response = signed_in.get(f"/console/residents/{foreign.id}")
    assert response.status_code == 404 and "secret" not in text(response)


def test_the_resident_pages_query_count_does_not_grow_with_interactions(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    count_queries: Callable[[], Any],
) -> None:
    person = _person(session, city)

    def add(count: int) -> None:
        for _ in range(count):
            case = factories.make_case(session, city, resident=person)
            _message(session, person, "on a case", utcnow(), case=case)
            _message(session, person, "on no case", utcnow(), channel=Channel.WEBCHAT)
        session.commit()

    def queries() -> int:
        with count_queries() as counter:
            assert signed_in.get(f"/console/residents/{person.id}").status_code == 200
        return int(counter.count)

    add(1)
    few = queries()
    add(10)
    assert queries() == few


# ---------------------------------------------------------------------------------------------
# In a real browser


def test_an_overdue_item_says_overdue_in_words_in_the_browser(
    browser_page: Any,
    live_server: str,
    session: Session,
    city: Jurisdiction,
    queue: Any,
    agent: Agent,
) -> None:
    late = _assign(session, city, queue, agent, utcnow() - dt.timedelta(minutes=5))
    soon = _assign(session, city, queue, agent, utcnow() + dt.timedelta(hours=1, minutes=12))
    page = browser_page
    page.goto("/console/login")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))

    overdue = page.locator(f"#work li:has-text('{late.tracking_number}') .countdown")
    overdue.wait_for()
    assert re.fullmatch(r" \(overdue by [456] min\)", overdue.text_content() or "")
    assert "overdue" in (overdue.get_attribute("class") or "")
    assert overdue.get_attribute("aria-hidden") == "true"
    upcoming = page.locator(f"#work li:has-text('{soon.tracking_number}') .countdown")
    assert re.search(r"due in 1 h 1[01] min", upcoming.text_content() or "")
    assert "overdue" not in (upcoming.get_attribute("class") or "")
