"""Web chat, server side: the window's HTTP API, its Socket.IO namespace, and the chat's life
as a case (offered to an agent, accepted, handed off, ended, emailed).

Socket tests run on ``rt_app`` (an app without a message queue, as Flask-SocketIO's test client
needs); everything a socket test does over HTTP goes to that same app, so its emits reach the
test sockets. The rest runs on the suite's app (PostgreSQL and Redis when configured).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Agent, Presence
from contactcenter.cases.models import Case, CaseEvent, Interaction
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.chats.service import TOKEN_SALT
from contactcenter.console.auth import session_auth
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkKind, WorkState
from contactcenter.routing.tick import run_tick
from contactcenter.sla.models import CalendarRecord
from tests.conftest import CLOSED_HOURS, OPEN_HOURS
from tests.factories import make_available_agent, make_queue

KEY = "springfield-chat-key"
OTHER_KEY = "shelbyville-chat-key"
CITY_MAIL = "311@springfield.example"


@pytest.fixture(autouse=True)
def _fresh_limits(app: Flask) -> Iterator[None]:
    """Rate-limit counters live for the app's lifetime in memory: each test starts at zero."""
    _reset(app)
    yield
    _reset(app)


def _reset(application: Flask) -> None:
    limits = application.extensions.get("ratelimit")
    if limits is not None:
        limits.reset()


@pytest.fixture
def chat_city(session: Session, city: Jurisdiction) -> Jurisdiction:
    """Springfield with a chat key, a mailbox, a default queue and one available agent."""
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


def _start(client: FlaskClient, **answers: Any) -> Any:
    body = {"key": KEY, "language": "en", "description": "Big pothole on Main St"}
    body.update(answers)
    return client.post("/chat/api/sessions", json=body)


def _started(client: FlaskClient, **answers: Any) -> dict[str, Any]:
    response = _start(client, **answers)
    assert response.status_code == 201, response.get_json()
    data: dict[str, Any] = response.get_json()
    return data


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _chat(session: Session) -> ChatSession:
    session.expire_all()
    return session.scalars(sa.select(ChatSession)).one()


def _chat_offers(session: Session) -> list[OfferState]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Offer.state)
            .join(WorkItem, WorkItem.id == Offer.work_item_id)
            .where(WorkItem.kind == WorkKind.CHAT)
        )
    )


def _accept(client: FlaskClient, session: Session, agent: Agent, token: str) -> Offer:
    session.expire_all()
    offer = session.scalars(
        sa.select(Offer).where(Offer.agent_id == agent.id, Offer.state == OfferState.PENDING)
    ).one()
    response = client.post(f"/api/v1/work/offers/{offer.id}/accept", headers=_auth(token))
    assert response.status_code == 200, response.get_json()
    return offer


# --- Starting ----------------------------------------------------------------------------------


def test_a_chat_opens_a_case_and_is_offered_to_an_available_agent(client, session, run_jobs, agent):
    data = _started(client, service_code="pothole", address="12 Main St")
    run_jobs()

    chat = _chat(session)
    case = session.get_one(Case, chat.case_id)
    assert case.origin_channel == Channel.WEBCHAT
    assert case.service_type is not None and case.service_type.code == "pothole"
    assert case.address_text == "12 Main St"
    assert data["session"]["state"] == "waiting"
    assert data["session"]["tracking_number"] == case.tracking_number
    assert [m["from"] for m in data["messages"]] == ["resident", "system"]
    assert data["messages"][0]["body"] == "Big pothole on Main St"
    assert case.tracking_number in data["messages"][1]["body"]
    items = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id)).all()
    live = {i.kind: i.state for i in items if i.state != WorkState.CANCELLED}
    # The case's own first-response item waits parked while the chat waits: one offer only.
    assert live == {WorkKind.CHAT: WorkState.OFFERED}
    offer = session.scalars(sa.select(Offer)).one()
    assert offer.agent_id == agent[0].id


def test_the_description_is_classified_when_no_topic_is_chosen(client, session, agent):
    _started(client, description="The garbage was not picked up", service_code="")
    case = session.get_one(Case, _chat(session).case_id)
    assert case.service_type is not None and case.service_type.code == "missed-pickup"


