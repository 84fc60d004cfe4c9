"""Calls that go wrong: hang-ups at awkward moments, agents who miss, callbacks that fail,
Twilio retrying old news. Nothing may stay held, and no promise may be dropped."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.calls import queueing, service
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.models import WorkItem, WorkState
from ivr.simulator import CallWalker
from tests import factories
from tests.conftest import PUBLIC_BASE_URL, VoiceCity
from tests.twilio_http import CapturingHttpClient

Dial = Callable[..., CallWalker]


def _calls(session: Session) -> list[Call]:
    session.expire_all()
    return list(session.scalars(sa.select(Call).order_by(Call.id)))


def _item(session: Session, call: Call) -> WorkItem:
    return session.get_one(WorkItem, call.work_item_id, populate_existing=True)


def _status(walker: CallWalker, status: str = "completed") -> None:
    walker.post(f"{PUBLIC_BASE_URL}/voice/status", CallStatus=status, CallDuration="5")


def _second_agent(
    session: Session, voice_city: VoiceCity, client: FlaskClient
) -> tuple[int, dict[str, str]]:
    city = session.get_one(Jurisdiction, voice_city.id)
    agent, token = factories.make_agent(session, [city])
    session.commit()
    response = client.patch(
        f"/api/v1/agents/{agent.id}/routing?jurisdiction=demo",
        json={"queues": ["general"], "languages": ["en"]},
        headers=voice_city.headers,
    )
    assert response.status_code == 200, response.get_json()
    return agent.id, {"Authorization": f"Bearer {token}"}


def _take(client: FlaskClient, headers: dict[str, str], run_jobs: Callable[[], None]) -> None:
    offers = client.get("/api/v1/work/offers", headers=headers).get_json()["data"]
    assert offers, "nothing was offered"
    accepted = client.post(f"/api/v1/work/offers/{offers[0]['id']}/accept", headers=headers)
    assert accepted.status_code == 200
    run_jobs()


def _callback_requested(dial: Dial, office: Callable[[bool], None], *keys: str) -> None:
    office(False)
    dial(*(keys or ("1",)), "0", "5").call()
    office(True)


def test_a_caller_who_hangs_up_while_the_agent_is_rung_frees_the_agent(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    client: FlaskClient,
) -> None:
    walker = dial("1", "0")
    walker.call()
    voice_city.available_agent_takes_offer()
    run_jobs()
    [(_sid, update)] = twilio_http.call_updates
    _code, body = walker.post(update["Url"])
    assert "<Dial" in body
    _status(walker)  # hung up during "Connecting you": no Dial action ever comes
    [call] = _calls(session)
    assert call.outcome == CallOutcome.ABANDONED
    item = _item(session, call)
    # Never connected: abandoned, not answered and handled by the agent who was rung.
    assert item.state == WorkState.CANCELLED
    assert item.assigned_at is None and item.first_assigned_at is None
    dial("1", "0", from_="+16135550101").call()
    run_jobs()
    offers = client.get("/api/v1/work/offers", headers=voice_city.headers).get_json()["data"]
    assert offers, "the agent must be free for the next caller"


def test_a_caller_gone_before_the_agent_is_rung_is_abandoned_and_frees_the_agent(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    client: FlaskClient,
) -> None:
    dial("1", "0").call()
    twilio_http.fail_next(404, 20404, "The requested resource was not found")
    voice_city.available_agent_takes_offer()
    run_jobs()
    [call] = _calls(session)
    assert call.outcome == CallOutcome.ABANDONED
    item = _item(session, call)
    assert item.state == WorkState.CANCELLED
    assert item.assigned_at is None and item.first_assigned_at is None
    dial("1", "0", from_="+16135550101").call()
    run_jobs()
    offers = client.get("/api/v1/work/offers", headers=voice_city.headers).get_json()["data"]
    assert offers, "the agent must be free for the next caller"


def test_an_agent_who_misses_the_call_leaves_it_unanswered(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
) -> None:
    walker = dial("1", "0", dial_status="no-answer")
    walker.call()
    voice_city.available_agent_takes_offer()
    run_jobs()
    [(_sid, update)] = twilio_http.call_updates
    walker.resume(update["Url"])
    [call] = _calls(session)
    item = _item(session, call)
    assert item.state == WorkState.WAITING
    assert item.first_assigned_at is None  # the wait goes on until someone really answers


def test_a_resident_who_hangs_up_on_the_callback_greeting_is_called_again(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
) -> None:
    _callback_requested(dial, office)
    voice_city.available_agent_takes_offer()
    run_jobs()
    [created] = twilio_http.calls
    _parent, child = _calls(session)
    leg = dial(call_sid=child.call_sid, to="+16135550100", from_=voice_city.number)
    leg.post(created["Url"])
    _status(leg)
    parent, _child = _calls(session)
    assert parent.callback_attempts == 1
    assert _item(session, parent).state == WorkState.WAITING


def test_callbacks_twilio_refuses_stop_after_the_limit(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
    client: FlaskClient,
) -> None:
    _callback_requested(dial, office)
    for attempt in range(queueing.MAX_CALLBACK_ATTEMPTS):
        twilio_http.fail_next(400, 21215, "Geo permission not enabled")
        if attempt == 0:
            voice_city.available_agent_takes_offer()
        else:
            assert client.post("/api/v1/work/next", headers=voice_city.headers).get_json()["data"]
        run_jobs()
    [parent] = _calls(session)
    assert parent.callback_attempts == queueing.MAX_CALLBACK_ATTEMPTS
    assert parent.outcome == CallOutcome.FAILED
    assert _item(session, parent).state == WorkState.COMPLETED


def test_an_agent_who_misses_callback_legs_does_not_ring_the_resident_forever(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
    client: FlaskClient,
) -> None:
    _callback_requested(dial, office)
    for attempt in range(queueing.MAX_CALLBACK_ATTEMPTS):
        if attempt == 0:
            voice_city.available_agent_takes_offer()
        else:
            assert client.post("/api/v1/work/next", headers=voice_city.headers).get_json()["data"]
        run_jobs()
        child = _calls(session)[-1]
        leg = dial(
            call_sid=child.call_sid,
            to="+16135550100",
            from_=voice_city.number,
            dial_status="no-answer",
        )
        leg.resume(twilio_http.calls[-1]["Url"])
    parent = _calls(session)[0]
    assert len(twilio_http.calls) == queueing.MAX_CALLBACK_ATTEMPTS
    assert parent.outcome == CallOutcome.FAILED
    assert _item(session, parent).state == WorkState.COMPLETED
    assert client.post("/api/v1/work/next", headers=voice_city.headers).get_json()["data"] is None


def test_a_repeated_dial_result_of_an_earlier_agent_leaves_the_next_agent_alone(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    client: FlaskClient,
) -> None:
    b_id, b_headers = _second_agent(session, voice_city, client)
    walker = dial("1", "0", dial_status="no-answer")
    walker.call()
    voice_city.available_agent_takes_offer()
    run_jobs()
    [(_sid, update)] = twilio_http.call_updates
    [call] = _calls(session)
    walker.post(update["Url"])
    dial_done = f"{PUBLIC_BASE_URL}/voice/dial/done?c={call.id}&agent={voice_city.agent_id}"
    _status_code, body = walker.post(dial_done, DialCallStatus="no-answer", DialCallDuration="0")
    assert "<Enqueue" in body  # back in line
    client.put(f"/api/v1/agents/{b_id}/presence", json={"presence": "available"}, headers=b_headers)
    run_jobs()
    _take(client, b_headers, run_jobs)
    walker.post(dial_done, DialCallStatus="no-answer", DialCallDuration="0")  # Twilio again
    item = _item(session, call)
    assert (item.state, item.agent_id) == (WorkState.ASSIGNED, b_id)


def test_a_repeated_status_of_an_old_callback_leg_leaves_the_next_attempt_alone(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
    client: FlaskClient,
) -> None:
    b_id, b_headers = _second_agent(session, voice_city, client)
    _callback_requested(dial, office)
    voice_city.available_agent_takes_offer()
    run_jobs()
    first_leg = dial(call_sid=_calls(session)[-1].call_sid, to="+16135550100")
    _status(first_leg, "no-answer")
    client.put(f"/api/v1/agents/{b_id}/presence", json={"presence": "available"}, headers=b_headers)
    run_jobs()
    _take(client, b_headers, run_jobs)
    _status(first_leg, "no-answer")  # Twilio again, about the first leg
    parent = _calls(session)[0]
    item = _item(session, parent)
    assert (item.state, item.agent_id) == (WorkState.ASSIGNED, b_id)
    assert parent.callback_attempts == 2


def test_a_callback_speaks_the_callers_language_to_the_end(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
    office: Callable[[bool], None],
) -> None:
    _callback_requested(dial, office, "2")
    voice_city.available_agent_takes_offer()
    run_jobs()
    leg = dial(call_sid=_calls(session)[-1].call_sid, to="+16135550100", from_=voice_city.number)
    leg.resume(twilio_http.calls[-1]["Url"])
    assert leg.heard[0].startswith("Bonjour")
    assert leg.heard[-1] == "Merci de votre appel. Au revoir."


def test_a_caller_whose_language_nobody_in_the_queue_speaks_is_still_offered(
    dial: Dial, session: Session, voice_city: VoiceCity, run_jobs: Callable[[], None]
) -> None:
    dial("3", "0").call()  # Spanish; the demo agent speaks English and French
    offer = voice_city.available_agent_takes_offer()
    assert offer["work"]["kind"] == "call"
    assert offer["work"]["language"] is None


def test_a_caller_waiting_past_the_longest_wait_is_offered_voicemail(
    dial: Dial, session: Session, voice_city: VoiceCity
) -> None:
    walker = dial("1", "0", "still waiting", queue_wait_rounds=40, seconds_per_wait_round=60)
    walker.call()
    assert "All our agents are still busy." in " ".join(walker.heard)
    [call] = _calls(session)
    assert call.outcome == CallOutcome.VOICEMAIL
    assert _item(session, call).state == WorkState.CANCELLED


def test_trouble_while_on_hold_is_a_pause_not_a_dial(
    dial: Dial, voice_city: VoiceCity, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = dataclasses.replace(app.config["SETTINGS"], voice_fallback_number="+16135550199")
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    rounds = {"n": 0}
    real = queueing.position

    def flaky(session: Session, call: Call) -> Any:
        rounds["n"] += 1
        if rounds["n"] == 2:
            raise RuntimeError("database blip")
        return real(session, call)

    monkeypatch.setattr(queueing, "position", flaky)
    walker = dial("1", "0", queue_wait_rounds=3)
    walker.call()  # the walker refuses a <Dial> in wait TwiML
    assert walker.state == "in_queue"


def test_a_callback_chosen_just_as_an_agent_accepted_is_still_made(
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    app: Flask,
    monkeypatch: pytest.MonkeyPatch,
    twilio_http: CapturingHttpClient,
) -> None:
    jobs: list[tuple[Any, tuple[Any, ...]]] = []
    monkeypatch.setattr(queueing, "enqueue_after_commit", lambda _s, fn, *a: jobs.append((fn, a)))
    walker = dial("1", "0", queue_wait_rounds=1)
    walker.call()
    [call] = _calls(session)
    voice_city.available_agent_takes_offer()
    [(connect, args)] = jobs
    walker.post(f"{PUBLIC_BASE_URL}/voice/queue/choice?c={call.id}&l=en", Digits="1")
    walker.post(f"{PUBLIC_BASE_URL}/voice/queue/done?c={call.id}&l=en", QueueResult="leave")
    _status(walker)
    with app.app_context():
        connect(*args)
    [created] = twilio_http.calls
    assert created["To"] == "+16135550100"
    [call, _leg] = _calls(session)
    assert call.outcome == CallOutcome.CALLBACK_REQUESTED


def test_two_deliveries_of_the_last_report_step_at_once_open_one_case(
    dial: Dial, session: Session, voice_city: VoiceCity, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("two writers at once need PostgreSQL; SQLite has one")
    walker = dial("1", "1", "1", "broken", "!hangup")
    walker.call()
    [call] = _calls(session)
    step = (
        f"{PUBLIC_BASE_URL}/voice/step?c={call.id}&m={call.menu_id}&l=en&n=report"
        "&p=location&x=pothole&h=welcome.main.report"
    )
    real = service.route_case

    def slow(s: Session, case: Case, *args: Any, **kwargs: Any) -> Any:
        time.sleep(0.3)
        return real(s, case, *args, **kwargs)

    monkeypatch.setattr(service, "route_case", slow)
    results: list[tuple[int, str]] = []

    def post() -> None:
        retry = dial(call_sid=walker.call_sid)
        retry.transport.client = app.test_client()  # type: ignore[attr-defined]
        retry.on_twiml = None
        results.append(retry.post(step, SpeechResult="12 Main Street"))

    threads = [threading.Thread(target=post) for _ in range(2)]
    threads[0].start()
    time.sleep(0.1)
    threads[1].start()
    for thread in threads:
        thread.join()
    assert [status for status, _body in results] == [200, 200]
    session.expire_all()
    assert len(session.scalars(sa.select(Case)).all()) == 1
