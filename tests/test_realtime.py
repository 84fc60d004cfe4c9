"""The console's realtime layer: who may connect, which rooms they hear, what routing announces.

Flask-SocketIO's test client refuses a server that has a message queue, so the socket tests run
on an app without Redis (the session's app on the embedded stack; a second app on the same
database on the servers' stack, its jobs inline). End to end, a real WebSocket client on a real
threaded server hears the offer an rq worker makes, through Redis when the suite has it.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import simple_websocket
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from redis import Redis
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.serving import make_server

from contactcenter import realtime
from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.auth import hash_password
from contactcenter.console.auth import session_auth
from contactcenter.db import get_db, utcnow
from contactcenter.routing.models import Offer, OfferState, WorkItem
from contactcenter.routing.scheduling import dispatch_job
from contactcenter.routing.tick import run_tick
from contactcenter.routing.work import dispatch, withdraw_offers
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL
from tests.factories import (
    make_agent,
    make_available_agent,
    make_jurisdiction,
    make_queue,
    make_work,
)

Connect = Callable[[Agent | None], SocketIOTestClient]


@pytest.fixture
def connect(rt_app: Flask) -> Connect:
    """Open a socket as ``agent`` signed in to the console (``None``: nobody signed in)."""

    def open_socket(agent: Agent | None) -> SocketIOTestClient:
        browser = rt_app.test_client()
        if agent is not None:
            _sign_in(rt_app, browser, agent)
        return realtime.socketio.test_client(rt_app, flask_test_client=browser)

    return open_socket


def _sign_in(application: Flask, browser: FlaskClient, agent: Agent) -> None:
    """What the console's sign-in stores in the session cookie."""
    with application.app_context():
        auth = session_auth(agent)
    with browser.session_transaction() as cookie:
        cookie["agent_id"] = agent.id
        cookie["auth"] = auth


def _events(socket: SocketIOTestClient, name: str | None = None) -> list[Any]:
    return [m["args"][0] for m in socket.get_received() if name is None or m["name"] == name]


