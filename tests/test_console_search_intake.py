"""Console search and walk-in / phone intake, through the test client with CSRF on: search only
ever finds the agent's own jurisdictions' cases, and recording a case for a resident finds the
resident they already are instead of making a second one.
"""

from __future__ import annotations

import html

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Role
from contactcenter.auth import hash_password
from contactcenter.cases.models import Case, CaseEvent
from contactcenter.cases.search import escape_like, search_cases
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.models import Queue, WorkItem
from tests import factories
from tests.test_console import PASSWORD, fresh, location, post_form, sign_in, text

MARGE_PHONE = "+16135550100"


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def queue(session: Session, city: Jurisdiction) -> Queue:
    general = factories.make_queue(session, city, "general", is_default=True)
    session.commit()
    return general


@pytest.fixture
def agent(session: Session, city: Jurisdiction, queue: Queue) -> Agent:
    dana, _token = factories.make_available_agent(
        session, city, [queue], email="dana@city.example", name="Dana Scully"
    )
    dana.password_hash = hash_password(PASSWORD)
    session.commit()
    return dana


@pytest.fixture
def signed_in(client: FlaskClient, agent: Agent) -> FlaskClient:
    assert sign_in(client, agent.email).status_code == 302
    return client


@pytest.fixture
def marge(session: Session, city: Jurisdiction) -> Resident:
    person = Resident(jurisdiction_id=city.id, display_name="Marge")
    session.add(person)
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=city.id,
                resident=person,
                kind=ContactKind.PHONE,
                address=MARGE_PHONE,
            ),
            ContactPoint(
                jurisdiction_id=city.id,
                resident=person,
                kind=ContactKind.EMAIL,
                address="marge@example.org",
            ),
        ]
    )
    session.commit()
    return person


def walk_in_form(city: Jurisdiction, **fields: str) -> dict[str, str]:
    form = {
        "jurisdiction": city.slug,
        "service_type": "pothole",
        "description": "Deep pothole in front of the school",
        "address": "12 Main St",
        "channel": "walk_in",
    }
    form.update(fields)
    return form


def residents_of(session: Session, city: Jurisdiction) -> list[Resident]:
    return list(
        fresh(session).scalars(sa.select(Resident).where(Resident.jurisdiction_id == city.id))
    )


def opened_case(session: Session, response_location: str) -> Case:
    case_id = int(response_location.rstrip("/").rsplit("/", 1)[1])
    return fresh(session).get_one(Case, case_id)


# ---------------------------------------------------------------------------------------------
# Search


@pytest.mark.parametrize("written", ["with dash", "without dash", "with a space"])
def test_a_tracking_number_with_or_without_the_dash_goes_straight_to_the_case(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, written: str
) -> None:
    case = factories.make_case(session, city)
    session.commit()
    digits = case.tracking_number.replace("-", "")
    query = {
        "with dash": case.tracking_number,
        "without dash": digits,
        "with a space": f" {digits[:4]} {digits[4:]} ",
    }[written]
    response = signed_in.get("/console/search", query_string={"q": query})
    assert response.status_code == 302
    assert location(response) == f"/console/cases/{case.id}"


@pytest.mark.parametrize(
    "phone", ["+16135550100", "613-555-0100", "(613) 555-0100", "1 613 555 0100", "6135550100"]
)
def test_a_phone_in_any_format_lists_the_residents_cases(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, marge: Resident, phone: str
) -> None:
    theirs = factories.make_case(session, city, resident=marge, description="Broken light")
    someone_elses = factories.make_case(session, city, description="Broken bench")
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": phone}))
    assert theirs.tracking_number in page
    assert someone_elses.tracking_number not in page
    assert "Marge" in page


def test_an_email_in_any_case_lists_the_residents_cases(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, marge: Resident
) -> None:
    theirs = factories.make_case(session, city, resident=marge)
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": " Marge@Example.ORG "}))
    assert theirs.tracking_number in page


