"""The staff JSON API (``/api/v1``): authentication, jurisdiction scoping, listing, case
detail, status changes, notes and replies, all through HTTP as a client would use them.

Data is created with the factories in the test's own session and committed; the requests
then read and write through their own sessions, and the test re-reads with :func:`fresh`.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from contactcenter.agents.models import Agent, ApiToken
from contactcenter.auth import issue_token
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel, Direction
from contactcenter.residents.models import Resident
from tests import factories

API = "/api/v1"
CITY_NUMBER = "+16135550311"
RESIDENT_PHONE = "+16135550100"
PASSWORD = "correct horse battery"

# The smallest menu a jurisdiction with no queues or calendars accepts.
MENU = {
    "languages": {"en": {"voice": "Polly.Joanna-Neural", "language": "en-US"}},
    "start": "hello",
    "nodes": {"hello": {"kind": "message", "say": {"en": "Hello."}, "next": "hangup"}},
}
# A valid body for every POST route of the api blueprint, so that a refusal can only come from
# scoping. A new POST route fails the scoping walk until it gets an entry here.
SAMPLE_BODIES: dict[str, dict[str, Any]] = {
    "api.case_status": {"status": "in_progress"},
    "api.case_note": {"body": "Crew dispatched"},
    "api.case_reply": {"body": "A crew is on the way."},
    "api.case_waiting": {},
    "api.rules_save": {"rules": []},
    "api.routing_dry_run": {},
    "api.districts_import": {"type": "FeatureCollection", "features": []},
    "api.queue_save": {"name": "General"},
    "api.calendar_save": {"name": "Office", "config": {"hours": {"mon": [["08:00", "17:00"]]}}},
    "api.sla_policy_save": {"name": "Standard", "resolution_minutes": 60},
    "api.agent_routing": {"skills": []},
    "api.agent_presence": {"presence": "available"},
    "api.offer_accept": {},
    "api.offer_decline": {},
    "api.work_next": {},
    "api.work_complete": {},
    "api.case_duplicate": {"action": "confirm"},
    "api.incident_resolve": {},
    "api.incident_announcement": {"text": "Crews are on site."},
    "api.detection_settings_update": {"duplicate_radius_m": 40},
    "api.chat_settings_update": {"allowed_origins": ["https://www.example.org"]},
    "api.survey_settings_update": {"enabled": True, "sms": False},
    "api.department_update": {"head_email": ""},
    "api.resident_flags": {"flags": ["vulnerable"]},
    "api.mail_quarantine_retry": {},
    "api.open311_clients_create": {"name": "Civic app"},
    "api.open311_clients_revoke": {},
    "api.service_type_attributes_replace": {"attributes": []},
    "api.case_public_media_set": {"url": "https://photos.example/p.jpg"},
    "api.case_public_media_clear": {},
    "ivr_admin.menu_save": {"source": json.dumps(MENU)},
    "ivr_admin.menu_check": {"source": json.dumps(MENU)},
}
# Their sample body is refused for a case that is not a suspected duplicate (409), by design.
CONFLICT_ON_SAMPLE = {"api.case_duplicate"}
# Arguments other than a case, filled with harmless values for the authentication sweep.
OTHER_ARGUMENTS = {
    "agent_id": 0,
    "offer_id": 0,
    "item_id": 0,
    "incident_id": 0,
    "resident_id": 0,
    "call_id": 0,
    "raw_id": 0,
    "client_id": 0,
    "code": "general",
}
# Blueprints (endpoint prefixes) of the staff API: the api blueprint, and staff routes that
# channels and the IVR add under /api/v1.
STAFF_BLUEPRINTS = ("api.", "voice_token.", "ivr_admin.")
# Routes that need no token.
PUBLIC_ENDPOINTS = {"api.create_token"}
# Route arguments this file knows how to fill: a new kind of argument fails loudly.
CASE_ARGUMENT = "case_id"


# ---------------------------------------------------------------------------------------------
# Helpers


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def fresh(session: Session) -> Session:
    """``session``, forgetting what it cached: requests and jobs wrote in their own sessions."""
    session.commit()
    session.expire_all()
    return session


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    """The one error shape: ``{"error": {"code", "message", "fields"?}}``; returns the error."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) <= {"code", "message", "fields"}
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"]
    return error


def service_type(session: Session, jurisdiction: Jurisdiction, code: str) -> ServiceType:
    return session.scalars(
        sa.select(ServiceType).where(
            ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.code == code
        )
    ).one()


def department(session: Session, jurisdiction: Jurisdiction, code: str) -> Department:
    return session.scalars(
        sa.select(Department).where(
            Department.jurisdiction_id == jurisdiction.id, Department.code == code
        )
    ).one()


