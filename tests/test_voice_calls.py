"""Whole calls to the demo city's 3-1-1, walked the way Twilio walks them.

Every TwiML answer is checked against Twilio's schema and limits by the walker's hook.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case, CaseStatus, Incident, IncidentStatus, Interaction
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.residents.models import Resident
from contactcenter.routing.models import WorkItem, WorkKind, WorkState
from ivr.simulator import CallWalker
from tests.conftest import PUBLIC_BASE_URL, VoiceCity
from tests.twilio_http import CapturingHttpClient
from tests.twiml_check import assert_valid_twiml

Dial = Callable[..., CallWalker]

REPORT_KEYS = {"en": "1", "fr": "2", "es": "3"}
PHRASES = {
    "en": ("tracking number is", "Thank you for calling"),
    "fr": ("numéro de suivi est", "Merci de votre appel"),
    "es": ("número de seguimiento es", "Gracias por llamar"),
}


def _calls(session: Session) -> list[Call]:
    session.expire_all()
    return list(session.scalars(sa.select(Call).order_by(Call.id)))


def _said(walker: CallWalker) -> str:
    return " ".join(walker.heard)


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_a_caller_reports_a_pothole_and_hears_the_tracking_number(
    dial: Dial, session: Session, voice_city: VoiceCity, language: str
) -> None:
    walker = dial(
        REPORT_KEYS[language], "1", "1", "deep pothole by the school", "12 Main Street", ""
    )
    walker.call()
    assert walker.state == "ended"
    case = session.scalars(sa.select(Case)).one()
    assert case.origin_channel == Channel.VOICE
    assert case.service_type is not None and case.service_type.code == "pothole"
    assert case.description == "deep pothole by the school"
    assert case.address_text == "12 Main Street"
    assert case.language == language
    digits = " ".join(case.tracking_number.replace("-", ""))
    said = _said(walker)
    assert PHRASES[language][0] in said
    assert digits[:7] in said  # read one digit at a time
    assert (
        said.rstrip().endswith(PHRASES[language][1] + (". Goodbye." if language == "en" else ""))
        or PHRASES[language][1] in said
    )
    [call] = _calls(session)
    assert call.outcome == CallOutcome.CASE_OPENED
    assert call.language == language
    assert call.menu_path[:3] == ["welcome", "main", "report"]
    assert call.duration_seconds and call.duration_seconds > 0
    interaction = session.get_one(Interaction, call.interaction_id)
    assert interaction.case_id == case.id
    assert interaction.provider_id == walker.call_sid


def test_the_callers_language_is_remembered_for_the_next_call(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    dial("2", "!hangup").call()
    resident = session.scalars(sa.select(Resident)).one()
    assert resident.preferred_language == "fr"
    second = dial("!hangup")
    second.call()
    assert (
        second.heard[0].startswith("Pour signaler")
        or "Menu" in second.heard[0]
        or "signaler" in _said(second)
    )
    assert "For English" not in _said(second)


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_a_caller_checks_a_request_status_by_keying_its_number(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    language: str,
    open_case: Callable[..., Case],
) -> None:
    case = open_case(status=CaseStatus.IN_PROGRESS)
    walker = dial(REPORT_KEYS[language], "2", case.tracking_number.replace("-", ""), "!hangup")
    walker.call()
    said = _said(walker)
    assert " ".join(case.tracking_number.replace("-", ""))[:7] in said
    status_word = {"en": "in progress", "fr": "en cours", "es": "en proceso"}[language]
    assert status_word in said
    [call] = _calls(session)
    assert call.outcome == CallOutcome.SELF_SERVED


def test_a_wrong_tracking_number_is_refused_and_asked_again(
    dial: Dial, voice_city: VoiceCity
) -> None:
    walker = dial("1", "2", "12345670", "!hangup")
    walker.call()
    said = _said(walker)
    assert "not a valid tracking number" in said or "could not find" in said


@pytest.mark.parametrize("language", ["en", "fr", "es"])
@pytest.mark.parametrize("key", ["1", "2"])
def test_recorded_answers_are_self_service(
    dial: Dial, session: Session, voice_city: VoiceCity, key: str, language: str
) -> None:
    walker = dial(REPORT_KEYS[language], "3", key, "!hangup")
    walker.call()
    [call] = _calls(session)
    assert call.outcome == CallOutcome.SELF_SERVED
    assert call.menu_path[:3] == ["welcome", "main", "info"]
    node = "collection" if key == "1" else "hours"
    assert node in call.menu_path


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_a_voicemail_becomes_a_case_and_a_late_english_transcription_is_attached(
    dial: Dial, session: Session, voice_city: VoiceCity, language: str
) -> None:
    walker = dial(REPORT_KEYS[language], "4", "the streetlight on Elm is out")
    walker.call()
    case = session.scalars(sa.select(Case)).one()
    [call] = _calls(session)
    assert call.outcome == CallOutcome.VOICEMAIL
    assert call.recording_url.startswith("https://api.twilio.com/")
    assert case.description == ""
    if language != "en":  # Twilio transcribes English only: the agent listens to the rest
        assert walker.transcriptions == []
        assert call.transcription_status == ""
        return
    assert call.transcription_status == "pending"
    walker.deliver_transcriptions()
    session.expire_all()
    assert case.description == "the streetlight on Elm is out"
    interaction = session.get_one(Interaction, call.interaction_id)
    assert interaction.body == "the streetlight on Elm is out"
    walker.deliver_transcriptions()  # Twilio retrying changes nothing
    assert len(session.scalars(sa.select(Case)).all()) == 1


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_after_hours_the_caller_is_offered_a_callback_instead_of_an_agent(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    office: Callable[[bool], None],
    language: str,
) -> None:
    office(False)
    walker = dial(REPORT_KEYS[language], "0", "5")
    walker.call()
    said = _said(walker)
    closed = {"en": "closed", "fr": "fermé", "es": "cerrad"}[language]
    assert closed in said.lower()
    assert {"en": "call you back", "fr": "rappellerons", "es": "llamaremos"}[language] in said
    [call] = _calls(session)
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED
    item = session.get_one(WorkItem, call.work_item_id)
    assert item.kind == WorkKind.CALL and item.state == WorkState.WAITING


def test_repeated_invalid_input_leads_to_an_agent_never_a_hang_up_loop(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial("1", "7", "", "banana", "!hangup")
    walker.call()
    said = _said(walker)
    assert said.count("Sorry, I did not get that.") == 3
    [call] = _calls(session)
    assert call.queue_id is not None
    assert call.outcome == CallOutcome.ABANDONED


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_a_caller_who_hangs_up_in_the_queue_is_counted_as_abandoned(
    dial: Dial, session: Session, voice_city: VoiceCity, language: str
) -> None:
    walker = dial(REPORT_KEYS[language], "0", "!hangup")
    walker.call()
    assert {"en": "in line", "fr": "dans la file", "es": "en la fila"}[language] in _said(walker)
    [call] = _calls(session)
    assert call.language == language
    assert call.outcome == CallOutcome.ABANDONED
    assert call.wait_seconds is not None
    item = session.get_one(WorkItem, call.work_item_id)
    assert item.state == WorkState.CANCELLED


def test_a_waiting_caller_hears_their_place_and_can_ask_for_a_callback(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial("1", "0", "1", queue_wait_rounds=6)
    walker.call()
    said = _said(walker)
    assert "You are number 1 in line." in said
    assert "called back without losing your place" in said
    assert "ending in 0 1 0 0" in said
    [call] = _calls(session)
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED
    item = session.get_one(WorkItem, call.work_item_id)
    assert item.state == WorkState.WAITING  # the same item: the same place in line


def test_an_agent_who_accepts_a_queued_call_is_connected_to_it(
    dial: Dial,
    client: FlaskClient,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
) -> None:
    walker = dial("1", "0")
    walker.call()
    assert walker.state == "in_queue"
    offer = voice_city.available_agent_takes_offer()
    assert offer["work"]["kind"] == "call"
    run_jobs()
    [(sid, update)] = twilio_http.call_updates
    assert sid == walker.call_sid
    url = update["Url"]
    assert url.startswith(PUBLIC_BASE_URL + "/voice/connect?")
    walker.resume(url)
    assert walker.state == "ended"
    assert "Connecting you to an agent." in _said(walker)
    [call] = _calls(session)
    assert call.outcome == CallOutcome.ANSWERED
    assert call.agent_id == voice_city.agent_id
    assert call.talk_seconds == 60
    item = session.get_one(WorkItem, call.work_item_id)
    assert item.state == WorkState.COMPLETED


def test_a_callback_calls_the_resident_and_rings_the_agent(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
) -> None:
    office(False)
    dial("1", "0", "5").call()
    office(True)
    voice_city.available_agent_takes_offer()
    run_jobs()
    [created] = twilio_http.calls
    assert created["To"] == "+16135550100"
    assert created["Url"].startswith(PUBLIC_BASE_URL + "/voice/callback?")
    parent, child = _calls(session)
    assert child.parent_call_id == parent.id
    leg = dial(call_sid=child.call_sid, to="+16135550100", from_=voice_city.number)
    leg.resume(created["Url"])
    assert "returning your call" in _said(leg)
    session.expire_all()
    parent = session.get_one(Call, parent.id)
    assert parent.outcome == CallOutcome.ANSWERED
    assert session.get_one(WorkItem, parent.work_item_id).state == WorkState.COMPLETED


def test_an_incident_announcement_lets_the_caller_join_its_case(
    dial: Dial, session: Session, voice_city: VoiceCity, open_case: Callable[..., Case]
) -> None:
    case = open_case()
    incident = Incident(
        jurisdiction_id=voice_city.id,
        status=IncidentStatus.ACTIVE,
        announcement="We know about the water main break on Main Street.",
        latitude=45.0,
        longitude=-75.0,
        radius_m=250,
    )
    session.add(incident)
    session.flush()
    case.incident_id = incident.id
    session.commit()
    walker = dial("1", "9")
    walker.call()
    assert "water main break on Main Street" in _said(walker)
    [call] = _calls(session)
    assert call.outcome == CallOutcome.INCIDENT_JOINED
    assert session.get_one(Interaction, call.interaction_id).case_id == case.id
    assert len(session.scalars(sa.select(Case)).all()) == 1


def test_a_retried_incoming_call_starts_one_call_and_answers_the_same(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial()
    first = walker.post(f"{PUBLIC_BASE_URL}/voice/incoming", CallStatus="ringing")
    again = walker.post(f"{PUBLIC_BASE_URL}/voice/incoming", CallStatus="ringing")
    assert first == again
    assert len(_calls(session)) == 1
    assert len(session.scalars(sa.select(Interaction)).all()) == 1


def test_a_retried_last_report_step_opens_one_case(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial("1", "1", "1", "broken", "12 Main Street", "")
    walker.call()
    step = [url for url, _params in walker.sent if "p=location" in url]
    assert step, walker.sent
    for _ in range(2):
        status, _body = walker.post(step[-1], SpeechResult="12 Main Street")
        assert status == 200
    assert len(session.scalars(sa.select(Case)).all()) == 1


def test_an_unknown_number_hears_a_polite_message(dial: Dial, voice_city: VoiceCity) -> None:
    walker = dial(to="+16135559999")
    walker.call()
    assert "does not answer for 3-1-1" in _said(walker)


def test_a_bad_signature_is_refused(client: FlaskClient, voice_city: VoiceCity) -> None:
    response = client.post(
        "/voice/incoming",
        data={"CallSid": "CA" + "0" * 32, "To": voice_city.number},
        headers={"X-Twilio-Signature": "forged"},
    )
    assert response.status_code == 403


@pytest.mark.parametrize(
    "query",
    ["c=1&m=1&l=en&n=nowhere", "c=x", "", "c=999999&m=999999&l=en&n=main"],
)
def test_garbage_state_leads_to_a_safe_exit_not_an_error(
    dial: Dial, voice_city: VoiceCity, query: str
) -> None:
    walker = dial()
    walker.call_sid = "CA" + "1" * 32
    url = f"{PUBLIC_BASE_URL}/voice/step" + (f"?{query}" if query else "")
    status, body = walker.post(url, Digits="1")
    assert status == 200
    assert "<Say" in body


def test_missing_input_parameters_are_a_re_prompt(dial: Dial, voice_city: VoiceCity) -> None:
    walker = dial("1", "", "!hangup")
    walker.call()
    step = next(url for url, _params in walker.sent if "n=main" in url)
    status, body = walker.post(step)
    assert status == 200
    assert "Sorry, I did not get that." in body


def test_the_fallback_url_answers_without_a_database(app_without_database: FlaskClient) -> None:
    from twilio.request_validator import RequestValidator

    from tests.conftest import AUTH_TOKEN

    params = {"CallSid": "CA" + "2" * 32, "ErrorCode": "11200"}
    url = f"{PUBLIC_BASE_URL}/voice/fallback"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, params)
    response = app_without_database.post(
        "/voice/fallback", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 200
    assert b"9-1-1" in response.data
    assert_valid_twiml(response.get_data(as_text=True))


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


def test_every_call_is_an_interaction_on_the_residents_record(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    dial("1", "!hangup").call()
    [call] = _calls(session)
    interaction = session.get_one(Interaction, call.interaction_id)
    assert interaction.channel == Channel.VOICE
    assert interaction.resident_id is not None
    assert call.outcome == CallOutcome.HUNG_UP
    assert session.get(Jurisdiction, voice_city.id) is not None


def test_walking_the_menu_costs_no_database_round_trip(
    dial: Dial, voice_city: VoiceCity, count_queries: Callable[..., Any]
) -> None:
    """A caller waits on every webhook: menu steps read their state from the URL and the
    menu from the process, not from the database."""
    walker = dial("1", "3", "9", "3", "9", "!hangup")
    walker.call()  # warms the per-process menu and hours
    main = next(url for url, _params in walker.sent if "n=info" in url)
    with count_queries() as counter:
        status, body = walker.post(main, Digits="9")
    assert status == 200 and "<Gather" in body
    assert counter.count == 0, counter.statements


def test_city_staff_can_walk_the_menu_from_the_terminal(app: Flask, voice_city: VoiceCity) -> None:
    from tests.test_cli import _invoke

    output = _invoke(app, "ivr", "simulate", "--input", '1,1,1,"deep pothole",12 Main Street,')
    assert "Welcome to Demo City 3-1-1" in output
    assert "tracking number is" in output
    assert "CALLER SAYS: deep pothole" in output
    assert "[call ended after" in output


def test_a_silent_voicemail_is_asked_again_not_hung_up(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial("1", "4", "", "water coming out of the road")
    walker.call()
    assert "I did not hear a message." in _said(walker)
    [call] = _calls(session)
    assert call.outcome == CallOutcome.VOICEMAIL
    assert len(session.scalars(sa.select(Case)).all()) == 1
