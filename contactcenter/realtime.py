"""Realtime push to the agent console: Socket.IO (Flask-SocketIO), Redis as the message queue.

Work is dispatched in rq workers, but agents' sockets are held by web processes. With
``REDIS_URL`` every emit is published on Redis and each web process delivers it to the sockets
it holds, so any process can reach any agent. Without Redis (the embedded default) jobs run
inline in the web process, so an in-process emit reaches the sockets just the same.

Events carry ids only (``{"offer_id": 12}``): the console fetches what it shows through its
authenticated pages, so no resident's personal data travels on the socket. Rooms are decided
here at connect, from the signed session cookie, never by the client.

Routing code records events with :func:`notify_agent_after_commit`; they leave only after the
transaction commits (nothing is announced for a rolled-back offer), and a failure to emit is
logged, never raised: a notification is never worth failing the job that made the change.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, has_app_context
from flask_socketio import SocketIO, join_room
from sqlalchemy import event
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Role
from contactcenter.db import get_session
from contactcenter.routing.models import Queue, agent_queues

log = logging.getLogger(__name__)

OFFER = "offer"
"""Work is offered to the agent: ``{"offer_id"}``."""
OFFER_GONE = "offer_gone"
SIGNED_OUT = "signed_out"
"""The agent signed out: their consoles close their sockets and go to the sign-in page."""
"""The offer was accepted, declined, withdrawn or expired: ``{"offer_id"}``."""
CASE_UPDATED = "case_updated"
"""A resident wrote on a case assigned to the agent: ``{"case_id"}``."""
BOARD_CHANGED = "board_changed"
"""Something a supervisor's wallboard shows changed: ``{"jurisdiction_id"}``."""

socketio = SocketIO()
_SERVER = "realtime"
_PENDING = "realtime_events"


def init_app(app: Flask, redis_url: str) -> None:
    """Attach the Socket.IO server to ``app`` (Redis as message queue when configured)."""
    # Options persist on the shared SocketIO object: a Redis manager made for an earlier app
    # (tests build several) must never serve this one.
    socketio.server_options.pop("client_manager", None)
    socketio.init_app(
        app,
        async_mode="threading",
        message_queue=redis_url or None,
        # None is Engine.IO's same-origin check: only pages served by this host may connect.
        cors_allowed_origins=None,
        # WebSocket only: no long-polling, so no sticky sessions across gunicorn workers.
        transports=["websocket"],
        manage_session=False,
    )
    app.extensions[_SERVER] = socketio.server
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", _after_soft_rollback)


def agent_room(agent_id: int) -> str:
    return f"agent:{agent_id}"


def jurisdiction_room(jurisdiction_id: int) -> str:
    return f"jurisdiction:{jurisdiction_id}"


def rooms_for(session: Session, agent: Agent) -> list[str]:
    """The rooms an agent's sockets join: their own, their jurisdictions', their queues'."""
    jurisdiction_ids = sorted(j.id for j in agent.jurisdictions)
    queue_ids = session.scalars(
        sa.select(agent_queues.c.queue_id)
        .join(Queue, Queue.id == agent_queues.c.queue_id)
        .where(
            agent_queues.c.agent_id == agent.id,
            Queue.jurisdiction_id.in_(jurisdiction_ids),
        )
        .order_by(agent_queues.c.queue_id)
    ).all()
    rooms = [agent_room(agent.id)]
    rooms += [jurisdiction_room(j) for j in jurisdiction_ids]
    rooms += [f"queue:{q}" for q in queue_ids]
    if agent.has_role(Role.SUPERVISOR):
        rooms += [f"supervisors:{j}" for j in jurisdiction_ids]
    return rooms


def _connect(_auth: Any = None) -> bool:
    """Only a signed-in agent connects (the console's own check of its session cookie: known,
    active, password unchanged since), and only to the rooms the server picks."""
    # Imported here: the console package imports the views, which import the core.
    from contactcenter.console.auth import signed_in_agent

    agent = signed_in_agent()
    if agent is None:
        return False
    for room in rooms_for(get_session(), agent):
        join_room(room)
    return True


socketio.on_event("connect", _connect)


def notify_agent(agent_id: int, event_name: str, data: dict[str, int]) -> None:
    """Emit to every socket of one agent, from a request, a job or a worker process."""
    _emit(agent_room(agent_id), event_name, data)


def notify_jurisdiction(jurisdiction_id: int, event_name: str, data: dict[str, int]) -> None:
    """Emit to every agent of one jurisdiction."""
    _emit(jurisdiction_room(jurisdiction_id), event_name, data)


def notify_agent_after_commit(
    session: Session, agent_id: int, event_name: str, data: dict[str, int]
) -> None:
    """Emit to the agent once ``session`` commits; a rollback forgets it."""
    session.info.setdefault(_PENDING, []).append((agent_room(agent_id), event_name, data))


def notify_supervisors_after_commit(session: Session, jurisdiction_id: int) -> None:
    """Tell the jurisdiction's supervisors their wallboard changed, once per commit however
    many changes the transaction made (their pages refetch the figures)."""
    pending = session.info.setdefault(_PENDING, [])
    entry = (f"supervisors:{jurisdiction_id}", BOARD_CHANGED, {"jurisdiction_id": jurisdiction_id})
    if entry not in pending:
        pending.append(entry)


def _server() -> Any:
    """This app's Socket.IO server (tests build several apps on the one ``socketio``)."""
    if has_app_context():
        server = current_app.extensions.get(_SERVER)
        if server is not None:
            return server
    return socketio.server


def _emit(room: str, event_name: str, data: dict[str, int]) -> None:
    server = _server()
    if server is None:
        return  # no app has set up Socket.IO in this process: nobody can be listening
    try:
        server.emit(event_name, data, to=room)
    except Exception:
        log.exception("could not emit %s to %s", event_name, room)


def _after_commit(session: Session) -> None:
    for room, event_name, data in session.info.pop(_PENDING, []):
        _emit(room, event_name, data)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
