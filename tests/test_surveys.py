"""The satisfaction survey by text and by email: sent once a case is finished, answered by a
reply of 1 to 5 or on the survey page, with opt-outs, the 30-day rule and the city's switch."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter import texts
from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, DeliveryStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.i18n import translate
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.surveys.models import Survey, SurveyState
from contactcenter.surveys.service import expire_surveys, score_of_text
from tests.conftest import ACCOUNT_SID
from tests.factories import make_agent, make_case

RESIDENT = "+16135550100"
CITY = "+16135550311"
CITY_MAIL = "311@springfield.example"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def supervisor(session: Session, jurisdiction: Jurisdiction) -> dict[str, str]:
    _agent, token = make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def _resolve(client: FlaskClient, headers: dict[str, str], case_id: int, run_jobs: Any) -> None:
    response = client.post(
        f"/api/v1/cases/{case_id}/status", json={"status": "resolved"}, headers=headers
    )
    assert response.status_code == 200, response.get_json()
    run_jobs()


def _texted_case(send_sms: Any, session: Session, body: str = "Pothole at 12 Main St") -> Case:
    send_sms(body, from_=RESIDENT)
    session.expire_all()
    return session.scalars(sa.select(Case).order_by(Case.id.desc()).limit(1)).one()


def _surveys(session: Session) -> list[Survey]:
    session.expire_all()
    return list(session.scalars(sa.select(Survey).order_by(Survey.id)))


def _events(session: Session, kind: str) -> list[CaseEvent]:
    session.expire_all()
    return list(session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == kind)))


# --- By text ----------------------------------------------------------------------------------


def test_a_resolved_text_case_is_asked_once_by_text_after_the_resolution_notice(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    case = _texted_case(send_sms, session)

    _resolve(client, supervisor, case.id, run_jobs)

    question = translate("en", texts.SURVEY_SMS, city="Springfield", tracking=case.tracking_number)
    assert question == (
        f"Springfield 3-1-1: How did we do on request #{case.tracking_number}? "
        "Reply 1 (poor) to 5 (great)."
    )
    assert "has been resolved" in twilio_http.messages[-2]["Body"]
    assert twilio_http.messages[-1]["Body"] == question
    assert twilio_http.messages[-1]["To"] == RESIDENT
    [survey] = _surveys(session)
    assert (survey.channel, survey.address, survey.state) == (Channel.SMS, RESIDENT, "sent")
    assert survey.case_id == case.id and survey.resident_id == case.resident_id
    assert survey.expires_at - survey.sent_at == dt.timedelta(days=7)
    asked = session.get_one(Interaction, survey.interaction_id)
    assert asked.body == question and asked.direction == Direction.OUTBOUND
    assert asked.delivery_status != DeliveryStatus.SUPPRESSED

    # Closing after the resolution asks nothing more: one survey per case.
    client.post(f"/api/v1/cases/{case.id}/status", json={"status": "closed"}, headers=supervisor)
    run_jobs()
    assert len(_surveys(session)) == 1
    assert twilio_http.messages[-1]["Body"] == question


@pytest.mark.parametrize(("reply", "score"), [("5", 5), ("5!", 5), (" 4 ", 4), ("1", 1)])
def test_a_reply_of_one_to_five_is_the_answer_not_a_new_case(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs, reply, score
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)

    send_sms(reply, from_=RESIDENT)

    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(Case.id))) == 1
    [survey] = _surveys(session)
    assert (survey.state, survey.score) == (SurveyState.ANSWERED, score)
    assert survey.answered_at is not None
    assert session.get_one(Case, case.id).satisfaction == score
    assert session.get_one(Case, case.id).status == CaseStatus.RESOLVED
    answer = session.scalars(
        sa.select(Interaction).where(
            Interaction.direction == Direction.INBOUND, Interaction.body == reply
        )
    ).one()
    assert answer.case_id == case.id
    assert twilio_http.messages[-1]["Body"] == translate(
        "en", texts.SURVEY_SMS_THANKS, city="Springfield"
    )
    [event] = _events(session, "survey_answered")
    assert event.data["score"] == score and event.actor == "resident"


def test_a_twilio_retry_of_the_answer_is_recorded_once(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    sent_before = len(twilio_http.messages)

    first = send_sms("4", from_=RESIDENT, sid="SM" + "a" * 32)
    retry = send_sms("4", from_=RESIDENT, sid="SM" + "a" * 32)

    assert first.status_code == retry.status_code == 200
    [survey] = _surveys(session)
    assert survey.score == 4
    assert len(_events(session, "survey_answered")) == 1
    assert len(twilio_http.messages) == sent_before + 1  # one thanks
    inbound = session.scalar(
        sa.select(sa.func.count(Interaction.id)).where(Interaction.body == "4")
    )
    assert inbound == 1
    assert session.scalar(sa.select(sa.func.count(Case.id))) == 1


def test_a_second_score_after_the_answer_changes_nothing_and_opens_no_case(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    send_sms("4", from_=RESIDENT)
    sent_before = len(twilio_http.messages)

    send_sms("2", from_=RESIDENT)

    [survey] = _surveys(session)
    assert survey.score == 4
    assert session.get_one(Case, case.id).satisfaction == 4
    assert session.scalar(sa.select(sa.func.count(Case.id))) == 1  # no junk request "2"
    again = session.scalars(sa.select(Interaction).where(Interaction.body == "2")).one()
    assert again.case_id == case.id  # kept where staff see it
    assert len(twilio_http.messages) == sent_before  # thanked once, not twice
    assert len(_events(session, "survey_answered")) == 1


def test_a_score_after_the_survey_expired_is_an_ordinary_text(
    jurisdiction, session, send_sms, client, supervisor, run_jobs
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    send_sms("4", from_=RESIDENT)
    [survey] = _surveys(session)
    survey.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()

    send_sms("2", from_=RESIDENT)

    assert session.scalar(sa.select(sa.func.count(Case.id))) == 2  # "2" is a request


def test_a_case_opened_after_the_survey_takes_every_text_even_a_score(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    finished = _texted_case(send_sms, session)
    _resolve(client, supervisor, finished.id, run_jobs)
    current = _texted_case(send_sms, session, "Streetlight out at 5 Elm St")
    assert current.id != finished.id

    for text in ("5 stars, thanks", "6", "It is still dark", "45", "5"):
        send_sms(text, from_=RESIDENT)
        session.expire_all()
        reply = session.scalars(sa.select(Interaction).where(Interaction.body == text)).one()
        assert reply.case_id == current.id, text
        assert "We added your message" in twilio_http.messages[-1]["Body"]
    [survey] = _surveys(session)
    assert survey.state == SurveyState.SENT  # the resident is talking about the new request
    session.expire_all()
    assert session.get_one(Case, finished.id).satisfaction is None


def test_a_score_answers_the_survey_when_an_older_open_case_is_quiet(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    older = _texted_case(send_sms, session, "Streetlight out at 5 Elm St")
    older.updated_at = utcnow() - dt.timedelta(hours=3)  # out of the conversation's window
    session.commit()
    finished = _texted_case(send_sms, session, "Pothole at 12 Main St")
    assert finished.id != older.id
    _resolve(client, supervisor, finished.id, run_jobs)

    send_sms("5", from_=RESIDENT)  # the survey is the last thing we asked

    [survey] = _surveys(session)
    assert (survey.state, survey.case_id, survey.score) == (SurveyState.ANSWERED, finished.id, 5)
    reply = session.scalars(sa.select(Interaction).where(Interaction.body == "5")).one()
    assert reply.case_id == finished.id


def _inbound(session: Session, body: str) -> Interaction:
    session.expire_all()
    return session.scalars(
        sa.select(Interaction).where(
            Interaction.direction == Direction.INBOUND, Interaction.body == body
        )
    ).one()


def test_a_score_answering_an_agents_question_goes_to_that_case_not_the_survey(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    finished = _texted_case(send_sms, session)
    _resolve(client, supervisor, finished.id, run_jobs)
    current = _texted_case(send_sms, session, "Several potholes at 40 Elm St")
    asked = client.post(
        f"/api/v1/cases/{current.id}/replies",
        json={"body": "How many potholes are there?"},
        headers=supervisor,
    )
    assert asked.status_code in (200, 201, 202), asked.get_json()
    waiting = client.post(f"/api/v1/cases/{current.id}/waiting", headers=supervisor)
    assert waiting.status_code == 200, waiting.get_json()
    run_jobs()

    send_sms("3", from_=RESIDENT)

    assert _inbound(session, "3").case_id == current.id
    assert "We added your message" in twilio_http.messages[-1]["Body"]
    assert session.get_one(Case, current.id).awaiting is None  # its SLA clock runs again
    [survey] = _surveys(session)
    assert (survey.state, survey.score) == (SurveyState.SENT, None)
    assert session.get_one(Case, finished.id).satisfaction is None


def test_a_score_answering_where_the_problem_is_goes_to_that_case(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    finished = _texted_case(send_sms, session)
    _resolve(client, supervisor, finished.id, run_jobs)
    current = _texted_case(send_sms, session, "Several potholes on Elm St near the school")
    assert current.awaiting == "location"

    send_sms("3", from_=RESIDENT)

    assert _inbound(session, "3").case_id == current.id
    assert _surveys(session)[0].state == SurveyState.SENT
    assert session.get_one(Case, finished.id).satisfaction is None


def test_a_score_goes_to_an_older_case_we_wrote_on_after_the_survey(
    jurisdiction, session, send_sms, client, supervisor, run_jobs
):
    older = _texted_case(send_sms, session, "Streetlight out at 5 Elm St")
    older.updated_at = utcnow() - dt.timedelta(hours=3)
    session.commit()
    finished = _texted_case(send_sms, session, "Pothole at 12 Main St")
    _resolve(client, supervisor, finished.id, run_jobs)
    asked = client.post(
        f"/api/v1/cases/{older.id}/replies",
        json={"body": "Which pole: the one at the corner?"},
        headers=supervisor,
    )
    assert asked.status_code in (200, 201, 202), asked.get_json()
    run_jobs()

    send_sms("1", from_=RESIDENT)

    assert _inbound(session, "1").case_id == older.id
    assert _surveys(session)[0].state == SurveyState.SENT


def test_a_score_goes_to_a_case_waiting_on_the_resident(
    jurisdiction, session, send_sms, client, supervisor, run_jobs
):
    waiting = _texted_case(send_sms, session, "Streetlight out at 5 Elm St")
    waiting.updated_at = utcnow() - dt.timedelta(minutes=30)
    session.commit()
    assert client.post(f"/api/v1/cases/{waiting.id}/waiting", headers=supervisor).status_code == 200
    finished = make_case(session, jurisdiction, resident=waiting.resident, channel=Channel.SMS)
    session.commit()
    _resolve(client, supervisor, finished.id, run_jobs)
    [survey] = _surveys(session)
    assert survey.state == SurveyState.SENT

    send_sms("2", from_=RESIDENT)

    assert _inbound(session, "2").case_id == waiting.id
    assert session.get_one(Case, waiting.id).awaiting is None
    assert _surveys(session)[0].state == SurveyState.SENT


def test_a_text_that_is_not_a_score_looks_for_no_survey(
    jurisdiction, session, send_sms, client, supervisor, run_jobs, count_queries
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)

    with count_queries() as counter:
        send_sms("Thanks, the pothole is filled", from_=RESIDENT)

    assert not [q for q in counter.statements if "satisfaction_surveys" in q]


def test_scores_are_recognized_only_alone():
    assert [score_of_text(t) for t in ("3", " 3 ", "3!", "3.", "\uff13", "\t5!!\n")] == [
        3,
        3,
        3,
        3,
        3,
        5,
    ]
    assert [score_of_text(t) for t in ("0", "6", "10", "3 stars", "five", "", "3/5")] == [None] * 7


def test_a_resident_who_texted_stop_is_not_asked(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    case = _texted_case(send_sms, session)
    send_sms("STOP", from_=RESIDENT)
    sent_before = len(twilio_http.messages)

    _resolve(client, supervisor, case.id, run_jobs)

    assert len(twilio_http.messages) == sent_before  # neither the notice nor the survey
    [survey] = _surveys(session)
    assert survey.state == SurveyState.SUPPRESSED
    [event] = _events(session, "survey_suppressed")
    assert event.data == {"channel": "sms", "reason": "opted_out"}
    asked = session.get_one(Interaction, survey.interaction_id)
    assert asked.delivery_status == DeliveryStatus.SUPPRESSED

    send_sms("5", from_=RESIDENT)  # a suppressed survey takes no answer
    assert _surveys(session)[0].state == SurveyState.SUPPRESSED


def test_a_question_that_was_not_delivered_is_a_suppressed_survey(
    jurisdiction, session, send_sms, signed_post, client, supervisor, run_jobs
):
    from contactcenter.surveys.service import survey_figures

    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    [survey] = _surveys(session)
    asked = session.get_one(Interaction, survey.interaction_id)

    callback = signed_post(
        "/sms/status",
        {
            "MessageSid": asked.provider_id or "SM" + "b" * 32,
            "MessageStatus": "undelivered",
            "ErrorCode": "30003",
            "AccountSid": ACCOUNT_SID,
        },
        query=f"interaction={asked.id}",
    )

    assert callback.status_code == 200
    [survey] = _surveys(session)
    assert survey.state == SurveyState.SUPPRESSED
    send_sms("5", from_=RESIDENT)  # no survey is waiting for it: an ordinary text
    assert _surveys(session)[0].score is None
    today = utcnow().astimezone(ZoneInfo("America/Toronto")).date()
    figures = survey_figures(session, jurisdiction, start=today, end=today)
    assert (figures.sent, figures.suppressed) == (0, 1)


def test_a_resident_is_asked_at_most_once_in_thirty_days(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    first = _texted_case(send_sms, session)
    _resolve(client, supervisor, first.id, run_jobs)
    second = _texted_case(send_sms, session, "Garbage not picked up at 3 Oak St")
    sent_before = len(twilio_http.messages)

    _resolve(client, supervisor, second.id, run_jobs)

    assert len(twilio_http.messages) == sent_before + 1  # the notice only
    surveys = _surveys(session)
    assert [s.state for s in surveys] == [SurveyState.SENT, SurveyState.SUPPRESSED]
    [event] = _events(session, "survey_suppressed")
    assert event.data["reason"] == "recently_surveyed" and event.case_id == second.id

    surveys[0].sent_at = utcnow() - dt.timedelta(days=31)
    session.commit()
    third = _texted_case(send_sms, session, "Pothole on 9 Pine St")
    _resolve(client, supervisor, third.id, run_jobs)
    assert _surveys(session)[-1].state == SurveyState.SENT


def test_a_french_resident_is_asked_and_thanked_in_french(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    case = _texted_case(
        send_sms, session, "Bonjour, il y a un nid de poule devant le 45, rue Principale"
    )

    _resolve(client, supervisor, case.id, run_jobs)
    assert twilio_http.messages[-1]["Body"] == translate(
        "fr", texts.SURVEY_SMS, city="Springfield", tracking=case.tracking_number
    )
    send_sms("5", from_=RESIDENT)
    assert twilio_http.messages[-1]["Body"].startswith("Springfield 3-1-1 : merci")


def test_an_expired_survey_takes_no_answer_by_text(
    jurisdiction, session, send_sms, client, supervisor, run_jobs
):
    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    [survey] = _surveys(session)
    survey.expires_at = utcnow() - dt.timedelta(seconds=1)
    session.commit()

    send_sms("5", from_=RESIDENT)

    [survey] = _surveys(session)
    assert survey.state == SurveyState.SENT and survey.score is None
    assert session.scalar(sa.select(sa.func.count(Case.id))) == 2
    assert expire_surveys(session) == 1
    session.commit()
    assert _surveys(session)[0].state == SurveyState.EXPIRED
    assert expire_surveys(session) == 0


def test_a_score_texted_to_another_city_answers_nothing_here(
    jurisdiction, other_city, session, send_sms, client, supervisor, run_jobs
):
    from tests.factories import sms_number

    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)

    send_sms("5", from_=RESIDENT, to=sms_number(session, other_city))

    [survey] = _surveys(session)
    assert survey.state == SurveyState.SENT
    session.expire_all()
    theirs = session.scalars(sa.select(Case).where(Case.jurisdiction_id == other_city.id)).one()
    assert theirs.description == "5"  # a request there, as any text would be


# --- Who is not asked -------------------------------------------------------------------------


def test_a_walk_in_without_a_contact_gets_no_survey(
    jurisdiction, session, client, supervisor, twilio_http, run_jobs
):
    case = make_case(session, jurisdiction, channel=Channel.WALK_IN, resident=None)
    open311 = make_case(
        session,
        jurisdiction,
        channel=Channel.OPEN311,
        resident=Resident(jurisdiction_id=jurisdiction.id),
    )
    session.commit()

    _resolve(client, supervisor, case.id, run_jobs)
    _resolve(client, supervisor, open311.id, run_jobs)

    assert _surveys(session) == []
    assert _events(session, "survey_suppressed") == []


def test_a_walk_in_with_a_phone_is_asked_by_text(
    jurisdiction, session, client, supervisor, twilio_http, run_jobs
):
    resident = Resident(jurisdiction_id=jurisdiction.id)
    session.add(
        ContactPoint(
            jurisdiction_id=jurisdiction.id,
            resident=resident,
            kind=ContactKind.PHONE,
            address=RESIDENT,
        )
    )
    case = make_case(session, jurisdiction, channel=Channel.WALK_IN, resident=resident)
    session.commit()

    _resolve(client, supervisor, case.id, run_jobs)

    [survey] = _surveys(session)
    assert (survey.channel, survey.address, survey.state) == (Channel.SMS, RESIDENT, "sent")
    assert twilio_http.messages[-1]["To"] == RESIDENT


# --- The city's switch ------------------------------------------------------------------------


def test_supervisors_turn_surveys_off_altogether_or_per_channel(
    jurisdiction, session, send_sms, client, supervisor, twilio_http, run_jobs
):
    shown = client.get("/api/v1/settings/surveys", headers=supervisor)
    assert shown.status_code == 200
    assert shown.get_json() == {
        "jurisdiction": "springfield",
        "data": {"enabled": True, "sms": True, "email": True, "webchat": True},
    }
    off = client.put("/api/v1/settings/surveys", json={"sms": False}, headers=supervisor)
    assert off.status_code == 200
    assert off.get_json()["data"] == {"enabled": True, "sms": False, "email": True, "webchat": True}

    case = _texted_case(send_sms, session)
    _resolve(client, supervisor, case.id, run_jobs)
    assert _surveys(session) == []
    assert "has been resolved" in twilio_http.messages[-1]["Body"]

    client.put("/api/v1/settings/surveys", json={"enabled": False}, headers=supervisor)
    other = _texted_case(send_sms, session, "Garbage not picked up at 3 Oak St")
    _resolve(client, supervisor, other.id, run_jobs)
    assert _surveys(session) == []

    client.put("/api/v1/settings/surveys", json={}, headers=supervisor)  # all back on
    third = _texted_case(send_sms, session, "Pothole on 9 Pine St")
    _resolve(client, supervisor, third.id, run_jobs)
    assert [s.case_id for s in _surveys(session)] == [third.id]


def test_survey_settings_refuse_bad_values_other_cities_and_agents(
    jurisdiction, other_city, session, client, supervisor
):
    bad = client.put(
        "/api/v1/settings/surveys", json={"sms": "no", "sms_too": True}, headers=supervisor
    )
    assert bad.status_code == 400
    assert set(bad.get_json()["error"]["fields"]) == {"sms", "sms_too"}
    assert client.put("/api/v1/settings/surveys", json=[1], headers=supervisor).status_code == 400
    assert (
        client.get(
            "/api/v1/settings/surveys?jurisdiction=shelbyville", headers=supervisor
        ).status_code
        == 404
    )
    assert (
        client.put(
            "/api/v1/settings/surveys?jurisdiction=shelbyville", json={}, headers=supervisor
        ).status_code
        == 404
    )
    _agent, token = make_agent(session, [jurisdiction])
    session.commit()
    agent = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/settings/surveys", headers=agent).status_code == 403
    assert client.put("/api/v1/settings/surveys", json={}, headers=agent).status_code == 403
    assert client.get("/api/v1/settings/surveys").status_code == 401


# --- By email, answered on the page -----------------------------------------------------------


@pytest.fixture
def emailed_case(session: Session, jurisdiction: Jurisdiction) -> Case:
    """A case the resident emailed in about (so the city answers by email)."""
    session.add(
        ChannelAddress(jurisdiction_id=jurisdiction.id, channel=Channel.EMAIL, address=CITY_MAIL)
    )
    resident = Resident(jurisdiction_id=jurisdiction.id, preferred_language="en")
    session.add(
        ContactPoint(
            jurisdiction_id=jurisdiction.id,
            resident=resident,
            kind=ContactKind.EMAIL,
            address="lisa@example.org",
        )
    )
    case = make_case(session, jurisdiction, channel=Channel.EMAIL, resident=resident)
    session.add(
        Interaction(
            jurisdiction_id=jurisdiction.id,
            case=case,
            resident=resident,
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            from_address="lisa@example.org",
            to_address=CITY_MAIL,
            body="Pothole at 12 Main St",
            delivery_status=DeliveryStatus.RECEIVED,
            provider_id="<first@example.org>",
        )
    )
    session.commit()
    return case


def _emailed_survey(session: Session) -> tuple[Survey, Interaction]:
    [survey] = _surveys(session)
    assert survey.channel == Channel.EMAIL
    return survey, session.get_one(Interaction, survey.interaction_id)


def _csrf(page: Any) -> str:
    found = CSRF.search(page.get_data(as_text=True))
    assert found, "the form has no CSRF token"
    return found.group(1)


def test_an_emailed_case_gets_a_link_answered_on_the_page(
    emailed_case, session, client, supervisor, run_jobs
):
    _resolve(client, supervisor, emailed_case.id, run_jobs)

    survey, mail = _emailed_survey(session)
    link = f"https://311.city.example/survey/{survey.token}"
    assert survey.address == "lisa@example.org"
    assert mail.to_address == "lisa@example.org" and mail.from_address == CITY_MAIL
    assert link in mail.body
    assert (
        mail.subject
        == f"Springfield 3-1-1: how did we do on request #{emailed_case.tracking_number}?"
    )
    assert mail.automated
    assert mail.delivery_status not in (DeliveryStatus.SUPPRESSED, DeliveryStatus.FAILED)

    page = client.get(f"/survey/{survey.token}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert '<html lang="en">' in html
    for score, label in texts.SURVEY_SCORE_LABELS.items():
        assert (
            f'<label for="score-{score}"><span class="score">{score}</span> {label}</label>' in html
        )
        assert f'id="score-{score}" value="{score}"' in html
    assert emailed_case.tracking_number in html
    assert "lisa@example.org" not in html and "12 Main St" not in html
    assert "<legend>Your rating</legend>" in html
    assert 'for="survey-comment"' in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert "script-src" not in page.headers["Content-Security-Policy"]

    answered = client.post(
        f"/survey/{survey.token}",
        data={"csrf_token": _csrf(page), "score": "4", "comment": "Quick, <b>thanks</b>!"},
    )

    assert answered.status_code == 200
    assert "Thank you! Your answer was recorded." in answered.get_data(as_text=True)
    session.expire_all()
    survey = session.get_one(Survey, survey.id)
    assert (survey.state, survey.score, survey.comment) == ("answered", 4, "Quick, <b>thanks</b>!")
    assert session.get_one(Case, emailed_case.id).satisfaction == 4

    again = client.post(f"/survey/{survey.token}", data={"csrf_token": _csrf(page), "score": "1"})
    assert again.status_code == 200
    assert "already answered" in again.get_data(as_text=True)
    assert client.get(f"/survey/{survey.token}").status_code == 200
    session.expire_all()
    assert session.get_one(Survey, survey.id).score == 4


def test_the_page_refuses_a_form_without_its_csrf_token_or_a_rating(
    emailed_case, session, client, supervisor, run_jobs
):
    _resolve(client, supervisor, emailed_case.id, run_jobs)
    survey, _mail = _emailed_survey(session)
    page = client.get(f"/survey/{survey.token}")

    forged = client.post(f"/survey/{survey.token}", data={"score": "1"})
    assert forged.status_code == 400
    assert "open too long" in forged.get_data(as_text=True)
    assert 'name="score"' in forged.get_data(as_text=True)  # the form again, not an error page

    for data in ({}, {"score": "6"}, {"score": "x"}, {"score": "0"}):
        refused = client.post(f"/survey/{survey.token}", data={"csrf_token": _csrf(page), **data})
        assert refused.status_code == 400
        assert 'role="alert">Please choose a rating from 1 to 5.' in refused.get_data(as_text=True)
    too_long = client.post(
        f"/survey/{survey.token}",
        data={"csrf_token": _csrf(page), "score": "2", "comment": "x" * 2001},
    )
    assert too_long.status_code == 400
    assert "at most 2000 characters" in too_long.get_data(as_text=True)
    assert 'id="score-2" value="2" required checked' in too_long.get_data(as_text=True)
    assert _surveys(session)[0].state == SurveyState.SENT


def test_the_page_speaks_french_and_spanish(emailed_case, session, client, supervisor, run_jobs):
    resident = session.get_one(Case, emailed_case.id).resident
    resident.preferred_language = "fr"
    session.commit()
    _resolve(client, supervisor, emailed_case.id, run_jobs)
    survey, mail = _emailed_survey(session)
    assert mail.body.startswith("Bonjour,")

    french = client.get(f"/survey/{survey.token}").get_data(as_text=True)
    spanish = client.get(f"/survey/{survey.token}?lang=es").get_data(as_text=True)

    assert '<html lang="fr">' in french and "Votre note" in french and "Excellent" in french
    assert '<html lang="es">' in spanish and "Su calificación" in spanish
    assert f'href="/survey/{survey.token}?lang=en"' in french


def test_an_expired_or_unknown_link_answers_a_friendly_page(
    emailed_case, session, client, supervisor, run_jobs
):
    _resolve(client, supervisor, emailed_case.id, run_jobs)
    survey, _mail = _emailed_survey(session)
    page = client.get(f"/survey/{survey.token}")
    survey.expires_at = utcnow() - dt.timedelta(minutes=1)
    session.commit()

    expired = client.get(f"/survey/{survey.token}")
    late = client.post(f"/survey/{survey.token}", data={"csrf_token": _csrf(page), "score": "5"})
    unknown = client.get("/survey/not-a-token")
    weird = client.get("/survey/" + "%00" * 3)
    huge = client.get("/survey/" + "a" * 500)

    assert expired.status_code == late.status_code == 410
    assert "This survey has expired" in expired.get_data(as_text=True)
    assert expired.mimetype == "text/html"
    assert unknown.status_code == weird.status_code == huge.status_code == 404
    assert "could not find this survey" in unknown.get_data(as_text=True)
    assert _surveys(session)[0].state == SurveyState.SENT


def test_an_undeliverable_address_is_not_asked(emailed_case, session, client, supervisor, run_jobs):
    point = session.scalars(sa.select(ContactPoint)).one()
    point.undeliverable_at = utcnow()
    session.commit()

    _resolve(client, supervisor, emailed_case.id, run_jobs)

    [survey] = _surveys(session)
    assert survey.state == SurveyState.SUPPRESSED
    assert _events(session, "survey_suppressed")[0].data["reason"] == "undeliverable"
    assert client.get(f"/survey/{survey.token}").status_code == 404


def test_a_case_reopened_before_the_job_runs_is_not_asked(app, emailed_case, session):
    from contactcenter.surveys.service import send_survey

    case = session.get_one(Case, emailed_case.id)
    case.status = CaseStatus.OPEN
    session.commit()
    with app.app_context():
        assert send_survey(session, case) is None
    assert _surveys(session) == []


@pytest.mark.parametrize("language", ["fr", "es"])
def test_the_page_and_its_choices_exist_in_french_and_spanish(language):
    placeholder = re.compile(r"{(\w+)}")
    messages = [v for k, v in vars(texts).items() if k.startswith("SURVEY") and isinstance(v, str)]
    for message in [*messages, *texts.SURVEY_SCORE_LABELS.values()]:
        translated = translate(language, message)
        assert translated != message, (language, message)
        assert set(placeholder.findall(translated)) == set(placeholder.findall(message)), message


def test_each_token_answers_its_own_citys_survey_only(jurisdiction, other_city, session, client):
    def survey_in(city: Jurisdiction) -> Survey:
        case = make_case(session, city, channel=Channel.EMAIL)
        survey = Survey(
            jurisdiction_id=city.id,
            case=case,
            channel=Channel.EMAIL,
            address="lisa@example.org",
            token=f"token-of-{city.slug}",
            sent_at=utcnow(),
            expires_at=utcnow() + dt.timedelta(days=7),
        )
        session.add(survey)
        return survey

    ours, theirs = survey_in(jurisdiction), survey_in(other_city)
    session.commit()

    page = client.get(f"/survey/{theirs.token}")
    assert "Shelbyville 3-1-1" in page.get_data(as_text=True)
    assert "Springfield" not in page.get_data(as_text=True)
    answered = client.post(
        f"/survey/{theirs.token}", data={"csrf_token": _csrf(page), "score": "2"}
    )

    assert answered.status_code == 200
    session.expire_all()
    assert session.get_one(Survey, theirs.id).score == 2
    assert session.get_one(Case, theirs.case_id).satisfaction == 2
    assert session.get_one(Survey, ours.id).state == SurveyState.SENT
    assert session.get_one(Case, ours.case_id).satisfaction is None
