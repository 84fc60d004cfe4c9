"""An Open311 request has no channel back to its resident: news of it goes by email or text
to the contact details the app gave, when it gave any."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus, Interaction
from contactcenter.cases.service import change_status
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.open311.clients import issue_key
from contactcenter.open311.submit import submit_request
from contactcenter.surveys.models import Survey


def _filed(session: Session, city: Jurisdiction, **contacts: str) -> Case:
    client, _key = issue_key(session, city, name="City app")
    fields = {"service_code": "pothole", "address_string": "12 Main St", **contacts}
    result = submit_request(session, city, client, fields, {})
    session.commit()
    assert result.case is not None
    return result.case


def _resolve(app: Flask, session: Session, case: Case) -> list[Interaction]:
    with app.app_context():
        change_status(session, case, CaseStatus.OPEN, agent=None)
        change_status(session, case, CaseStatus.RESOLVED, agent=None)
        session.commit()
    return list(
        session.scalars(
            sa.select(Interaction).where(
                Interaction.case_id == case.id,
                Interaction.direction == Direction.OUTBOUND,
                # The notices only: the satisfaction survey's question follows them the same
                # way (tests/test_surveys.py).
                Interaction.id.not_in(
                    sa.select(Survey.interaction_id).where(Survey.interaction_id.is_not(None))
                ),
            )
        )
    )


def test_an_open311_case_with_an_email_is_told_of_its_resolution_by_email(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    session.add(
        ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address="311@city.example")
    )
    case = _filed(session, city, phone="613-555-0142", email="Jo@Example.org")

    (notice,) = _resolve(app, session, case)

    assert (notice.channel, notice.to_address) == (Channel.EMAIL, "jo@example.org")
    assert notice.from_address == "311@city.example"
    assert case.tracking_number in notice.body


def test_an_open311_case_with_only_a_phone_is_told_by_text(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    case = _filed(session, city, phone="613-555-0142")

    (notice,) = _resolve(app, session, case)

    assert (notice.channel, notice.to_address) == (Channel.SMS, "+16135550142")
    assert case.tracking_number in notice.body


def test_an_open311_case_without_contact_details_is_told_nothing(
    app: Flask, session: Session, city: Jurisdiction
) -> None:
    case = _filed(session, city)

    assert _resolve(app, session, case) == []
    assert session.get_one(Case, case.id).status == CaseStatus.RESOLVED