def test_words_match_description_and_address_case_insensitively_newest_first(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    older = factories.make_case(session, city, description="A SINKHOLE opened", address_text="")
    newer = factories.make_case(session, city, description="Noise", address_text="1 Sinkhole Rd")
    other = factories.make_case(session, city, description="Graffiti", address_text="")
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": "sinkhole"}))
    assert newer.tracking_number in page
    assert older.tracking_number in page
    assert other.tracking_number not in page
    assert page.index(newer.tracking_number) < page.index(older.tracking_number)


def test_a_percent_sign_in_the_query_is_searched_for_not_a_wildcard(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    literal = factories.make_case(session, city, description="Fare went up 50% overnight")
    wildcard_bait = factories.make_case(session, city, description="Fare went up 5000 dollars")
    underscore_bait = factories.make_case(session, city, description="a_b and axb")
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": "50%"}))
    assert literal.tracking_number in page
    assert wildcard_bait.tracking_number not in page
    found = search_cases(session, [city.id], "x_b")
    assert underscore_bait not in found.cases
    assert escape_like("!50%_") == "!!50!%!_"


def test_another_jurisdictions_cases_are_never_found(
    signed_in: FlaskClient, session: Session, other_city: Jurisdiction
) -> None:
    theirs = Resident(jurisdiction_id=other_city.id, display_name="Secret Sam")
    session.add(theirs)
    session.add(
        ContactPoint(
            jurisdiction_id=other_city.id,
            resident=theirs,
            kind=ContactKind.PHONE,
            address=MARGE_PHONE,
        )
    )
    case = factories.make_case(session, other_city, resident=theirs, description="Sinkhole")
    session.commit()
    by_number = signed_in.get("/console/search", query_string={"q": case.tracking_number})
    assert by_number.status_code == 200
    assert 'id="no-results"' in text(by_number)
    for query in (MARGE_PHONE, "sinkhole"):
        page = text(signed_in.get("/console/search", query_string={"q": query}))
        assert f"/console/cases/{case.id}" not in page
        assert 'id="no-results"' in page
        assert "Secret Sam" not in page


def test_results_stop_at_the_limit_and_say_more_exist(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    for n in range(53):
        factories.make_case(session, city, description=f"Streetlight out #{n}")
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": "streetlight"}))
    assert page.count('class="card" id="result-') == 50
    assert "more results exist" in page
    few = search_cases(session, [city.id], "streetlight", limit=60)
    assert len(few.cases) == 53
    assert not few.more


@pytest.mark.parametrize("query", ["", "a", " x "])
def test_an_empty_or_one_character_query_shows_a_hint_not_every_case(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, query: str
) -> None:
    case = factories.make_case(session, city, description="a pothole")
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": query}))
    assert 'id="search-hint"' in page
    assert case.tracking_number not in page


def test_search_results_escape_what_residents_wrote(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    hostile = "<script>alert(1)</script> sinkhole"
    factories.make_case(session, city, description=hostile)
    session.commit()
    page = text(signed_in.get("/console/search", query_string={"q": "<script>"}))
    assert "<script>alert(1)" not in page
    assert html.escape("<script>alert(1)</script>") in page


def test_the_header_has_a_labelled_search_box(signed_in: FlaskClient) -> None:
    page = text(signed_in.get("/console/"))
    assert 'role="search"' in page
    assert '<label class="visually-hidden" for="header-q">Search cases</label>' in page


# ---------------------------------------------------------------------------------------------
# Walk-in and phone intake


def test_looking_up_a_phone_shows_the_resident_and_their_recent_cases(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, marge: Resident
) -> None:
    earlier = factories.make_case(session, city, resident=marge)
    session.commit()
    page = text(signed_in.get("/console/intake", query_string={"lookup": "613 555 0100"}))
    assert f'id="found-{marge.id}"' in page
    assert earlier.tracking_number in page


def test_a_walk_in_for_a_resident_found_by_phone_is_theirs_and_makes_no_second_resident(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, marge: Resident, agent: Agent
) -> None:
    response = post_form(
        signed_in, "/console/intake", walk_in_form(city, phone="(613) 555-0100", name="M. S.")
    )
    assert response.status_code == 302, text(response)
    case = opened_case(session, location(response))
    assert case.resident_id == marge.id
    assert case.origin_channel == Channel.WALK_IN
    assert len(residents_of(session, city)) == 1
    assert fresh(session).get_one(Resident, marge.id).display_name == "Marge"  # not overwritten
    created = session.scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "created")
    ).one()
    assert created.actor_agent_id == agent.id
    assert created.actor == "agent"
    assert "Dana Scully" in text(signed_in.get(location(response)))


def test_a_walk_in_for_a_picked_resident_is_theirs(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, marge: Resident
) -> None:
    response = post_form(
        signed_in, "/console/intake", walk_in_form(city, resident_id=str(marge.id))
    )
    assert response.status_code == 302, text(response)
    assert opened_case(session, location(response)).resident_id == marge.id


def test_a_walk_in_for_a_new_resident_records_them_with_their_phone_and_email(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    form = walk_in_form(city, name="Ned", phone="613 555 0199", email="Ned@Example.org")
    response = post_form(signed_in, "/console/intake", form)
    assert response.status_code == 302, text(response)
    case = opened_case(session, location(response))
    (ned,) = residents_of(session, city)
    assert case.resident_id == ned.id
    assert ned.display_name == "Ned"
    assert {(c.kind, c.address) for c in ned.contact_points} == {
        (ContactKind.PHONE, "+16135550199"),
        (ContactKind.EMAIL, "ned@example.org"),
    }


def test_a_phone_intake_is_recorded_on_the_voice_channel_and_routed(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    form = walk_in_form(city, phone="613 555 0199", channel="voice")
    response = post_form(signed_in, "/console/intake", form)
    assert response.status_code == 302, text(response)
    case = opened_case(session, location(response))
    assert case.origin_channel == Channel.VOICE
    assert case.routing_rule is not None
    assert case.department is not None and case.department.code == "PW"
    item = session.scalars(sa.select(WorkItem).where(WorkItem.case_id == case.id)).one()
    assert item.channel == Channel.VOICE


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"phone": "not a phone"}, "phone", "That is not a phone number we can use."),
        ({"email": "nobody-at-all"}, "email", "That is not a email address we can use."),
        ({"phone": "", "email": ""}, "phone", "Give the resident"),
        ({"description": "   "}, "description", "Write down what the resident reported."),
        ({"service_type": "teleportation"}, "service_type", "Choose one of the services"),
        ({"channel": "sms"}, "channel", "Choose walk-in or phone."),
    ],
)
def test_a_form_with_mistakes_is_shown_again_with_what_to_fix(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    fields: dict[str, str],
    field: str,
    message: str,
) -> None:
    form = walk_in_form(city, phone="613 555 0199", description="<b>kept</b> text")
    form.update(fields)
    response = post_form(signed_in, "/console/intake", form)
    assert response.status_code == 400
    page = text(response)
    assert f'id="{field}-error"' in page
    assert html.escape(message, quote=False) in page
    if fields.get("description") is None:
        assert "&lt;b&gt;kept&lt;/b&gt; text</textarea>" in page
    assert fresh(session).scalar(sa.select(sa.func.count()).select_from(Case)) == 0
    assert residents_of(session, city) == []


