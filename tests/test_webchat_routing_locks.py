"""Web chat and routing, continued: the tick and a supervisor's reassignment take a case before
its work (no deadlock with an agent accepting, a resident ending, an agent completing), and a
live chat is never given to an agent who is not there to answer it.

Reuses the chat fixtures and helpers of ``tests/test_webchat.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.cases.models import Case, CaseEvent
from contactcenter.chats import service as chats
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.db import get_db, utcnow
from contactcenter.errors import Conflict
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.routing.models import (
    Offer,
    OfferState,
    Queue,
    WorkItem,
    WorkKind,
    WorkState,
)
from contactcenter.routing.reassign import reassign_work
from contactcenter.routing.tick import run_tick
from contactcenter.routing.transfer import transfer_case
from contactcenter.routing.work import accept_offer, complete_work
from contactcenter.sla.models import CaseClock, SlaPolicy
from tests import factories, test_webchat
from tests.factories import make_available_agent
from tests.test_console import flashes, post_form, sign_in, text
from tests.test_webchat import _accept, _chat, _started

# The chat suite's fixtures, used here as they are.
_fresh_limits = test_webchat._fresh_limits
chat_city = test_webchat.chat_city
agent = test_webchat.agent


def _general(session: Session) -> Queue:
    return session.scalars(sa.select(Queue).where(Queue.code == "general")).one()


def _chat_item(session: Session) -> WorkItem:
    """The chat's own work (the chat suite has one chat)."""
    case_id = _chat(session).case_id
    return session.scalars(
        sa.select(WorkItem).where(WorkItem.case_id == case_id, WorkItem.kind == WorkKind.CHAT)
    ).one()


@pytest.fixture
def boss(session: Session, chat_city: Jurisdiction) -> Agent:
    """A supervisor of the city, signed in but busy (so chats are not offered to them)."""
    made, _token = make_available_agent(
        session,
        chat_city,
        [_general(session)],
        presence=Presence.BUSY,
        role=Role.SUPERVISOR,
        name="Walter Boss",
    )
    session.commit()
    return made


def _colleague(session: Session, city: Jurisdiction, presence: Presence, **fields: Any) -> Agent:
    made, _token = make_available_agent(
        session, city, [_general(session)], presence=presence, name="Lee Colleague", **fields
    )
    session.commit()
    return made


def _postgres_only(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")


@contextmanager
def _meanwhile(
    app: Flask, starts_with: str, other: Callable[[], None]
) -> Iterator[list[threading.Thread]]:
    """Run ``other`` on a thread the first time this thread sends a statement beginning with
    ``starts_with``, and give it time to take its first locks before going on."""
    main = threading.get_ident()
    started: list[threading.Thread] = []

    def after(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if threading.get_ident() == main and statement.startswith(starts_with) and not started:
            thread = threading.Thread(target=other)
            started.append(thread)
            thread.start()
            time.sleep(0.7)

    engine = get_db(app).engine
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield started
    finally:
        event.remove(engine, "after_cursor_execute", after)
        for thread in started:
            thread.join(15)


def _outcome(exc: Exception) -> str:
    return type(exc).__name__ + ": " + str(exc).splitlines()[0]


# --- The tick ----------------------------------------------------------------------------------


def test_the_tick_never_deadlocks_with_an_agent_accepting_a_chat_whose_queue_time_is_up(
    app: Flask, client: FlaskClient, session: Session, run_jobs: Any, agent: tuple[Agent, str]
) -> None:
    """The tick reads overdue work while an agent accepts it (the agent holds the case and
    wants the work), then checks an SLA clock due on that same case."""
    _postgres_only(session)
    agent_row, _token = agent
    _started(client)
    run_jobs()
    item = _chat_item(session)
    offer = session.scalars(
        sa.select(Offer).where(Offer.work_item_id == item.id, Offer.state == OfferState.PENDING)
    ).one()
    # The chat's work has a second target queue, and its time in the first is up.
    item.targets = [item.targets[0], item.targets[0]]
    item.target_deadline_at = utcnow() - dt.timedelta(seconds=1)
    case = session.get_one(Case, item.case_id)
    policy = SlaPolicy(jurisdiction_id=case.jurisdiction_id, code="chat", name="Chat")
    session.add(policy)
    session.flush()
    past = utcnow() - dt.timedelta(seconds=5)
    session.add(
        CaseClock(
            case_id=case.id,
            jurisdiction_id=case.jurisdiction_id,
            policy_id=policy.id,
            started_at=past,
            first_response_warn_at=past,
            first_response_due_at=utcnow() + dt.timedelta(hours=1),
            next_check_at=past,
            warned=[],
            breached=[],
        )
    )
    session.commit()
    offer_id, item_id, case_id = offer.id, item.id, case.id
    outcome: dict[str, str] = {}

    def accept() -> None:
        with app.test_request_context():
            db = get_db().session()
            try:
                accept_offer(db, offer_id, db.get_one(Agent, agent_row.id))
                db.commit()
                outcome["accept"] = "ok"
            except Exception as exc:  # the test reports it
                outcome["accept"] = _outcome(exc)
            finally:
                db.close()

    with app.test_request_context(), _meanwhile(app, "SELECT work_items.id", accept):
        tick = get_db().session()
        try:
            run_tick(tick)
            tick.commit()
            outcome["tick"] = "ok"
        except Exception as exc:  # the test reports it
            outcome["tick"] = _outcome(exc)
            tick.rollback()
        finally:
            tick.close()

    assert outcome == {"accept": "ok", "tick": "ok"}
    session.expire_all()
    taken = session.get_one(WorkItem, item_id)
    assert (taken.state, taken.agent_id) == (WorkState.ASSIGNED, agent_row.id)
    # The clock whose case the accept held is checked by the next tick, and warns once.
    with app.test_request_context():
        run_tick(session)
        session.commit()
    warnings = session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case_id, CaseEvent.kind == "sla_warning")
    ).all()
    assert len(warnings) == 1


