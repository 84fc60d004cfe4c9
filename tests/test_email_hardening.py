"""Inbound email against hostile or broken input: forged delivery reports, messages that kill
the worker, replayed or malformed webhook signatures, and address spellings that would grow a
long-running process's cache."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.mail.models import RawEmailState
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests import test_email_inbound, test_email_webhook
from tests.conftest import CITY_MAILBOX
from tests.test_email_inbound import RESIDENT, _bounce, _resident_with_reply, mail, raws

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