def events_of(session: Session, case: Case) -> list[CaseEvent]:
    return list(
        fresh(session).scalars(
            sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def interactions_of(session: Session, case: Case) -> list[Interaction]:
    return list(
        fresh(session).scalars(
            sa.select(Interaction).where(Interaction.case_id == case.id).order_by(Interaction.id)
        )
    )


def list_ids(client: FlaskClient, token: str, query: str = "") -> list[int]:
    response = client.get(f"{API}/cases{query}", headers=auth(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    return [c["id"] for c in response.get_json()["data"]]


def protected_routes(app: Flask) -> list[tuple[Rule, str]]:
    """Every (rule, method) of the staff blueprints that needs a token, in a stable order."""
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith(STAFF_BLUEPRINTS) or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            routes.append((rule, method))
    return sorted(routes, key=lambda route: (route[0].rule, route[1]))


def call_route(
    app: Flask, client: FlaskClient, rule: Rule, method: str, case_id: int, token: str | None
) -> TestResponse:
    unknown = set(rule.arguments) - {CASE_ARGUMENT} - set(OTHER_ARGUMENTS)
    assert not unknown, f"{rule.rule}: teach test_api.py how to fill {sorted(unknown)}"
    values: dict[str, Any] = {k: v for k, v in OTHER_ARGUMENTS.items() if k in rule.arguments}
    if CASE_ARGUMENT in rule.arguments:
        values[CASE_ARGUMENT] = case_id
    url = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
    headers = auth(token) if token is not None else {}
    body = None
    if method != "GET":
        assert rule.endpoint in SAMPLE_BODIES, (
            f"{method} {rule.rule}: add a valid request body for {rule.endpoint!r} to "
            "SAMPLE_BODIES in test_api.py"
        )
        body = SAMPLE_BODIES[rule.endpoint]
    return client.open(url, method=method, headers=headers, json=body)


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def other_city(session: Session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    session.commit()
    return city


@pytest.fixture
def agent_and_token(session: Session, jurisdiction: Jurisdiction) -> tuple[Agent, str]:
    agent, token = factories.make_agent(session, [jurisdiction], email="dana@city.example")
    session.commit()
    return agent, token


@pytest.fixture
def token(agent_and_token: tuple[Agent, str]) -> str:
    return agent_and_token[1]


@pytest.fixture
def sms_case(session: Session, jurisdiction: Jurisdiction, send_sms: Any) -> Case:
    """A case opened by a real text from the resident at RESIDENT_PHONE (ack already sent)."""
    response = send_sms("Pothole at 742 Evergreen Terrace")
    assert response.status_code == 200
    return fresh(session).scalars(sa.select(Case)).one()


# ---------------------------------------------------------------------------------------------
# Authentication


def test_every_protected_route_without_authorization_header_gets_401_missing_token(
    app, client, session, jurisdiction
):
    case = factories.make_case(session, jurisdiction)
    session.commit()
    routes = protected_routes(app)
    assert routes
    for rule, method in routes:
        response = call_route(app, client, rule, method, case.id, token=None)
        assert_error(response, 401, "missing_token")


@pytest.mark.parametrize(
    "header",
    ["Bearer", "Bearer    ", "Basic ZGFuYTpwYXNzd29yZA==", "Token cc_abc", "cc_abc"],
)
def test_authorization_header_without_a_bearer_token_gets_401_missing_token(
    client, jurisdiction, header
):
    response = client.get(f"{API}/me", headers={"Authorization": header})
    assert_error(response, 401, "missing_token")


def test_unknown_token_gets_401_bad_token(client, token):
    response = client.get(f"{API}/me", headers=auth("cc_" + "x" * 43))
    assert_error(response, 401, "bad_token")


def test_bearer_scheme_is_case_insensitive(client, token):
    response = client.get(f"{API}/me", headers={"Authorization": f"bearer {token}"})
    assert response.status_code == 200


def test_revoked_token_gets_401_while_the_agents_other_tokens_still_work(
    client, session, agent_and_token
):
    agent, token = agent_and_token
    other_token = issue_token(session, agent, name="phone")
    session.commit()
    assert client.get(f"{API}/me", headers=auth(token)).status_code == 200

    row = session.scalars(
        sa.select(ApiToken).where(ApiToken.agent_id == agent.id, ApiToken.name == "test")
    ).one()
    row.revoked_at = utcnow()
    session.commit()

    assert_error(client.get(f"{API}/me", headers=auth(token)), 401, "bad_token")
    assert client.get(f"{API}/me", headers=auth(other_token)).status_code == 200


def test_token_of_an_inactive_agent_gets_401(client, session, agent_and_token):
    agent, token = agent_and_token
    assert client.get(f"{API}/me", headers=auth(token)).status_code == 200

    agent.active = False
    session.commit()

    assert_error(client.get(f"{API}/me", headers=auth(token)), 401, "bad_token")
    assert_error(client.get(f"{API}/cases", headers=auth(token)), 401, "bad_token")


def test_right_password_issues_a_working_token_that_is_stored_only_as_a_hash(
    client, session, agent_and_token
):
    agent, _ = agent_and_token
    response = client.post(
        f"{API}/tokens",
        json={"email": "dana@city.example", "password": PASSWORD, "name": "laptop"},
    )
    assert response.status_code == 201
    body = response.get_json()
    new_token = body["token"]
    assert new_token.startswith("cc_")
    assert body["agent"]["email"] == "dana@city.example"
    assert body["agent"]["id"] == agent.id

    me = client.get(f"{API}/me", headers=auth(new_token))
    assert me.status_code == 200
    assert me.get_json()["agent"]["id"] == agent.id

    stored = fresh(session).scalars(sa.select(ApiToken).where(ApiToken.name == "laptop")).one()
    assert stored.agent_id == agent.id
    assert new_token not in stored.token_hash


def test_login_email_is_case_and_space_insensitive(client, agent_and_token):
    response = client.post(
        f"{API}/tokens", json={"email": "  Dana@City.EXAMPLE ", "password": PASSWORD}
    )
    assert response.status_code == 201


def test_wrong_password_and_unknown_email_get_the_same_401_bad_credentials(client, agent_and_token):
    wrong_password = client.post(
        f"{API}/tokens", json={"email": "dana@city.example", "password": "wrong"}
    )
    unknown_email = client.post(
        f"{API}/tokens", json={"email": "nobody@city.example", "password": PASSWORD}
    )
    first = assert_error(wrong_password, 401, "bad_credentials")
    second = assert_error(unknown_email, 401, "bad_credentials")
    assert first == second
    assert "token" not in wrong_password.get_data(as_text=True).lower()


def test_inactive_agent_cannot_get_a_token(client, session, agent_and_token):
    agent, _ = agent_and_token
    agent.active = False
    session.commit()
    response = client.post(f"{API}/tokens", json={"email": agent.email, "password": PASSWORD})
    error = assert_error(response, 401, "bad_credentials")
    assert error["message"] == "Wrong email or password, or the account is locked for a while."


def test_guessing_passwords_through_the_api_locks_the_account(client, session, agent_and_token):
    agent, _ = agent_and_token
    for _ in range(5):
        client.post(f"{API}/tokens", json={"email": agent.email, "password": "guess"})
    right = client.post(f"{API}/tokens", json={"email": agent.email, "password": PASSWORD})
    assert_error(right, 401, "bad_credentials")


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({}, "invalid_body", None),
        ({"data": "email=dana@city.example&password=x"}, "invalid_body", None),
        ({"data": "{not json", "content_type": "application/json"}, "invalid_body", None),
        ({"json": ["dana@city.example", PASSWORD]}, "invalid_body", None),
        ({"json": {"email": "dana@city.example"}}, "invalid_fields", "password"),
        ({"json": {"email": "dana@city.example", "password": ""}}, "invalid_fields", "password"),
        (
            {"json": {"email": "dana@city.example", "password": PASSWORD, "role": "admin"}},
            "invalid_fields",
            "role",
        ),
    ],
)
def test_malformed_token_request_gets_400(client, agent_and_token, kwargs, code, field):
    error = assert_error(client.post(f"{API}/tokens", **kwargs), 400, code)
    if field:
        assert field in error["fields"]


def test_me_returns_the_agent_with_role_and_jurisdictions(
    client, session, jurisdiction, other_city
):
    agent, token = factories.make_agent(
        session, [jurisdiction, other_city], name="Dana Scully", languages=["en", "fr"]
    )
    session.commit()
    response = client.get(f"{API}/me", headers=auth(token))
    assert response.status_code == 200
    me = response.get_json()["agent"]
    assert sorted(me["jurisdictions"]) == ["shelbyville", "springfield"]
    assert {**me, "jurisdictions": None} == {
        "id": agent.id,
        "name": "Dana Scully",
        "email": agent.email,
        "role": "agent",
        "languages": ["en", "fr"],
        "jurisdictions": None,
    }
    assert "password" not in response.get_data(as_text=True)


# ---------------------------------------------------------------------------------------------
# Jurisdiction scoping


def test_agent_of_another_jurisdiction_gets_nothing_of_this_jurisdiction_from_any_route(
    app, client, session, jurisdiction, other_city, sms_case, twilio_http, run_jobs
):
    _, outsider = factories.make_agent(session, [other_city])
    _, insider = factories.make_agent(session, [jurisdiction])
    session.commit()
    secrets = [sms_case.tracking_number, sms_case.description, RESIDENT_PHONE, "5550100"]
    messages_before = len(twilio_http.messages)
    interactions_before = len(interactions_of(session, sms_case))
    events_before = [e.kind for e in events_of(session, sms_case)]

    # Routes for supervisors and admins, or about agents, offers and queues, have their own
    # jurisdiction tests in test_routing_api.py, the voice menu in test_ivr_menus.py, calls in
    # test_call_api.py, quarantined mail in test_email_inbound.py, a case's public media (for
    # supervisors) in test_open311_admin.py, the performance figures in test_performance_api.py;
    # the voice token (test_voice_control.py) holds no case data. This sweep is about cases.
    routes = [
        (rule, method)
        for rule, method in protected_routes(app)
        if not set(rule.arguments) & set(OTHER_ARGUMENTS)
        and not rule.rule.startswith(
            (
                f"{API}/routing/",
                f"{API}/settings/",
                f"{API}/voice/",
                f"{API}/ivr/",
                f"{API}/calls",
                f"{API}/mail/",
                f"{API}/exports/",  # supervisors': test_export_nyc.py
                f"{API}/open311/",  # admins' client keys: test_open311_admin.py
                f"{API}/performance/",  # supervisors': test_performance_api.py
                f"{API}/departments",  # supervisors': test_performance_settings_api.py
            )
        )
        and rule.rule != f"{API}/agents"
        and not rule.rule.endswith("/public-media")
    ]
    walked = set()
    for rule, method in routes:
        response = call_route(app, client, rule, method, sms_case.id, outsider)
        where = f"{method} {rule.rule}"
        text = response.get_data(as_text=True)
        for secret in secrets:
            assert secret not in text, f"{where} leaked {secret!r}"
        if CASE_ARGUMENT in rule.arguments:
            assert response.status_code == 404, f"{where}: {text}"
            assert_error(response, 404, "case_not_found")
        else:
            assert response.status_code == 200, where
            data = response.get_json().get("data")
            if isinstance(data, list):
                assert data == [], where
        walked.add(rule.endpoint)
    assert walked >= {
        "api.me",
        "api.cases_index",
        "api.case_show",
        "api.case_status",
        "api.case_note",
        "api.case_reply",
    }

    # None of the outsider's writes happened.
    run_jobs()
    assert len(twilio_http.messages) == messages_before
    assert len(interactions_of(session, sms_case)) == interactions_before
    assert [e.kind for e in events_of(session, sms_case)] == events_before
    assert session.get_one(Case, sms_case.id).status == CaseStatus.NEW

    # Control: the same requests succeed for an agent of this jurisdiction, so the refusals
    # above came from scoping and not from a malformed request.
    for rule, method in routes:
        if rule.endpoint in CONFLICT_ON_SAMPLE:
            continue
        response = call_route(app, client, rule, method, sms_case.id, insider)
        assert 200 <= response.status_code < 300, (
            f"{method} {rule.rule} failed for an agent of the case's own jurisdiction "
            f"({response.status_code}); give it a valid body in SAMPLE_BODIES"
        )


def test_case_of_another_jurisdiction_answers_exactly_like_a_missing_case(
    client, session, jurisdiction, other_city
):
    case = factories.make_case(session, jurisdiction)
    _, outsider = factories.make_agent(session, [other_city])
    session.commit()
    missing_id = case.id + 1000
    foreign = assert_error(
        client.get(f"{API}/cases/{case.id}", headers=auth(outsider)), 404, "case_not_found"
    )
    missing = assert_error(
        client.get(f"{API}/cases/{missing_id}", headers=auth(outsider)), 404, "case_not_found"
    )
    assert foreign["message"].replace(str(case.id), "N") == missing["message"].replace(
        str(missing_id), "N"
    )


def test_list_filtered_by_another_jurisdictions_slug_gives_nothing(
    client, session, jurisdiction, other_city
):
    ours = factories.make_case(session, jurisdiction)
    theirs = factories.make_case(session, other_city)
    _, outsider = factories.make_agent(session, [other_city])
    session.commit()

    response = client.get(f"{API}/cases?jurisdiction=springfield", headers=auth(outsider))
    assert response.status_code == 200
    assert response.get_json()["data"] == []
    assert response.get_json()["total"] == 0
    assert list_ids(client, outsider, f"?tracking_number={ours.tracking_number}") == []
    assert list_ids(client, outsider) == [theirs.id]


def test_agent_of_two_jurisdictions_sees_the_cases_of_both(
    client, session, jurisdiction, other_city
):
    ours = factories.make_case(session, jurisdiction)
    theirs = factories.make_case(session, other_city)
    third_city = factories.make_jurisdiction(session, slug="capital-city")
    elsewhere = factories.make_case(session, third_city)
    _, token = factories.make_agent(session, [jurisdiction, other_city])
    session.commit()

    assert sorted(list_ids(client, token)) == sorted([ours.id, theirs.id])
    assert list_ids(client, token, "?jurisdiction=shelbyville") == [theirs.id]
    assert list_ids(client, token, "?jurisdiction=springfield") == [ours.id]
    assert list_ids(client, token, "?jurisdiction=capital-city") == []
    for case in (ours, theirs):
        response = client.get(f"{API}/cases/{case.id}", headers=auth(token))
        assert response.status_code == 200
        assert response.get_json()["data"]["tracking_number"] == case.tracking_number
    assert_error(
        client.get(f"{API}/cases/{elsewhere.id}", headers=auth(token)), 404, "case_not_found"
    )


# ---------------------------------------------------------------------------------------------
# Listing


def test_list_filters_by_status_department_service_type_and_tracking_number(
    client, session, jurisdiction, token
):
    pothole = factories.make_case(
        session,
        jurisdiction,
        service_type=service_type(session, jurisdiction, "pothole"),
        department=department(session, jurisdiction, "PW"),
    )
    pickup = factories.make_case(
        session,
        jurisdiction,
        description="Garbage not collected",
        status=CaseStatus.IN_PROGRESS,
        service_type=service_type(session, jurisdiction, "missed-pickup"),
        department=department(session, jurisdiction, "SAN"),
    )
    general = factories.make_case(
        session,
        jurisdiction,
        description="Question about taxes",
        status=CaseStatus.RESOLVED,
        department=department(session, jurisdiction, "311"),
    )
    session.commit()

    assert list_ids(client, token, "?status=new") == [pothole.id]
    assert list_ids(client, token, "?status=in_progress") == [pickup.id]
    assert list_ids(client, token, "?status=resolved") == [general.id]
    assert list_ids(client, token, "?status=closed") == []
    assert list_ids(client, token, "?department=PW") == [pothole.id]
    assert list_ids(client, token, "?department=SAN") == [pickup.id]
    assert list_ids(client, token, "?department=311") == [general.id]
    assert list_ids(client, token, "?service_type=pothole") == [pothole.id]
    assert list_ids(client, token, "?service_type=missed-pickup") == [pickup.id]
    assert list_ids(client, token, "?service_type=no-such-service") == []
    assert list_ids(client, token, f"?tracking_number={pickup.tracking_number}") == [pickup.id]
    assert list_ids(client, token, "?jurisdiction=springfield&status=new&department=PW") == [
        pothole.id
    ]
    assert list_ids(client, token, "?status=new&department=SAN") == []

    summary = client.get(f"{API}/cases?service_type=pothole", headers=auth(token)).get_json()
    row = summary["data"][0]
    assert row["service_type"]["code"] == "pothole"
    assert row["department"] == {"code": "PW", "name": "Public Works"}
    assert row["jurisdiction"] == "springfield"
    assert row["status"] == "new"


def test_list_is_newest_first_and_pages_through_every_case_once(
    client, session, jurisdiction, token
):
    base = dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    # Creation order differs from id order, so the sort must be on created_at.
    cases = {
        minutes: factories.make_case(
            session, jurisdiction, created_at=base + dt.timedelta(minutes=minutes)
        )
        for minutes in (3, 0, 4, 1, 2)
    }
    session.commit()
    newest_first = [cases[m].id for m in (4, 3, 2, 1, 0)]

    assert list_ids(client, token) == newest_first
    pages = []
    for page in (1, 2, 3, 4):
        response = client.get(f"{API}/cases?per_page=2&page={page}", headers=auth(token))
        assert response.status_code == 200
        body = response.get_json()
        assert (body["page"], body["per_page"], body["total"]) == (page, 2, 5)
        pages.append([c["id"] for c in body["data"]])
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:5], []]


def test_list_defaults_to_first_page_of_25(client, session, jurisdiction, token):
    for _ in range(26):
        factories.make_case(session, jurisdiction)
    session.commit()
    body = client.get(f"{API}/cases", headers=auth(token)).get_json()
    assert (body["page"], body["per_page"], body["total"], len(body["data"])) == (1, 25, 26, 25)


def test_list_per_page_is_capped_at_100(client, session, jurisdiction, token):
    for _ in range(101):
        factories.make_case(session, jurisdiction)
    session.commit()
    for per_page in (100, 101, 5000):
        response = client.get(f"{API}/cases?per_page={per_page}", headers=auth(token))
        assert response.status_code == 200
        body = response.get_json()
        assert (body["per_page"], body["total"], len(body["data"])) == (100, 101, 100)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("per_page=0", "per_page"),
        ("per_page=-5", "per_page"),
        ("per_page=ten", "per_page"),
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=1.5", "page"),
        ("status=bogus", "status"),
        ("status=NEW", "status"),
        ("sort=created_at", "sort"),
        ("jurisdiction_id=2", "jurisdiction_id"),
        ("tracking_number=" + "9" * 17, "tracking_number"),
    ],
)
def test_bad_list_query_gets_400_invalid_fields_naming_the_parameter(
    client, jurisdiction, token, query, field
):
    error = assert_error(
        client.get(f"{API}/cases?{query}", headers=auth(token)), 400, "invalid_fields"
    )
    assert field in error["fields"]