BAD_ANSWERS = [
    ({"description": "   "}, "description"),
    ({"description": "x" * 2001}, "description"),
    ({"address": "x" * 501}, "address"),
    ({"name": "x" * 201}, "name"),
    ({"phone": "not a phone"}, "phone"),
    ({"email": "nobody-at-example"}, "email"),
    ({"service_code": "no-such-topic"}, "service_code"),
    ({"client_id": "x" * 65}, "client_id"),
    ({"phone": 6135550142}, "phone"),
]


def test_bad_answers_are_refused_with_the_field(client, session, chat_city):
    for answers, field in BAD_ANSWERS:
        response = _start(client, **answers)
        assert response.status_code == 400, answers
        assert field in response.get_json()["error"]["fields"], answers
    assert session.scalar(sa.select(sa.func.count(ChatSession.id))) == 0


def test_an_unknown_key_is_not_found(client, chat_city):
    assert _start(client, key="no-such-key").status_code == 404
    assert client.get("/chat/frame?key=no-such-key").status_code == 404


def test_a_non_object_body_is_refused(client, chat_city):
    response = client.post("/chat/api/sessions", data="[]", content_type="application/json")
    assert response.status_code == 400


def test_a_retried_start_returns_the_same_chat(client, session, agent):
    first = _started(client, client_id="start-1")
    again = _started(client, client_id="start-1")
    assert session.scalar(sa.select(sa.func.count(ChatSession.id))) == 1
    assert first["messages"][0]["id"] == again["messages"][0]["id"]
    other = _start(client, client_id="start-1", description="Something else entirely")
    assert other.status_code == 409


def test_a_phone_that_belongs_to_a_resident_links_the_chat_to_them(
    client, session, chat_city, agent
):
    known = Resident(jurisdiction_id=chat_city.id, display_name="Marge")
    session.add(known)
    session.add(
        ContactPoint(
            jurisdiction_id=chat_city.id,
            resident=known,
            kind=ContactKind.PHONE,
            address="+16135550142",
        )
    )
    session.commit()

    _started(client, phone="613-555-0142", email="marge@example.org", name="Someone")

    chat = _chat(session)
    assert chat.resident_id == known.id
    case = session.get_one(Case, chat.case_id)
    assert case.resident_id == known.id
    kinds = {
        (p.kind, p.address)
        for p in session.scalars(
            sa.select(ContactPoint).where(ContactPoint.resident_id == known.id)
        )
    }
    assert (ContactKind.CHAT, chat.visitor_id) in kinds
    assert (ContactKind.EMAIL, "marge@example.org") in kinds
    assert session.get_one(Resident, known.id).display_name == "Marge"
    assert session.scalar(sa.select(sa.func.count(Resident.id))) == 1


def test_a_new_visitor_gets_a_resident_with_the_contacts_they_left(client, session, agent):
    _started(client, phone="+1 613 555 0199", name="Bart")
    chat = _chat(session)
    resident = session.get_one(Resident, chat.resident_id)
    assert resident.display_name == "Bart"
    assert resident.preferred_language == "en"
    assert {p.kind for p in resident.contact_points} == {ContactKind.CHAT, ContactKind.PHONE}


# --- Hand-off ----------------------------------------------------------------------------------


def test_a_chat_nobody_takes_is_handed_off_at_its_deadline_by_the_tick(
    app, client, session, chat_city, run_jobs
):

    general = session.scalars(sa.select(Queue).where(Queue.code == "general")).one()
    # Signed in but busy: waiting is worth it, but nobody takes the chat in time.
    make_available_agent(session, chat_city, [general], presence=Presence.BUSY)
    session.commit()
    data = _started(client, phone="+16135550142")
    run_jobs()
    assert data["session"]["state"] == "waiting"

    chat = _chat(session)
    assert chat.wait_deadline_at is not None
    with app.app_context():
        assert run_tick(session, chat.wait_deadline_at - dt.timedelta(seconds=1)) == set()
        touched = run_tick(session, chat.wait_deadline_at + dt.timedelta(seconds=1))
        session.commit()
    run_jobs()

    assert chat_city.id in touched
    chat = _chat(session)
    assert chat.state == ChatState.HANDED_OFF
    items = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == chat.case_id)).all()
    live = {i.kind for i in items if i.state in (WorkState.WAITING, WorkState.OFFERED)}
    assert live == {WorkKind.FIRST_RESPONSE}  # answered later, like a text
    state = client.get("/chat/api/session", headers=_auth(data["token"])).get_json()
    assert state["session"]["state"] == "handed_off"
    assert "we will answer by text message" in state["messages"][-1]["body"]
    assert state["session"]["notice"] == state["messages"][-1]["body"]


