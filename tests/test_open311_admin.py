"""Administering Open311: client keys, service attributes and published media, by API and CLI."""

from __future__ import annotations

import json
import re
import shlex

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, CaseEvent
from contactcenter.cli import cli
from contactcenter.demo import DEMO_OPEN311_KEY, seed_demo
from contactcenter.errors import Forbidden
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.open311.attributes import attributes_of
from contactcenter.open311.clients import authenticate, issue_key
from contactcenter.open311.models import Open311Client, Open311Submission, SubmissionState
from tests import factories


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def staff(session, jurisdiction):
    """Tokens of an agent, a supervisor and an admin of the test city."""
    tokens = {}
    for role in (Role.AGENT, Role.SUPERVISOR, Role.ADMIN):
        _agent, tokens[role] = factories.make_agent(session, [jurisdiction], role=role)
    session.commit()
    return tokens


# --- Client keys ----------------------------------------------------------------------------


def test_an_admin_issues_a_key_shown_once_and_it_authenticates(
    client, session, jurisdiction, staff
):
    created = client.post(
        "/api/v1/open311/clients",
        json={"name": "FixMyCity", "contact_email": "dev@fix.example", "requests_per_minute": 30},
        headers=_headers(staff[Role.ADMIN]),
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    key = body["api_key"]
    assert body["data"]["key_prefix"] == key[:12] and body["data"]["requests_per_minute"] == 30
    assert authenticate(session, jurisdiction, key).id == body["data"]["id"]
    listed = client.get("/api/v1/open311/clients", headers=_headers(staff[Role.ADMIN]))
    assert listed.status_code == 200
    assert [c["name"] for c in listed.get_json()["data"]] == ["FixMyCity"]
    assert key not in listed.get_data(as_text=True)


def test_revoking_by_api_stops_the_key(client, session, jurisdiction, staff):
    record, key = issue_key(session, jurisdiction, name="App")
    session.commit()
    revoked = client.post(
        f"/api/v1/open311/clients/{record.id}/revoke", headers=_headers(staff[Role.ADMIN])
    )
    assert revoked.status_code == 200 and revoked.get_json()["data"]["revoked_at"]
    with pytest.raises(Forbidden):
        authenticate(session, jurisdiction, key)


def test_revoking_a_client_id_beyond_the_columns_range_is_a_404(client, staff):
    answer = client.post(
        f"/api/v1/open311/clients/{2**52 + 3}/revoke", headers=_headers(staff[Role.ADMIN])
    )
    assert answer.status_code == 404


@pytest.mark.parametrize("role", [Role.AGENT, Role.SUPERVISOR])
def test_only_admins_manage_keys(client, session, jurisdiction, staff, role):
    record, _ = issue_key(session, jurisdiction, name="App")
    session.commit()
    headers = _headers(staff[role])
    assert client.get("/api/v1/open311/clients", headers=headers).status_code == 403
    assert (
        client.post("/api/v1/open311/clients", json={"name": "X"}, headers=headers).status_code
        == 403
    )
    revoke = client.post(f"/api/v1/open311/clients/{record.id}/revoke", headers=headers)
    assert revoke.status_code == 403
    assert session.get_one(Open311Client, record.id).revoked_at is None


def test_another_jurisdictions_clients_are_invisible(client, session, staff, other_city):
    theirs, _ = issue_key(session, other_city, name="Theirs")
    session.commit()
    admin = _headers(staff[Role.ADMIN])
    assert client.get("/api/v1/open311/clients", headers=admin).get_json()["data"] == []
    revoke = client.post(f"/api/v1/open311/clients/{theirs.id}/revoke", headers=admin)
    assert revoke.status_code == 404
    named = client.post(
        "/api/v1/open311/clients", json={"name": "X", "jurisdiction": "shelbyville"}, headers=admin
    )
    assert named.status_code == 404
    assert (
        client.get("/api/v1/open311/clients?jurisdiction=shelbyville", headers=admin).status_code
        == 404
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "name"),
        ({"name": "X", "requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "X", "contact_email": "nope"}, "contact_email"),
        ({"name": "X", "key": "mine-1234567890"}, "key"),
    ],
)
def test_bad_client_details_are_a_400_naming_the_field(client, staff, body, field):
    answer = client.post("/api/v1/open311/clients", json=body, headers=_headers(staff[Role.ADMIN]))
    assert answer.status_code == 400
    assert field in answer.get_json()["error"]["fields"]


# --- Attributes -----------------------------------------------------------------------------

SIZE = {
    "code": "size",
    "datatype": "singlevaluelist",
    "description": "How big?",
    "required": True,
    "values": [{"key": "small", "name": "Small"}, {"key": "large", "name": "Large"}],
}


def test_an_admin_replaces_attributes_and_an_agent_reads_them(client, session, jurisdiction, staff):
    put = client.put(
        "/api/v1/service-types/pothole/attributes",
        json={"attributes": [SIZE, {"code": "note", "datatype": "text", "description": "More?"}]},
        headers=_headers(staff[Role.ADMIN]),
    )
    assert put.status_code == 200, put.get_json()
    shown = client.get(
        "/api/v1/service-types/pothole/attributes", headers=_headers(staff[Role.AGENT])
    )
    assert shown.status_code == 200
    data = shown.get_json()["data"]
    assert [a["code"] for a in data] == ["size", "note"]
    assert data[0]["values"] == SIZE["values"] and data[0]["required"] is True
    cleared = client.put(
        "/api/v1/service-types/pothole/attributes",
        json={"attributes": []},
        headers=_headers(staff[Role.ADMIN]),
    )
    assert cleared.status_code == 200 and cleared.get_json()["data"] == []


def test_attribute_changes_need_an_admin(client, staff):
    for role in (Role.AGENT, Role.SUPERVISOR):
        answer = client.put(
            "/api/v1/service-types/pothole/attributes",
            json={"attributes": [SIZE]},
            headers=_headers(staff[role]),
        )
        assert answer.status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([SIZE], "attributes"),
        ({"attributes": [SIZE], "extra": 1}, "attributes"),
        ({"attributes": [{**SIZE, "values": []}]}, "attributes.0.values"),
        ({"attributes": [SIZE, SIZE]}, "attributes.1.code"),
        ({"attributes": "size"}, "attributes"),
    ],
)
def test_bad_attribute_definitions_are_a_400(client, session, jurisdiction, staff, body, field):
    answer = client.put(
        "/api/v1/service-types/pothole/attributes", json=body, headers=_headers(staff[Role.ADMIN])
    )
    assert answer.status_code == 400
    assert field in answer.get_json()["error"]["fields"]
    pothole = factories.service_type(session, jurisdiction)
    assert attributes_of(session, [pothole.id])[pothole.id] == []