def test_listing_30_cases_costs_the_same_number_of_queries_as_listing_3(
    client, session, jurisdiction, token, count_queries
):
    serial = itertools.count(1)

    def add_cases(count: int) -> None:
        # Every case has its own service type, department and assignee, so any relationship
        # loaded per row would show up as extra queries.
        for _ in range(count):
            n = next(serial)
            dept = Department(jurisdiction_id=jurisdiction.id, code=f"D{n}", name=f"Dept {n}")
            session.add(dept)
            session.flush()
            kind = ServiceType(
                jurisdiction_id=jurisdiction.id,
                code=f"kind-{n}",
                name=f"Kind {n}",
                department_id=dept.id,
            )
            assignee = Agent(
                email=f"worker{n}@city.example", name=f"Worker {n}", jurisdictions=[jurisdiction]
            )
            resident = Resident(jurisdiction_id=jurisdiction.id)
            session.add_all([kind, assignee, resident])
            session.flush()
            factories.make_case(
                session,
                jurisdiction,
                service_type=kind,
                department=dept,
                resident=resident,
                assigned_agent=assignee,
            )
        session.commit()

    def queries_to_list(expected: int) -> int:
        with count_queries() as counter:
            response = client.get(f"{API}/cases?per_page=100", headers=auth(token))
        assert response.status_code == 200
        assert len(response.get_json()["data"]) == expected
        assert all(row["assigned_agent"] for row in response.get_json()["data"])
        return counter.count

    add_cases(3)
    small = queries_to_list(3)
    add_cases(27)
    large = queries_to_list(30)
    assert large == small, f"{small} queries for 3 cases but {large} for 30"