def test_with_nobody_signed_in_the_chat_is_handed_off_at_once(client, session, chat_city):
    data = _started(client)
    assert data["session"]["state"] == "handed_off"
    assert "keep your tracking number" in data["messages"][-1]["body"]
    assert data["session"]["tracking_number"] in data["messages"][-1]["body"]


def test_after_hours_the_chat_is_handed_off_at_once_in_the_residents_language(
    client, session, chat_city, agent, monkeypatch
):
    from contactcenter.chats import service

    session.add(
        CalendarRecord(
            jurisdiction_id=chat_city.id,
            code="chat-hours",
            name="Chat hours",
            config={"hours": {"mon": [["08:00", "17:00"]]}},
        )
    )
    chat_city.settings = {"chat": {"hours": "chat-hours"}}
    chat_city.routing_version += 1
    session.commit()
    monkeypatch.setattr(service, "utcnow", lambda: CLOSED_HOURS)  # a Sunday

    data = _started(client, language="fr", email="lisa@example.org")

    assert data["session"]["state"] == "handed_off"
    assert "courriel" in data["messages"][-1]["body"]
    assert data["session"]["language"] == "fr"
    assert _chat_offers(session) == []

    monkeypatch.setattr(service, "utcnow", lambda: OPEN_HOURS)  # a Monday afternoon
    assert _started(client, description="Another one")["session"]["state"] == "waiting"


# --- Messages ----------------------------------------------------------------------------------


def test_resident_messages_go_on_the_case_once_per_client_id(client, session, agent):
    data = _started(client)
    headers = _auth(data["token"])

    first = client.post(
        "/chat/api/messages", json={"client_id": "m1", "body": "  Hello  "}, headers=headers
    )
    again = client.post(
        "/chat/api/messages", json={"client_id": "m1", "body": "Hello"}, headers=headers
    )

    assert first.status_code == 201 and again.status_code == 201
    assert first.get_json()["message"] == again.get_json()["message"]
    message = first.get_json()["message"]
    assert message["from"] == "resident" and message["client_id"] == "m1"
    assert message["body"] == "Hello" and message["at"].endswith("Z")
    chat = _chat(session)
    inbound = session.scalars(
        sa.select(Interaction).where(
            Interaction.case_id == chat.case_id, Interaction.direction == Direction.INBOUND
        )
    ).all()
    assert [i.body for i in inbound] == ["Big pothole on Main St", "Hello"]
    assert all(i.channel == Channel.WEBCHAT for i in inbound)


def test_bad_messages_are_refused(client, agent):
    token = _started(client)["token"]
    for body in (
        {"client_id": "m1", "body": ""},
        {"client_id": "m1", "body": "x" * 2001},
        {"client_id": "", "body": "hi"},
        {"client_id": "x" * 65, "body": "hi"},
        {"body": "hi"},
        {"client_id": 5, "body": "hi"},
        {"client_id": "m1", "body": ["hi"]},
    ):
        response = client.post("/chat/api/messages", json=body, headers=_auth(token))
        assert response.status_code == 400, body
        assert response.get_json()["error"]["code"] == "invalid_message"
    refused = client.post("/chat/api/messages", data="nope", headers=_auth(token))
    assert refused.status_code == 400


def test_a_bad_or_expired_token_is_unauthorized(client, agent, monkeypatch):
    from itsdangerous import URLSafeTimedSerializer

    from contactcenter.chats import service

    token = _started(client)["token"]
    forged = URLSafeTimedSerializer("another secret", salt=TOKEN_SALT).dumps({"v": "x", "j": 1})
    assert client.get("/chat/api/session", headers=_auth(token)).status_code == 200
    assert client.get("/chat/api/session").status_code == 401
    assert client.get("/chat/api/session", headers=_auth(token + "x")).status_code == 401
    assert client.get("/chat/api/session", headers=_auth(forged)).status_code == 401
    monkeypatch.setattr(service, "TOKEN_MAX_AGE", -1)  # every token is now too old
    response = client.get("/chat/api/session", headers=_auth(token))
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def _ended_minutes_ago(session: Session, minutes: float) -> None:
    """Move the (one) ended chat's end back in time."""
    session.expire_all()
    chat = session.scalars(sa.select(ChatSession)).one()
    assert chat.state == ChatState.ENDED and chat.ended_at is not None
    chat.ended_at = chat.ended_at - dt.timedelta(minutes=minutes)
    session.commit()