# --- A supervisor's reassignment ---------------------------------------------------------------


@pytest.mark.parametrize("meanwhile", ["resident ends the chat", "agent completes the work"])
def test_reassigning_a_chat_never_deadlocks_with_the_chat_ending(
    app: Flask,
    client: FlaskClient,
    session: Session,
    run_jobs: Any,
    agent: tuple[Agent, str],
    boss: Agent,
    meanwhile: str,
) -> None:
    _postgres_only(session)
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    chat_id, item_id, boss_id = _chat(session).id, _chat_item(session).id, boss.id
    session.rollback()
    outcome: dict[str, str] = {}

    def other() -> None:
        with app.test_request_context():
            db = get_db().session()
            try:
                if meanwhile == "resident ends the chat":
                    chats.end_chat(db, db.get_one(ChatSession, chat_id), by="resident")
                else:
                    complete_work(db, item_id, db.get_one(Agent, agent_row.id))
                db.commit()
                outcome["other"] = "ok"
            except Exception as exc:  # the test reports it
                outcome["other"] = _outcome(exc)
            finally:
                db.close()

    with app.test_request_context(), _meanwhile(app, "UPDATE work_items", other):
        db = get_db().session()
        try:
            by = db.get_one(Agent, boss_id)
            reassign_work(db, db.get_one(WorkItem, item_id), by, by=by)
            db.commit()
            outcome["reassign"] = "ok"
        except Exception as exc:  # the test reports it
            outcome["reassign"] = _outcome(exc)
            db.rollback()
        finally:
            db.close()

    if meanwhile == "resident ends the chat":
        # The reassignment went first; the resident's end then ends the new agent's chat.
        assert outcome == {"reassign": "ok", "other": "ok"}
        assert _chat(session).state == ChatState.ENDED
    else:
        # The work is the supervisor's now: the first agent can no longer complete it.
        assert outcome["reassign"] == "ok"
        assert outcome["other"].startswith("NotFound")
        item = _chat_item(session)
        assert (item.state, item.agent_id) == (WorkState.ASSIGNED, boss_id)
        assert _chat(session).state == ChatState.ACTIVE


# --- Live chats go only to agents who are there ---------------------------------------------------


