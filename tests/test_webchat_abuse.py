"""Web chat against a visitor who means harm: answers are not authenticated, so what a chat
makes the city do (mail, texts, record changes) rests only on what that chat itself gave,
and nothing a window or a console socket sends can make the server fail.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.cases.models import Interaction
from contactcenter.chats import service
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind
from contactcenter.ratelimit import RateLimits, client_network
from contactcenter.residents.models import ContactPoint, Resident
from tests import test_webchat
from tests.test_webchat import KEY, _auth, _chat, _received, _start, _started

# The chat fixtures of the main web chat tests (pytest finds fixtures by module attribute).
_fresh_limits = test_webchat._fresh_limits
chat_city = test_webchat.chat_city
agent = test_webchat.agent
chatting = test_webchat.chatting

VICTIM_PHONE = "+16135550142"
VICTIM_MAIL = "marge.private@victim.example"


@pytest.fixture
def victim(session: Session, chat_city: Jurisdiction) -> Resident:
    """A resident the city knows: a phone, a private email, a name and a language."""
    person = Resident(jurisdiction_id=chat_city.id, display_name="Marge", preferred_language="fr")
    session.add(person)
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=chat_city.id,
                resident=person,
                kind=ContactKind.PHONE,
                address=VICTIM_PHONE,
            ),
            ContactPoint(
                jurisdiction_id=chat_city.id,
                resident=person,
                kind=ContactKind.EMAIL,
                address=VICTIM_MAIL,
            ),
        ]
    )
    session.commit()
    return person


def _mails(session: Session) -> list[str]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Interaction.to_address).where(Interaction.channel == Channel.EMAIL)
        )
    )


# --- Someone else's phone number ---------------------------------------------------------------


def test_typing_someones_phone_does_not_mail_the_transcript_to_their_email(
    client, session, agent, victim
):
    data = _started(client, phone="613-555-0142", description="Click http://evil.example")
    headers = _auth(data["token"])

    answers = [client.post("/chat/api/transcript", headers=headers) for _ in range(3)]

    assert _chat(session).resident_id == victim.id  # the chat still lands on their record
    assert data["session"]["can_email_transcript"] is False
    assert {r.status_code for r in answers} == {409}
    assert {r.get_json()["error"]["code"] for r in answers} == {"no_email"}
    assert "victim.example" not in str([r.get_json() for r in answers])
    assert _mails(session) == []


def test_the_transcript_goes_to_the_email_typed_in_the_chat_not_the_records_other_one(
    client, session, agent, victim
):
    data = _started(client, phone="613-555-0142", email="New@Example.org")

    response = client.post("/chat/api/transcript", headers=_auth(data["token"]))

    assert response.status_code == 202
    assert response.get_json() == {"sent_to": "n***@example.org"}
    assert _mails(session) == ["new@example.org"]


def test_a_chat_does_not_rename_a_known_resident_or_change_their_language(
    client, session, agent, victim
):
    _started(client, phone="613-555-0142", name="Mallory", language="en")

    session.expire_all()
    known = session.get_one(Resident, victim.id)
    assert known.display_name == "Marge"
    assert known.preferred_language == "fr"


def test_a_known_resident_without_a_name_is_not_named_by_a_chat_either(
    client, session, agent, chat_city
):
    nameless = Resident(jurisdiction_id=chat_city.id)
    session.add(nameless)
    session.add(
        ContactPoint(
            jurisdiction_id=chat_city.id,
            resident=nameless,
            kind=ContactKind.PHONE,
            address=VICTIM_PHONE,
        )
    )
    session.commit()

    _started(client, phone="613-555-0142", name="Mallory")

    session.expire_all()
    known = session.get_one(Resident, nameless.id)
    assert known.display_name == ""
    assert known.preferred_language is None


def test_the_hand_off_notice_promises_only_what_the_chat_gave(client, session, chat_city, victim):
    # Nobody is signed in: the chat is handed off at once. The record has a phone, the chat
    # gave only the email: the window must not be told "we will text you".
    data = _started(client, email=VICTIM_MAIL)

    assert _chat(session).resident_id == victim.id
    assert data["session"]["state"] == "handed_off"
    assert "by email" in data["session"]["notice"]
    assert "text message" not in data["session"]["notice"]


def test_the_hand_off_notice_without_contacts_asks_to_keep_the_tracking_number(client, chat_city):
    data = _started(client)

    assert data["session"]["state"] == "handed_off"
    assert "tracking number" in data["session"]["notice"]


# --- How often ---------------------------------------------------------------------------------


def test_a_chat_mails_its_transcript_at_most_twice(client, session, agent):
    data = _started(client, email="lisa@example.org")
    headers = _auth(data["token"])

    statuses = [client.post("/chat/api/transcript", headers=headers) for _ in range(4)]
    state = client.get("/chat/api/session", headers=headers).get_json()

    assert [r.status_code for r in statuses] == [202, 202, 429, 429]
    assert statuses[2].get_json()["error"]["code"] == "rate_limited"
    assert state["session"]["can_email_transcript"] is False
    assert _mails(session) == ["lisa@example.org"] * service.MAX_TRANSCRIPTS


def test_a_bounced_chat_email_gets_no_transcript(client, session, agent):
    import datetime as dt

    data = _started(client, email="lisa@example.org")
    point = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == "lisa@example.org")
    ).one()
    point.undeliverable_at = dt.datetime.now(dt.UTC)
    session.commit()

    response = client.post("/chat/api/transcript", headers=_auth(data["token"]))

    assert response.status_code == 409
    assert _mails(session) == []


# --- The start rate limit per network ----------------------------------------------------------


@pytest.mark.parametrize(
    ("remote", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2::1", "2001:db8:1:2::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("", ""),
        ("not-an-address", "not-an-address"),
    ],
)
def test_chat_starts_are_counted_per_ipv4_address_and_per_ipv6_64(remote, key):
    assert client_network(remote) == key


def test_an_ipv6_client_cannot_escape_the_start_limit_by_changing_address(client, app, agent):
    limit = int(app.config["SETTINGS"].chat_sessions_rate.split("/")[0])

    def start(remote: str, n: int) -> int:
        response = client.post(
            "/chat/api/sessions",
            json={"key": KEY, "description": f"Problem {n}"},
            environ_base={"REMOTE_ADDR": remote},
        )
        return response.status_code

    statuses = [start(f"2001:db8:0:1::{n + 1:x}", n) for n in range(limit + 1)]
    neighbour = start("2001:db8:0:2::1", limit + 1)

    assert statuses[:limit] == [201] * limit
    assert statuses[limit] == 429
    assert neighbour == 201


# --- Two starts at once with the same new contact ----------------------------------------------


def _first_lookup_misses(monkeypatch: pytest.MonkeyPatch, times: int) -> None:
    """The start does not see the contact point another start has just committed (as when
    both look before either commits), ``times`` times."""
    real = service._contact_point
    missed = {"n": 0}

    def lookup(*args: Any) -> ContactPoint | None:
        if missed["n"] < times:
            missed["n"] += 1
            return None
        return real(*args)

    monkeypatch.setattr(service, "_contact_point", lookup)


def test_a_start_that_loses_the_race_for_a_new_phone_joins_the_winners_resident(
    client, session, agent, monkeypatch
):
    first = _started(client, phone="613-555-0199", description="First")
    _first_lookup_misses(monkeypatch, times=1)

    second = _start(client, phone="613-555-0199", description="Second")

    assert second.status_code == 201, second.get_json()
    session.expire_all()
    owners = session.scalars(
        sa.select(ContactPoint.resident_id).where(ContactPoint.kind == ContactKind.PHONE)
    ).all()
    assert len(owners) == 1
    assert session.scalar(sa.select(sa.func.count(Resident.id))) == 1
    assert first["token"] != second.get_json()["token"]


def test_a_start_that_clashes_twice_is_asked_to_try_again_not_a_500(
    client, session, agent, monkeypatch
):
    _started(client, email="bart@example.org", description="First")
    _first_lookup_misses(monkeypatch, times=10)

    second = _start(client, email="bart@example.org", description="Second")

    assert second.status_code == 409
    assert second.get_json()["error"]["code"] == "try_again"


def test_two_starts_at_once_with_the_same_new_email_both_succeed(app, session, agent):
    """Real concurrency (meaningful on PostgreSQL, where the second insert waits for the
    first's commit): however the two interleave, neither answers 500."""
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def start(n: int) -> None:
        http: FlaskClient = app.test_client()
        barrier.wait()
        response = http.post(
            "/chat/api/sessions",
            json={"key": KEY, "description": f"At once {n}", "email": "same@example.org"},
            environ_base={"REMOTE_ADDR": f"192.0.2.{n + 10}"},
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=start, args=(n,)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(statuses) == [201, 201]
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count(Resident.id))) == 1