def test_the_token_of_a_chat_that_ended_over_ten_minutes_ago_is_unauthorized(
    client, session, agent
):
    headers = _auth(_started(client, email="lisa@example.org")["token"])
    assert client.post("/chat/api/end", headers=headers).status_code == 200
    _ended_minutes_ago(session, 9)
    # Still the final screen's: the state, and the transcript.
    assert client.get("/chat/api/session", headers=headers).status_code == 200
    assert client.post("/chat/api/transcript", headers=headers).status_code == 202

    _ended_minutes_ago(session, 2)
    calls = [
        client.get("/chat/api/session", headers=headers),
        client.post("/chat/api/messages", json={"client_id": "m", "body": "hi"}, headers=headers),
        client.post("/chat/api/typing", json={"typing": True}, headers=headers),
        client.post("/chat/api/transcript", headers=headers),
        client.post("/chat/api/end", headers=headers),
    ]
    assert [r.status_code for r in calls] == [401] * len(calls)
    assert {r.get_json()["error"]["code"] for r in calls} == {"unauthorized"}


def test_a_handed_off_chat_keeps_its_token(client, session, chat_city, monkeypatch):
    from contactcenter.chats import service

    data = _started(client)  # nobody signed in: handed off at once
    assert data["session"]["state"] == "handed_off"
    later = service.utcnow() + dt.timedelta(hours=2)
    monkeypatch.setattr(service, "utcnow", lambda: later)
    response = client.get("/chat/api/session", headers=_auth(data["token"]))
    assert response.status_code == 200
    assert response.get_json()["session"]["state"] == "handed_off"


def test_messages_past_the_rate_limit_are_refused(client, app, agent):
    token = _started(client)["token"]
    limit = int(app.config["SETTINGS"].chat_messages_rate.split("/")[0])
    statuses = [
        client.post(
            "/chat/api/messages", json={"client_id": f"m{n}", "body": "hi"}, headers=_auth(token)
        ).status_code
        for n in range(limit + 1)
    ]
    assert statuses[:limit] == [201] * limit
    assert statuses[limit] == 429


def test_new_chats_past_the_rate_limit_per_address_are_refused(client, app, agent):
    limit = int(app.config["SETTINGS"].chat_sessions_rate.split("/")[0])
    statuses = [_start(client, description=f"Problem {n}").status_code for n in range(limit + 1)]
    assert statuses[:limit] == [201] * limit
    assert statuses[limit] == 429
    other = client.post(
        "/chat/api/sessions",
        json={"key": KEY, "description": "From elsewhere"},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert other.status_code == 201


def test_the_resident_ends_the_chat_and_can_no_longer_write(client, session, agent, run_jobs):
    data = _started(client)
    run_jobs()
    headers = _auth(data["token"])

    ended = client.post("/chat/api/end", headers=headers)
    again = client.post("/chat/api/end", headers=headers)
    late = client.post("/chat/api/messages", json={"client_id": "z", "body": "hi"}, headers=headers)

    assert ended.status_code == 200 and ended.get_json()["session"]["state"] == "ended"
    assert again.status_code == 200
    assert late.status_code == 409 and late.get_json()["error"]["code"] == "chat_ended"
    chat = _chat(session)
    assert chat.ended_by == "resident"
    events = session.scalars(
        sa.select(CaseEvent).where(
            CaseEvent.case_id == chat.case_id, CaseEvent.kind == "chat_ended"
        )
    ).all()
    assert len(events) == 1
    assert events[0].data["resident_messages"] == 1
    # Nobody took it: the offer is withdrawn and the case waits for its first response.
    assert _chat_offers(session) == [OfferState.CANCELLED]
    live = session.scalars(
        sa.select(WorkItem.kind).where(
            WorkItem.case_id == chat.case_id,
            WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED)),
        )
    ).all()
    assert live == [WorkKind.FIRST_RESPONSE]


# --- The transcript ----------------------------------------------------------------------------