@pytest.mark.parametrize("presence", [Presence.AWAY, Presence.OFFLINE])
def test_a_transfer_of_a_chat_to_an_agent_who_is_not_signed_in_is_refused(
    app: Flask,
    client: FlaskClient,
    session: Session,
    chat_city: Jurisdiction,
    boss: Agent,
    run_jobs: Any,
    presence: Presence,
) -> None:
    _started(client)
    run_jobs()
    away = _colleague(session, chat_city, presence)
    case_id = _chat(session).case_id
    assert sign_in(client, boss.email).status_code == 302

    response = post_form(
        client, f"/console/cases/{case_id}/transfer", {"target": f"agent:{away.id}"}
    )

    assert response.status_code == 302
    page = text(client.get(f"/console/cases/{case_id}"))
    assert any(f"Lee Colleague is {presence}" in message for message in flashes(page))
    chat, item = _chat(session), _chat_item(session)
    assert (chat.state, chat.agent_id) == (ChatState.WAITING, None)
    assert chat.wait_deadline_at is not None
    assert (item.state, item.agent_id) == (WorkState.WAITING, None)
    assert session.get_one(Case, case_id).assigned_agent_id is None


def test_a_transfer_of_a_chat_to_an_agent_who_is_busy_with_room_goes_through(
    client: FlaskClient, session: Session, chat_city: Jurisdiction, boss: Agent, run_jobs: Any
) -> None:
    _started(client)
    run_jobs()
    busy = _colleague(session, chat_city, Presence.BUSY)
    case_id = _chat(session).case_id
    assert sign_in(client, boss.email).status_code == 302

    post_form(client, f"/console/cases/{case_id}/transfer", {"target": f"agent:{busy.id}"})

    chat = _chat(session)
    assert (chat.state, chat.agent_id) == (ChatState.ACTIVE, busy.id)


def test_a_supervisor_cannot_reassign_a_live_chat_to_an_agent_who_is_away(
    client: FlaskClient,
    session: Session,
    chat_city: Jurisdiction,
    agent: tuple[Agent, str],
    boss: Agent,
    run_jobs: Any,
) -> None:
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    away = _colleague(session, chat_city, Presence.AWAY)
    item_id = _chat_item(session).id
    assert sign_in(client, boss.email).status_code == 302

    response = post_form(
        client,
        f"/console/wallboard/work/{item_id}/reassign",
        {"agent_id": str(away.id), "jurisdiction": chat_city.slug},
    )

    assert response.status_code == 302
    page = text(client.get(f"/console/wallboard?jurisdiction={chat_city.slug}"))
    assert any("Lee Colleague is away" in message for message in flashes(page))
    item = _chat_item(session)
    assert (item.state, item.agent_id) == (WorkState.ASSIGNED, agent_row.id)
    assert _chat(session).agent_id == agent_row.id


def test_a_live_chat_is_not_given_to_an_agent_with_no_chat_room_left(
    app: Flask,
    client: FlaskClient,
    session: Session,
    chat_city: Jurisdiction,
    agent: tuple[Agent, str],
    boss: Agent,
    run_jobs: Any,
) -> None:
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    full = _colleague(session, chat_city, Presence.BUSY, capacity={"webchat": 1})
    # They already have a chat of another case.
    other = factories.make_case(session, chat_city, channel=Channel.WEBCHAT)
    held = factories.make_work(
        session, chat_city, _general(session), case=other, channel=Channel.WEBCHAT
    )
    held.kind = WorkKind.CHAT
    held.state, held.agent_id, held.assigned_at = WorkState.ASSIGNED, full.id, utcnow()
    session.commit()
    item = _chat_item(session)
    case = session.get_one(Case, item.case_id)

    with app.test_request_context():
        with pytest.raises(Conflict) as by_reassign:
            reassign_work(session, item, full, by=boss)
        session.rollback()
        with pytest.raises(Conflict) as by_transfer:
            transfer_case(session, case, boss, to_agent=full)
        session.rollback()

    assert by_reassign.value.code == by_transfer.value.code == "agent_not_available"
    assert "no room" in by_reassign.value.message
    assert _chat_item(session).agent_id == agent_row.id


def test_other_work_may_still_be_transferred_to_an_agent_who_is_away(
    client: FlaskClient, session: Session, chat_city: Jurisdiction, boss: Agent
) -> None:
    """Only live work needs its agent there: a text waits in their list for their return."""
    away = _colleague(session, chat_city, Presence.AWAY)
    case = factories.make_case(session, chat_city)
    factories.make_work(session, chat_city, _general(session), case=case)
    session.commit()
    assert sign_in(client, boss.email).status_code == 302

    post_form(client, f"/console/cases/{case.id}/transfer", {"target": f"agent:{away.id}"})

    session.expire_all()
    assert session.get_one(Case, case.id).assigned_agent_id == away.id
