"""Twilio Voice webhooks: the IVR, the queue, agents' legs, recordings and call status.

Every route checks Twilio's signature (403 otherwise). A caller is listening on most of them,
so they always answer TwiML: an unknown number hears a polite message, bad or missing input
a re-prompt, and anything unexpected an apology (and the fallback number, if one is set) —
never Twilio's "application error". ``/voice/fallback`` answers without the database at all:
point the number's fallback URL at it.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec

from flask import Blueprint, Response, current_app, request
from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from channels.twilio_client import require_twilio_signature
from contactcenter.agents.models import Agent
from contactcenter.calls import queueing
from contactcenter.calls.models import Call
from contactcenter.calls.service import (
    attach_transcription,
    end_call,
    find_call,
    get_call,
    is_hidden,
    start_call,
)
from contactcenter.config import Settings
from contactcenter.db import get_session
from contactcenter.errors import DomainError, Invalid, NotFound
from contactcenter.inbox import directory
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from ivr import engine, twiml
from ivr.conversation import Turn, play
from ivr.engine import BadState, CallState, Heard
from ivr.fallback import trouble_twiml, unknown_number_twiml
from ivr.flows import HANGUP, Kind
from ivr.runtime import IvrRuntime, LoadedMenu

bp = Blueprint("voice", __name__, url_prefix="/voice")
log = logging.getLogger(__name__)
P = ParamSpec("P")

_DIGITS = re.compile(r"^[0-9*#]{1,32}$")
_SID = re.compile(r"^[A-Z]{2}[0-9a-zA-Z]{1,62}$")


def _xml(response: VoiceResponse | str) -> Response:
    return Response(str(response), mimetype="text/xml")


def _runtime() -> IvrRuntime:
    runtime: IvrRuntime = current_app.extensions["ivr"]
    return runtime


def _settings() -> Settings:
    settings: Settings = current_app.config["SETTINGS"]
    return settings


def _answering(
    trouble: Callable[[], VoiceResponse | str],
) -> Callable[[Callable[P, Response]], Callable[P, Response]]:
    """A caller is on the line: on any failure, roll back and answer ``trouble()`` rather than
    an error page (Twilio would read the caller its "application error")."""

    def decorator(view: Callable[P, Response]) -> Callable[P, Response]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Response:
            try:
                return view(*args, **kwargs)
            except Exception as exc:
                get_session().rollback()
                if isinstance(exc, DomainError):
                    log.warning("voice %s: %s %s", request.path, exc.code, exc.message)
                else:
                    log.exception("voice %s failed", request.path)
                return _xml(trouble())

        return wrapper

    return decorator


_caller_safe = _answering(lambda: trouble_twiml(_settings().voice_fallback_number))
"""An apology, and the fallback number if one is set."""
_on_hold = _answering(twiml.hold)
"""For a caller on hold: Twilio allows no ``<Dial>`` there, so a moment of silence and the
next round."""


def _call_sid() -> str:
    sid = request.form.get("CallSid", "")
    if not _SID.match(sid):
        raise Invalid("CallSid is missing or malformed.", code="bad_call_sid")
    return sid


def _heard() -> Heard:
    form = request.form
    digits = form.get("Digits", "")
    recording = form.get("RecordingUrl", "")
    seconds = form.get("RecordingDuration", "0")
    return Heard(
        digits=digits if _DIGITS.match(digits) else "",
        speech=form.get("SpeechResult", "")[:1000],
        recording_url=recording[:500] if recording.startswith("https://") else "",
        recording_seconds=int(seconds) if seconds.isdigit() else 0,
    )


def _turn(session: Session, loaded: LoadedMenu, heard: Heard | None = None) -> Turn:
    return Turn(
        session,
        loaded,
        _runtime().facts(session, loaded),
        heard or Heard(),
        recording_sid=request.form.get("RecordingSid", "")[:64],
    )


@bp.post("/incoming")
@require_twilio_signature
@_caller_safe
def incoming() -> Response:
    """A call comes in: record it, then greet the caller (in their language if we know it)."""
    session = get_session()
    to_number = request.form.get("To", "")
    try:
        jurisdiction_id = directory().jurisdiction_id(session, Channel.VOICE, to_number)
    except NotFound:
        log.warning("call to a number no jurisdiction answers")
        return _xml(unknown_number_twiml())
    loaded = _runtime().live(session, jurisdiction_id)
    if loaded is None:
        log.error("jurisdiction %s has no IVR menu", jurisdiction_id)
        return _xml(trouble_twiml(_settings().voice_fallback_number))
    started = start_call(
        session,
        jurisdiction_id=jurisdiction_id,
        call_sid=_call_sid(),
        from_number=request.form.get("From", ""),
        to_number=to_number,
        menu_id=loaded.id,
    )
    menu = loaded.menu
    state = CallState(started.call.id, loaded.id, menu.default_language, menu.start)
    turn = _turn(session, loaded)
    reply = engine.start(menu, state, turn.facts, known_language=started.known_language)
    response = play(turn, reply, state)
    session.commit()
    return _xml(response)


@bp.post("/step")
@require_twilio_signature
@_caller_safe
def step() -> Response:
    """The caller answered a prompt (keys, speech, a recording) or stayed silent."""
    session = get_session()
    try:
        state = CallState.from_query(request.args)
    except BadState:
        log.warning("voice step with an unreadable state")
        return _xml(trouble_twiml(_settings().voice_fallback_number))
    loaded = _runtime().menu(session, state.menu_id)
    if loaded is None:
        raise NotFound(f"No menu {state.menu_id}.", code="menu_not_found")
    heard = _heard()
    turn = _turn(session, loaded, heard)
    reply = engine.respond(loaded.menu, state, turn.facts, heard)
    response = play(turn, reply, state)
    if session.in_transaction():  # most steps only walk the menu and touch no table
        session.commit()
    return _xml(response)


def _menu_of(session: Session, call: Call) -> LoadedMenu | None:
    return _runtime().menu(session, call.menu_id) if call.menu_id else None


def _call_and_menu(session: Session) -> tuple[Call, LoadedMenu, str]:
    raw = request.args.get("c", "")
    if not raw.isdigit():
        raise Invalid("c must be a call id.", code="bad_call")
    call = get_call(session, int(raw))
    loaded = _menu_of(session, call)
    if loaded is None:
        raise NotFound("The call has no menu.", code="menu_not_found")
    language = request.args.get("l", "")
    return call, loaded, language if language in loaded.menu.languages else call.language


@bp.post("/queue/wait")
@require_twilio_signature
@_on_hold
def queue_wait() -> Response:
    """Twilio asks, round after round, what a waiting caller hears.

    When the office closes, or the wait passes the menu's ``max_wait_seconds``, the caller
    leaves the line for the after-hours menu or voicemail rather than waiting for nobody.
    """
    session = get_session()
    call, loaded, language = _call_and_menu(session)
    menu = loaded.menu
    waited = request.form.get("QueueTime", "0")
    waited_seconds = int(waited) if waited.isdigit() else 0
    closed = not _runtime().facts(session, loaded).is_open and menu.after_hours
    too_long = menu.max_wait_seconds and waited_seconds >= menu.max_wait_seconds
    if call.callback_requested_at is None and (closed or too_long):
        return _xml(twiml.leave_queue())
    place = queueing.position(session, call)
    prompts = [engine.prompt(menu, language, "queue_position", position=str(place.place))]
    if place.expected_seconds >= 60:
        minutes = str(round(place.expected_seconds / 60))
        prompts.append(engine.prompt(menu, language, "queue_wait", minutes=minutes))
    prompts.append(engine.prompt(menu, language, "queue_hold"))
    offer = None
    if (
        call.callback_requested_at is None
        and not is_hidden(call.interaction.from_address)
        and waited_seconds >= _settings().voice_callback_offer_seconds
    ):
        offer = engine.prompt(menu, language, "callback_offer")
    return _xml(twiml.waiting(prompts, offer, call.id, language))


@bp.post("/queue/choice")
@require_twilio_signature
@_on_hold
def queue_choice() -> Response:
    """A waiting caller pressed a key: 1 is a callback, keeping their place in line."""
    session = get_session()
    call, loaded, language = _call_and_menu(session)
    if request.form.get("Digits", "") == "1" and queueing.request_callback(session, call):
        session.commit()
        return _xml(twiml.leave_queue())
    hold = engine.prompt(loaded.menu, language, "queue_hold")
    return _xml(twiml.waiting([hold], None, call.id, language))


@bp.post("/queue/done")
@require_twilio_signature
@_caller_safe
def queue_done() -> Response:
    """The caller left the queue: to an agent, to be called back, or by hanging up."""
    session = get_session()
    call, loaded, language = _call_and_menu(session)
    result = request.form.get("QueueResult", "")
    seconds = request.form.get("QueueTime", "")
    queueing.queue_left(
        session, call, result=result, seconds=int(seconds) if seconds.isdigit() else None
    )
    menu = loaded.menu
    if result == "leave" and call.callback_requested_at is not None:
        last4 = call.callback_number[-4:]
        reply = engine.callback_confirmed(menu, _state(call, loaded, language), last4)
        response = twiml.render(reply)
    elif result in ("leave", "error", "system-error", "queue-full"):
        # Closed meanwhile, waited too long, or Twilio could not keep them in line: the
        # after-hours menu or voicemail, never silence.
        turn = _turn(session, loaded)
        state = _state(call, loaded, language)
        if not turn.facts.is_open and menu.after_hours:
            reply = engine.enter(menu, state, turn.facts, menu.after_hours)
        else:
            voicemail = menu.first_node(Kind.VOICEMAIL) or HANGUP
            reply = engine.enter(menu, state, turn.facts, voicemail).after(
                (engine.prompt(menu, language, "queue_overflow"),)
            )
        response = play(turn, reply, state)
    else:
        response = twiml.empty()
    session.commit()
    return _xml(response)


def _state(call: Call, loaded: LoadedMenu, language: str) -> CallState:
    node = call.menu_path[-1] if call.menu_path else loaded.menu.start
    return CallState(call.id, loaded.id, language, node, path=tuple(call.menu_path))


def _agent_and_call(session: Session) -> tuple[Call, Agent]:
    call_raw, agent_raw = request.args.get("call", ""), request.args.get("agent", "")
    if not (call_raw.isdigit() and agent_raw.isdigit()):
        raise Invalid("call and agent must be ids.", code="bad_call")
    agent = session.get(Agent, int(agent_raw))
    if agent is None:
        raise NotFound("No such agent.", code="agent_not_found")
    return get_call(session, int(call_raw)), agent


def _dial(call: Call, agent: Agent, prompts: list[engine.Say]) -> VoiceResponse:
    if agent.voice_device == "phone" and agent.phone:
        return twiml.dial_agent(prompts, call_id=call.id, agent_id=agent.id, number=agent.phone)
    return twiml.dial_agent(prompts, call_id=call.id, agent_id=agent.id, client=f"agent-{agent.id}")


@bp.post("/connect")
@require_twilio_signature
@_caller_safe
def connect() -> Response:
    """We took the call out of the queue for an agent who accepted it: ring them."""
    session = get_session()
    call, agent = _agent_and_call(session)
    loaded = _menu_of(session, call)
    queueing.agent_connected(session, call, agent.id)
    prompts = [engine.prompt(loaded.menu, call.language, "connecting")] if loaded else []
    session.commit()
    return _xml(_dial(call, agent, prompts))


@bp.post("/callback")
@require_twilio_signature
@_caller_safe
def callback_answered() -> Response:
    """The resident picked up our callback: tell them who calls, then ring the agent."""
    session = get_session()
    parent, agent = _agent_and_call(session)
    call = find_call(session, _call_sid())
    if call is None:  # Twilio was quicker than our commit of the new call
        call = queueing.callback_call(session, parent, _call_sid(), agent_id=agent.id)
    queueing.agent_connected(session, call, agent.id)
    loaded = _menu_of(session, parent)
    city = session.get_one(Jurisdiction, parent.jurisdiction_id).name
    prompts = (
        [engine.prompt(loaded.menu, parent.language, "callback_greeting", city=city)]
        if loaded
        else []
    )
    session.commit()
    return _xml(_dial(call, agent, prompts))


@bp.post("/dial/done")
@require_twilio_signature
@_caller_safe
def dial_done() -> Response:
    """The agent's leg ended: they talked, or they never picked up (back in line)."""
    session = get_session()
    raw_call, raw_agent = request.args.get("c", ""), request.args.get("agent", "")
    if not (raw_call.isdigit() and raw_agent.isdigit()):
        raise Invalid("c and agent must be ids.", code="bad_call")
    call = get_call(session, int(raw_call))
    status = request.form.get("DialCallStatus", "")
    seconds = request.form.get("DialCallDuration", "")
    talked = queueing.agent_leg_ended(
        session,
        call,
        int(raw_agent),
        status=status,
        seconds=int(seconds) if seconds.isdigit() else None,
    )
    loaded = _menu_of(session, call)
    session.commit()
    if loaded is None:
        return _xml(twiml.empty())
    menu, language = loaded.menu, call.language
    if talked or call.parent_call_id is not None:
        goodbye = engine.prompt(menu, language, "goodbye")
        return _xml(twiml.say_then_hang_up([goodbye]))
    missed = engine.prompt(menu, language, "agent_missed")
    return _xml(twiml.enqueue([missed], queueing.twilio_queue_name(call), call.id, language))


