"""Inbound email against hostile or broken input: forged delivery reports, messages that kill
the worker, replayed or malformed webhook signatures, and address spellings that would grow a
long-running process's cache."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

import channels.email.ingest as ingest
from channels.email.replay import SeenTokens
from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.db import get_db, utcnow
from contactcenter.errors import NotFound
from contactcenter.jurisdictions.directory import AddressDirectory
from contactcenter.mail.models import RawEmail, RawEmailState
from contactcenter.mail.service import release_for_retry
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests import test_email_inbound, test_email_webhook
from tests.conftest import CITY_MAILBOX
from tests.test_email_inbound import RESIDENT, _bounce, _resident_with_reply, mail, raws
from tests.test_email_webhook import KEY

# The fixtures of the inbound and webhook tests: an SMTP listener, delivery, the signing key.
listener = test_email_inbound.listener
send = test_email_inbound.send
signing_key = test_email_webhook.signing_key

OTHER_RESIDENT = "someone.else@example.org"


def _contact(session: Session, address: str) -> ContactPoint:
    session.expire_all()
    return session.scalars(sa.select(ContactPoint).where(ContactPoint.address == address)).one()


def _outbound(session: Session) -> list[Interaction]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Interaction)
            .where(
                Interaction.channel == Channel.EMAIL, Interaction.direction == Direction.OUTBOUND
            )
            .order_by(Interaction.id)
        )
    )


def _add_contact(session: Session, jurisdiction_id: int, address: str) -> None:
    resident = Resident(jurisdiction_id=jurisdiction_id)
    session.add(resident)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=jurisdiction_id,
            resident_id=resident.id,
            kind=ContactKind.EMAIL,
            address=address,
        )
    )
    session.commit()


# --- Delivery reports are believed only about mail we sent -----------------------------------


def test_a_bounce_about_mail_we_never_sent_marks_nobody(session, mail_city, send):
    reply = _resident_with_reply(session, mail_city)

    send(_bounce("never-sent-by-us@attacker.example", RESIDENT), sender="")

    [raw] = raws(session)
    assert raw.state == RawEmailState.IGNORED and raw.interaction_id is None
    assert _contact(session, RESIDENT).undeliverable_at is None
    session.refresh(reply)
    assert reply.delivery_status == DeliveryStatus.SENT


def test_a_bounce_about_our_mail_marks_only_its_recipient(session, mail_city, send):
    reply = _resident_with_reply(session, mail_city)
    _add_contact(session, mail_city.id, OTHER_RESIDENT)

    # Names our real Message-ID, but another resident as the failed recipient.
    send(_bounce("reply-7@springfield.example", OTHER_RESIDENT), sender="")

    assert raws(session)[0].state == RawEmailState.IGNORED
    assert _contact(session, OTHER_RESIDENT).undeliverable_at is None
    assert _contact(session, RESIDENT).undeliverable_at is None
    session.refresh(reply)
    assert reply.delivery_status == DeliveryStatus.SENT


def test_a_bounce_about_another_jurisdictions_mail_marks_nobody(
    session, mail_city, other_city, send
):
    reply = _resident_with_reply(session, mail_city)
    reply.jurisdiction_id = other_city.id  # the Message-ID is another city's
    session.commit()

    send(_bounce("reply-7@springfield.example", RESIDENT), sender="")

    assert raws(session)[0].state == RawEmailState.IGNORED
    assert _contact(session, RESIDENT).undeliverable_at is None


def test_a_forged_complaint_marks_nobody(session, mail_city, send):
    _resident_with_reply(session, mail_city)
    complaint = (
        "From: abuse@isp.example\r\n"
        f"To: {CITY_MAILBOX}\r\n"
        "Subject: Email Feedback Report\r\n"
        "Message-ID: <arf-forged@isp.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="b2"\r\n'
        "\r\n--b2\r\nContent-Type: text/plain\r\n\r\nAbuse report.\r\n"
        "\r\n--b2\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nVersion: 1\r\n"
        "\r\n--b2\r\nContent-Type: message/rfc822\r\n\r\n"
        f"From: {CITY_MAILBOX}\r\nTo: {RESIDENT}\r\nMessage-ID: <made-up@springfield.example>\r\n"
        "\r\nHello.\r\n\r\n--b2--\r\n"
    ).encode()

    send(complaint, sender="")

    assert raws(session)[0].state == RawEmailState.IGNORED
    assert _contact(session, RESIDENT).undeliverable_at is None


def test_a_resident_writing_in_makes_their_address_deliverable_again(session, mail_city, send):
    _resident_with_reply(session, mail_city)
    send(_bounce("reply-7@springfield.example", RESIDENT), sender="")
    assert _contact(session, RESIDENT).undeliverable_at is not None

    send(mail(message_id="<back-again@example.org>"))

    contact = _contact(session, RESIDENT)
    assert (contact.undeliverable_at, contact.undeliverable_reason) == (None, "")
    acknowledgement = _outbound(session)[-1]
    assert acknowledgement.to_address == RESIDENT
    assert acknowledgement.delivery_status != DeliveryStatus.SUPPRESSED


def test_mail_from_an_address_that_complained_does_not_lift_the_complaint(session, mail_city, send):
    from contactcenter.db import utcnow

    _resident_with_reply(session, mail_city)
    contact = _contact(session, RESIDENT)
    contact.undeliverable_at, contact.undeliverable_reason = utcnow(), "complaint"
    session.commit()

    # Anyone can write "From: resident": a complaint is lifted by staff, never by a header.
    send(mail(message_id="<forged-from@example.org>"))

    assert _contact(session, RESIDENT).undeliverable_reason == "complaint"
    assert _outbound(session)[-1].delivery_status == DeliveryStatus.SUPPRESSED


def test_an_automatic_reply_does_not_make_an_address_deliverable_again(session, mail_city, send):
    _resident_with_reply(session, mail_city)
    send(_bounce("reply-7@springfield.example", RESIDENT), sender="")

    send(
        mail(
            "I am out of the office.",
            subject="Out of office",
            message_id="<ooo@example.org>",
            Auto_Submitted="auto-replied",
        )
    )

    assert _contact(session, RESIDENT).undeliverable_at is not None


# --- A message that kills the worker is given up on ------------------------------------------


class WorkerKilled(BaseException):
    """What the job sees of a SIGKILL: nothing runs after it, no except clause, no commit."""


def _stored(app: Flask, *, minutes_ago: int = 0) -> int:
    with app.app_context():
        db = get_db().session()
        raw = ingest.store_raw_email(
            db, data=mail(), recipient=CITY_MAILBOX, envelope_from=RESIDENT, source="smtp"
        )
        raw.received_at = utcnow() - dt.timedelta(minutes=minutes_ago)
        db.commit()
        raw_id = raw.id
        db.close()
    return raw_id


def test_a_message_that_kills_the_worker_is_quarantined_after_three_attempts(
    app, session, mail_city, monkeypatch
):
    raw_id = _stored(app, minutes_ago=10)
    parsed: list[int] = []

    def killed(data: bytes, **kwargs: object) -> object:
        parsed.append(1)
        raise WorkerKilled

    monkeypatch.setattr(ingest, "parse_email", killed)
    for attempt in range(1, 4):
        with app.app_context(), pytest.raises(WorkerKilled):
            ingest.process_raw_email(raw_id)
        [raw] = raws(session)
        assert (raw.state, raw.attempts) == (RawEmailState.PENDING, attempt)

    with app.app_context():
        ingest.process_raw_email(raw_id)  # the fourth start does not parse it again

    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED
    assert raw.error == "gave up after 3 attempts: the worker died or ran out of time"
    assert raw.attempts == 3 and len(parsed) == 3
    with app.app_context():
        assert ingest.requeue_pending(get_db().session(), older_than=dt.timedelta(0)) == []


def test_requeued_mail_that_keeps_killing_the_worker_ends_in_quarantine(
    app, session, mail_city, monkeypatch, run_jobs
):
    raw_id = _stored(app, minutes_ago=10)
    session.execute(sa.update(RawEmail).where(RawEmail.id == raw_id).values(attempts=3))
    session.commit()

    def never(data: bytes, **kwargs: object) -> object:
        raise AssertionError("parsed again")

    monkeypatch.setattr(ingest, "parse_email", never)
    with app.app_context():
        assert ingest.requeue_pending(get_db().session(), older_than=dt.timedelta(0)) == [raw_id]
    run_jobs()

    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED and raw.error.startswith("gave up after 3")
    with app.app_context():
        assert ingest.requeue_pending(get_db().session(), older_than=dt.timedelta(0)) == []


def test_a_retry_after_giving_up_gets_its_attempts_afresh(app, session, mail_city):
    raw_id = _stored(app)
    session.execute(sa.update(RawEmail).where(RawEmail.id == raw_id).values(attempts=3))
    session.commit()
    with app.app_context():
        ingest.process_raw_email(raw_id)
    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED

    release_for_retry(session, raw)
    session.commit()
    with app.app_context():
        ingest.process_raw_email(raw_id)

    [raw] = raws(session)
    assert (raw.state, raw.attempts) == (RawEmailState.FILED, 1)


# --- The webhook's signature: well formed, fresh, and not replayed -------------------------


def _signed_form(*, age: float = 0, token: str | None = None, body: str | None = None) -> dict:
    timestamp = str(int(time.time() - age))
    token = token or secrets.token_hex(25)
    signature = hmac.new(KEY.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": CITY_MAILBOX,
        "sender": RESIDENT,
        "body-mime": body or mail().decode(),
    }


def _post(client: Any, form: dict) -> Any:
    return client.post("/email/inbound/mime", data=form)


@pytest.mark.parametrize(
    "signature",
    ["é" * 64, "g" * 64, "0" * 63, "0" * 65, "\uff10" * 64],
    ids=["non-ascii", "not-hex", "short", "long", "fullwidth-digits"],
)
def test_a_malformed_signature_is_refused_not_an_error(
    client, session, mail_city, signing_key, signature
):
    form = _signed_form()
    form["signature"] = signature

    response = _post(client, form)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert raws(session) == []


def test_an_upper_case_signature_is_accepted(client, session, mail_city, signing_key, run_jobs):
    form = _signed_form()
    form["signature"] = form["signature"].upper()
    assert _post(client, form).status_code == 200


@pytest.mark.parametrize(
    "age", [9 * 3600 + 60, -6 * 60, float("inf")], ids=["too-old", "future", "infinite"]
)
def test_a_stale_or_future_timestamp_is_refused(client, session, mail_city, signing_key, age):
    if age == float("inf"):
        token = secrets.token_hex(25)
        signature = hmac.new(KEY.encode(), ("inf" + token).encode(), hashlib.sha256).hexdigest()
        form = {**_signed_form(), "timestamp": "inf", "token": token, "signature": signature}
    else:
        form = _signed_form(age=age)

    response = _post(client, form)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "stale_signature"
    assert raws(session) == []


def test_a_retry_hours_later_is_still_taken(client, session, mail_city, signing_key, run_jobs):
    assert _post(client, _signed_form(age=8 * 3600)).status_code == 200


def test_a_captured_request_cannot_be_sent_again_to_another_of_our_addresses(
    client, session, mail_city, signing_key, run_jobs
):
    from contactcenter.jurisdictions.models import ChannelAddress
    from contactcenter.messages import Channel

    session.add(
        ChannelAddress(
            jurisdiction_id=mail_city.id, channel=Channel.EMAIL, address="works@city.example"
        )
    )
    session.commit()
    genuine = _signed_form()
    assert _post(client, genuine).status_code == 200

    response = _post(client, {**genuine, "recipient": "works@city.example"})

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "replayed_token"


def test_a_token_used_again_with_another_message_is_refused(
    client, session, mail_city, signing_key, run_jobs
):
    genuine = _signed_form()
    assert _post(client, genuine).status_code == 200

    forged = {**genuine, "body-mime": mail("Forged", message_id="<forged@x.example>").decode()}
    response = _post(client, forged)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "replayed_token"
    assert _post(client, genuine).status_code == 200  # Mailgun retrying the same POST
    run_jobs()
    assert [raw.state for raw in raws(session)] == [RawEmailState.FILED, RawEmailState.DUPLICATE]


def test_tokens_kept_in_process_are_bounded_and_expire(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr("channels.email.replay.time.monotonic", lambda: clock[0])
    tokens = SeenTokens(None, ttl_seconds=60, max_local=3)

    assert tokens.admit("a", b"one") and tokens.admit("a", b"one")
    assert not tokens.admit("a", b"two")
    for name in "bcde":
        assert tokens.admit(name, b"x")
    assert len(tokens._local) == 3
    clock[0] += 61
    assert tokens.admit("e", b"something else")  # expired: a token is only kept so long


# --- The address directory's cache --------------------------------------------------------


def test_spellings_of_an_owned_address_find_it_and_never_grow_the_cache_past_its_bound(
    app, session, mail_city
):
    directory = AddressDirectory(max_entries=3)
    variants = ["311@Springfield.Example", "311@SPRINGFIELD.example", " 311@springfield.EXAMPLE"]

    for variant in variants * 2:
        assert directory.jurisdiction_id(session, Channel.EMAIL, variant) == mail_city.id
        assert len(directory._entries) <= 4

    # Forgetting any spelling forgets the address itself.
    directory.jurisdiction_id(session, Channel.EMAIL, CITY_MAILBOX)
    directory.forget(Channel.EMAIL, "311@SpringField.example")
    assert (Channel.EMAIL, CITY_MAILBOX) not in directory._entries


def test_the_directory_cache_is_bounded(app, session, mail_city, other_city):
    from contactcenter.jurisdictions.models import ChannelAddress

    for n in range(5):
        session.add(
            ChannelAddress(
                jurisdiction_id=other_city.id, channel=Channel.EMAIL, address=f"box{n}@town.example"
            )
        )
    session.commit()
    directory = AddressDirectory(max_entries=3)

    for n in range(5):
        directory.jurisdiction_id(session, Channel.EMAIL, f"box{n}@town.example")
        assert len(directory._entries) <= 3
    with pytest.raises(NotFound):
        directory.jurisdiction_id(session, Channel.EMAIL, "nobody@town.example")
    assert directory.jurisdiction_id(session, Channel.EMAIL, "BOX4@town.example") == other_city.id