def _text(client: FlaskClient, body: str, from_: str = "+16135550100") -> None:
    """A resident's text, signed as Twilio signs it, to the Springfield number."""
    params = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": from_,
        "To": "+16135550311",
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/sms/inbound", params
    )
    response = client.post("/sms/inbound", data=params, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 200, response.text


def _pending_offer(session: Session, agent: Agent) -> Offer:
    session.expire_all()
    return session.scalars(
        sa.select(Offer).where(Offer.agent_id == agent.id, Offer.state == OfferState.PENDING)
    ).one()


def test_nobody_signed_in_cannot_connect(connect):
    assert not connect(None).is_connected()


def test_an_inactive_or_unknown_agent_cannot_connect(connect, session, jurisdiction):
    gone, _ = make_agent(session, [jurisdiction], active=False)
    session.commit()
    assert not connect(gone).is_connected()
    ghost = Agent(id=gone.id + 1000, email="ghost@city.example", name="Ghost")
    assert not connect(ghost).is_connected()


def test_a_cookie_from_before_a_password_change_cannot_connect(rt_app, session, jurisdiction):
    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    browser = rt_app.test_client()
    _sign_in(rt_app, browser, agent)
    agent.password_hash = hash_password("a new password, chosen after a theft")
    session.commit()

    socket = realtime.socketio.test_client(rt_app, flask_test_client=browser)

    assert not socket.is_connected()


def test_an_agent_hears_its_own_and_its_jurisdictions_rooms_only(connect, rt_app, session):
    springfield = make_jurisdiction(session, slug="springfield")
    shelbyville = make_jurisdiction(session, slug="shelbyville")
    ours, _ = make_agent(session, [springfield])
    theirs, _ = make_agent(session, [shelbyville])
    session.commit()
    our_socket, their_socket = connect(ours), connect(theirs)
    assert our_socket.is_connected() and their_socket.is_connected()

    with rt_app.app_context():
        realtime.notify_jurisdiction(shelbyville.id, "news", {"case_id": 1})
        realtime.notify_agent(theirs.id, "offer", {"offer_id": 2})
        realtime.notify_agent(ours.id, "offer", {"offer_id": 3})

    assert _events(our_socket) == [{"offer_id": 3}]
    assert _events(their_socket) == [{"case_id": 1}, {"offer_id": 2}]


def test_a_client_cannot_join_another_jurisdictions_room(connect, rt_app, session):
    springfield = make_jurisdiction(session, slug="springfield")
    shelbyville = make_jurisdiction(session, slug="shelbyville")
    agent, _ = make_agent(session, [springfield])
    session.commit()
    socket = connect(agent)
    for event in ("join", "join_room", "enter_room"):
        socket.emit(event, {"room": f"jurisdiction:{shelbyville.id}"})

    with rt_app.app_context():
        realtime.notify_jurisdiction(shelbyville.id, "news", {"case_id": 1})

    assert _events(socket) == []


def test_supervisors_also_hear_their_jurisdictions_supervisor_room(connect, rt_app, session):
    city = make_jurisdiction(session, slug="springfield")
    supervisor, _ = make_agent(session, [city], role=Role.SUPERVISOR)
    agent, _ = make_agent(session, [city])
    session.commit()
    supervisor_socket, agent_socket = connect(supervisor), connect(agent)

    rt_app.extensions["realtime"].emit("alert", {"case_id": 7}, to=f"supervisors:{city.id}")

    assert _events(supervisor_socket) == [{"case_id": 7}]
    assert _events(agent_socket) == []


def test_a_dispatched_offer_is_announced_to_its_agent_only(connect, rt_app, session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    chosen, _ = make_available_agent(session, jurisdiction, [queue])
    away, _ = make_available_agent(session, jurisdiction, [queue], presence=Presence.AWAY)
    make_work(session, jurisdiction, queue)
    session.commit()
    chosen_socket, away_socket = connect(chosen), connect(away)

    with rt_app.app_context():
        dispatch_job(jurisdiction.id)

    offer = _pending_offer(session, chosen)
    assert _events(chosen_socket) == [{"offer_id": offer.id}]
    assert _events(away_socket) == []


def test_nothing_is_announced_for_a_dispatch_that_rolls_back(
    connect, rt_app, session, jurisdiction
):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    socket = connect(agent)

    with rt_app.app_context(), get_db().session() as job_session:
        assert dispatch(job_session, jurisdiction.id)
        job_session.rollback()

    assert _events(socket) == []


def test_an_emit_that_fails_never_fails_the_dispatch(
    connect, rt_app, session, jurisdiction, monkeypatch
):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("Redis is down")

    monkeypatch.setattr(rt_app.extensions["realtime"], "emit", broken)
    with rt_app.app_context():
        dispatch_job(jurisdiction.id)

    assert _pending_offer(session, agent).state == OfferState.PENDING


def test_a_texted_case_is_offered_and_accepting_it_clears_it_from_other_consoles(
    connect, rt_app, session, jurisdiction
):
    queue = make_queue(session, jurisdiction, is_default=True)
    agent, token = make_available_agent(session, jurisdiction, [queue])
    session.commit()
    desk, other_tab = connect(agent), connect(agent)
    client = rt_app.test_client()

    _text(client, "There is a pothole at 12 Main St")

    offer = _pending_offer(session, agent)
    assert _events(desk, "offer") == [{"offer_id": offer.id}]
    assert _events(other_tab, "offer") == [{"offer_id": offer.id}]
    accepted = client.post(
        f"/api/v1/work/offers/{offer.id}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert accepted.status_code == 200, accepted.json
    assert _events(other_tab) == [{"offer_id": offer.id}]


def test_a_declined_offer_is_gone_from_the_agents_console(connect, rt_app, session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, token = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    with rt_app.app_context():
        dispatch_job(jurisdiction.id)
    offer = _pending_offer(session, agent)
    socket = connect(agent)

    declined = rt_app.test_client().post(
        f"/api/v1/work/offers/{offer.id}/decline", headers={"Authorization": f"Bearer {token}"}
    )

    assert declined.status_code == 200, declined.json
    received = socket.get_received()
    assert [(m["name"], m["args"][0]) for m in received] == [("offer_gone", {"offer_id": offer.id})]


def test_an_expired_offer_is_gone_from_the_agents_console(connect, rt_app, session, jurisdiction):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    make_work(session, jurisdiction, queue)
    session.commit()
    with rt_app.app_context():
        dispatch_job(jurisdiction.id)
    offer = _pending_offer(session, agent)
    socket = connect(agent)

    with rt_app.app_context(), get_db().session() as tick_session:
        run_tick(tick_session, now=utcnow() + dt.timedelta(hours=1))
        tick_session.commit()

    assert _events(socket, "offer_gone") == [{"offer_id": offer.id}]


def test_a_withdrawn_offer_is_gone_when_the_case_is_resolved(
    connect, rt_app, session, jurisdiction
):
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    item = make_work(session, jurisdiction, queue)
    session.commit()
    with rt_app.app_context():
        dispatch_job(jurisdiction.id)
    offer = _pending_offer(session, agent)
    socket = connect(agent)
    _supervisor, supervisor_token = make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    session.commit()

    resolved = rt_app.test_client().post(
        f"/api/v1/cases/{session.get_one(WorkItem, item.id).case_id}/status",
        json={"status": "resolved"},
        headers={"Authorization": f"Bearer {supervisor_token}"},
    )

    assert resolved.status_code == 200, resolved.json
    assert _events(socket, "offer_gone") == [{"offer_id": offer.id}]


def test_a_residents_text_on_an_assigned_case_updates_its_agents_console(
    connect, rt_app, session, jurisdiction
):
    queue = make_queue(session, jurisdiction, is_default=True)
    agent, token = make_available_agent(session, jurisdiction, [queue])
    colleague, _ = make_agent(session, [jurisdiction])
    session.commit()
    client = rt_app.test_client()
    _text(client, "There is a pothole at 12 Main St")
    offer = _pending_offer(session, agent)
    accepted = client.post(
        f"/api/v1/work/offers/{offer.id}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert accepted.status_code == 200, accepted.json
    agent_socket, colleague_socket = connect(agent), connect(colleague)

    _text(client, "It is getting deeper")

    case_id = session.get_one(WorkItem, offer.work_item_id).case_id
    assert _events(agent_socket, "case_updated") == [{"case_id": case_id}]
    assert _events(colleague_socket) == []


# --- With Redis: what a worker emits is published for every web process -------------------


def _published(pubsub: Any, seconds: float = 5.0) -> Iterator[dict[str, Any]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None and message["type"] == "message":
            yield json.loads(message["data"])


def test_an_offer_made_in_a_worker_is_published_on_redis_for_the_agents_web_process(
    app, session, jurisdiction, send_sms, redis_client: Redis
):
    queue = make_queue(session, jurisdiction, is_default=True)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    session.commit()
    pubsub = redis_client.pubsub()
    pubsub.subscribe("flask-socketio")  # Flask-SocketIO's default channel

    send_sms("There is a pothole at 12 Main St")  # intake and dispatch run in an rq worker

    offer = _pending_offer(session, agent)
    emitted = next(
        (m for m in _published(pubsub) if m.get("method") == "emit" and m["event"] == "offer"),
        None,
    )
    pubsub.close()
    assert emitted is not None, "the worker published no offer"
    assert emitted["room"] == f"agent:{agent.id}"
    assert emitted["data"] == [{"offer_id": offer.id}]


@contextmanager
def _live_server(application: Flask) -> Iterator[str]:
    """The app on a real threaded Werkzeug server (as ``contactcenter serve`` runs it)."""
    server = make_server("127.0.0.1", 0, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


def _open_websocket(host: str, cookie: str, origin: str) -> simple_websocket.Client:
    """Engine.IO over WebSocket, then the Socket.IO connect, as the browser client does."""
    ws = simple_websocket.Client.connect(
        f"ws://{host}/socket.io/?EIO=4&transport=websocket",
        headers={"Cookie": f"session={cookie}", "Origin": origin},
    )
    assert ws.receive(timeout=5).startswith("0")  # Engine.IO open
    ws.send("40")
    assert ws.receive(timeout=5).startswith("40")  # Socket.IO connected (not "44": refused)
    return ws


def _signed_in_cookie(application: Flask, agent: Agent) -> str:
    browser = application.test_client()
    _sign_in(application, browser, agent)
    stored = browser.get_cookie("session")
    assert stored is not None
    return stored.value


def test_a_browser_socket_hears_the_offer_a_worker_makes(
    app, session, jurisdiction, send_sms, redis_url, monkeypatch
):
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])
    queue = make_queue(session, jurisdiction, is_default=True)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    session.commit()
    with _live_server(app) as host:
        # This client sends its Host header without the port; a browser's Origin matches it.
        ws = _open_websocket(host, _signed_in_cookie(app, agent), origin="http://127.0.0.1")
        if redis_url:  # the web process hears Redis once its listener has subscribed
            redis = Redis.from_url(redis_url)
            deadline = time.monotonic() + 5
            while not redis.pubsub_numsub("flask-socketio")[0][1] and time.monotonic() < deadline:
                time.sleep(0.05)
            redis.close()

        send_sms("There is a pothole at 12 Main St")  # with Redis, run by an rq worker

        received = ws.receive(timeout=5)
        ws.close()
    offer = _pending_offer(session, agent)
    assert received == "42" + json.dumps(["offer", {"offer_id": offer.id}], separators=(",", ":"))


def test_a_page_from_another_origin_cannot_open_a_socket(client):
    path = "/socket.io/?EIO=4&transport=websocket"

    foreign = client.get(path, headers={"Origin": "https://evil.example"})
    own = client.get(path, headers={"Origin": "http://localhost"})

    assert foreign.status_code == 400 and b"Not an accepted origin" in foreign.data
    assert b"Not an accepted origin" not in own.data


def test_offers_withdrawn_by_a_hang_up_or_an_escalation_are_gone_from_the_console(
    connect, rt_app, session, jurisdiction
):
    """``withdraw_offers`` is what a caller hanging up in line and an SLA escalation use."""
    queue = make_queue(session, jurisdiction)
    agent, _ = make_available_agent(session, jurisdiction, [queue])
    item = make_work(session, jurisdiction, queue)
    session.commit()
    with rt_app.app_context():
        dispatch_job(jurisdiction.id)
    offer = _pending_offer(session, agent)
    socket = connect(agent)

    with rt_app.app_context(), get_db().session() as job_session:
        withdraw_offers(job_session, [item.id], utcnow())
        job_session.commit()

    assert _events(socket, "offer_gone") == [{"offer_id": offer.id}]


def test_signing_out_closes_the_agents_open_consoles(connect, rt_app, session, jurisdiction):
    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    socket = connect(agent)
    browser = rt_app.test_client()
    _sign_in(rt_app, browser, agent)
    page = browser.get("/console/").get_data(as_text=True)
    token = page.split('name="csrf-token" content="')[1].split('"')[0]

    signed_out = browser.post("/console/logout", data={"csrf_token": token})

    assert signed_out.status_code == 302
    assert _events(socket, "signed_out") == [{"agent_id": agent.id}]