@bp.post("/transcription")
@require_twilio_signature
def transcription() -> Response:
    """Twilio's transcription of a voicemail or recorded description (minutes later)."""
    session = get_session()
    raw = request.args.get("c", "")
    if not raw.isdigit():
        raise Invalid("c must be a call id.", code="bad_call")
    attach_transcription(
        session,
        int(raw),
        recording_sid=request.form.get("RecordingSid", ""),
        text=request.form.get("TranscriptionText", ""),
        status=request.form.get("TranscriptionStatus", ""),
    )
    session.commit()
    return _xml(twiml.empty())


@bp.post("/status")
@require_twilio_signature
def status() -> Response:
    """The call ended (or an outbound callback failed): duration, and how it ended."""
    session = get_session()
    sid = _call_sid()
    duration = request.form.get("CallDuration", "")
    call_status = request.form.get("CallStatus", "")
    call = end_call(
        session, sid, status=call_status, duration=int(duration) if duration.isdigit() else None
    )
    if call is not None:
        queueing.call_ended(session, call, call_status)
    session.commit()
    return _xml(twiml.empty())


@bp.post("/fallback")
@require_twilio_signature
def fallback() -> Response:
    """Static apology (and the fallback number): no database, nothing that can fail."""
    return _xml(trouble_twiml(_settings().voice_fallback_number))