def test_recording_for_another_jurisdiction_is_refused_with_the_form(
    signed_in: FlaskClient, session: Session, other_city: Jurisdiction
) -> None:
    response = post_form(
        signed_in, "/console/intake", walk_in_form(other_city, phone="613 555 0199")
    )
    assert response.status_code == 403
    assert "You do not work for that jurisdiction." in text(response)
    assert fresh(session).scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_resident_of_another_jurisdiction_cannot_be_picked(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    stranger = Resident(jurisdiction_id=other_city.id, display_name="Secret Sam")
    session.add(stranger)
    session.commit()
    response = post_form(
        signed_in, "/console/intake", walk_in_form(city, resident_id=str(stranger.id))
    )
    assert response.status_code == 400
    assert "Secret Sam" not in text(response)
    assert fresh(session).scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_supervisor_of_several_jurisdictions_picks_one(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    boss, _token = factories.make_agent(
        session, [city, other_city], role=Role.SUPERVISOR, email="boss@city.example"
    )
    session.commit()
    assert sign_in(client, boss.email).status_code == 302
    page = text(client.get("/console/intake"))
    assert 'id="choose-jurisdiction"' in page
    assert 'name="service_type"' not in page
    chosen = text(client.get("/console/intake", query_string={"jurisdiction": "shelbyville"}))
    assert 'value="shelbyville" selected' in chosen
    form = walk_in_form(other_city, phone="613 555 0199")
    response = post_form(client, "/console/intake", form)
    assert response.status_code == 302, text(response)
    assert opened_case(session, location(response)).jurisdiction_id == other_city.id
