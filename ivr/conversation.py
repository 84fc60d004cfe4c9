"""Between the pure engine and the core: perform what a reply needs, then render it.

The engine says *what* the caller hears and which answer it needs (a status, a new case, a
place in the queue); this module asks the core's call services for it, writes what the
caller did to the call's record, and turns the finished reply into TwiML.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session
from twilio.twiml.voice_response import VoiceResponse

from contactcenter.calls import queueing
from contactcenter.calls.models import Call
from contactcenter.calls.service import (
    case_status,
    choose_language,
    get_call,
    is_hidden,
    join_incident,
    note_progress,
    open_case_from_call,
    save_voicemail,
)
from contactcenter.errors import NotFound
from ivr import engine, twiml
from ivr.engine import CallState, Heard, Reply
from ivr.runtime import LoadedMenu


@dataclass
class Turn:
    """One webhook's worth of call: the menu, what we know now, what the caller did."""

    session: Session
    loaded: LoadedMenu
    facts: engine.Facts
    heard: Heard
    recording_sid: str = ""
    _call: Call | None = None

    def call(self, call_id: int) -> Call:
        if self._call is None:
            # Locked: a retry arriving while this request still works waits, then finds the
            # case (or queue place) this one made instead of making a second.
            self._call = get_call(self.session, call_id, lock=True)
        return self._call


def play(turn: Turn, reply: Reply, state: CallState) -> VoiceResponse:
    """Perform ``reply``'s needs and effects, and render the TwiML the caller hears."""
    for _ in range(4):  # an answer may lead to another need (no incident any more → menu)
        need = reply.then
        if not isinstance(need, NEEDS):
            break
        call = _record(turn, reply.effects, need.state)
        if isinstance(need, engine.QueueForAgent):
            queueing.queue_call(
                turn.session, call, queue_code=need.queue, language=need.state.language
            )
            name = queueing.twilio_queue_name(call)
            return twiml.enqueue(reply.prompts, name, call.id, need.state.language)
        follow = _perform(turn, call, need)
        # The effects so far are written: only the follow-up's own remain to be.
        reply = Reply((*reply.prompts, *follow.prompts), follow.then, follow.effects)
    if reply.effects or isinstance(reply.then, engine.Hangup):
        _record(turn, reply.effects, getattr(reply.then, "state", None) or state)
    return twiml.render(reply)


NEEDS = (
    engine.LookupStatus,
    engine.OpenCase,
    engine.SaveVoicemail,
    engine.JoinIncident,
    engine.QueueForAgent,
    engine.RequestCallback,
)


def _record(turn: Turn, effects: tuple[engine.Effect, ...], state: CallState) -> Call:
    """Write what the caller did since the last write: path, language, draft, outcome."""
    call = turn.call(state.call_id)
    draft = {e.key: e.value[:2000] for e in effects if isinstance(e, engine.SaveDraft)}
    note_progress(
        call,
        path=state.path,
        language=state.language,
        draft=draft,
        self_served=any(isinstance(e, engine.SelfServed) for e in effects),
    )
    for effect in effects:
        if isinstance(effect, engine.SetLanguage):
            choose_language(turn.session, call, effect.language)
    return call


def _perform(turn: Turn, call: Call, need: engine.Need) -> Reply:
    """One need, answered: the reply that follows it."""
    menu, session, state = turn.loaded.menu, turn.session, need.state
    if isinstance(need, engine.LookupStatus):
        answer = case_status(
            session, turn.loaded.jurisdiction_id, need.tracking_number, state.language
        )
        found = (
            engine.StatusAnswer(answer.tracking_number, answer.service, answer.status)
            if answer is not None
            else None
        )
        return engine.status_answered(menu, state, turn.facts, need.tracking_number, found)
    if isinstance(need, engine.OpenCase):
        case = open_case_from_call(
            session,
            call,
            service_type=need.service_type,
            location=need.location,
            language=state.language,
        )
        return engine.case_opened(menu, state, case.tracking_number)
    if isinstance(need, engine.SaveVoicemail):
        case = save_voicemail(
            session,
            call,
            recording_url=turn.heard.recording_url,
            recording_sid=turn.recording_sid,
            seconds=turn.heard.recording_seconds,
            language=state.language,
            transcribed=need.transcribed,
        )
        return engine.voicemail_saved(menu, state, case.tracking_number)
    if isinstance(need, engine.JoinIncident):
        try:
            case = join_incident(session, call, need.incident_id)
        except NotFound:  # resolved since it was announced: back to the menu
            return engine.enter(menu, state, turn.facts, state.node)
        return engine.incident_joined(menu, state, case.tracking_number)
    if isinstance(need, engine.RequestCallback):
        if is_hidden(call.interaction.from_address):
            return engine.callback_impossible(menu, state, turn.facts)
        queueing.queue_call(
            session, call, queue_code=need.queue, language=state.language, callback=True
        )
        return engine.callback_confirmed(menu, state, call.interaction.from_address[-4:])
    raise TypeError(f"{need!r} is performed by play()")