# ---------------------------------------------------------------------------------------------
# Case detail


def test_case_detail_has_interactions_events_and_resident_contact_points(
    client, session, sms_case, token
):
    response = client.get(f"{API}/cases/{sms_case.id}", headers=auth(token))
    assert response.status_code == 200
    data = response.get_json()["data"]

    assert data["id"] == sms_case.id
    assert data["tracking_number"] == sms_case.tracking_number
    assert data["origin_channel"] == "sms"
    assert data["description"] == "Pothole at 742 Evergreen Terrace"
    assert data["service_type"]["code"] == "pothole"
    assert data["department"]["code"] == "PW"

    inbound, ack = data["interactions"]
    assert (inbound["direction"], inbound["from"], inbound["to"]) == (
        "inbound",
        RESIDENT_PHONE,
        CITY_NUMBER,
    )
    assert inbound["body"] == "Pothole at 742 Evergreen Terrace"
    assert (ack["direction"], ack["from"], ack["to"]) == ("outbound", CITY_NUMBER, RESIDENT_PHONE)
    assert sms_case.tracking_number in ack["body"]

    kinds = [e["kind"] for e in data["events"]]
    assert kinds[:2] == ["created", "routed"]
    assert data["events"][0]["actor"] == "resident"

    resident = data["resident"]
    assert resident["sms_opted_out"] is False
    assert resident["contact_points"] == [
        {"kind": "phone", "address": RESIDENT_PHONE, "is_valid": True}
    ]


