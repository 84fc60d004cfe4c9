"""The routing staff API as city IT, supervisors and agents use it."""

from __future__ import annotations

import sqlalchemy as sa

from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, CaseEvent
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkState, agent_queues
from tests.factories import make_agent, make_jurisdiction

WARDS = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"code": "ward-1", "name": "Ward 1", "layer": "ward"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-75.8, 45.3], [-75.7, 45.3], [-75.7, 45.4], [-75.8, 45.4], [-75.8, 45.3]]
                ],
            },
        },
        {
            "type": "Feature",
            "properties": {"code": "ward-2", "name": "Ward 2", "layer": "ward"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-75.7, 45.3], [-75.6, 45.3], [-75.6, 45.4], [-75.7, 45.4], [-75.7, 45.3]]
                ],
            },
        },
    ],
}

RULES = {
    "rules": [
        {
            "name": "Ward 2 potholes",
            "when": {"service_types": ["pothole"], "districts": ["ward-2"]},
            "then": {"department": "SAN", "queue": "east", "priority": "high"},
        },
        {
            "name": "Gas is urgent",
            "when": {"keywords": ["gas leak"]},
            "then": {
                "queue": "east",
                "priority": "urgent",
                "skills": ["gas"],
                "targets": [{"queue": "east", "timeout": 120}, {"queue": "supervisors"}],
            },
        },
    ],
    "default": {"queue": "general"},
}


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _setup(client, session, jurisdiction):
    admin, admin_token = make_agent(session, [jurisdiction], role=Role.ADMIN)
    session.commit()
    headers = _auth(admin_token)
    for code, extra in (
        ("general", {"is_default": True}),
        ("east", {}),
        ("supervisors", {"is_supervisor": True}),
    ):
        response = client.put(
            f"/api/v1/routing/queues/{code}", json={"name": code.title(), **extra}, headers=headers
        )
        assert response.status_code == 200, response.json
    assert client.put("/api/v1/routing/districts", json=WARDS, headers=headers).status_code == 200
    response = client.put("/api/v1/routing/rules", json=RULES, headers=headers)
    assert response.status_code == 200, response.json
    return admin, headers


def test_admin_saves_queues_districts_and_rules(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    shown = client.get("/api/v1/routing/rules", headers=headers).json
    assert shown["version"] == 1
    assert [r["name"] for r in shown["data"]["rules"]] == ["Ward 2 potholes", "Gas is urgent"]
    districts = client.get("/api/v1/routing/districts", headers=headers).json["data"]
    assert [d["code"] for d in districts] == ["ward-1", "ward-2"]
    again = client.put("/api/v1/routing/rules", json=RULES, headers=headers).json
    assert again["version"] == 2


def test_a_rule_set_with_errors_is_rejected_naming_the_rule(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    bad = {
        "rules": [
            {"name": "Typo", "when": {}, "then": {"queue": "eats"}},
            {"name": "Nowhere", "when": {"districts": ["ward-9"]}, "then": {"queue": "east"}},
            {"name": "Broken", "when": {"expression": "priority >"}, "then": {"queue": "east"}},
        ]
    }
    response = client.put("/api/v1/routing/rules", json=bad, headers=headers)
    assert response.status_code == 400
    fields = response.json["error"]["fields"]
    assert any(k.startswith("Typo") and "eats" in v for k, v in fields.items())
    assert any(k.startswith("Nowhere") and "ward-9" in v for k, v in fields.items())
    assert any(k.startswith("Broken") for k in fields)
    assert client.get("/api/v1/routing/rules", headers=headers).json["version"] == 1


def test_bad_geojson_is_rejected_and_the_old_districts_stay(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    bowtie = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"code": "ward-1"},
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]],
                },
            }
        ],
    }
    response = client.put("/api/v1/routing/districts", json=bowtie, headers=headers)
    assert response.status_code == 400
    assert "ward-1" in str(response.json["error"]["fields"])
    assert len(client.get("/api/v1/routing/districts", headers=headers).json["data"]) == 2


