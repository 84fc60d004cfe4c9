"""A call's life in the core: started, walked through the menu, turned into a case, ended.

The IVR webhooks call these and commit; nothing here knows TwiML or Twilio. Each call is an
:class:`~contactcenter.cases.models.Interaction` whose provider id is the CallSid, so a Twilio
retry finds the call it already started instead of starting a second one.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, DeliveryStatus, Incident, IncidentStatus, Interaction
from contactcenter.cases.service import open_case
from contactcenter.db import utcnow
from contactcenter.errors import NotFound
from contactcenter.i18n import translate
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import service_type_by_code
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.notifications import service_label
from contactcenter.residents.models import Resident
from contactcenter.residents.service import find_or_create_resident, set_language
from contactcenter.routing.service import route_case

log = logging.getLogger(__name__)

HIDDEN_NUMBERS = frozenset({"", "anonymous", "unknown", "restricted", "private", "+266696687"})
"""What Twilio sends as ``From`` when the caller withholds their number."""

# Later outcomes replace earlier ones, except that a call that got something done is not
# downgraded by what follows (hearing a menu again after opening a case, hanging up...).
_RANK = {
    CallOutcome.IN_PROGRESS: 0,
    CallOutcome.HUNG_UP: 1,
    CallOutcome.SELF_SERVED: 2,
    CallOutcome.FAILED: 2,
    CallOutcome.IN_QUEUE: 3,
    CallOutcome.ABANDONED: 4,
    CallOutcome.VOICEMAIL: 5,
    CallOutcome.CALLBACK_REQUESTED: 5,
    CallOutcome.CASE_OPENED: 6,
    CallOutcome.INCIDENT_JOINED: 6,
    CallOutcome.ANSWERED: 7,
}


@dataclass(frozen=True)
class StartedCall:
    call: Call
    known_language: str | None
    duplicate: bool


def is_hidden(number: str) -> bool:
    return number.strip().lower() in HIDDEN_NUMBERS or number.startswith("client:")


def set_outcome(call: Call, outcome: CallOutcome) -> None:
    if outcome == CallOutcome.ABANDONED or _RANK[outcome] >= _RANK[call.outcome]:
        call.outcome = outcome


def start_call(
    session: Session,
    *,
    jurisdiction_id: int,
    call_sid: str,
    from_number: str,
    to_number: str,
    menu_id: int | None,
    direction: Direction = Direction.INBOUND,
    parent: Call | None = None,
) -> StartedCall:
    """Record a new call (or find it again when Twilio retries) and who is calling."""
    existing = find_call(session, call_sid)
    if existing is not None:
        return StartedCall(existing, _language_of(existing), duplicate=True)
    jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
    resident: Resident | None = None
    caller = to_number if direction is Direction.OUTBOUND else from_number
    if not is_hidden(caller):
        resident, _contact = find_or_create_resident(
            session, jurisdiction, ContactKind.PHONE, caller
        )
    now = utcnow()
    interaction = Interaction(
        jurisdiction_id=jurisdiction_id,
        channel=Channel.VOICE,
        direction=direction,
        provider_id=call_sid,
        from_address=from_number[:320],
        to_address=to_number[:320],
        body="",
        resident=resident,
        delivery_status=DeliveryStatus.RECEIVED,
        processed_at=now,
        created_at=now,
    )
    call = Call(
        jurisdiction_id=jurisdiction_id,
        interaction=interaction,
        call_sid=call_sid,
        direction=direction,
        parent_call_id=parent.id if parent is not None else None,
        menu_id=menu_id,
        language=jurisdiction.default_language,
        menu_path=[],
        draft={},
        created_at=now,
    )
    session.add_all([interaction, call])
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Twilio retried while the first request was still being answered.
        again = find_call(session, call_sid)
        if again is None:
            raise
        return StartedCall(again, _language_of(again), duplicate=True)
    known = resident.preferred_language if resident is not None else None
    return StartedCall(call, known, duplicate=False)


def _language_of(call: Call) -> str | None:
    resident = call.interaction.resident
    return resident.preferred_language if resident is not None else None


def find_call(session: Session, call_sid: str) -> Call | None:
    return session.scalars(sa.select(Call).where(Call.call_sid == call_sid)).one_or_none()


def get_call(session: Session, call_id: int, *, lock: bool = False) -> Call:
    """:raises NotFound: no such call."""
    query = sa.select(Call).where(Call.id == call_id)
    if lock:
        query = query.with_for_update()
    call = session.scalars(query).one_or_none()
    if call is None:
        raise NotFound(f"No call {call_id}.", code="call_not_found")
    return call


def note_progress(
    call: Call,
    *,
    path: Sequence[str],
    language: str,
    draft: Mapping[str, str] | None = None,
    self_served: bool = False,
) -> None:
    """What the caller did since we last wrote: the menu path, their draft report."""
    if list(path) != call.menu_path:
        call.menu_path = list(path)
    call.language = language
    if draft:
        call.draft = {**call.draft, **draft}
    if self_served:
        set_outcome(call, CallOutcome.SELF_SERVED)


def choose_language(session: Session, call: Call, language: str) -> None:
    """The caller chose a language: this call, and every next one, is in it."""
    call.language = language
    resident = call.interaction.resident
    if resident is not None:
        set_language(session, resident, language)


@dataclass(frozen=True)
class CaseStatusAnswer:
    tracking_number: str
    service: str
    status: str


def case_status(
    session: Session, jurisdiction_id: int, tracking_number: str, language: str
) -> CaseStatusAnswer | None:
    """What a caller who keyed a tracking number may hear: the service and the status.

    Nothing personal: anyone can key any number, so no address, name or description.
    """
    case = session.scalars(
        sa.select(Case).where(
            Case.jurisdiction_id == jurisdiction_id, Case.tracking_number == tracking_number
        )
    ).one_or_none()
    if case is None:
        return None
    return CaseStatusAnswer(
        case.tracking_number,
        service_label(case, language),
        translate(language, texts.STATUS_LABELS[case.status]),
    )


def open_case_from_call(
    session: Session, call: Call, *, service_type: str, location: str, language: str
) -> Case:
    """The caller finished reporting a problem: a case, routed like any other.

    A retried webhook finds the case its first delivery opened.
    """
    if call.outcome == CallOutcome.CASE_OPENED and call.interaction.case is not None:
        return call.interaction.case
    jurisdiction = session.get_one(Jurisdiction, call.jurisdiction_id)
    draft: dict[str, Any] = call.draft or {}
    description = str(draft.get("description") or "")
    recording = str(draft.get("recording_url") or "")
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=call.interaction.resident,
        channel=Channel.VOICE,
        description=description or ("(recorded description)" if recording else ""),
        service_type=service_type_by_code(
            session, call.jurisdiction_id, service_type, active_only=False
        ),
        department=None,
        address_text=location[:500],
        language=language,
    )
    _attach(call, case, description or recording)
    route_case(session, case)
    set_outcome(call, CallOutcome.CASE_OPENED)
    return case


def _attach(call: Call, case: Case, body: str) -> None:
    call.interaction.case = case
    if body and not call.interaction.body:
        call.interaction.body = body[:4000]
    case.updated_at = utcnow()


def save_voicemail(
    session: Session,
    call: Call,
    *,
    recording_url: str,
    recording_sid: str,
    seconds: int,
    language: str,
    transcribed: bool = True,
) -> Case:
    """A voicemail is a case; its transcription (if one was asked for) is added when Twilio
    sends it."""
    if call.recording_sid and call.interaction.case is not None:
        return call.interaction.case  # Twilio retried the recording's webhook
    jurisdiction = session.get_one(Jurisdiction, call.jurisdiction_id)
    call.recording_url = recording_url[:500]
    call.recording_sid = recording_sid[:64]
    call.recording_seconds = seconds
    call.transcription_status = "pending" if transcribed else ""
    case = open_case(
        session,
        jurisdiction=jurisdiction,
        resident=call.interaction.resident,
        channel=Channel.VOICE,
        description="",
        service_type=None,
        department=None,
        language=language,
    )
    _attach(call, case, "")
    call.interaction.media_urls = [recording_url]
    record_event(session, case, "voicemail", seconds=seconds)
    route_case(session, case)
    set_outcome(call, CallOutcome.VOICEMAIL)
    return case


def attach_transcription(
    session: Session, call_id: int, *, recording_sid: str, text: str, status: str
) -> Call:
    """Twilio's transcription of a recording on this call arrived (perhaps minutes later).

    :raises NotFound: no such call.
    """
    call = get_call(session, call_id)
    if recording_sid and call.recording_sid and recording_sid != call.recording_sid:
        log.info("call %s: transcription for another recording ignored", call.id)
        return call
    call.transcription_status = status[:16]
    cleaned = " ".join(text.split())
    if status != "completed" or not cleaned or call.interaction.body == cleaned:
        return call
    call.interaction.body = cleaned[:4000]
    case = call.interaction.case
    if case is not None:
        if not case.description or case.description == "(recorded description)":
            case.description = cleaned[:4000]
        case.updated_at = utcnow()
        record_event(session, case, "transcription", call_id=call.id)
    return call


def join_incident(session: Session, call: Call, incident_id: int) -> Case:
    """The caller is calling about an announced incident: their call joins its main case.

    :raises NotFound: the incident is not active in the call's jurisdiction any more.
    """
    if call.outcome == CallOutcome.INCIDENT_JOINED and call.interaction.case is not None:
        return call.interaction.case
    incident = session.scalars(
        sa.select(Incident).where(
            Incident.id == incident_id,
            Incident.jurisdiction_id == call.jurisdiction_id,
            Incident.status == IncidentStatus.ACTIVE,
        )
    ).one_or_none()
    case = _incident_case(session, incident) if incident is not None else None
    if case is None:
        raise NotFound(f"No active incident {incident_id}.", code="incident_not_found")
    _attach(call, case, "")
    record_event(session, case, "caller_joined", call_id=call.id)
    set_outcome(call, CallOutcome.INCIDENT_JOINED)
    return case


def _incident_case(session: Session, incident: Incident) -> Case | None:
    """The incident's first case: the one its other reports gather on."""
    return session.scalars(
        sa.select(Case).where(Case.incident_id == incident.id).order_by(Case.id).limit(1)
    ).first()


def end_call(session: Session, call_sid: str, *, status: str, duration: int | None) -> Call | None:
    """Twilio's final status callback: how long it lasted and how it ended."""
    call = find_call(session, call_sid)
    if call is None:
        return None
    call.status = status[:32]
    if duration is not None:
        call.duration_seconds = duration
    if call.ended_at is None:
        call.ended_at = utcnow()
    if call.outcome == CallOutcome.IN_PROGRESS:
        live = status in ("completed", "in-progress")
        call.outcome = CallOutcome.HUNG_UP if live else CallOutcome.FAILED
    return call