def test_another_citys_or_an_unknown_service_type_is_404(client, staff, other_city):
    admin = _headers(staff[Role.ADMIN])
    assert client.get("/api/v1/service-types/sidewalk/attributes", headers=admin).status_code == 404
    assert (
        client.get("/api/v1/service-types/pot%00hole/attributes", headers=admin).status_code == 404
    )
    other = client.get(
        "/api/v1/service-types/pothole/attributes?jurisdiction=shelbyville", headers=admin
    )
    assert other.status_code == 404


# --- Public media ---------------------------------------------------------------------------


def test_a_supervisor_publishes_and_withdraws_a_cases_photo(client, session, jurisdiction, staff):
    case = factories.make_case(session, jurisdiction)
    session.commit()
    url = f"/api/v1/cases/{case.id}/public-media"
    headers = _headers(staff[Role.SUPERVISOR])
    put = client.put(url, json={"url": "https://photos.example/crew.jpg"}, headers=headers)
    assert put.status_code == 200, put.get_json()
    assert put.get_json()["data"]["public_media_url"] == "https://photos.example/crew.jpg"
    session.expire_all()
    assert session.get_one(Case, case.id).public_media_url == "https://photos.example/crew.jpg"
    deleted = client.delete(url, headers=headers)
    assert deleted.status_code == 200 and deleted.get_json()["data"]["public_media_url"] is None
    kinds = list(
        session.scalars(
            sa.select(CaseEvent.kind)
            .where(CaseEvent.case_id == case.id, CaseEvent.kind.like("media_%"))
            .order_by(CaseEvent.id)
        )
    )
    assert kinds == ["media_published", "media_unpublished"]


