"""Pushing to a resident's chat window: Socket.IO namespace ``/chat``, room ``chat:<visitor>``.

Like the console's events (:mod:`contactcenter.realtime`), changes announce themselves only
once their transaction commits: a rolled-back message is never shown. Unlike them, these
events carry the message text: the room holds only the resident's own windows (the server
picks the room from the signed session token), and the text is theirs.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from contactcenter.realtime import socketio

log = logging.getLogger(__name__)

NAMESPACE = "/chat"
MESSAGE = "message"
"""A message for the window: Message JSON (agent, system, or the resident's from another tab)."""
TYPING = "typing"
"""The agent is typing (or stopped): ``{"typing": bool}``."""
SESSION = "session"
"""The chat changed state (agent joined, handed off, ended): Session JSON."""

_PENDING = "chat_events"


def chat_room(visitor_id: str) -> str:
    return f"chat:{visitor_id}"


def emit_to_chat(visitor_id: str, event_name: str, data: dict[str, Any]) -> None:
    """Emit now (from a request, a job or a worker; a failure is logged, never raised)."""
    server = None
    if has_app_context():
        server = current_app.extensions.get("realtime")
    server = server or socketio.server
    if server is None:
        return  # no Socket.IO in this process: no window can be listening
    try:
        server.emit(event_name, data, to=chat_room(visitor_id), namespace=NAMESPACE)
    except Exception:
        log.exception("could not emit %s to a chat", event_name)


def emit_to_chat_after_commit(
    session: Session, visitor_id: str, event_name: str, data: dict[str, Any]
) -> None:
    session.info.setdefault(_PENDING, []).append((visitor_id, event_name, data))


def _after_commit(session: Session) -> None:
    for visitor_id, event_name, data in session.info.pop(_PENDING, []):
        emit_to_chat(visitor_id, event_name, data)


def _after_soft_rollback(session: Session, previous_transaction: Any) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


if not event.contains(Session, "after_commit", _after_commit):
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_soft_rollback", _after_soft_rollback)