def test_removing_a_district_the_rules_use_is_refused(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    only_ward_1 = {**WARDS, "features": WARDS["features"][:1]}
    response = client.put("/api/v1/routing/districts", json=only_ward_1, headers=headers)
    assert response.status_code == 400
    assert response.json["error"]["code"] == "breaks_rules"


def test_dry_run_says_where_a_case_would_go_and_which_rule_decided(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    response = client.post(
        "/api/v1/routing/dry-run",
        json={"service_type": "pothole", "latitude": 45.35, "longitude": -75.65},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    data = response.json["data"]
    assert (data["rule"], data["queue"], data["department"], data["priority"]) == (
        "Ward 2 potholes",
        "east",
        "SAN",
        "high",
    )
    assert data["districts"] == ["ward-2"]
    west = client.post(
        "/api/v1/routing/dry-run",
        json={"service_type": "pothole", "latitude": 45.35, "longitude": -75.75},
        headers=headers,
    ).json["data"]
    assert (west["rule"], west["queue"]) == (None, "general")
    assert west["trace"][0]["matched"] is False


def test_dry_run_rejects_bad_input(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    response = client.post("/api/v1/routing/dry-run", json={"latitude": 200}, headers=headers)
    assert response.status_code == 400
    assert "latitude" in response.json["error"]["fields"]


def test_routed_sms_case_records_its_rule_and_reaches_an_agent(
    client, session, jurisdiction, send_sms, run_jobs
):
    _admin, headers = _setup(client, session, jurisdiction)
    agent, agent_token = make_agent(session, [jurisdiction], skills=["gas"])
    session.commit()
    me = _auth(agent_token)
    response = client.patch(
        f"/api/v1/agents/{agent.id}/routing",
        json={"queues": ["east"], "capacity": {"sms": 5}},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["queues"] == ["east"]
    assert (
        client.put(
            f"/api/v1/agents/{agent.id}/presence", json={"presence": "available"}, headers=me
        ).status_code
        == 200
    )

    send_sms("There is a gas leak at 40 Elm St")
    run_jobs()

    case = session.scalars(sa.select(Case)).one()
    assert (case.routing_rule, str(case.priority)) == ("Gas is urgent", "urgent")
    routed = session.scalars(sa.select(CaseEvent).where(CaseEvent.kind == "routed")).one()
    assert routed.data["rule"] == "Gas is urgent"

    offers = client.get("/api/v1/work/offers", headers=me).json["data"]
    assert len(offers) == 1 and offers[0]["work"]["case_id"] == case.id
    accepted = client.post(f"/api/v1/work/offers/{offers[0]['id']}/accept", headers=me)
    assert accepted.status_code == 200, accepted.json
    session.expire_all()
    assert session.get(Case, case.id).assigned_agent_id == agent.id
    again = client.post(f"/api/v1/work/offers/{offers[0]['id']}/accept", headers=me)
    assert again.status_code == 409


def test_an_agent_cannot_edit_rules_or_other_agents(client, session, jurisdiction):
    _admin, _headers = _setup(client, session, jurisdiction)
    _agent, token = make_agent(session, [jurisdiction])
    other, _ = make_agent(session, [jurisdiction])
    session.commit()
    me = _auth(token)
    assert client.put("/api/v1/routing/rules", json=RULES, headers=me).status_code == 403
    assert client.get("/api/v1/routing/queues", headers=me).status_code == 403
    response = client.put(
        f"/api/v1/agents/{other.id}/presence", json={"presence": "away"}, headers=me
    )
    assert response.status_code == 403


def test_another_jurisdictions_staff_sees_none_of_it(client, session, jurisdiction):
    _admin, _headers = _setup(client, session, jurisdiction)
    elsewhere = make_jurisdiction(session, slug="shelbyville")
    _outsider, token = make_agent(session, [elsewhere], role=Role.ADMIN)
    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    headers = _auth(token)
    assert client.get("/api/v1/routing/rules", headers=headers).json["version"] == 0
    assert (
        client.get("/api/v1/routing/rules?jurisdiction=springfield", headers=headers).status_code
        == 404
    )
    response = client.patch(
        f"/api/v1/agents/{agent.id}/routing", json={"skills": []}, headers=headers
    )
    assert response.status_code == 404


def test_presence_changes_are_kept_as_history(client, session, jurisdiction):
    agent, token = make_agent(session, [jurisdiction])
    supervisor, boss_token = make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    session.commit()
    me = _auth(token)
    client.put(f"/api/v1/agents/{agent.id}/presence", json={"presence": "available"}, headers=me)
    client.put(
        f"/api/v1/agents/{agent.id}/presence",
        json={"presence": "away", "reason": "lunch"},
        headers=_auth(boss_token),
    )
    history = client.get(f"/api/v1/agents/{agent.id}/presence", headers=me).json
    assert history["presence"] == "away"
    assert [(h["presence"], h["previous"], h["by"], h["reason"]) for h in history["history"]] == [
        ("away", "available", supervisor.id, "lunch"),
        ("available", "offline", None, ""),
    ]
    bad = client.put(f"/api/v1/agents/{agent.id}/presence", json={"presence": "asleep"}, headers=me)
    assert bad.status_code == 400


def test_pull_mode_and_completion_through_the_api(
    client, session, jurisdiction, send_sms, run_jobs
):
    _admin, headers = _setup(client, session, jurisdiction)
    agent, token = make_agent(session, [jurisdiction])
    session.commit()
    me = _auth(token)
    client.patch(
        f"/api/v1/agents/{agent.id}/routing", json={"queues": ["general"]}, headers=headers
    )
    send_sms("Garbage was not picked up on Oak St")
    run_jobs()
    nothing_offered = session.scalars(sa.select(Offer)).all()
    assert nothing_offered == []  # the agent is offline: no offer, but they may pull
    taken = client.post("/api/v1/work/next", headers=me).json["data"]
    assert taken["state"] == "assigned"
    assert client.post("/api/v1/work/next", headers=me).json["data"] is None
    done = client.post(f"/api/v1/work/{taken['id']}/complete", headers=me)
    assert done.status_code == 200 and done.json["data"]["state"] == "completed"
    session.expire_all()
    assert session.get(WorkItem, taken["id"]).state == WorkState.COMPLETED
    assert all(o.state != OfferState.PENDING for o in session.scalars(sa.select(Offer)))


def test_a_vulnerable_residents_case_follows_the_flag_rule(
    client, session, jurisdiction, send_sms, run_jobs
):
    _admin, headers = _setup(client, session, jurisdiction)
    rules = {
        "rules": [
            {
                "name": "Vulnerable residents first",
                "when": {"resident_flags": ["vulnerable"]},
                "then": {"priority": "high", "queue": "east"},
            }
        ],
        "default": {"queue": "general"},
    }
    assert client.put("/api/v1/routing/rules", json=rules, headers=headers).status_code == 200
    send_sms("Garbage not picked up at 4 Oak St", from_="+16135550177")
    run_jobs()
    first = session.scalars(sa.select(Case)).one()
    assert first.routing_rule == "default"
    response = client.put(
        f"/api/v1/residents/{first.resident_id}/flags",
        json={"flags": ["vulnerable"]},
        headers=headers,
    )
    assert response.status_code == 200, response.json
    bad = client.put(
        f"/api/v1/residents/{first.resident_id}/flags", json={"flags": ["<b>"]}, headers=headers
    )
    assert bad.status_code == 400
    client.post(f"/api/v1/cases/{first.id}/status", json={"status": "closed"}, headers=headers)
    send_sms("Streetlight out on Elm St", from_="+16135550177")
    run_jobs()
    second = session.scalars(sa.select(Case).where(Case.id != first.id)).one()
    assert (second.routing_rule, str(second.priority)) == ("Vulnerable residents first", "high")


def test_supervisor_sets_an_agents_departments(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    response = client.patch(
        f"/api/v1/agents/{agent.id}/routing", json={"departments": ["PW", "SAN"]}, headers=headers
    )
    assert response.status_code == 200 and response.json["data"]["departments"] == ["PW", "SAN"]
    unknown = client.patch(
        f"/api/v1/agents/{agent.id}/routing", json={"departments": ["XX"]}, headers=headers
    )
    assert unknown.status_code == 400 and "XX" in unknown.json["error"]["message"]
    listed = client.get("/api/v1/agents", headers=headers).json["data"]
    assert any(a["id"] == agent.id and a["capacity"]["voice"] == 1 for a in listed)


GARBAGE = [None, [], "text", 12, {"unexpected": 1}, {"name": "\x00"}, {"rules": [{"when": "x"}]}]


def test_no_route_answers_garbage_with_a_500(app, client, session, jurisdiction):
    """Every write route of the staff API, as an admin, fed bodies that make no sense."""
    from tests.test_api import OTHER_ARGUMENTS, protected_routes

    _admin, headers = _setup(client, session, jurisdiction)
    case = session.scalars(sa.select(Case)).first()
    case_id = case.id if case is not None else 1
    for rule, method in protected_routes(app):
        if method == "GET":
            continue
        values = {k: v for k, v in OTHER_ARGUMENTS.items() if k in rule.arguments}
        if "case_id" in rule.arguments:
            values["case_id"] = case_id
        url = app.url_map.bind("localhost").build(rule.endpoint, values, method=method)
        for body in GARBAGE:
            response = client.open(url, method=method, headers=headers, json=body)
            assert response.status_code < 500, f"{method} {rule.rule} {body!r}: {response.data!r}"
            if response.status_code >= 400:
                assert response.json["error"]["message"], f"{method} {rule.rule}"


def test_dry_run_refuses_a_time_without_a_zone(client, session, jurisdiction):
    _admin, headers = _setup(client, session, jurisdiction)
    response = client.post(
        "/api/v1/routing/dry-run", json={"at": "2026-01-05T10:00:00"}, headers=headers
    )
    assert response.status_code == 400 and "at" in response.json["error"]["fields"]
    fine = client.post(
        "/api/v1/routing/dry-run", json={"at": "2026-01-05T10:00:00-05:00"}, headers=headers
    )
    assert fine.status_code == 200


def test_a_supervisor_of_two_cities_cannot_queue_an_agent_in_the_other(
    client, session, jurisdiction
):
    _admin, _headers = _setup(client, session, jurisdiction)
    other = make_jurisdiction(session, slug="shelbyville")
    session.add(Queue(jurisdiction_id=other.id, code="general", name="General"))
    boss, boss_token = make_agent(session, [jurisdiction, other], role=Role.SUPERVISOR)
    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    me = _auth(boss_token)
    ambiguous = client.patch(f"/api/v1/agents/{agent.id}/routing", json={"queues": []}, headers=me)
    assert ambiguous.status_code == 400
    done = client.patch(
        f"/api/v1/agents/{agent.id}/routing?jurisdiction=springfield",
        json={"queues": ["general"]},
        headers=me,
    )
    assert done.status_code == 200 and done.json["data"]["queues"] == ["general"]
    elsewhere = client.patch(
        f"/api/v1/agents/{agent.id}/routing?jurisdiction=shelbyville",
        json={"queues": ["general"]},
        headers=me,
    )
    assert elsewhere.status_code == 404
    held = session.scalars(
        sa.select(Queue.jurisdiction_id)
        .join(agent_queues, agent_queues.c.queue_id == Queue.id)
        .where(agent_queues.c.agent_id == agent.id)
    ).all()
    assert held == [jurisdiction.id]
    assert boss is not None
