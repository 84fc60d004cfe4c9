"""A web chat is long over when its case is resolved: the news goes where the resident said."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import CaseStatus, Interaction
from contactcenter.cases.service import change_status
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests import factories


def _chat_resident(
    session: Session, city: Jurisdiction, *extra: tuple[ContactKind, str]
) -> Resident:
    resident = Resident(jurisdiction_id=city.id)
    session.add(resident)
    points = [(ContactKind.CHAT, "visitor-abc"), *extra]
    for kind, address in points:
        session.add(
            ContactPoint(jurisdiction_id=city.id, resident=resident, kind=kind, address=address)
        )
    session.flush()
    return resident


def _notices(session: Session, case_id: int) -> list[Interaction]:
    return list(
        session.scalars(
            sa.select(Interaction).where(
                Interaction.case_id == case_id, Interaction.direction == Direction.OUTBOUND
            )
        )
    )


def test_a_resolved_chat_case_is_told_by_text_at_the_number_the_resident_left(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    resident = _chat_resident(session, city, (ContactKind.PHONE, "+16135550142"))
    case = factories.make_case(
        session, city, resident=resident, channel=Channel.WEBCHAT, status=CaseStatus.OPEN
    )

    with app.app_context():
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
        session.commit()

    (notice,) = _notices(session, case.id)
    assert notice.channel == Channel.SMS
    assert notice.to_address == "+16135550142"
    assert case.tracking_number in notice.body


def test_a_chat_case_without_a_phone_or_email_is_told_in_the_chat(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    from contactcenter.jurisdictions.models import ChannelAddress

    session.add(
        ChannelAddress(jurisdiction_id=city.id, channel=Channel.WEBCHAT, address="city-chat-key")
    )
    resident = _chat_resident(session, city)
    case = factories.make_case(
        session, city, resident=resident, channel=Channel.WEBCHAT, status=CaseStatus.OPEN
    )

    with app.app_context():
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
        session.commit()

    (notice,) = _notices(session, case.id)
    assert (notice.channel, notice.to_address) == (Channel.WEBCHAT, "visitor-abc")
    assert case.tracking_number in notice.body


def test_a_chat_case_skips_an_opted_out_phone_and_a_bounced_email_for_one_that_works(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    from contactcenter.db import utcnow
    from contactcenter.jurisdictions.models import ChannelAddress

    session.add(
        ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address="311@city.example")
    )
    resident = _chat_resident(
        session,
        city,
        (ContactKind.PHONE, "+16135550142"),
        (ContactKind.EMAIL, "old@example.org"),
        (ContactKind.EMAIL, "new@example.org"),
    )
    resident.sms_opted_out = True
    bounced = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == "old@example.org")
    ).one()
    bounced.undeliverable_at = utcnow()
    case = factories.make_case(
        session, city, resident=resident, channel=Channel.WEBCHAT, status=CaseStatus.OPEN
    )

    with app.app_context():
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
        session.commit()

    (notice,) = _notices(session, case.id)
    assert (notice.channel, notice.to_address) == (Channel.EMAIL, "new@example.org")


def test_a_chat_case_is_told_where_the_chat_said_even_if_the_record_has_an_older_address(
    app: Flask, session: Session, city: Jurisdiction, run_jobs: Callable[[], None]
) -> None:
    from contactcenter.chats.models import ChatSession, ChatState
    from contactcenter.jurisdictions.models import ChannelAddress

    session.add(
        ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address="311@city.example")
    )
    resident = _chat_resident(
        session, city, (ContactKind.PHONE, "+16135550142"), (ContactKind.EMAIL, "typed@example.org")
    )
    case = factories.make_case(
        session, city, resident=resident, channel=Channel.WEBCHAT, status=CaseStatus.OPEN
    )
    session.add(
        ChatSession(
            jurisdiction_id=city.id,
            visitor_id="visitor-abc",
            resident_id=resident.id,
            case_id=case.id,
            state=ChatState.HANDED_OFF,
            email="typed@example.org",
        )
    )
    session.flush()

    with app.app_context():
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
        session.commit()

    run_jobs()  # with Redis, the survey's job runs on a worker

    # (The chat window also hears that the chat ended.)
    session.expire_all()
    (notice, survey) = [n for n in _notices(session, case.id) if n.channel is not Channel.WEBCHAT]
    assert (notice.channel, notice.to_address) == (Channel.EMAIL, "typed@example.org")
    # The satisfaction survey's link follows, to the same address (the chat was handed off).
    assert (survey.channel, survey.to_address) == (Channel.EMAIL, "typed@example.org")
    assert "/survey/" in survey.body
