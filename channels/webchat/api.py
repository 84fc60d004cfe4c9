"""The chat window's JSON API under ``/chat/api`` (see the web chat protocol).

Every route but the first needs ``Authorization: Bearer <token>``, the signed token
``POST /chat/api/sessions`` returned; the chat is found from the token, never from anything
else the window sends.
"""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from channels.webchat.views import bp
from contactcenter.chats import service
from contactcenter.chats.models import ChatSession
from contactcenter.db import get_session
from contactcenter.errors import Conflict, Invalid
from contactcenter.ratelimit import client_network, rate_limits
from contactcenter.surveys import service as surveys


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid("Expected a JSON object.", code="invalid_body")
    return body


def _token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


def _chat() -> ChatSession:
    """The token's chat. Not row-locked: every change to it is a conditional UPDATE, taken
    after its work item, as an agent accepting it takes them."""
    return service.chat_for_token(get_session(), _token())


def _state(chat: ChatSession) -> dict[str, Any]:
    session = get_session()
    return {
        "session": service.session_json(session, chat),
        "messages": service.history(session, chat),
    }


@bp.post("/api/sessions")
def sessions() -> tuple[dict[str, Any], int]:
    body = _body()
    answers = service.ChatAnswers.from_json(body)
    session = get_session()
    jurisdiction = service.jurisdiction_for_key(session, answers.key)
    rate_limits().check(
        "chat_sessions",
        f"{jurisdiction.id}:{client_network(request.remote_addr)}",
        "Too many chats from this address; please try again later.",
    )
    settings = current_app.config["SETTINGS"]
    try:
        chat = service.start_chat(session, jurisdiction, answers, settings)
        session.commit()
    except IntegrityError:
        # Another start committed first: a retry with the same client_id (its chat is the
        # answer), or a start with the same new phone or email (this one now finds the
        # resident it made). Once; a second clash is not worth a third try.
        session.rollback()
        try:
            chat = service.start_chat(session, jurisdiction, answers, settings)
            session.commit()
        except IntegrityError:
            session.rollback()
            raise Conflict("Please try again in a moment.", code="try_again") from None
    return {"token": service.make_token(chat), **_state(chat)}, 201


@bp.get("/api/session")
def current() -> dict[str, Any]:
    return _state(_chat())


def post_message(session: Session, chat: ChatSession, data: dict[str, Any]) -> dict[str, Any]:
    """A resident's message, by HTTP or over the socket: rate-limited, stored, committed.

    :raises RateLimited: over CHAT_MESSAGES_RATE.
    """
    rate_limits().check(
        "chat_messages",
        chat.visitor_id,
        "You are sending messages too fast; please wait a moment.",
    )
    interaction = service.resident_message(session, chat, data.get("client_id"), data.get("body"))
    session.commit()
    return service.message_json(interaction, chat.visitor_id, {})


@bp.post("/api/messages")
def messages() -> tuple[dict[str, Any], int]:
    body = _body()
    return {"message": post_message(get_session(), _chat(), body)}, 201


@bp.post("/api/typing")
def typing() -> Response:
    body = _body()
    chat = _chat()
    if rate_limits().hit("chat_typing", chat.visitor_id):
        service.resident_typing(chat, bool(body.get("typing")))
    return Response(status=204)


@bp.post("/api/transcript")
def transcript() -> tuple[dict[str, Any], int]:
    chat = _chat()
    session = get_session()
    sent_to = service.email_transcript(session, chat)
    session.commit()
    return {"sent_to": sent_to}, 202


@bp.post("/api/survey")
def survey() -> dict[str, Any]:
    """The rating the window may offer now its chat has ended (``null``: none). The first
    ask makes the case's survey, unless the case's survey job did a moment before."""
    chat = _chat()
    session = get_session()
    try:
        offered = surveys.offer_chat_survey(session, chat)
        session.commit()
    except IntegrityError:
        session.rollback()
        offered = surveys.offer_chat_survey(session, chat)
    return {"survey": surveys.chat_survey_json(offered)}


@bp.post("/api/rating")
def rating() -> dict[str, Any]:
    """The resident's 1-5 rating of the ended chat: the answer to the case's survey.

    :raises Conflict: ``no_survey`` when this chat has no rating to give.
    """
    score = _body().get("score")
    if isinstance(score, bool) or not isinstance(score, int):
        raise Invalid("A score is a whole number, 1 to 5.", code="invalid_score")
    chat = _chat()
    session = get_session()
    try:
        offered = surveys.offer_chat_survey(session, chat)
    except IntegrityError:
        session.rollback()
        offered = surveys.offer_chat_survey(session, chat)
    if offered is None:
        raise Conflict("There is no rating to give for this chat.", code="no_survey")
    surveys.answer_survey(session, offered, score)
    session.commit()
    return {"survey": surveys.chat_survey_json(offered)}


@bp.post("/api/end")
def end() -> dict[str, Any]:
    chat = _chat()
    session = get_session()
    service.end_chat(session, chat, by="resident")
    session.commit()
    return {"session": service.session_json(session, chat)}
