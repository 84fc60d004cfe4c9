"""Duplicates on the case page and resident merges in the console, through the test client
with CSRF on: what moves, what the audit records, and what is refused across cities or roles.
"""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Role
from contactcenter.cases.models import (
    Case,
    CaseEvent,
    DeliveryStatus,
    Direction,
    DuplicateStatus,
    Interaction,
)
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind
from contactcenter.residents.models import ContactPoint, Resident, ResidentMerge
from tests import factories
from tests.test_console import PASSWORD, flashes, fresh, post_form, sign_in, text

HOSTILE = "<script>alert(1)</script>"


def _staff(session: Session, city: Jurisdiction, email: str, role: Role) -> Agent:
    person, _token = factories.make_agent(
        session, [city], role=role, password=PASSWORD, email=email
    )
    session.commit()
    return person


@pytest.fixture
def agent(session: Session, city: Jurisdiction) -> Agent:
    return _staff(session, city, "dana@city.example", Role.AGENT)


@pytest.fixture
def supervisor(session: Session, city: Jurisdiction) -> Agent:
    return _staff(session, city, "walter@city.example", Role.SUPERVISOR)


def _signed_in(client: FlaskClient, person: Agent) -> FlaskClient:
    assert sign_in(client, person.email).status_code == 302
    return client


def _resident(
    session: Session, city: Jurisdiction, name: str, phone: str, **fields: object
) -> Resident:
    person = Resident(jurisdiction_id=city.id, display_name=name, **fields)
    session.add(person)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=city.id, resident=person, kind=ContactKind.PHONE, address=phone
        )
    )
    session.flush()
    return person


def _interaction(session: Session, case: Case) -> Interaction:
    message = Interaction(
        jurisdiction_id=case.jurisdiction_id,
        case_id=case.id,
        resident_id=case.resident_id,
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        body="hello",
        delivery_status=DeliveryStatus.RECEIVED,
    )
    session.add(message)
    session.flush()
    return message


def _suspected_pair(session: Session, city: Jurisdiction) -> tuple[Case, Case]:
    parent = factories.make_case(session, city, description="Pothole")
    child = factories.make_case(session, city, description="Same pothole")
    child.duplicate_of = parent
    child.duplicate_status = DuplicateStatus.SUSPECTED
    session.commit()
    return parent, child


# ---------------------------------------------------------------------------------------------
# Duplicates


def test_the_case_page_shows_the_suspected_parent_and_confirm_makes_it_a_duplicate(
    client: FlaskClient, session: Session, city: Jurisdiction, agent: Agent
) -> None:
    parent, child = _suspected_pair(session, city)
    _signed_in(client, agent)
    page = text(client.get(f"/console/cases/{child.id}"))
    assert "Suspected duplicate of" in page and parent.tracking_number in page
    assert f'href="/console/cases/{parent.id}"' in page
    response = post_form(client, f"/console/cases/{child.id}/duplicate/confirm")
    assert response.status_code == 302
    assert fresh(session).get(Case, child.id).duplicate_status == DuplicateStatus.CONFIRMED  # type: ignore[union-attr]


def test_reject_marks_the_case_not_a_duplicate_and_a_second_reject_is_a_message(
    client: FlaskClient, session: Session, city: Jurisdiction, agent: Agent
) -> None:
    _parent, child = _suspected_pair(session, city)
    _signed_in(client, agent)
    post_form(client, f"/console/cases/{child.id}/duplicate/reject")
    assert fresh(session).get(Case, child.id).duplicate_status == DuplicateStatus.REJECTED  # type: ignore[union-attr]
    again = post_form(client, f"/console/cases/{child.id}/duplicate/confirm")
    assert again.status_code == 302
    page = text(client.get(f"/console/cases/{child.id}"))
    assert any("not a suspected duplicate" in f for f in flashes(page))


