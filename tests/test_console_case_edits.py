"""The case page's tools: correcting service type, priority and department, transferring to a
queue or an agent, and canned responses (filled, inserted with or without script, managed by
supervisors) — through the test client with CSRF on, and never across jurisdictions.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.cases.canned import (
    CannedResponse,
    UnknownPlaceholder,
    add_canned,
    case_values,
    fill,
)
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Priority
from contactcenter.demo import CANNED, seed_demo
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkState
from contactcenter.routing.work import dispatch
from tests import factories
from tests.test_console import PASSWORD, flashes, fresh, post_form, sign_in, text

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture
def general(session: Session, city: Jurisdiction) -> Queue:
    queue = factories.make_queue(session, city, "general", name="General", is_default=True)
    session.commit()
    return queue


@pytest.fixture
def streets(session: Session, city: Jurisdiction) -> Queue:
    queue = factories.make_queue(session, city, "streets", name="Streets")
    session.commit()
    return queue


def _person(
    session: Session, city: Jurisdiction, queues: list[Queue], email: str, **fields: Any
) -> Agent:
    person, _token = factories.make_available_agent(
        session, city, queues, email=email, password=PASSWORD, **fields
    )
    session.commit()
    return person


@pytest.fixture
def agent(session: Session, city: Jurisdiction, general: Queue) -> Agent:
    return _person(session, city, [general], "dana@city.example", name="Dana Scully")


@pytest.fixture
def signed_in(client: FlaskClient, agent: Agent) -> FlaskClient:
    assert sign_in(client, agent.email).status_code == 302
    return client


@pytest.fixture
def case(session: Session, city: Jurisdiction, general: Queue) -> Case:
    """A pothole case waiting for its first response in the general queue."""
    found = factories.make_case(
        session,
        city,
        description=HOSTILE,
        service_type=factories.service_type(session, city),
        language="fr",
    )
    factories.make_work(session, city, general, case=found)
    session.commit()
    return found


def _events(session: Session, case: Case, kind: str) -> list[CaseEvent]:
    return list(
        fresh(session).scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == kind)
        )
    )


def _department(session: Session, city: Jurisdiction, code: str) -> Department:
    return session.scalars(
        sa.select(Department).where(Department.jurisdiction_id == city.id, Department.code == code)
    ).one()


def _live_work(session: Session, case: Case) -> WorkItem:
    return (
        fresh(session)
        .scalars(
            sa.select(WorkItem).where(
                WorkItem.case_id == case.id,
                WorkItem.state.in_((WorkState.WAITING, WorkState.OFFERED, WorkState.ASSIGNED)),
            )
        )
        .one()
    )


# ---------------------------------------------------------------------------------------------
# Service type, priority, department


def test_each_field_change_is_an_event_with_who_and_from_to_and_shows_on_the_page(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, case: Case, agent: Agent
) -> None:
    missed = factories.service_type(session, city, "missed-pickup")
    sanitation = _department(session, city, "SAN")
    response = post_form(
        signed_in,
        f"/console/cases/{case.id}/fields",
        {"service_type": str(missed.id), "priority": "urgent", "department": str(sanitation.id)},
    )
    assert response.status_code == 302
    changed = fresh(session).get_one(Case, case.id)
    assert (changed.service_type_id, changed.priority) == (missed.id, Priority.URGENT)
    assert changed.department_id == sanitation.id
    assert _live_work(session, case).priority == 3  # the waiting work moved up with it
    for kind, old, new in [
        ("service_type_changed", "Pothole", "Missed pickup"),
        ("priority_changed", "normal", "urgent"),
        ("department_changed", "none", "Sanitation"),
    ]:
        (event,) = _events(session, case, kind)
        assert event.actor_agent_id == agent.id
        assert (event.data["old"], event.data["new"]) == (old, new)
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert "Pothole → Missed pickup" in page
    assert "normal → urgent" in page
    assert "none → Sanitation" in page
    assert HOSTILE not in page  # the resident's words stay escaped


def test_saving_the_form_unchanged_records_nothing(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, case: Case
) -> None:
    pothole = factories.service_type(session, city)
    response = post_form(
        signed_in,
        f"/console/cases/{case.id}/fields",
        {"service_type": str(pothole.id), "priority": "normal"},
    )
    assert "Nothing changed." in flashes(text(signed_in.get(response.headers["Location"])))
    assert _events(session, case, "service_type_changed") == []


@pytest.mark.parametrize("field", ["service_type", "department"])
def test_a_service_type_or_department_of_another_city_is_refused(
    signed_in: FlaskClient,
    session: Session,
    other_city: Jurisdiction,
    case: Case,
    field: str,
) -> None:
    foreign = (
        factories.service_type(session, other_city)
        if field == "service_type"
        else _department(session, other_city, "SAN")
    )
    response = post_form(signed_in, f"/console/cases/{case.id}/fields", {field: str(foreign.id)})
    page = text(signed_in.get(response.headers["Location"]))
    assert any("of this city" in message for message in flashes(page))
    unchanged = fresh(session).get_one(Case, case.id)
    assert unchanged.service_type_id != foreign.id and unchanged.department_id != foreign.id
    assert _events(session, case, f"{field}_changed") == []


# ---------------------------------------------------------------------------------------------
# Transfer


def test_a_transfer_to_a_queue_reoffers_the_work_to_that_queues_available_agent(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    case: Case,
    agent: Agent,
    streets: Queue,
    run_jobs: Callable[[], None],
) -> None:
    dispatch(session, city.id)  # offered to Dana in the general queue first
    session.commit()
    first = fresh(session).scalars(sa.select(Offer)).one()
    assert first.agent_id == agent.id
    sam = _person(session, city, [streets], "sam@city.example", name="Sam")

    response = post_form(
        signed_in, f"/console/cases/{case.id}/transfer", {"target": f"queue:{streets.id}"}
    )
    assert response.status_code == 302
    run_jobs()

    assert fresh(session).get_one(Offer, first.id).state == OfferState.CANCELLED
    item = _live_work(session, case)
    assert (item.queue_id, item.state) == (streets.id, WorkState.OFFERED)
    offer = session.scalars(
        sa.select(Offer).where(Offer.work_item_id == item.id, Offer.state == OfferState.PENDING)
    ).one()
    assert offer.agent_id == sam.id
    (event,) = _events(session, case, "transferred")
    assert (event.actor_agent_id, event.data["new"]) == (agent.id, "queue Streets")
    assert "queue General → queue Streets" in text(signed_in.get(f"/console/cases/{case.id}"))


def test_a_transfer_to_an_agent_assigns_the_case_to_them_and_their_work_list_shows_it(
    app: Flask, signed_in: FlaskClient, session: Session, city: Jurisdiction, case: Case
) -> None:
    lee = _person(session, city, [], "lee@city.example", name="Lee", presence=Presence.AWAY)
    response = post_form(
        signed_in, f"/console/cases/{case.id}/transfer", {"target": f"agent:{lee.id}"}
    )
    assert response.status_code == 302
    assert fresh(session).get_one(Case, case.id).assigned_agent_id == lee.id
    item = _live_work(session, case)
    assert (item.state, item.agent_id) == (WorkState.ASSIGNED, lee.id)
    assert _events(session, case, "transferred")[0].data["new"] == "Lee"

    lees_browser = app.test_client()
    assert sign_in(lees_browser, lee.email).status_code == 302
    assert f"/console/cases/{case.id}" in text(lees_browser.get("/console/"))


def test_a_queue_or_agent_of_another_city_is_refused_for_a_transfer(
    signed_in: FlaskClient, session: Session, other_city: Jurisdiction, case: Case
) -> None:
    their_queue = factories.make_queue(session, other_city, "general")
    their_agent = _person(session, other_city, [their_queue], "otto@shelbyville.example")
    for target in (f"queue:{their_queue.id}", f"agent:{their_agent.id}", "queue:nonsense"):
        response = post_form(signed_in, f"/console/cases/{case.id}/transfer", {"target": target})
        page = text(signed_in.get(response.headers["Location"]))
        assert any("of this city" in message for message in flashes(page)), target
    assert _events(session, case, "transferred") == []
    assert fresh(session).get_one(Case, case.id).assigned_agent_id is None


# ---------------------------------------------------------------------------------------------
# Canned responses


def test_placeholders_are_filled_and_unknown_ones_refused() -> None:
    values = {"tracking_number": "AB12", "service": "Nid-de-poule", "city": "Springfield"}
    filled = fill("{service} {tracking_number} à {city} {{ok}}", values)
    assert filled == "Nid-de-poule AB12 à Springfield {ok}"
    for bad in ("{resident}", "{city!r}", "{city:>20}", "{city.__class__}", "{", "}"):
        with pytest.raises(UnknownPlaceholder):
            fill(bad, values)


def test_case_values_use_the_service_name_in_the_cases_language(
    session: Session, city: Jurisdiction, case: Case
) -> None:
    factories.service_type(session, city).name_translations = {"fr": "Nid-de-poule"}
    values = case_values(case)
    assert values == {
        "tracking_number": case.tracking_number,
        "service": "Nid-de-poule",
        "city": "Springfield",
    }


def _canned(session: Session, city: Jurisdiction, title: str, body: str, lang: str) -> int:
    canned = add_canned(session, city.id, title=title, body=body, language=lang)
    session.commit()
    return canned.id


def test_without_script_the_canned_query_fills_the_reply_box_escaped(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, case: Case
) -> None:
    english = _canned(session, city, "Thanks", "Thanks <b>{city}</b>: {tracking_number}", "en")
    french = _canned(session, city, "Merci", "Merci pour {tracking_number}", "fr")
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert page.index(f'value="{french}"') < page.index(f'value="{english}"')  # case's language
    assert 'src="/console/static/canned.js"' in page

    page = text(signed_in.get(f"/console/cases/{case.id}?canned={english}"))
    filled = f"Thanks &lt;b&gt;Springfield&lt;/b&gt;: {case.tracking_number}</textarea>"
    assert filled in page
    assert "<b>Springfield" not in page
    assert f'<option value="{english}" data-body=' in page and " selected>" in page


def test_the_canned_script_is_served(client: FlaskClient) -> None:
    response = client.get("/console/static/canned.js")
    assert response.status_code == 200
    assert "reply-body" in text(response)
    response.close()


def test_a_supervisor_adds_and_deletes_canned_responses_and_an_unknown_placeholder_is_refused(
    client: FlaskClient, session: Session, city: Jurisdiction, general: Queue
) -> None:
    boss = _person(session, city, [general], "boss@city.example", role=Role.SUPERVISOR)
    assert sign_in(client, boss.email).status_code == 302
    response = post_form(
        client,
        "/console/canned",
        {"title": "Bad", "language": "en", "body": "Hello {resident_name}"},
    )
    assert any(
        "Unknown placeholder {resident_name}" in m
        for m in flashes(text(client.get(response.headers["Location"])))
    )
    assert fresh(session).scalars(sa.select(CannedResponse)).all() == []

    post_form(
        client,
        "/console/canned",
        {"title": "Got it", "language": "fr", "body": f"{HOSTILE} {{tracking_number}}"},
    )
    saved = fresh(session).scalars(sa.select(CannedResponse)).one()
    assert (saved.jurisdiction_id, saved.title, saved.language) == (city.id, "Got it", "fr")
    page = text(client.get("/console/canned"))
    assert "Got it" in page and HOSTILE not in page and html.escape(HOSTILE) in page

    post_form(client, f"/console/canned/{saved.id}/delete")
    assert fresh(session).scalars(sa.select(CannedResponse)).all() == []


def test_an_agent_may_not_manage_canned_responses(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    canned = _canned(session, city, "Thanks", "Thanks", "en")
    assert signed_in.get("/console/canned").status_code == 403
    assert post_form(signed_in, "/console/canned", {"title": "x", "body": "y"}).status_code == 403
    assert post_form(signed_in, f"/console/canned/{canned}/delete").status_code == 403


def test_another_citys_staff_get_404_on_every_new_route(
    app: Flask,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    case: Case,
    general: Queue,
) -> None:
    canned = _canned(session, city, "Thanks", "Thanks {city}", "en")
    their_queue = factories.make_queue(session, other_city, "general")
    otto = _person(session, other_city, [their_queue], "otto@shelbyville.example")
    boss = _person(
        session, other_city, [their_queue], "boss@shelbyville.example", role=Role.SUPERVISOR
    )
    theirs = _canned(session, other_city, "Theirs", "Bonjour", "fr")
    for person in (otto, boss):
        browser = app.test_client()
        assert sign_in(browser, person.email).status_code == 302
        assert (
            post_form(browser, f"/console/cases/{case.id}/fields", {"priority": "low"}).status_code
            == 404
        )
        assert (
            post_form(
                browser, f"/console/cases/{case.id}/transfer", {"target": f"queue:{general.id}"}
            ).status_code
            == 404
        )
        assert browser.get(f"/console/cases/{case.id}?canned={canned}").status_code == 404
    assert post_form(browser, f"/console/canned/{canned}/delete").status_code == 404
    assert "Thanks" not in text(browser.get("/console/canned"))
    assert fresh(session).get(CannedResponse, canned) is not None
    assert fresh(session).get_one(Case, case.id).priority == Priority.NORMAL

    mine = app.test_client()  # and a city's own case page refuses another city's response
    dana = _person(session, city, [general], "dana@city.example")
    assert sign_in(mine, dana.email).status_code == 302
    assert mine.get(f"/console/cases/{case.id}?canned={theirs}").status_code == 404


def test_the_demo_seeds_two_canned_responses_per_language_once(session: Session) -> None:
    seed_demo(session)
    seed_demo(session)
    session.commit()
    rows = session.execute(sa.select(CannedResponse.title, CannedResponse.language)).all()
    assert sorted(rows) == sorted((t, lang) for t, bodies in CANNED.items() for lang in bodies)
    for bodies in CANNED.values():
        for body in bodies.values():
            fill(body, {"tracking_number": "", "service": "", "city": ""})


def test_a_resolved_case_cannot_be_transferred(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, general: Queue
) -> None:
    done = factories.make_case(session, city, status=CaseStatus.RESOLVED)
    session.commit()
    response = post_form(
        signed_in, f"/console/cases/{done.id}/transfer", {"target": f"queue:{general.id}"}
    )
    page = text(signed_in.get(response.headers["Location"]))
    assert any("cannot be transferred" in message for message in flashes(page))