def test_case_detail_grows_with_notes_status_changes_and_replies(
    client, session, sms_case, agent_and_token, run_jobs
):
    agent, token = agent_and_token
    headers = auth(token)
    client.post(f"{API}/cases/{sms_case.id}/notes", headers=headers, json={"body": "Called PW"})
    client.post(f"{API}/cases/{sms_case.id}/status", headers=headers, json={"status": "open"})
    client.post(f"{API}/cases/{sms_case.id}/replies", headers=headers, json={"body": "On it"})
    run_jobs()

    data = client.get(f"{API}/cases/{sms_case.id}", headers=headers).get_json()["data"]
    assert [e["kind"] for e in data["events"]][-2:] == ["note", "status_changed"]
    assert data["events"][-2]["agent_id"] == agent.id
    reply = data["interactions"][-1]
    assert (reply["direction"], reply["body"], reply["agent_id"]) == ("outbound", "On it", agent.id)
    assert data["status"] == "open"


def test_case_detail_of_a_case_without_resident_has_null_resident(
    client, session, jurisdiction, token
):
    case = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()
    data = client.get(f"{API}/cases/{case.id}", headers=auth(token)).get_json()["data"]
    assert data["resident"] is None
    assert data["interactions"] == []
    assert data["events"][0]["kind"] == "created"


