"""Web chat where it meets routing and the rest of the case: transfers, reassignment, the tick,
lock order against status changes, resolving through duplicates, API replies, resident merges.

Reuses the chat fixtures and helpers of ``tests/test_webchat.py``.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence
from contactcenter.cases.duplicates import mark_duplicate
from contactcenter.cases.models import Case, CaseStatus, Interaction
from contactcenter.cases.queries import lock_case
from contactcenter.cases.service import change_status
from contactcenter.chats import service as chats
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.db import get_db
from contactcenter.messages import Channel, Direction
from contactcenter.residents.merge import merge_residents
from contactcenter.residents.models import Resident
from contactcenter.routing.models import (
    LIVE_WORK_STATES,
    Offer,
    Queue,
    WorkItem,
    WorkKind,
    WorkState,
)
from contactcenter.routing.reassign import reassign_work
from contactcenter.routing.tick import run_tick
from contactcenter.routing.transfer import transfer_case
from contactcenter.routing.work import accept_offer
from tests import factories, test_webchat
from tests.factories import make_available_agent, make_queue
from tests.test_webchat import _accept, _auth, _chat, _started

# The chat suite's fixtures, used here as they are.
_fresh_limits = test_webchat._fresh_limits
chat_city = test_webchat.chat_city
agent = test_webchat.agent


def _live_items(session: Session, case_id: int) -> list[tuple[WorkKind, WorkState, int]]:
    session.expire_all()
    return [
        (i.kind, i.state, i.queue_id)
        for i in session.scalars(
            sa.select(WorkItem)
            .where(WorkItem.case_id == case_id, WorkItem.state.in_(LIVE_WORK_STATES))
            .order_by(WorkItem.id)
        )
    ]


def _queue(session: Session, code: str) -> Queue:
    return session.scalars(sa.select(Queue).where(Queue.code == code)).one()


@pytest.fixture
def supervisor(session: Session, chat_city: Any) -> Agent:
    """Someone of the city who is signed in but busy (so the chat waits, and is not theirs)."""
    made, _token = make_available_agent(
        session, chat_city, [_queue(session, "general")], presence=Presence.BUSY, name="Sam Sup"
    )
    session.commit()
    return made


# --- Transfers and reassignment ---------------------------------------------------------------


def test_transferring_a_waiting_chat_moves_its_chat_work_and_makes_no_second(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    roads = make_queue(session, chat_city, "roads")
    session.commit()
    _started(client, phone="+16135550142")
    run_jobs()
    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)

    with app.app_context():
        transfer_case(session, case, supervisor, queue=roads)
        session.commit()

    # One resident, one piece of live work: the chat, now waiting in the new queue.
    assert _live_items(session, case.id) == [(WorkKind.CHAT, WorkState.WAITING, roads.id)]
    assert _chat(session).state == ChatState.WAITING


def test_the_tick_hands_off_a_transferred_chat_and_goes_on(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    roads = make_queue(session, chat_city, "roads")
    session.commit()
    _started(client, phone="+16135550142")
    run_jobs()
    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)
    with app.app_context():
        transfer_case(session, case, supervisor, queue=roads)
        session.commit()
        run_tick(session, _chat(session).wait_deadline_at + dt.timedelta(seconds=1))
        session.commit()

    assert _chat(session).state == ChatState.HANDED_OFF
    # The case waits for its first response once, where it was transferred to.
    assert _live_items(session, case.id) == [(WorkKind.FIRST_RESPONSE, WorkState.WAITING, roads.id)]


def test_the_resident_ends_a_transferred_chat(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    roads = make_queue(session, chat_city, "roads")
    session.commit()
    data = _started(client, phone="+16135550142")
    run_jobs()
    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)
    with app.app_context():
        transfer_case(session, case, supervisor, queue=roads)
        session.commit()

    response = client.post("/chat/api/end", headers=_auth(data["token"]))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["session"]["state"] == "ended"
    assert _live_items(session, case.id) == [(WorkKind.FIRST_RESPONSE, WorkState.WAITING, roads.id)]


def test_a_case_already_waiting_for_its_first_response_gets_no_second_when_the_chat_ends(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    data = _started(client, phone="+16135550142")
    run_jobs()
    chat = _chat(session)
    # As a transfer made before the fix did: first-response work while the chat waits.
    first = session.scalars(
        sa.select(WorkItem).where(
            WorkItem.case_id == chat.case_id, WorkItem.kind == WorkKind.FIRST_RESPONSE
        )
    ).one()
    first.state = WorkState.WAITING
    first.completed_at = None
    session.commit()

    response = client.post("/chat/api/end", headers=_auth(data["token"]))

    assert response.status_code == 200, response.get_json()
    assert [k for k, _s, _q in _live_items(session, chat.case_id)] == [WorkKind.FIRST_RESPONSE]


def test_transferring_a_waiting_chat_to_an_agent_gives_them_the_chat(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    _started(client)
    run_jobs()
    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)

    with app.app_context():
        transfer_case(session, case, supervisor, to_agent=supervisor)
        session.commit()

    chat = _chat(session)
    assert chat.state == ChatState.ACTIVE
    assert chat.agent_id == supervisor.id
    assert chat.wait_deadline_at is None
    assert _live_items(session, case.id) == [
        (WorkKind.CHAT, WorkState.ASSIGNED, _queue(session, "general").id)
    ]
    bodies = [b for (b,) in session.execute(sa.select(Interaction.body))]
    assert any("Sam Sup" in b for b in bodies)  # the resident hears who joined


def test_transferring_an_active_chat_to_a_queue_makes_the_resident_wait_again(
    app: Flask,
    client: FlaskClient,
    session: Session,
    agent: tuple[Agent, str],
    supervisor: Agent,
    run_jobs,
) -> None:
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    roads = make_queue(session, _chat(session).case.jurisdiction, "roads")
    session.commit()
    case = session.get_one(Case, _chat(session).case_id)

    with app.app_context():
        transfer_case(session, case, supervisor, queue=roads)
        session.commit()

    chat = _chat(session)
    assert chat.state == ChatState.WAITING
    assert chat.agent_id is None
    assert chat.wait_deadline_at is not None
    assert _live_items(session, case.id) == [(WorkKind.CHAT, WorkState.WAITING, roads.id)]


def test_reassigning_a_chat_makes_the_new_agent_the_chats_agent(
    app: Flask,
    client: FlaskClient,
    session: Session,
    agent: tuple[Agent, str],
    supervisor: Agent,
    run_jobs,
) -> None:
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    item = session.scalars(sa.select(WorkItem).where(WorkItem.kind == WorkKind.CHAT)).one()

    with app.app_context():
        reassign_work(session, item, supervisor, by=supervisor)
        session.commit()

    chat = _chat(session)
    assert chat.state == ChatState.ACTIVE
    assert chat.agent_id == supervisor.id
    assert chats.session_json(session, chat)["agent_name"] == "Sam Sup"


# --- The tick ------------------------------------------------------------------------------------


def test_one_chat_that_cannot_be_handed_off_does_not_stop_the_others(
    app: Flask,
    client: FlaskClient,
    session: Session,
    chat_city: Any,
    supervisor: Agent,
    run_jobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _started(client, description="First chat")
    _started(client, description="Second chat")
    run_jobs()
    session.expire_all()
    first, second = session.scalars(sa.select(ChatSession).order_by(ChatSession.id)).all()
    real = chats.hand_off

    def failing(db: Session, chat: ChatSession, now: Any = None) -> bool:
        if chat.id == first.id:
            raise SQLAlchemyError("boom")
        return real(db, chat, now)

    monkeypatch.setattr(chats, "hand_off", failing)
    deadline = max(first.wait_deadline_at, second.wait_deadline_at)
    with app.app_context():
        touched = run_tick(session, deadline + dt.timedelta(seconds=1))
        session.commit()

    session.expire_all()
    assert touched == {chat_city.id}
    assert session.get_one(ChatSession, first.id).state == ChatState.WAITING
    assert session.get_one(ChatSession, second.id).state == ChatState.HANDED_OFF


# --- Lock order (PostgreSQL) -------------------------------------------------------------------


def _postgres_only(session: Session) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks: PostgreSQL only")


def test_the_resident_ending_while_the_agent_resolves_does_not_deadlock(
    app: Flask, client: FlaskClient, session: Session, run_jobs, agent: tuple[Agent, str]
) -> None:
    _postgres_only(session)
    agent_row, token = agent
    _started(client)
    run_jobs()
    _accept(client, session, agent_row, token)
    chat = _chat(session)
    case_id, chat_id, jurisdiction_id = chat.case_id, chat.id, chat.jurisdiction_id
    session.rollback()
    outcome: dict[str, str] = {}

    def resident() -> None:
        with app.test_request_context():
            db = get_db().session()
            try:
                found = db.get_one(ChatSession, chat_id)
                end_chat_started.set()
                chats.end_chat(db, found, by="resident")
                db.commit()
                outcome["resident"] = "ok"
            except Exception as exc:  # the test reports it
                outcome["resident"] = repr(exc)
            finally:
                db.close()

    end_chat_started = threading.Event()
    with app.test_request_context():
        db = get_db().session()
        try:
            case = lock_case(db, [jurisdiction_id], case_id)  # the console locks the case
            thread = threading.Thread(target=resident)
            thread.start()
            end_chat_started.wait(5)
            time.sleep(0.5)  # the resident's end is now waiting on the case
            change_status(
                db, case, CaseStatus.RESOLVED, agent=db.get_one(Agent, agent_row.id), note=""
            )
            db.commit()
            outcome["agent"] = "ok"
        except Exception as exc:  # the test reports it
            outcome["agent"] = repr(exc)
            db.rollback()
        finally:
            db.close()
        thread.join(10)

    assert outcome == {"agent": "ok", "resident": "ok"}
    assert _chat(session).state == ChatState.ENDED


def test_an_agent_accepting_while_another_resolves_the_case_does_not_deadlock(
    app: Flask, client: FlaskClient, session: Session, run_jobs, agent: tuple[Agent, str]
) -> None:
    _postgres_only(session)
    agent_row, _token = agent
    _started(client)
    run_jobs()
    session.expire_all()
    offer = session.scalars(sa.select(Offer).where(Offer.agent_id == agent_row.id)).one()
    chat = _chat(session)
    case_id, offer_id, jurisdiction_id = chat.case_id, offer.id, chat.jurisdiction_id
    session.rollback()
    outcome: dict[str, str] = {}
    accepting = threading.Event()

    def accept() -> None:
        with app.test_request_context():
            db = get_db().session()
            try:
                accepting.set()
                accept_offer(db, offer_id, db.get_one(Agent, agent_row.id))
                db.commit()
                outcome["accept"] = "ok"
            except Exception as exc:  # the test reports it
                outcome["accept"] = type(exc).__name__
            finally:
                db.close()

    with app.test_request_context():
        db = get_db().session()
        try:
            case = lock_case(db, [jurisdiction_id], case_id)
            thread = threading.Thread(target=accept)
            thread.start()
            accepting.wait(5)
            time.sleep(0.5)  # the accept now waits on the case
            change_status(
                db, case, CaseStatus.RESOLVED, agent=db.get_one(Agent, agent_row.id), note=""
            )
            db.commit()
            outcome["resolve"] = "ok"
        except Exception as exc:  # the test reports it
            outcome["resolve"] = repr(exc)
            db.rollback()
        finally:
            db.close()
        thread.join(10)

    # The case was resolved first: its offer was withdrawn, so the accept is refused cleanly.
    assert outcome == {"resolve": "ok", "accept": "Conflict"}
    assert _chat(session).state == ChatState.ENDED


# --- Resolving through duplicates ----------------------------------------------------------------


def test_a_chat_ends_when_its_case_is_resolved_as_a_duplicate(
    app: Flask, client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    _started(client)
    run_jobs()
    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)
    parent = factories.make_case(session, chat_city, description="Pothole, reported earlier")
    session.commit()

    with app.test_request_context():
        mark_duplicate(session, case, parent, supervisor)
        change_status(session, parent, CaseStatus.RESOLVED, agent=supervisor, note="")
        session.commit()

    chat = _chat(session)
    assert session.get_one(Case, chat.case_id).status == CaseStatus.RESOLVED
    assert chat.state == ChatState.ENDED
    assert _live_items(session, chat.case_id) == []


# --- API replies ----------------------------------------------------------------------------------


def test_an_api_reply_to_a_chat_that_is_over_goes_to_the_email_the_resident_left(
    client: FlaskClient, session: Session, agent: tuple[Agent, str], run_jobs
) -> None:
    _agent_row, token = agent
    data = _started(client, email="jane@example.org")
    run_jobs()
    assert client.post("/chat/api/end", headers=_auth(data["token"])).status_code == 200
    case_id = _chat(session).case_id

    response = client.post(
        f"/api/v1/cases/{case_id}/replies", json={"body": "We fixed it."}, headers=_auth(token)
    )

    assert response.status_code == 201, response.get_json()
    session.expire_all()
    sent = session.get_one(Interaction, response.get_json()["data"]["id"])
    assert (sent.channel, sent.to_address, sent.direction) == (
        Channel.EMAIL,
        "jane@example.org",
        Direction.OUTBOUND,
    )


def test_an_api_reply_to_a_live_chat_goes_to_the_window(
    client: FlaskClient, session: Session, agent: tuple[Agent, str], run_jobs
) -> None:
    agent_row, token = agent
    _started(client, email="jane@example.org")
    run_jobs()
    _accept(client, session, agent_row, token)
    chat = _chat(session)

    response = client.post(
        f"/api/v1/cases/{chat.case_id}/replies", json={"body": "Hello!"}, headers=_auth(token)
    )

    assert response.status_code == 201, response.get_json()
    session.expire_all()
    sent = session.get_one(Interaction, response.get_json()["data"]["id"])
    assert (sent.channel, sent.to_address) == (Channel.WEBCHAT, chat.visitor_id)


def test_an_api_reply_to_a_chat_that_is_over_with_no_contact_goes_to_the_window(
    client: FlaskClient, session: Session, agent: tuple[Agent, str], run_jobs
) -> None:
    _agent_row, token = agent
    data = _started(client)
    run_jobs()
    assert client.post("/chat/api/end", headers=_auth(data["token"])).status_code == 200
    chat = _chat(session)

    response = client.post(
        f"/api/v1/cases/{chat.case_id}/replies", json={"body": "Hello?"}, headers=_auth(token)
    )

    assert response.status_code == 201, response.get_json()
    session.expire_all()
    sent = session.get_one(Interaction, response.get_json()["data"]["id"])
    assert (sent.channel, sent.to_address) == (Channel.WEBCHAT, chat.visitor_id)


# --- Resident merges ------------------------------------------------------------------------------


def test_merging_residents_moves_their_chats(
    client: FlaskClient, session: Session, chat_city: Any, supervisor: Agent, run_jobs
) -> None:
    _started(client)
    run_jobs()
    chat = _chat(session)
    merged = session.get_one(Resident, chat.resident_id)
    keep = Resident(jurisdiction_id=chat_city.id, display_name="Jane")
    session.add(keep)
    session.commit()

    audit = merge_residents(session, keep, merged, supervisor)
    session.commit()

    assert _chat(session).resident_id == keep.id
    assert audit.moved["chat_sessions"] == [chat.id]