def test_public_media_needs_a_supervisor_of_the_case_and_a_web_url(
    client, session, jurisdiction, staff, other_city
):
    mine = factories.make_case(session, jurisdiction)
    theirs = factories.make_case(session, other_city)
    session.commit()
    body = {"url": "https://photos.example/p.jpg"}
    supervisor = _headers(staff[Role.SUPERVISOR])
    agent = client.put(
        f"/api/v1/cases/{mine.id}/public-media", json=body, headers=_headers(staff[Role.AGENT])
    )
    assert agent.status_code == 403
    other = client.put(f"/api/v1/cases/{theirs.id}/public-media", json=body, headers=supervisor)
    assert other.status_code == 404
    for bad in ("file:///etc/passwd", "javascript:alert(1)", "https://" + "x" * 1000):
        answer = client.put(
            f"/api/v1/cases/{mine.id}/public-media", json={"url": bad}, headers=supervisor
        )
        assert answer.status_code == 400, bad
    session.expire_all()
    assert session.get_one(Case, mine.id).public_media_url is None


# --- CLI ------------------------------------------------------------------------------------


def _invoke(app, *args, ok=True):
    result = CliRunner().invoke(cli, ["open311", *args], obj=ScriptInfo(create_app=lambda: app))
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_the_cli_issues_lists_and_revokes_keys(app, session, jurisdiction):
    issued = _invoke(
        app,
        "issue-key",
        "--jurisdiction",
        "springfield",
        "--name",
        "City app",
        "--email",
        "dev@city.example",
        "--per-minute",
        "10",
    ).output
    key = next(
        line.split(": ", 1)[1] for line in issued.splitlines() if line.startswith("api_key:")
    )
    record = authenticate(session, jurisdiction, key)
    assert record.requests_per_minute == 10 and record.contact_email == "dev@city.example"
    session.rollback()
    listed = _invoke(app, "keys", "--jurisdiction", "springfield").output
    assert "City app" in listed and key[:12] in listed and key not in listed and "active" in listed
    _invoke(app, "revoke-key", str(record.id))
    session.expire_all()
    with pytest.raises(Forbidden):
        authenticate(session, jurisdiction, key)
    assert "revoked" in _invoke(app, "keys", "--jurisdiction", "springfield").output


def test_the_cli_refuses_bad_input_with_a_message(app, jurisdiction):
    unknown = _invoke(app, "issue-key", "--jurisdiction", "nowhere", "--name", "X", ok=False)
    assert unknown.exit_code != 0 and "nowhere" in unknown.output
    bad_rate = _invoke(
        app,
        "issue-key",
        "--jurisdiction",
        "springfield",
        "--name",
        "X",
        "--per-minute",
        "0",
        ok=False,
    )
    assert bad_rate.exit_code != 0 and "requests_per_minute" in bad_rate.output
    missing = _invoke(app, "revoke-key", "999", ok=False)
    assert missing.exit_code != 0 and "999" in missing.output