def test_linking_by_tracking_number_confirms_and_another_citys_number_is_not_found(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    agent: Agent,
) -> None:
    parent = factories.make_case(session, city)
    child = factories.make_case(session, city)
    foreign = factories.make_case(session, other_city)
    session.commit()
    _signed_in(client, agent)
    post_form(
        client, f"/console/cases/{child.id}/duplicate/link", {"parent": foreign.tracking_number}
    )
    page = text(client.get(f"/console/cases/{child.id}"))
    assert any("No case with that tracking number" in f for f in flashes(page))
    assert fresh(session).get(Case, child.id).duplicate_of_id is None  # type: ignore[union-attr]
    post_form(
        client, f"/console/cases/{child.id}/duplicate/link", {"parent": child.tracking_number}
    )
    assert any("itself" in f for f in flashes(text(client.get(f"/console/cases/{child.id}"))))
    post_form(
        client, f"/console/cases/{child.id}/duplicate/link", {"parent": parent.tracking_number}
    )
    linked = fresh(session).get(Case, child.id)
    assert linked is not None
    assert linked.duplicate_of_id == parent.id
    assert linked.duplicate_status == DuplicateStatus.CONFIRMED


def test_duplicate_forms_of_another_citys_case_answer_404(
    client: FlaskClient, session: Session, other_city: Jurisdiction, agent: Agent
) -> None:
    _parent, child = _suspected_pair(session, other_city)
    _signed_in(client, agent)
    for action in ("confirm", "reject", "link"):
        response = post_form(client, f"/console/cases/{child.id}/duplicate/{action}")
        assert response.status_code == 404


# ---------------------------------------------------------------------------------------------
# Merges


def test_a_merge_moves_contact_points_cases_and_interactions_and_audits_exactly_that(
    client: FlaskClient, session: Session, city: Jurisdiction, supervisor: Agent
) -> None:
    keep = _resident(session, city, "", "+16135550100", preferred_language=None, flags=["a"])
    merge = _resident(
        session, city, "Marge", "+16135550101", preferred_language="fr", flags=["a", "b"]
    )
    kept_case = factories.make_case(session, city, resident=keep)
    moved_case = factories.make_case(session, city, resident=merge)
    _interaction(session, moved_case)
    session.commit()
    points = list(
        session.scalars(sa.select(ContactPoint.id).where(ContactPoint.resident_id == merge.id))
    )
    cases = list(session.scalars(sa.select(Case.id).where(Case.resident_id == merge.id)))
    messages = list(
        session.scalars(sa.select(Interaction.id).where(Interaction.resident_id == merge.id))
    )
    _signed_in(client, supervisor)
    response = post_form(
        client,
        f"/console/residents/{keep.id}/merge",
        {"other": "(613) 555-0101", "case_id": str(kept_case.id)},
    )
    assert response.status_code == 302
    db = fresh(session)
    audit = db.scalars(sa.select(ResidentMerge)).one()
    assert (audit.kept_id, audit.merged_id, audit.agent_id) == (keep.id, merge.id, supervisor.id)
    assert audit.moved == {
        "contact_points": points,
        "cases": cases,
        "interactions": messages,
        "chat_sessions": [],
    }
    assert (
        db.scalars(sa.select(ContactPoint).where(ContactPoint.resident_id == merge.id)).all() == []
    )
    assert db.get(Case, moved_case.id).resident_id == keep.id  # type: ignore[union-attr]
    assert all(db.get(Interaction, i).resident_id == keep.id for i in messages)  # type: ignore[union-attr]
    kept = db.get(Resident, keep.id)
    assert kept is not None
    assert (kept.display_name, kept.preferred_language, kept.flags) == ("Marge", "fr", ["a", "b"])
    assert db.get(Resident, merge.id).merged_into_id == keep.id  # type: ignore[union-attr]
    events = db.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "resident_merged")).all()
    assert [e.case_id for e in events] == [moved_case.id]


def test_the_kept_residents_name_and_language_win_unless_empty(
    client: FlaskClient, session: Session, city: Jurisdiction, supervisor: Agent
) -> None:
    keep = _resident(session, city, "Homer", "+16135550100", preferred_language="en")
    merge = _resident(session, city, "H. Simpson", "+16135550101", preferred_language="es")
    session.commit()
    _signed_in(client, supervisor)
    post_form(client, f"/console/residents/{keep.id}/merge", {"other": str(merge.id)})
    kept = fresh(session).get(Resident, keep.id)
    assert kept is not None
    assert (kept.display_name, kept.preferred_language) == ("Homer", "en")


