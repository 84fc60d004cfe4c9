"""Email conversations in the intake: replies find their case, robots get no answers.

These drive the channel-neutral path (an InboundMessage stored by the inbox, processed by the
intake) the way the email channel does after parsing, so they hold whatever the wire format.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Awaiting, Case, CaseStatus, DeliveryStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.inbox import accept_and_commit, process_inbound
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel, Direction, InboundMessage
from contactcenter.residents.models import ContactPoint

CITY_MAIL = "311@springfield.example"

Mail = Callable[..., Interaction]


@pytest.fixture
def mail(app: Flask, session: Session, city: Jurisdiction) -> Mail:
    """Deliver one email to the intake, processed at once; returns its stored interaction."""
    session.add(ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address=CITY_MAIL))
    session.commit()
    counter = iter(range(1, 10_000))

    def send(
        body: str,
        *,
        sender: str = "resident@example.org",
        subject: str = "",
        refs: tuple[str, ...] = (),
        automated: bool = False,
        message_id: str | None = None,
    ) -> Interaction:
        provider_id = message_id or f"m{next(counter)}@mail.example.org"
        message = InboundMessage(
            channel=Channel.EMAIL,
            provider_id=provider_id,
            from_address=sender,
            to_address=CITY_MAIL,
            body=body,
            subject=subject,
            thread_refs=refs,
            automated=automated,
        )
        with app.app_context():
            from contactcenter.db import get_db

            with get_db().session() as own:
                accepted = accept_and_commit(own, message)
            process_inbound(accepted.interaction_id)
        session.expire_all()
        return session.get_one(Interaction, accepted.interaction_id)

    return send


def replies_to(session: Session, case_id: int) -> list[Interaction]:
    return list(
        session.scalars(
            sa.select(Interaction)
            .where(Interaction.case_id == case_id, Interaction.direction == Direction.OUTBOUND)
            .order_by(Interaction.id)
        )
    )


def test_a_new_email_opens_a_case_acknowledged_in_the_same_thread(
    mail: Mail, session: Session
) -> None:
    first = mail("There is a deep pothole outside 12 Elm Street", subject="Pothole on Elm")

    assert first.case_id is not None
    case = session.get_one(Case, first.case_id)
    assert case.origin_channel == Channel.EMAIL
    assert case.description.startswith("Pothole on Elm")
    (ack,) = replies_to(session, case.id)
    assert ack.channel == Channel.EMAIL
    assert ack.to_address == "resident@example.org"
    assert ack.from_address == CITY_MAIL
    assert ack.thread_refs == [first.provider_id]
    assert ack.subject == f"Re: Pothole on Elm [311 #{case.tracking_number}]"
    assert ack.provider_id and ack.provider_id.endswith("@springfield.example")
    assert case.tracking_number in ack.body


def test_a_reply_through_the_references_continues_its_case_even_from_another_address(
    mail: Mail, session: Session
) -> None:
    first = mail("Streetlight out on Oak Avenue", subject="Streetlight")
    (ack,) = replies_to(session, first.case_id)

    reply = mail("It is still dark", subject="Re: Streetlight", refs=(ack.provider_id,))
    cc = mail(
        "Same here, next door",
        sender="neighbour@example.net",
        subject="Re: Streetlight",
        refs=(reply.provider_id, ack.provider_id),
    )

    assert reply.case_id == first.case_id
    assert cc.case_id == first.case_id
    chain = replies_to(session, first.case_id)
    # An answer's In-Reply-To (the last reference) is the resident's message, never our own
    # acknowledgement sent in between.
    assert chain[1].thread_refs == [first.provider_id, ack.provider_id, reply.provider_id]
    # The neighbour's mail is on the case for the agent, but we tell them nothing about it.
    assert [r.to_address for r in chain] == ["resident@example.org"] * 2
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_someone_else_in_the_thread_cannot_answer_the_cases_questions(
    mail: Mail, session: Session
) -> None:
    first = mail("There is a pothole, it is huge", subject="Pothole")
    case = session.get_one(Case, first.case_id)
    assert case.awaiting == Awaiting.LOCATION
    (ack,) = replies_to(session, case.id)

    mail("It is at 1 Fake Street", sender="stranger@example.net", refs=(ack.provider_id,))

    session.refresh(case)
    assert case.awaiting == Awaiting.LOCATION
    assert case.address_text == ""


def test_the_tracking_number_in_the_subject_finds_the_case_when_references_are_lost(
    mail: Mail, session: Session
) -> None:
    first = mail("Graffiti on the library wall", subject="Graffiti")
    case = session.get_one(Case, first.case_id)

    again = mail("Any news?", subject=f"About 311 #{case.tracking_number}")

    assert again.case_id == case.id


def test_a_new_email_without_references_is_a_new_request(mail: Mail, session: Session) -> None:
    first = mail("Pothole on Elm Street", subject="Pothole")
    second = mail("Missed garbage pickup on Oak", subject="Garbage")

    assert first.case_id != second.case_id


def test_a_reply_to_a_closed_case_opens_a_new_one(mail: Mail, session: Session) -> None:
    first = mail("Pothole on Elm Street", subject="Pothole")
    case = session.get_one(Case, first.case_id)
    case.status = CaseStatus.CLOSED
    session.commit()
    (ack,) = replies_to(session, case.id)

    reply = mail("It is back again", subject="Re: Pothole", refs=(ack.provider_id,))

    assert reply.case_id not in (None, case.id)


def test_an_auto_reply_joins_its_thread_without_an_acknowledgement(
    mail: Mail, session: Session
) -> None:
    first = mail("Pothole on Elm Street", subject="Pothole")
    (ack,) = replies_to(session, first.case_id)

    away = mail(
        "I am out of the office", subject="Out of office", refs=(ack.provider_id,), automated=True
    )

    assert away.case_id == first.case_id
    assert len(replies_to(session, first.case_id)) == 1


def test_machine_mail_about_nothing_of_ours_opens_no_case_and_gets_no_answer(
    mail: Mail, session: Session
) -> None:
    newsletter = mail("Our spring newsletter", subject="News", automated=True)

    assert newsletter.case_id is None
    assert newsletter.processed_at is not None
    outbound = session.scalar(
        sa.select(sa.func.count())
        .select_from(Interaction)
        .where(Interaction.direction == Direction.OUTBOUND)
    )
    assert outbound == 0


def test_a_sender_over_the_hourly_limit_gets_no_more_acknowledgements(
    mail: Mail, session: Session
) -> None:
    sent = [mail(f"Problem number {n} on Main Street", subject=f"Issue {n}") for n in range(7)]

    acked = [bool(replies_to(session, m.case_id)) for m in sent]
    # EMAIL_ACK_LIMIT_PER_HOUR defaults to 5: the cases are all opened, the robots stop.
    assert acked == [True] * 5 + [False] * 2
    assert all(m.case_id is not None for m in sent)


def test_nothing_is_sent_to_an_address_that_bounced(mail: Mail, session: Session) -> None:
    first = mail("Pothole on Elm Street", subject="Pothole")
    point = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == "resident@example.org")
    ).one()
    point.undeliverable_at = utcnow()
    session.commit()

    again = mail("Still there", refs=(first.provider_id,))

    latest = replies_to(session, again.case_id)[-1]
    assert latest.delivery_status == DeliveryStatus.SUPPRESSED
    assert latest.error_code == "undeliverable"


def test_a_sender_who_keeps_under_the_hourly_limit_is_still_stopped_within_a_day(
    mail: Mail, session: Session
) -> None:
    import datetime as dt

    for hour in range(4):
        for n in range(5):
            mail(f"Problem {hour}-{n} on Main Street", subject=f"Issue {hour}-{n}")
        # Move that hour's mail back in time: never over the hourly limit, 20 in the day.
        session.execute(
            sa.update(Interaction)
            .where(Interaction.created_at >= utcnow() - dt.timedelta(minutes=30))
            .values(created_at=utcnow() - dt.timedelta(hours=hour + 1, minutes=5))
        )
        session.commit()

    last = mail("Problem again on Main Street", subject="Again")

    assert last.case_id is not None
    assert replies_to(session, last.case_id) == []