@pytest.mark.parametrize("case_id", ["0", "2147483648", "99999999999999999999"])
def test_case_id_out_of_range_is_404_not_500(client, jurisdiction, token, case_id):
    for method, path, body in [
        ("GET", "", None),
        ("POST", "/status", {"status": "open"}),
        ("POST", "/notes", {"body": "x"}),
        ("POST", "/replies", {"body": "x"}),
    ]:
        response = client.open(
            f"{API}/cases/{case_id}{path}", method=method, headers=auth(token), json=body
        )
        assert_error(response, 404, "case_not_found")


# ---------------------------------------------------------------------------------------------
# Status changes


def change_status(client: FlaskClient, token: str, case: Case, status: str) -> TestResponse:
    return client.post(
        f"{API}/cases/{case.id}/status", headers=auth(token), json={"status": status}
    )


def test_case_moves_through_its_lifecycle_and_reopening_is_recorded(
    client, session, jurisdiction, agent_and_token
):
    agent, token = agent_and_token
    case = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()

    old = "new"
    events = []
    for new in ("in_progress", "resolved", "closed", "open"):
        response = change_status(client, token, case, new)
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        assert body["data"]["status"] == new
        event = body["event"]
        assert (event["data"]["old"], event["data"]["new"]) == (old, new)
        assert (event["actor"], event["agent_id"]) == ("agent", agent.id)
        events.append(event["kind"])
        if new == "resolved":
            assert body["data"]["resolved_at"] is not None
        if new == "closed":
            assert body["data"]["closed_at"] is not None
            assert body["data"]["resolved_at"] is not None
        if new == "open":
            assert body["data"]["resolved_at"] is None
            assert body["data"]["closed_at"] is None
        old = new

    # The kind of the resolved -> closed step is checked in the next test.
    assert events[:2] == ["status_changed", "status_changed"]
    assert events[3] == "reopened"
    assert [e.kind for e in events_of(session, case)][1:] == events
    assert fresh(session).get_one(Case, case.id).status == CaseStatus.OPEN


def test_closing_a_resolved_case_is_recorded_as_a_status_change_not_a_reopening(
    client, session, jurisdiction, token
):
    case = factories.make_case(
        session, jurisdiction, status=CaseStatus.RESOLVED, channel=Channel.WALK_IN
    )
    session.commit()
    response = change_status(client, token, case, "closed")
    assert response.status_code == 200
    assert response.get_json()["event"]["kind"] == "status_changed"


def test_status_change_keeps_the_agents_note_in_the_event(client, session, jurisdiction, token):
    case = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()
    response = client.post(
        f"{API}/cases/{case.id}/status",
        headers=auth(token),
        json={"status": "resolved", "note": "Filled by crew 7"},
    )
    assert response.status_code == 200
    assert response.get_json()["event"]["data"]["note"] == "Filled by crew 7"


def test_resolved_case_can_be_reopened(client, session, jurisdiction, token):
    case = factories.make_case(
        session, jurisdiction, status=CaseStatus.RESOLVED, channel=Channel.WALK_IN
    )
    session.commit()
    response = change_status(client, token, case, "open")
    assert response.status_code == 200
    assert response.get_json()["event"]["kind"] == "reopened"


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (CaseStatus.CLOSED, "in_progress"),
        (CaseStatus.CLOSED, "resolved"),
        (CaseStatus.CLOSED, "new"),
        (CaseStatus.RESOLVED, "in_progress"),
        (CaseStatus.OPEN, "new"),
        (CaseStatus.IN_PROGRESS, "new"),
    ],
)
def test_forbidden_transition_gets_409_invalid_transition_and_changes_nothing(
    client, session, jurisdiction, token, start, target
):
    case = factories.make_case(session, jurisdiction, status=start, channel=Channel.WALK_IN)
    session.commit()
    error = assert_error(change_status(client, token, case, target), 409, "invalid_transition")
    assert "status" in error["fields"]
    assert fresh(session).get_one(Case, case.id).status == start
    assert [e.kind for e in events_of(session, case)] == ["created"]