# --- Numbers that reach SQL ----------------------------------------------------------------------


@pytest.mark.parametrize("case_id", [2**31, 2**63, 2**80, -1, 0, True, "1", 1.0, None])
def test_agent_typing_with_a_case_id_no_database_can_hold_is_ignored(
    chatting, session, monkeypatch, case_id
):
    resident, agent_socket, _browser, _token = chatting()
    resident.get_received("/chat")
    chat = _chat(session)
    looked: list[Any] = []
    real = service.live_chat_of_case
    monkeypatch.setattr(
        service, "live_chat_of_case", lambda db, cid: looked.append(cid) or real(db, cid)
    )

    agent_socket.emit("chat_typing", {"case_id": case_id, "typing": True})
    agent_socket.emit("chat_typing", {"case_id": chat.case_id, "typing": True})

    assert looked == [chat.case_id]
    assert _received(resident, "typing") == [{"typing": True}]


def test_agent_typing_that_is_not_an_object_is_ignored(chatting, session):
    resident, agent_socket, _browser, _token = chatting()
    resident.get_received("/chat")

    for data in (None, 12, "x", [1]):
        agent_socket.emit("chat_typing", data)

    assert _received(resident, "typing") == []


def test_a_huge_case_id_reaches_no_query_on_this_database(chatting, session):
    """Unpatched, end to end: the handler stays healthy on PostgreSQL's 32-bit ids."""
    resident, agent_socket, _browser, _token = chatting()
    resident.get_received("/chat")
    chat = _chat(session)

    agent_socket.emit("chat_typing", {"case_id": 2**62, "typing": True})
    agent_socket.emit("chat_typing", {"case_id": chat.case_id, "typing": False})

    assert _received(resident, "typing") == [{"typing": False}]


def test_limits_fail_open_when_their_store_is_unreachable() -> None:
    limits = RateLimits("redis://127.0.0.1:1/0", {"chat_messages": "1/minute"})

    assert limits.hit("chat_messages", "visitor") is True
    assert limits.hit("chat_messages", "visitor") is True
    limits.check("chat_messages", "visitor", "never raised")