def test_merging_into_itself_or_across_cities_is_refused(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    supervisor: Agent,
) -> None:
    keep = _resident(session, city, "Homer", "+16135550100")
    foreign = _resident(session, other_city, "Other", "+16135550199")
    session.commit()
    _signed_in(client, supervisor)
    post_form(client, f"/console/residents/{keep.id}/merge", {"other": str(keep.id)})
    page = text(client.get(f"/console/residents/{keep.id}"))
    assert any("into itself" in f for f in flashes(page))
    for other in (str(foreign.id), "+16135550199"):
        post_form(client, f"/console/residents/{keep.id}/merge", {"other": other})
        assert any(
            "No resident" in f for f in flashes(text(client.get(f"/console/residents/{keep.id}")))
        )
    assert (
        post_form(
            client, f"/console/residents/{foreign.id}/merge", {"other": str(keep.id)}
        ).status_code
        == 404
    )
    db = fresh(session)
    assert db.scalars(sa.select(ResidentMerge)).all() == []
    assert db.get(Resident, foreign.id).merged_into_id is None  # type: ignore[union-attr]


def test_agents_who_are_not_supervisors_get_403_on_merge_and_see_no_merge_form(
    client: FlaskClient, session: Session, city: Jurisdiction, agent: Agent
) -> None:
    keep = _resident(session, city, "Homer", "+16135550100")
    merge = _resident(session, city, "Marge", "+16135550101")
    case = factories.make_case(session, city, resident=keep)
    session.commit()
    _signed_in(client, agent)
    page = text(client.get(f"/console/cases/{case.id}"))
    assert 'id="resident-merge"' not in page
    assert f'href="/console/residents/{keep.id}"' in page
    response = post_form(client, f"/console/residents/{keep.id}/merge", {"other": str(merge.id)})
    assert response.status_code == 403
    assert fresh(session).get(Resident, merge.id).merged_into_id is None  # type: ignore[union-attr]


def test_the_resident_page_shows_the_merge_history_and_a_merged_resident_says_where_it_went(
    client: FlaskClient, session: Session, city: Jurisdiction, supervisor: Agent
) -> None:
    keep = _resident(session, city, HOSTILE, "+16135550100")
    merge = _resident(session, city, "Marge", "+16135550101")
    moved = factories.make_case(session, city, resident=merge)
    session.commit()
    _signed_in(client, supervisor)
    post_form(client, f"/console/residents/{keep.id}/merge", {"other": str(merge.id)})
    page = text(client.get(f"/console/residents/{keep.id}"))
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    assert 'id="merge-history"' in page
    assert f"resident #{merge.id} merged into #{keep.id}" in page
    assert moved.tracking_number in page and "+16135550101" in page
    gone = text(client.get(f"/console/residents/{merge.id}"))
    assert "Merged into" in gone and f'href="/console/residents/{keep.id}"' in gone


def test_another_citys_resident_page_answers_404(
    client: FlaskClient, session: Session, other_city: Jurisdiction, agent: Agent
) -> None:
    foreign = _resident(session, other_city, "Other", "+16135550199")
    session.commit()
    _signed_in(client, agent)
    assert client.get(f"/console/residents/{foreign.id}").status_code == 404
    assert client.get("/console/residents/99999999999").status_code == 404


def test_a_resident_already_merged_cannot_be_merged_again(
    client: FlaskClient, session: Session, city: Jurisdiction, supervisor: Agent
) -> None:
    keep = _resident(session, city, "Homer", "+16135550100")
    merge = _resident(session, city, "Marge", "+16135550101")
    third = _resident(session, city, "Bart", "+16135550102")
    session.commit()
    _signed_in(client, supervisor)
    post_form(client, f"/console/residents/{keep.id}/merge", {"other": str(merge.id)})
    post_form(client, f"/console/residents/{third.id}/merge", {"other": str(merge.id)})
    page = text(client.get(f"/console/residents/{third.id}"))
    assert any("already merged" in f for f in flashes(page))
    assert len(fresh(session).scalars(sa.select(ResidentMerge)).all()) == 1