def test_the_transcript_is_emailed_to_the_residents_address(client, session, agent, run_jobs):
    data = _started(client, email="Lisa@Example.org")
    assert data["session"]["can_email_transcript"] is True
    headers = _auth(data["token"])
    client.post(
        "/chat/api/messages", json={"client_id": "m1", "body": "Any news?"}, headers=headers
    )

    response = client.post("/chat/api/transcript", headers=headers)

    assert response.status_code == 202
    assert response.get_json() == {"sent_to": "l***@example.org"}
    chat = _chat(session)
    mail = session.scalars(sa.select(Interaction).where(Interaction.channel == Channel.EMAIL)).one()
    assert mail.to_address == "lisa@example.org"
    assert mail.from_address == CITY_MAIL
    assert mail.case_id == chat.case_id
    assert "You: Big pothole on Main St" in mail.body
    assert "You: Any news?" in mail.body
    assert "Springfield 3-1-1:" in mail.body
    assert mail.subject
    kinds = session.scalars(
        sa.select(CaseEvent.kind).where(CaseEvent.case_id == chat.case_id)
    ).all()
    assert "transcript_emailed" in kinds


def test_no_transcript_without_an_email_address(client, agent):
    data = _started(client)
    assert data["session"]["can_email_transcript"] is False
    response = client.post("/chat/api/transcript", headers=_auth(data["token"]))
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "no_email"


# --- The frame and the widget ------------------------------------------------------------------


def test_the_frame_may_be_embedded_only_by_the_allowed_origins(client, chat_city, monkeypatch):
    _fake_frame_template(monkeypatch)
    response = client.get(f"/chat/frame?key={KEY}&lang=fr")
    assert response.status_code == 200
    policy = response.headers["Content-Security-Policy"]
    assert "frame-ancestors https://www.springfield.example" in policy
    assert "default-src 'self'" in policy
    assert "X-Frame-Options" not in response.headers
    config = response.get_json(force=True)
    assert config["key"] == KEY and config["language"] == "fr"
    assert config["namespace"] == "/chat" and config["api"] == "/chat/api"
    assert {"code": "pothole", "name": "Pothole"} in config["service_types"]
    assert config["languages"] == ["en", "fr", "es"]


def test_without_allowed_origins_nobody_may_frame_the_chat(client, session, chat_city, monkeypatch):
    _fake_frame_template(monkeypatch)
    chat_city.settings = {}
    session.commit()
    policy = client.get(f"/chat/frame?key={KEY}").headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy


def _fake_frame_template(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame page with only its config, so this test does not depend on the widget's HTML."""
    import channels.webchat.views as views

    monkeypatch.setattr(
        views, "render_template", lambda _name, config: __import__("json").dumps(config)
    )


def test_supervisors_set_the_allowed_origins(client, session, chat_city):
    from contactcenter.agents.models import Role
    from tests.factories import make_agent

    _supervisor, token = make_agent(session, [chat_city], role=Role.SUPERVISOR)
    _agent, agent_token = make_agent(session, [chat_city])
    session.commit()

    put = client.put(
        "/api/v1/settings/chat",
        json={"allowed_origins": ["https://City.example", "http://localhost:8000"]},
        headers=_auth(token),
    )
    bad = client.put(
        "/api/v1/settings/chat",
        json={"allowed_origins": ["javascript:alert(1)"]},
        headers=_auth(token),
    )
    plain = client.put(
        "/api/v1/settings/chat",
        json={"allowed_origins": ["http://www.city.example"]},
        headers=_auth(token),
    )
    refused = client.put("/api/v1/settings/chat", json={}, headers=_auth(agent_token))

    assert put.status_code == 200, put.get_json()
    assert put.get_json()["data"]["allowed_origins"] == [
        "https://city.example",
        "http://localhost:8000",
    ]
    assert bad.status_code == 400 and "allowed_origins" in bad.get_json()["error"]["fields"]
    # Plain http:// only for a developer's own machine: a city page over it can be rewritten.
    assert plain.status_code == 400
    assert "https://" in plain.get_json()["error"]["fields"]["allowed_origins"]
    assert refused.status_code == 403
    shown = client.get("/api/v1/settings/chat", headers=_auth(token)).get_json()
    assert shown["data"]["allowed_origins"] == ["https://city.example", "http://localhost:8000"]


@pytest.mark.parametrize(
    "origin",
    ["http://localhost", "http://localhost:8000", "http://127.0.0.1:5000", "https://city.example"],
)
def test_https_origins_and_local_http_ones_are_allowed(origin):
    from contactcenter.chats.settings import ChatSettings

    assert ChatSettings.model_validate({"allowed_origins": [origin]}).allowed_origins == (origin,)


@pytest.mark.parametrize(
    "origin", ["http://city.example", "http://localhost.city.example", "http://10.0.0.1:80"]
)
def test_other_plain_http_origins_are_refused(origin):
    from contactcenter.chats.settings import update_chat_settings
    from contactcenter.errors import Invalid

    with pytest.raises(Invalid) as refused:
        update_chat_settings(Jurisdiction(settings={}), {"allowed_origins": [origin]})
    assert "allowed_origins" in refused.value.fields


def test_the_demos_origins_are_allowed():
    from contactcenter.chats.settings import ChatSettings
    from contactcenter.demo import DEMO_CHAT_ORIGINS

    settings = ChatSettings.model_validate({"allowed_origins": list(DEMO_CHAT_ORIGINS)})
    assert settings.allowed_origins == DEMO_CHAT_ORIGINS


# --- The agent's side over HTTP ----------------------------------------------------------------


def test_another_jurisdictions_agent_cannot_act_on_the_chat(
    client, session, agent, other_city, run_jobs
):
    from tests.factories import make_agent

    _started(client)
    run_jobs()
    stranger, token = make_agent(session, [other_city])
    session.commit()
    chat = _chat(session)
    offer = session.scalars(sa.select(Offer)).one()

    assert (
        client.post(f"/api/v1/work/offers/{offer.id}/accept", headers=_auth(token)).status_code
        == 404
    )
    assert client.get(f"/api/v1/cases/{chat.case_id}", headers=_auth(token)).status_code == 404
    browser = client.application.test_client()
    _sign_in(client.application, browser, stranger)
    csrf = _csrf(browser.get("/console/").text)
    response = browser.post(f"/console/cases/{chat.case_id}/chat/end", data={"csrf_token": csrf})
    assert response.status_code == 404
    assert browser.get(f"/console/cases/{chat.case_id}").status_code == 404
    assert _chat(session).state == ChatState.WAITING


def test_resolving_the_case_ends_its_chat(client, session, agent, run_jobs):
    data = _started(client)
    run_jobs()
    _accept(client, session, *agent)
    chat = _chat(session)
    assert chat.state == ChatState.ACTIVE and chat.agent_id == agent[0].id

    response = client.post(
        f"/api/v1/cases/{chat.case_id}/status", json={"status": "resolved"}, headers=_auth(agent[1])
    )

    assert response.status_code == 200, response.get_json()
    state = client.get("/chat/api/session", headers=_auth(data["token"])).get_json()
    assert state["session"]["state"] == "ended"
    session.expire_all()
    item = session.scalars(
        sa.select(WorkItem).where(WorkItem.case_id == chat.case_id, WorkItem.kind == WorkKind.CHAT)
    ).one()
    assert item.state == WorkState.COMPLETED


def test_completing_the_chat_work_ends_the_chat(client, session, agent, run_jobs):
    data = _started(client)
    run_jobs()
    _accept(client, session, *agent)
    item = session.scalars(sa.select(WorkItem).where(WorkItem.kind == WorkKind.CHAT)).one()

    response = client.post(f"/api/v1/work/{item.id}/complete", headers=_auth(agent[1]))

    assert response.status_code == 200, response.get_json()
    state = client.get("/chat/api/session", headers=_auth(data["token"])).get_json()
    assert state["session"]["state"] == "ended"


# --- Sockets -----------------------------------------------------------------------------------


def _sign_in(application: Flask, browser: FlaskClient, agent: Agent) -> None:
    with application.app_context():
        auth = session_auth(agent)
    with browser.session_transaction() as cookie:
        cookie["agent_id"] = agent.id
        cookie["auth"] = auth


def _resident_socket(rt_app: Flask, token: str) -> SocketIOTestClient:
    return realtime.socketio.test_client(rt_app, namespace="/chat", auth={"token": token})


def _console_socket(rt_app: Flask, agent: Agent) -> tuple[SocketIOTestClient, FlaskClient]:
    browser = rt_app.test_client()
    _sign_in(rt_app, browser, agent)
    return realtime.socketio.test_client(rt_app, flask_test_client=browser), browser


def _drain(socket: SocketIOTestClient, namespace: str = "/chat") -> list[tuple[str, Any]]:
    """Everything the socket heard since last asked, as (event, payload)."""
    return [
        # The test client keeps a "message" event's payload as is, other events' as a list.
        (m["name"], m["args"] if m["name"] == "message" else m["args"][0])
        for m in socket.get_received(namespace)
    ]


def _received(socket: SocketIOTestClient, name: str, namespace: str = "/chat") -> list[Any]:
    return [payload for event, payload in _drain(socket, namespace) if event == name]


Chatting = Callable[[], tuple[SocketIOTestClient, SocketIOTestClient, FlaskClient, str]]


@pytest.fixture
def chatting(rt_app: Flask, session: Session, agent: tuple[Agent, str]) -> Chatting:
    """A chat started and accepted on ``rt_app``: (resident socket, agent socket, agent's
    console browser, the resident's token)."""

    def start() -> tuple[SocketIOTestClient, SocketIOTestClient, FlaskClient, str]:
        _reset(rt_app)
        http = rt_app.test_client()
        token = _started(http)["token"]
        resident = _resident_socket(rt_app, token)
        assert resident.is_connected("/chat")
        agent_socket, browser = _console_socket(rt_app, agent[0])
        assert agent_socket.is_connected()
        _accept(http, session, *agent)
        return resident, agent_socket, browser, token

    return start


def test_a_bad_token_cannot_connect_to_the_chat(rt_app, agent):
    for auth in (None, {}, {"token": "nope"}, {"token": 12}):
        socket = realtime.socketio.test_client(rt_app, namespace="/chat", auth=auth)
        assert not socket.is_connected("/chat")


def test_the_token_of_a_chat_that_ended_over_ten_minutes_ago_cannot_connect(rt_app, session, agent):
    token = _started(rt_app.test_client())["token"]
    assert rt_app.test_client().post("/chat/api/end", headers=_auth(token)).status_code == 200
    soon = _resident_socket(rt_app, token)
    assert soon.is_connected("/chat")
    soon.disconnect("/chat")

    _ended_minutes_ago(session, 11)

    assert not _resident_socket(rt_app, token).is_connected("/chat")


def test_the_agent_joining_is_announced_to_the_window(chatting, session):
    resident, _agent_socket, _browser, _token = chatting()

    heard = _drain(resident)
    sessions = [payload for event, payload in heard if event == "session"]
    messages = [payload for event, payload in heard if event == "message"]

    assert sessions[-1]["state"] == "active"
    assert sessions[-1]["agent_name"] == "Alex Agent"
    assert sessions[-1]["notice"] == "You are chatting with Alex Agent."
    assert messages[-1]["from"] == "system"
    assert messages[-1]["body"] == "Alex Agent joined the chat."


def test_a_socket_message_is_acknowledged_and_reaches_the_agent(chatting, session):
    resident, agent_socket, _browser, _token = chatting()
    agent_socket.get_received()
    resident.get_received("/chat")

    ack = resident.emit(
        "message",
        {"client_id": "s1", "body": "It is getting bigger"},
        namespace="/chat",
        callback=True,
    )
    again = resident.emit(
        "message",
        {"client_id": "s1", "body": "It is getting bigger"},
        namespace="/chat",
        callback=True,
    )
    bad = resident.emit(
        "message", {"client_id": "s2", "body": ""}, namespace="/chat", callback=True
    )

    assert ack["ok"] is True and ack["message"]["body"] == "It is getting bigger"
    assert again["message"]["id"] == ack["message"]["id"]
    assert bad["ok"] is False and bad["error"]["code"] == "invalid_message"
    chat = _chat(session)
    assert _received(agent_socket, "case_updated", "/") == [{"case_id": chat.case_id}]
    # Other tabs of the resident hear it too (the window dedupes by id / client_id).
    assert [m["client_id"] for m in _received(resident, "message")] == ["s1"]


def test_a_message_over_http_reaches_the_agent_too(chatting, session, rt_app):
    resident, agent_socket, _browser, token = chatting()
    agent_socket.get_received()

    response = rt_app.test_client().post(
        "/chat/api/messages", json={"client_id": "h1", "body": "Hello?"}, headers=_auth(token)
    )

    assert response.status_code == 201
    chat = _chat(session)
    assert _received(agent_socket, "case_updated", "/") == [{"case_id": chat.case_id}]
    assert [m["client_id"] for m in _received(resident, "message")][-1] == "h1"


def test_an_agents_console_reply_reaches_the_window(chatting, session):
    resident, _agent_socket, browser, _token = chatting()
    resident.get_received("/chat")
    chat = _chat(session)
    page = browser.get(f"/console/cases/{chat.case_id}")
    assert page.status_code == 200
    assert b"End chat" in page.data
    csrf = _csrf(page.text)

    response = browser.post(
        f"/console/cases/{chat.case_id}/reply",
        data={"body": "On my way <b>now</b>", "csrf_token": csrf},
    )

    assert response.status_code == 302
    messages = _received(resident, "message")
    assert messages == [
        {
            "id": messages[0]["id"],
            "client_id": None,
            "from": "agent",
            "body": "On my way <b>now</b>",
            "at": messages[0]["at"],
            "author": "Alex Agent",
        }
    ]
    reply = session.get_one(Interaction, messages[0]["id"])
    assert reply.to_address == chat.visitor_id and reply.channel == Channel.WEBCHAT


def test_typing_travels_both_ways(chatting, session, rt_app):
    resident, agent_socket, _browser, token = chatting()
    resident.get_received("/chat")
    agent_socket.get_received()
    chat = _chat(session)

    resident.emit("typing", {"typing": True}, namespace="/chat")
    http = rt_app.test_client()
    assert (
        http.post("/chat/api/typing", json={"typing": False}, headers=_auth(token)).status_code
        == 204
    )
    agent_socket.emit("chat_typing", {"case_id": chat.case_id, "typing": True})

    assert _received(agent_socket, "chat_typing", "/") == [
        {"case_id": chat.case_id, "typing": True},
        {"case_id": chat.case_id, "typing": False},
    ]
    assert _received(resident, "typing") == [{"typing": True}]


def test_an_agent_who_does_not_hold_the_chat_cannot_type_into_it(
    chatting, session, rt_app, chat_city
):
    resident, _agent_socket, _browser, _token = chatting()
    resident.get_received("/chat")
    from tests.factories import make_agent

    colleague, _ = make_agent(session, [chat_city])
    session.commit()
    socket, _ = _console_socket(rt_app, colleague)
    chat = _chat(session)

    socket.emit("chat_typing", {"case_id": chat.case_id, "typing": True})

    assert _received(resident, "typing") == []


def test_a_reload_restores_the_conversation(chatting, session, rt_app):
    resident, _agent_socket, _browser, token = chatting()
    resident.emit(
        "message", {"client_id": "r1", "body": "Still there?"}, namespace="/chat", callback=True
    )
    resident.disconnect("/chat")

    http = rt_app.test_client()
    state = http.get("/chat/api/session", headers=_auth(token)).get_json()
    again = _resident_socket(rt_app, token)

    assert state["session"]["state"] == "active"
    assert state["session"]["agent_name"] == "Alex Agent"
    assert [m["from"] for m in state["messages"]] == ["resident", "system", "system", "resident"]
    assert state["messages"][-1]["client_id"] == "r1"
    assert again.is_connected("/chat")


def test_the_agent_ends_the_chat_from_the_console(chatting, session):
    resident, _agent_socket, browser, _token = chatting()
    resident.get_received("/chat")
    chat = _chat(session)
    csrf = _csrf(browser.get(f"/console/cases/{chat.case_id}").text)

    response = browser.post(f"/console/cases/{chat.case_id}/chat/end", data={"csrf_token": csrf})

    assert response.status_code == 302
    heard = _drain(resident)
    assert [p for e, p in heard if e == "session"][-1]["state"] == "ended"
    assert [p for e, p in heard if e == "message"][-1]["from"] == "system"
    chat = _chat(session)
    assert chat.state == ChatState.ENDED and chat.ended_by == "agent"
    item = session.scalars(
        sa.select(WorkItem).where(WorkItem.case_id == chat.case_id, WorkItem.kind == WorkKind.CHAT)
    ).one()
    assert item.state == WorkState.COMPLETED


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_demo_page_embeds_the_chat_with_one_script_tag(app: Flask, client: FlaskClient) -> None:
    from contactcenter.db import get_db
    from contactcenter.demo import DEMO_CHAT_KEY, seed_demo

    with app.app_context(), get_db().session() as db:
        seed_demo(db)
        db.commit()

    page = client.get("/chat/demo")
    unknown = client.get("/chat/demo?key=nobody")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'src="http://localhost/chat/widget.js" data-key="{DEMO_CHAT_KEY}"' in html
    assert unknown.status_code == 404
