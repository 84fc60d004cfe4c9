"""Socket.IO for web chat: the resident's ``/chat`` namespace, and agents' typing signal.

A window connects with ``auth={"token": ...}``; the server checks the token and joins the
socket to its chat's room (never one the client names). Sockets carry the resident's
messages (acknowledged with the stored message) and typing; the console's sockets (default
namespace, signed in by cookie) send ``chat_typing`` for the case they hold.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, TypeGuard

from flask import request
from flask_socketio import join_room

from channels.webchat.api import post_message
from contactcenter.chats import service
from contactcenter.chats.events import NAMESPACE, TYPING, chat_room, emit_to_chat
from contactcenter.chats.models import ChatState
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Unauthorized
from contactcenter.ratelimit import RateLimited, rate_limits
from contactcenter.realtime import socketio

log = logging.getLogger(__name__)

_tokens: dict[str, str] = {}
"""The token each connected window proved itself with, by socket id (this process's sockets)."""
_lock = threading.Lock()


def _on_connect(auth: Any = None) -> bool:
    token = auth.get("token") if isinstance(auth, dict) else None
    if not isinstance(token, str):
        return False
    try:
        chat = service.chat_for_token(get_session(), token)
    except Unauthorized:
        return False
    with _lock:
        _tokens[request.sid] = token  # type: ignore[attr-defined]
    join_room(chat_room(chat.visitor_id))
    return True


def _on_disconnect(*_args: Any) -> None:
    with _lock:
        _tokens.pop(request.sid, None)  # type: ignore[attr-defined]


def _error(exc: DomainError) -> dict[str, Any]:
    return {"ok": False, "error": {"code": exc.code, "message": exc.message}}


def _on_message(data: Any = None) -> dict[str, Any]:
    """A message from the window; the ack carries the stored message (or the error)."""
    session = get_session()
    try:
        chat = service.chat_for_token(session, _tokens.get(request.sid, ""))  # type: ignore[attr-defined]
        message = post_message(session, chat, data if isinstance(data, dict) else {})
    except (DomainError, RateLimited) as exc:
        session.rollback()
        return _error(exc)
    return {"ok": True, "message": message}


def _on_typing(data: Any = None) -> None:
    try:
        chat = service.chat_for_token(get_session(), _tokens.get(request.sid, ""))  # type: ignore[attr-defined]
    except Unauthorized:
        return
    if rate_limits().hit("chat_typing", chat.visitor_id):
        typing = bool(data.get("typing")) if isinstance(data, dict) else False
        service.resident_typing(chat, typing)


def _on_agent_typing(data: Any = None) -> None:
    """The agent types in the case's reply box: the resident's window shows it, if the agent
    holds the case and its chat is live."""
    from contactcenter.console.auth import signed_in_agent

    if not isinstance(data, dict):
        return
    case_id = data.get("case_id")
    if not _is_id(case_id):
        return  # not an id the database could hold: no such case
    agent = signed_in_agent()
    if agent is None or not rate_limits().hit("chat_typing", f"agent:{agent.id}"):
        return
    chat = service.live_chat_of_case(get_session(), case_id)
    if (
        chat is None
        or chat.state != ChatState.ACTIVE
        or chat.agent_id != agent.id
        or chat.jurisdiction_id not in {j.id for j in agent.jurisdictions}
    ):
        return
    emit_to_chat(chat.visitor_id, TYPING, {"typing": bool(data.get("typing"))})


MAX_ID = 2**31 - 1
"""The largest primary key (PostgreSQL ``integer``): a bigger number is no row, not a query."""


def _is_id(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


socketio.on_event("connect", _on_connect, namespace=NAMESPACE)
socketio.on_event("disconnect", _on_disconnect, namespace=NAMESPACE)
socketio.on_event("message", _on_message, namespace=NAMESPACE)
socketio.on_event("typing", _on_typing, namespace=NAMESPACE)
socketio.on_event("chat_typing", _on_agent_typing)