def test_the_cli_loads_attributes_from_yaml_and_json(app, session, jurisdiction, tmp_path):
    yaml_file = tmp_path / "pothole.yaml"
    yaml_file.write_text(
        "- code: size\n  datatype: singlevaluelist\n  description: How big?\n  required: true\n"
        "  values:\n    - {key: small, name: Small}\n    - {key: large, name: Large}\n",
        encoding="utf-8",
    )
    shown = _invoke(
        app, "attributes", "--jurisdiction", "springfield", "pothole", "--load", str(yaml_file)
    ).output
    assert "code: size" in shown and "key: large" in shown
    round_trip = tmp_path / "shown.yaml"
    round_trip.write_text(shown, encoding="utf-8")
    again = _invoke(
        app, "attributes", "--jurisdiction", "springfield", "pothole", "--load", str(round_trip)
    ).output
    assert again == shown, "what the command shows loads back unchanged"
    json_file = tmp_path / "pothole.json"
    json_file.write_text(
        json.dumps(
            {"attributes": [{"code": "n", "datatype": "number", "description": "How deep?"}]}
        )
    )
    _invoke(app, "attributes", "--jurisdiction", "springfield", "pothole", "--load", str(json_file))
    pothole = factories.service_type(session, jurisdiction)
    assert [a.code for a in attributes_of(session, [pothole.id])[pothole.id]] == ["n"]
    bad = tmp_path / "bad.yaml"
    bad.write_text("- code: n\n  datatype: colour\n  description: x\n", encoding="utf-8")
    refused = _invoke(
        app, "attributes", "--jurisdiction", "springfield", "pothole", "--load", str(bad), ok=False
    )
    assert refused.exit_code != 0 and "attributes.0.datatype" in refused.output
    assert (
        "asks no attributes"
        in _invoke(app, "attributes", "--jurisdiction", "springfield", "missed-pickup").output
    )


# --- Demo -----------------------------------------------------------------------------------


def test_the_demo_has_a_known_key_and_attributes_and_seeds_them_once(session):
    seed_demo(session)
    session.commit()
    seed_demo(session)
    session.commit()
    city = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    assert authenticate(session, city, DEMO_OPEN311_KEY).name == "Demo app"
    assert session.scalar(sa.select(sa.func.count()).select_from(Open311Client)) == 1
    pothole, graffiti = (
        factories.service_type(session, city, code) for code in ("pothole", "graffiti")
    )
    found = attributes_of(session, [pothole.id, graffiti.id])
    assert [a.code for a in found[pothole.id]] == ["size", "bike_lane"]
    assert [str(a.datatype) for a in found[graffiti.id]] == ["multivaluelist", "singlevaluelist"]


def test_the_demo_prints_a_curl_line_that_files_a_request(app, client, session):
    result = CliRunner().invoke(cli, ["demo"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    assert f"Open311 API key:             {DEMO_OPEN311_KEY}" in result.output
    line = result.output[result.output.index("curl -d api_key=") :]
    words = shlex.split(line.split("\n\n")[0].replace("\\\n", " "))
    form = dict(words[i + 1].split("=", 1) for i, w in enumerate(words) if w == "-d")
    url = next(w for w in words if w.startswith("http://"))
    answer = client.post(re.sub(r"^http://[^/]+", "", url), data=form)
    assert answer.status_code == 200, answer.get_data(as_text=True)  # as the GeoReport swagger
    tracking = answer.get_json()[0]["service_request_id"]
    case = session.scalars(sa.select(Case).where(Case.tracking_number == tracking)).one()
    assert case.attributes == {"size": "large"} and case.origin_channel == "open311"


def test_requeue_files_a_submission_whose_job_was_lost(app, session, jurisdiction, run_jobs):
    record, _ = issue_key(session, jurisdiction, name="App")
    factories.service_type(session, jurisdiction).open311_type = "batch"
    lost = Open311Submission(
        jurisdiction_id=jurisdiction.id,
        client_id=record.id,
        token="lost-token",
        payload={"fields": {"service_code": "pothole", "address_string": "12 Main St"}},
    )
    session.add(lost)
    session.commit()
    result = CliRunner().invoke(
        cli, ["requeue", "--older-than", "0"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert result.exit_code == 0, result.output
    assert "1 Open311 submissions" in result.output
    run_jobs()
    session.expire_all()
    filed = session.get_one(Open311Submission, lost.id)
    assert filed.state == SubmissionState.DONE and filed.case_id is not None
