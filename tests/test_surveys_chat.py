"""The web chat's rating: offered by the window once a chat with an agent has ended, it is the
case's survey (one per case), answered from the window with the chat's own token."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.models import Case
from contactcenter.chats.models import ChatSession
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel
from contactcenter.routing.models import Queue
from contactcenter.surveys.models import Survey, SurveyState
from tests.factories import make_available_agent, make_queue
from tests.test_webchat import (
    CITY_MAIL,
    KEY,
    _accept,
    _auth,
    _chat,
    _fresh_limits,  # noqa: F401 - autouse fixture: rate limits start at zero
    _started,
)


@pytest.fixture
def chat_city(session: Session, city: Jurisdiction) -> Jurisdiction:
    """Springfield with a chat key, a mailbox and a default queue (as in test_webchat)."""
    session.add_all(
        [
            ChannelAddress(jurisdiction_id=city.id, channel=Channel.WEBCHAT, address=KEY),
            ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address=CITY_MAIL),
        ]
    )
    city.settings = {"chat": {"allowed_origins": ["https://www.springfield.example"]}}
    make_queue(session, city, "general", is_default=True)
    session.commit()
    return city


@pytest.fixture
def agent(session: Session, chat_city: Jurisdiction) -> tuple[Agent, str]:
    general = session.scalars(sa.select(Queue).where(Queue.code == "general")).one()
    made = make_available_agent(session, chat_city, [general], name="Alex Agent")
    session.commit()
    return made


def _surveys(session) -> list[Survey]:
    session.expire_all()
    return list(session.scalars(sa.select(Survey).order_by(Survey.id)))


def _talked(client, session, agent, run_jobs, **answers) -> tuple[dict[str, str], ChatSession]:
    """A chat an agent accepted: the window's headers and the chat."""
    data = _started(client, **answers)
    run_jobs()
    _accept(client, session, *agent)
    return _auth(data["token"]), _chat(session)


def test_the_window_offers_the_rating_when_the_chat_ends_and_records_it(
    client, session, agent, run_jobs
):
    headers, chat = _talked(client, session, agent, run_jobs)
    before_end = client.post("/chat/api/survey", headers=headers)
    assert before_end.status_code == 200 and before_end.get_json() == {"survey": None}

    client.post("/chat/api/end", headers=headers)
    offered = client.post("/chat/api/survey", headers=headers)
    again = client.post("/chat/api/survey", headers=headers)

    assert offered.status_code == 200
    assert offered.get_json() == {"survey": {"state": "sent", "score": None}}
    assert again.get_json() == offered.get_json()
    [survey] = _surveys(session)
    assert (survey.channel, survey.address, survey.case_id) == (
        "webchat",
        chat.visitor_id,
        chat.case_id,
    )
    assert survey.interaction_id is None  # asked in the window, not by a message

    rated = client.post("/chat/api/rating", json={"score": 5}, headers=headers)

    assert rated.status_code == 200
    assert rated.get_json() == {"survey": {"state": "answered", "score": 5}}
    session.expire_all()
    assert session.get_one(Case, chat.case_id).satisfaction == 5
    twice = client.post("/chat/api/rating", json={"score": 1}, headers=headers)
    assert twice.status_code == 409
    assert session.get_one(Case, chat.case_id).satisfaction == 5


def test_resolving_the_case_later_sends_no_second_survey(
    client, session, agent, run_jobs, twilio_http
):
    headers, chat = _talked(client, session, agent, run_jobs, phone="+16135550100")
    client.post("/chat/api/end", headers=headers)
    client.post("/chat/api/survey", headers=headers)
    texts_before = len(twilio_http.messages)

    resolved = client.post(
        f"/api/v1/cases/{chat.case_id}/status", json={"status": "resolved"}, headers=_auth(agent[1])
    )
    run_jobs()

    assert resolved.status_code == 200
    assert len(_surveys(session)) == 1
    assert all("How did we do" not in m["Body"] for m in twilio_http.messages[texts_before:])


def test_resolving_the_case_during_the_chat_asks_in_the_window(
    client, session, agent, run_jobs, twilio_http
):
    headers, chat = _talked(client, session, agent, run_jobs, phone="+16135550100")

    client.post(
        f"/api/v1/cases/{chat.case_id}/status", json={"status": "resolved"}, headers=_auth(agent[1])
    )
    run_jobs()

    [survey] = _surveys(session)
    assert survey.channel == "webchat" and survey.state == SurveyState.SENT
    assert all("How did we do" not in m["Body"] for m in twilio_http.messages)
    offered = client.post("/chat/api/survey", headers=headers)
    assert offered.get_json() == {"survey": {"state": "sent", "score": None}}
    assert client.post("/chat/api/rating", json={"score": 3}, headers=headers).status_code == 200
    assert _surveys(session)[0].score == 3


def test_a_handed_off_chat_is_asked_by_text_when_its_case_is_resolved(
    client, session, chat_city, run_jobs, twilio_http
):
    data = _started(client, phone="+16135550100")  # nobody signed in: handed off at once
    headers = _auth(data["token"])
    chat = _chat(session)
    assert client.post("/chat/api/survey", headers=headers).get_json() == {"survey": None}

    from tests.factories import make_agent

    _agent, token = make_agent(session, [chat_city])
    session.commit()
    client.post(
        f"/api/v1/cases/{chat.case_id}/status", json={"status": "resolved"}, headers=_auth(token)
    )
    run_jobs()

    [survey] = _surveys(session)
    assert (survey.channel, survey.address) == ("sms", "+16135550100")
    assert "How did we do" in twilio_http.messages[-1]["Body"]
    refused = client.post("/chat/api/rating", json={"score": 5}, headers=headers)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_survey"


def test_bad_ratings_and_strangers_are_refused(client, session, agent, run_jobs):
    headers, _chat_session = _talked(client, session, agent, run_jobs)
    client.post("/chat/api/end", headers=headers)

    for body in ({"score": 0}, {"score": 6}, {"score": "5"}, {"score": 4.5}, {"score": True}, {}):
        response = client.post("/chat/api/rating", json=body, headers=headers)
        assert response.status_code == 400, body
    assert client.post("/chat/api/rating", json={"score": 5}).status_code == 401
    assert (
        client.post("/chat/api/rating", json={"score": 5}, headers=_auth("forged")).status_code
        == 401
    )
    assert client.post("/chat/api/survey", headers=_auth("forged")).status_code == 401
    assert all(s.state != SurveyState.ANSWERED for s in _surveys(session))


def test_the_city_can_turn_the_chat_rating_off(client, session, agent, run_jobs, chat_city):
    chat_city.settings = {**chat_city.settings, "surveys": {"webchat": False}}
    session.commit()
    headers, _chat_session = _talked(client, session, agent, run_jobs)
    client.post("/chat/api/end", headers=headers)

    assert client.post("/chat/api/survey", headers=headers).get_json() == {"survey": None}
    assert client.post("/chat/api/rating", json={"score": 5}, headers=headers).status_code == 409
    assert _surveys(session) == []


def test_the_chat_key_is_the_citys_own(client, session, agent, run_jobs):
    """The rating is found from the chat's token only: the public key plays no part."""
    headers, _chat_session = _talked(client, session, agent, run_jobs)
    client.post("/chat/api/end", headers=headers)
    response = client.post(f"/chat/api/rating?key={KEY}x", json={"score": 2}, headers=headers)
    assert response.status_code == 200