@pytest.mark.parametrize("status", list(CaseStatus))
def test_changing_to_the_same_status_gets_409_status_unchanged(
    client, session, jurisdiction, token, status
):
    case = factories.make_case(session, jurisdiction, status=status, channel=Channel.WALK_IN)
    session.commit()
    assert_error(change_status(client, token, case, str(status)), 409, "status_unchanged")
    assert [e.kind for e in events_of(session, case)] == ["created"]


def test_resolving_an_sms_case_texts_the_resident_and_closing_it_afterwards_does_not(
    client, session, sms_case, token, twilio_http, run_jobs
):
    before = len(twilio_http.messages)
    assert change_status(client, token, sms_case, "resolved").status_code == 200
    run_jobs()
    assert len(twilio_http.messages) == before + 2  # the notice, then the survey's question
    sent = twilio_http.messages[-2]
    assert (sent["To"], sent["From"]) == (RESIDENT_PHONE, CITY_NUMBER)
    assert sms_case.tracking_number in sent["Body"]
    assert "resolved" in sent["Body"]
    assert "How did we do" in twilio_http.messages[-1]["Body"]

    assert change_status(client, token, sms_case, "closed").status_code == 200
    run_jobs()
    assert len(twilio_http.messages) == before + 2

    assert change_status(client, token, sms_case, "open").status_code == 200
    run_jobs()
    assert len(twilio_http.messages) == before + 3
    assert "reopened" in twilio_http.messages[-1]["Body"]


def test_resolving_a_case_of_a_resident_who_opted_out_sends_nothing(
    client, session, sms_case, token, send_sms, twilio_http, run_jobs
):
    send_sms("STOP")
    before = len(twilio_http.messages)
    assert change_status(client, token, sms_case, "resolved").status_code == 200
    run_jobs()
    assert len(twilio_http.messages) == before


@pytest.mark.parametrize(
    ("kwargs", "code", "field"),
    [
        ({}, "invalid_body", None),
        ({"data": "status=resolved"}, "invalid_body", None),
        ({"data": "status=resolved", "content_type": "text/plain"}, "invalid_body", None),
        (
            {"data": '{"status": "resolved"', "content_type": "application/json"},
            "invalid_body",
            None,
        ),
        ({"json": "resolved"}, "invalid_body", None),
        ({"json": None}, "invalid_body", None),
        ({"json": ["resolved"]}, "invalid_body", None),
        ({"json": {}}, "invalid_fields", "status"),
        ({"json": {"note": "done"}}, "invalid_fields", "status"),
        ({"json": {"status": "bogus"}}, "invalid_fields", "status"),
        ({"json": {"status": None}}, "invalid_fields", "status"),
        ({"json": {"status": 3}}, "invalid_fields", "status"),
        ({"json": {"status": ["resolved"]}}, "invalid_fields", "status"),
        ({"json": {"status": "resolved", "assignee": 4}}, "invalid_fields", "assignee"),
        ({"json": {"status": "resolved", "note": "x" * 4001}}, "invalid_fields", "note"),
        ({"json": {"status": "resolved", "note": {"a": 1}}}, "invalid_fields", "note"),
    ],
)
def test_malformed_status_change_gets_400_and_changes_nothing(
    client, session, jurisdiction, token, kwargs, code, field
):
    case = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()
    response = client.post(f"{API}/cases/{case.id}/status", headers=auth(token), **kwargs)
    error = assert_error(response, 400, code)
    if field:
        assert field in error["fields"]
    assert fresh(session).get_one(Case, case.id).status == CaseStatus.NEW


def test_status_route_answers_405_in_the_error_shape_for_get(client, session, jurisdiction, token):
    case = factories.make_case(session, jurisdiction)
    session.commit()
    response = client.get(f"{API}/cases/{case.id}/status", headers=auth(token))
    assert_error(response, 405, "method_not_allowed")


# ---------------------------------------------------------------------------------------------
# Notes


def test_note_is_created_and_appears_in_the_case_events(
    client, session, jurisdiction, agent_and_token
):
    agent, token = agent_and_token
    case = factories.make_case(session, jurisdiction)
    session.commit()
    response = client.post(
        f"{API}/cases/{case.id}/notes", headers=auth(token), json={"body": "  Crew 7 on site  "}
    )
    assert response.status_code == 201
    note = response.get_json()["data"]
    assert (note["kind"], note["agent_id"], note["data"]["body"]) == (
        "note",
        agent.id,
        "Crew 7 on site",
    )

    events = client.get(f"{API}/cases/{case.id}", headers=auth(token)).get_json()["data"]["events"]
    assert events[-1] == note


def test_note_is_never_sent_to_the_resident(
    client, session, sms_case, token, twilio_http, run_jobs
):
    before = len(twilio_http.messages)
    response = client.post(
        f"{API}/cases/{sms_case.id}/notes", headers=auth(token), json={"body": "Internal only"}
    )
    assert response.status_code == 201
    run_jobs()
    assert len(twilio_http.messages) == before


@pytest.mark.parametrize(
    "payload",
    [{"body": ""}, {"body": "   "}, {"body": "\n\t "}, {}, {"body": None}, {"body": "x" * 10001}],
)
def test_empty_or_oversized_note_gets_400(client, session, jurisdiction, token, payload):
    case = factories.make_case(session, jurisdiction)
    session.commit()
    response = client.post(f"{API}/cases/{case.id}/notes", headers=auth(token), json=payload)
    error = assert_error(response, 400, "invalid_fields")
    assert "body" in error["fields"]
    assert [e.kind for e in events_of(session, case)] == ["created"]


# ---------------------------------------------------------------------------------------------
# Replies


