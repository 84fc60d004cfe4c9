"""Replying from the case page to a contact point the agent picks (issue 5)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests.test_console import (
    agent,
    flashes,
    fresh,
    location,
    post_form,
    queue,
    signed_in,
    text,
)

__all__ = ["agent", "queue", "signed_in"]  # fixtures, re-used

FIRST_PHONE = "+16135550100"
SECOND_PHONE = "+16135550199"
OPTION = re.compile(r'<option value="([^"]*)"[^>]*>([^<]*)</option>')


def add_point(session: Session, person: Resident, kind: ContactKind, address: str) -> ContactPoint:
    point = ContactPoint(
        jurisdiction_id=person.jurisdiction_id, resident=person, kind=kind, address=address
    )
    session.add(point)
    session.commit()
    return point


def reply_options(page: str) -> dict[str, str]:
    """value -> label of the reply form's "to" select."""
    match = re.search(r'<select id="reply-to" name="to">(.*?)</select>', page, re.S)
    assert match, page
    return dict(OPTION.findall(match.group(1)))


@pytest.fixture
def texted_case(session: Session, send_sms: Any) -> Case:
    """A case the resident opened by texting from FIRST_PHONE; they also have SECOND_PHONE."""
    assert send_sms("Pothole at 742 Evergreen Terrace", from_=FIRST_PHONE).status_code == 200
    case = fresh(session).scalars(sa.select(Case)).one()
    assert case.resident is not None
    add_point(session, case.resident, ContactKind.PHONE, SECOND_PHONE)
    return case


@pytest.fixture
def stranger_point(session: Session, city: Jurisdiction) -> ContactPoint:
    stranger = Resident(jurisdiction_id=city.id, display_name="Ned")
    session.add(stranger)
    session.flush()
    return add_point(session, stranger, ContactKind.PHONE, "+16135550777")


def outbound(session: Session, case: Case) -> list[Interaction]:
    return list(
        fresh(session).scalars(
            sa.select(Interaction)
            .where(Interaction.case_id == case.id, Interaction.direction == Direction.OUTBOUND)
            .order_by(Interaction.id)
        )
    )


def test_a_reply_without_a_choice_goes_to_the_number_the_resident_texted_from(
    signed_in: FlaskClient,
    texted_case: Case,
    twilio_http: Any,
    run_jobs: Callable[[], None],
) -> None:
    before = len(twilio_http.messages)
    response = post_form(
        signed_in, f"/console/cases/{texted_case.id}/reply", {"body": "On our way.", "to": ""}
    )
    assert location(response) == f"/console/cases/{texted_case.id}"
    run_jobs()
    assert len(twilio_http.messages) == before + 1
    assert twilio_http.messages[-1]["To"] == FIRST_PHONE
    assert twilio_http.messages[-1]["Body"] == "On our way."


def test_choosing_the_residents_second_phone_texts_that_number(
    signed_in: FlaskClient,
    session: Session,
    texted_case: Case,
    twilio_http: Any,
    run_jobs: Callable[[], None],
) -> None:
    second = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == SECOND_PHONE)
    ).one()
    before = len(twilio_http.messages)
    response = post_form(
        signed_in,
        f"/console/cases/{texted_case.id}/reply",
        {"body": "Call us back?", "to": str(second.id)},
    )
    assert location(response) == f"/console/cases/{texted_case.id}"
    run_jobs()
    assert len(twilio_http.messages) == before + 1
    assert twilio_http.messages[-1]["To"] == SECOND_PHONE
    assert twilio_http.messages[-1]["From"] == "+16135550311"
    assert outbound(session, texted_case)[-1].agent_id is not None
    page = text(signed_in.get(location(response)))
    assert "Reply sent to the resident." in flashes(page)


@pytest.mark.parametrize("forged", ["stranger", "not-a-number", "999999999999999999999"])
def test_a_contact_point_that_is_not_the_residents_is_refused_and_nothing_is_sent(
    signed_in: FlaskClient,
    session: Session,
    texted_case: Case,
    stranger_point: ContactPoint,
    twilio_http: Any,
    run_jobs: Callable[[], None],
    forged: str,
) -> None:
    value = str(stranger_point.id) if forged == "stranger" else forged
    before = len(twilio_http.messages)
    queued = len(outbound(session, texted_case))
    response = post_form(
        signed_in, f"/console/cases/{texted_case.id}/reply", {"body": "Secret", "to": value}
    )
    assert location(response) == f"/console/cases/{texted_case.id}"
    run_jobs()
    assert len(twilio_http.messages) == before
    assert len(outbound(session, texted_case)) == queued
    page = text(signed_in.get(location(response)))
    assert "That address is not one of this resident's contact points." in flashes(page)


def test_the_reply_choices_list_only_this_residents_sendable_points(
    signed_in: FlaskClient,
    session: Session,
    texted_case: Case,
    stranger_point: ContactPoint,
) -> None:
    assert texted_case.resident is not None
    email = add_point(session, texted_case.resident, ContactKind.EMAIL, "marge@example.org")
    second = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == SECOND_PHONE)
    ).one()
    options = reply_options(text(signed_in.get(f"/console/cases/{texted_case.id}")))
    assert set(options) == {"", str(second.id)}  # the default route first, then the other phone
    assert FIRST_PHONE in options[""]
    assert SECOND_PHONE in options[str(second.id)]
    assert str(stranger_point.id) not in options
    assert str(email.id) not in options  # no email adapter is registered: it cannot be sent


def test_an_opted_out_resident_is_not_texted_on_a_chosen_number_either(
    signed_in: FlaskClient,
    session: Session,
    texted_case: Case,
    twilio_http: Any,
    run_jobs: Callable[[], None],
) -> None:
    assert texted_case.resident is not None
    texted_case.resident.sms_opted_out = True
    session.commit()
    second = session.scalars(
        sa.select(ContactPoint).where(ContactPoint.address == SECOND_PHONE)
    ).one()
    before = len(twilio_http.messages)
    post_form(
        signed_in,
        f"/console/cases/{texted_case.id}/reply",
        {"body": "Hello?", "to": str(second.id)},
    )
    run_jobs()
    assert len(twilio_http.messages) == before
    assert outbound(session, texted_case)[-1].delivery_status == DeliveryStatus.SUPPRESSED


def test_a_chat_that_is_over_is_answered_by_text_at_the_number_the_resident_left(
    session: Session, city: Jurisdiction, signed_in: FlaskClient
) -> None:
    from contactcenter.messages import Channel
    from tests import factories

    person = Resident(jurisdiction_id=city.id)
    session.add(person)
    session.flush()
    add_point(session, person, ContactKind.CHAT, "visitor-gone")
    phone = add_point(session, person, ContactKind.PHONE, FIRST_PHONE)
    case = factories.make_case(session, city, resident=person, channel=Channel.WEBCHAT)
    session.commit()

    page = text(signed_in.get(f"/console/cases/{case.id}"))

    # No chat is open: the first choice (what the browser selects) is the resident's phone.
    assert list(reply_options(page)) == [str(phone.id)]