def test_reply_is_texted_to_the_resident_from_the_city_number(
    client, session, sms_case, agent_and_token, twilio_http, run_jobs
):
    agent, token = agent_and_token
    response = client.post(
        f"{API}/cases/{sms_case.id}/replies",
        headers=auth(token),
        json={"body": "A crew will fill it this week."},
    )
    assert response.status_code == 201
    data = response.get_json()["data"]
    assert (data["direction"], data["channel"], data["agent_id"]) == ("outbound", "sms", agent.id)
    assert (data["to"], data["from"]) == (RESIDENT_PHONE, CITY_NUMBER)
    assert data["delivery_status"] in {"queued", "sending", "sent"}

    run_jobs()
    sent = twilio_http.messages[-1]
    assert (sent["To"], sent["From"], sent["Body"]) == (
        RESIDENT_PHONE,
        CITY_NUMBER,
        "A crew will fill it this week.",
    )
    stored = interactions_of(session, sms_case)[-1]
    assert stored.direction == Direction.OUTBOUND
    assert stored.provider_id  # Twilio accepted it; delivery callbacks come later


def test_reply_of_exactly_1600_characters_is_accepted(
    client, session, sms_case, token, twilio_http, run_jobs
):
    body = "y" * 1600
    response = client.post(
        f"{API}/cases/{sms_case.id}/replies", headers=auth(token), json={"body": body}
    )
    assert response.status_code == 201
    run_jobs()
    assert twilio_http.messages[-1]["Body"] == body


@pytest.mark.parametrize(
    "payload",
    [{"body": "y" * 1601}, {"body": ""}, {"body": "   "}, {}, {"body": 7}, {"text": "hello"}],
)
def test_empty_or_too_long_reply_gets_400_and_sends_nothing(
    client, session, sms_case, token, payload, twilio_http, run_jobs
):
    before = len(twilio_http.messages)
    response = client.post(f"{API}/cases/{sms_case.id}/replies", headers=auth(token), json=payload)
    assert_error(response, 400, "invalid_fields")
    run_jobs()
    assert len(twilio_http.messages) == before


def test_reply_to_a_resident_who_opted_out_is_recorded_as_suppressed_and_not_sent(
    client, session, sms_case, token, send_sms, twilio_http, run_jobs
):
    send_sms("STOP")
    before = len(twilio_http.messages)
    response = client.post(
        f"{API}/cases/{sms_case.id}/replies", headers=auth(token), json={"body": "Still there?"}
    )
    assert response.status_code == 201
    assert response.get_json()["data"]["delivery_status"] == "suppressed"
    run_jobs()
    assert len(twilio_http.messages) == before

    detail = client.get(f"{API}/cases/{sms_case.id}", headers=auth(token)).get_json()["data"]
    assert detail["resident"]["sms_opted_out"] is True
    assert detail["interactions"][-1]["delivery_status"] == "suppressed"
    assert detail["interactions"][-1]["error_code"] == "opted_out"


def test_reply_on_a_case_with_no_way_to_reach_the_resident_gets_400(
    client, session, jurisdiction, token, twilio_http, run_jobs
):
    no_resident = factories.make_case(session, jurisdiction)
    walk_in = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()
    for case, code in [(no_resident, "no_reply_address"), (walk_in, "channel_unavailable")]:
        response = client.post(
            f"{API}/cases/{case.id}/replies", headers=auth(token), json={"body": "Hello"}
        )
        assert_error(response, 400, code)
    run_jobs()
    assert twilio_http.messages == []


# ---------------------------------------------------------------------------------------------
# What residents and agents typed is data


def test_what_a_resident_typed_comes_back_verbatim_as_json_data(
    client, session, jurisdiction, token, send_sms
):
    text = '<script>alert("x")</script> Pothole at 12 Main St & <b>Elm</b> \u00e9\u202e'
    send_sms(text)
    case = fresh(session).scalars(sa.select(Case)).one()

    for response in (
        client.get(f"{API}/cases/{case.id}", headers=auth(token)),
        client.get(f"{API}/cases", headers=auth(token)),
    ):
        assert response.status_code == 200
        assert response.mimetype == "application/json"
        assert "<script>" in response.get_data(as_text=True)  # not HTML-escaped by the API
    detail = client.get(f"{API}/cases/{case.id}", headers=auth(token)).get_json()["data"]
    assert detail["description"] == text.strip()
    assert detail["interactions"][0]["body"] == text
    listed = client.get(f"{API}/cases", headers=auth(token)).get_json()["data"][0]
    assert listed["description"] == text.strip()


def test_note_with_markup_is_stored_and_returned_verbatim(client, session, jurisdiction, token):
    case = factories.make_case(session, jurisdiction)
    session.commit()
    body = "<img src=x onerror=alert(1)> {{ 7*7 }} %s ${jndi:x}"
    response = client.post(f"{API}/cases/{case.id}/notes", headers=auth(token), json={"body": body})
    assert response.status_code == 201
    events = client.get(f"{API}/cases/{case.id}", headers=auth(token)).get_json()["data"]["events"]
    assert events[-1]["data"]["body"] == body


def test_nul_character_in_a_note_is_a_400_not_a_500(client, session, jurisdiction, token):
    case = factories.make_case(session, jurisdiction, channel=Channel.WALK_IN)
    session.commit()
    response = client.post(
        f"/api/v1/cases/{case.id}/notes",
        json={"body": "bad\x00note"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["fields"]["body"]
