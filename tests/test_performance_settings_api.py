"""The two settings behind the performance figures, set through the staff API: each queue's
service-level targets, and who heads each department (the weekly summary's recipient)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from contactcenter.agents.models import Role
from contactcenter.demo import seed_demo
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.contact_figures import contact_figures
from contactcenter.performance.contacts import rebuild_contact_rollups
from contactcenter.performance.targets import DEFAULT_TARGETS, MAX_TARGET_SECONDS
from contactcenter.routing.models import Queue, WorkItem, WorkKind, WorkState
from tests.factories import make_agent, make_queue


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin(session, city):
    _, token = make_agent(session, [city], role=Role.ADMIN)
    session.commit()
    return _auth(token)


@pytest.fixture
def supervisor(session, city):
    _, token = make_agent(session, [city], role=Role.SUPERVISOR)
    session.commit()
    return _auth(token)


@pytest.fixture
def agent(session, city):
    _, token = make_agent(session, [city])
    session.commit()
    return _auth(token)


def _put_queue(client, headers, code="water", **body):
    return client.put(
        f"/api/v1/routing/queues/{code}", json={"name": "Water", **body}, headers=headers
    )


# --- Queue service-level targets ----------------------------------------------------------


def test_a_queue_shows_every_channels_target_in_force_its_own_or_the_default(
    client, admin, supervisor
):
    saved = _put_queue(
        client, admin, service_targets={"voice": {"seconds": 30, "percent": 90}}
    ).json["data"]
    assert saved["service_targets"]["voice"] == {"seconds": 30, "percent": 90, "source": "queue"}

    listed = client.get("/api/v1/routing/queues", headers=supervisor).json["data"]
    targets = listed[0]["service_targets"]
    assert set(targets) == {c.value for c in Channel}
    assert targets["voice"] == {"seconds": 30, "percent": 90, "source": "queue"}
    assert targets["webchat"] == {**DEFAULT_TARGETS["webchat"].as_dict(), "source": "default"}
    assert targets["sms"] == {"seconds": 900, "percent": 80, "source": "default"}


def test_saving_a_queue_without_targets_keeps_them_and_an_empty_object_clears_them(
    client, session, admin
):
    _put_queue(client, admin, service_targets={"sms": {"seconds": 600, "percent": 95}})
    kept = _put_queue(client, admin, strategy="round_robin").json["data"]["service_targets"]
    assert kept["sms"] == {"seconds": 600, "percent": 95, "source": "queue"}
    assert session.scalars(sa.select(Queue.service_targets)).one() == {
        "sms": {"seconds": 600, "percent": 95}
    }

    cleared = _put_queue(client, admin, service_targets={}).json["data"]["service_targets"]
    assert cleared["sms"] == {"seconds": 900, "percent": 80, "source": "default"}


def test_a_setting_that_makes_no_sense_in_the_database_falls_back_to_the_default(
    client, session, city, supervisor
):
    make_queue(session, city, "odd", service_targets={"voice": {"seconds": 0, "percent": 95}})
    session.commit()
    (queue,) = client.get("/api/v1/routing/queues", headers=supervisor).json["data"]
    assert queue["service_targets"]["voice"] == {"seconds": 20, "percent": 95, "source": "queue"}


@pytest.mark.parametrize(
    ("targets", "field"),
    [
        ({"fax": {"seconds": 20, "percent": 80}}, "service_targets.fax.[key]"),
        ({"voice": {"seconds": 0, "percent": 80}}, "service_targets.voice.seconds"),
        (
            {"voice": {"seconds": MAX_TARGET_SECONDS + 1, "percent": 80}},
            "service_targets.voice.seconds",
        ),
        ({"voice": {"seconds": 20, "percent": 101}}, "service_targets.voice.percent"),
        ({"voice": {"seconds": 20, "percent": 0}}, "service_targets.voice.percent"),
        ({"voice": {"seconds": "20", "percent": 80}}, "service_targets.voice.seconds"),
        ({"voice": {"seconds": True, "percent": 80}}, "service_targets.voice.seconds"),
        ({"voice": {"seconds": 20}}, "service_targets.voice.percent"),
        ({"voice": {"seconds": 20, "percent": 80, "goal": 1}}, "service_targets.voice.goal"),
        ({"voice": 20}, "service_targets.voice"),
        (["voice"], "service_targets"),
    ],
)
def test_bad_targets_are_refused_naming_the_field(client, session, admin, targets, field):
    response = _put_queue(client, admin, service_targets=targets)
    assert response.status_code == 400, response.json
    assert field in response.json["error"]["fields"], response.json
    assert response.json["error"]["message"] == "Some fields are invalid."
    assert session.scalars(sa.select(Queue)).all() == []


def test_an_unknown_channel_is_refused_with_the_channels_there_are(client, admin):
    fields = _put_queue(client, admin, service_targets={"fax": {"seconds": 9, "percent": 80}}).json[
        "error"
    ]["fields"]
    assert "'voice'" in fields["service_targets.fax.[key]"]
    assert "'webchat'" in fields["service_targets.fax.[key]"]


def test_only_admins_set_targets_and_only_in_their_own_city(
    client, session, city, other_city, supervisor
):
    assert _put_queue(client, supervisor, service_targets={}).status_code == 403
    _, theirs = make_agent(session, [other_city], role=Role.ADMIN)
    session.commit()
    response = client.put(
        f"/api/v1/routing/queues/water?jurisdiction={city.slug}",
        json={"name": "Water", "service_targets": {}},
        headers=_auth(theirs),
    )
    assert response.status_code == 404


def test_agents_do_not_see_the_targets(client, agent):
    assert client.get("/api/v1/routing/queues", headers=agent).status_code == 403


def _arrived(at: dt.datetime, queue: Queue, answered_after: int) -> WorkItem:
    return WorkItem(
        jurisdiction_id=queue.jurisdiction_id,
        kind=WorkKind.CALL,
        channel=Channel.VOICE,
        queue_id=queue.id,
        created_at=at,
        target_started_at=at,
        targets=[[queue.id, None]],
        state=WorkState.ASSIGNED,
        assigned_at=at + dt.timedelta(seconds=answered_after),
        first_assigned_at=at + dt.timedelta(seconds=answered_after),
    )


def test_a_changed_target_changes_the_service_level_once_the_rollups_are_rebuilt(
    client, session, city, admin
):
    _put_queue(client, admin)
    queue = session.scalars(sa.select(Queue)).one()
    noon = dt.datetime(2026, 4, 1, 12, tzinfo=ZoneInfo(city.timezone)).astimezone(dt.UTC)
    session.add_all([_arrived(noon, queue, 10), _arrived(noon, queue, 45)])
    session.commit()

    def service_level() -> float | None:
        session.expire_all()  # as in the fresh session of `performance rebuild`: queues reread
        rebuild_contact_rollups(session, city.id)
        session.commit()
        day = dt.date(2026, 4, 1)
        return contact_figures(session, city, start=day, end=day).totals.service_level

    assert service_level() == pytest.approx(0.5)  # the default: 20 s
    response = _put_queue(client, admin, service_targets={"voice": {"seconds": 60, "percent": 80}})
    assert response.status_code == 200
    assert service_level() == pytest.approx(1.0)


# --- Department heads ---------------------------------------------------------------------


def test_supervisors_list_their_citys_departments_with_their_heads(
    client, session, city, supervisor
):
    pw = session.scalars(
        sa.select(Department).where(Department.jurisdiction_id == city.id, Department.code == "PW")
    ).one()
    pw.head_email = "roads@city.example"
    session.commit()
    response = client.get("/api/v1/departments", headers=supervisor)
    assert response.status_code == 200
    assert response.json["jurisdiction"] == city.slug
    assert response.json["data"] == [
        {"code": "311", "name": "3-1-1", "is_default": True, "head_email": ""},
        {
            "code": "PW",
            "name": "Public Works",
            "is_default": False,
            "head_email": "roads@city.example",
        },
        {"code": "SAN", "name": "Sanitation", "is_default": False, "head_email": ""},
    ]


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_supervisors_and_admins_name_and_remove_a_head(client, session, city, role):
    _, token = make_agent(session, [city], role=role)
    session.commit()
    response = client.patch(
        "/api/v1/departments/PW", json={"head_email": "  Roads@City.Example "}, headers=_auth(token)
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["head_email"] == "roads@city.example"
    head = session.scalars(
        sa.select(Department.head_email).where(
            Department.jurisdiction_id == city.id, Department.code == "PW"
        )
    )
    assert head.one() == "roads@city.example"

    response = client.patch("/api/v1/departments/PW", json={"head_email": ""}, headers=_auth(token))
    assert response.json["data"]["head_email"] == ""


def test_agents_neither_see_nor_set_department_heads(client, agent):
    assert client.get("/api/v1/departments", headers=agent).status_code == 403
    response = client.patch("/api/v1/departments/PW", json={"head_email": ""}, headers=agent)
    assert response.status_code == 403


def test_another_citys_departments_are_not_found(client, session, city, other_city, supervisor):
    _, theirs = make_agent(session, [other_city], role=Role.SUPERVISOR)
    session.commit()
    them = _auth(theirs)
    listed = client.get("/api/v1/departments", headers=them).json
    assert listed["jurisdiction"] == other_city.slug
    assert (
        client.get(f"/api/v1/departments?jurisdiction={city.slug}", headers=them).status_code == 404
    )
    response = client.patch(
        f"/api/v1/departments/PW?jurisdiction={city.slug}",
        json={"head_email": "x@y.example"},
        headers=them,
    )
    assert response.status_code == 404
    assert (
        client.patch(
            "/api/v1/departments/NOPE", json={"head_email": ""}, headers=supervisor
        ).status_code
        == 404
    )
    assert (
        client.patch(
            "/api/v1/departments/" + "P" * 40, json={"head_email": ""}, headers=supervisor
        ).status_code
        == 404
    )
    assert (
        session.scalars(
            sa.select(Department.head_email).where(
                Department.jurisdiction_id == city.id, Department.code == "PW"
            )
        ).one()
        == ""
    )


@pytest.mark.parametrize(
    "body",
    [
        {"head_email": "roads"},
        {"head_email": "roads@city"},
        {"head_email": "roads@city.example, boss@city.example"},
        {"head_email": "Roads <roads@city.example>"},
        {"head_email": "roads@city.example\r\nBcc: all@city.example"},
        {"head_email": "two words@city.example"},
        {"head_email": "a@b@city.example"},
        {"head_email": "x" * 320 + "@city.example"},
        {"head_email": None},
        {"head_email": 7},
    ],
)
def test_what_is_not_one_email_address_is_refused(client, session, city, supervisor, body):
    response = client.patch("/api/v1/departments/PW", json=body, headers=supervisor)
    assert response.status_code == 400, response.json
    assert set(response.json["error"]["fields"]) == {"head_email"}, response.json
    if isinstance(body["head_email"], str) and len(body["head_email"]) <= 320:
        assert "not an email address" in response.json["error"]["fields"]["head_email"]


def test_other_department_fields_are_refused(client, supervisor):
    body = {"head_email": "roads@city.example", "name": "Roads"}
    response = client.patch("/api/v1/departments/PW", json=body, headers=supervisor)
    assert response.status_code == 400
    assert "name" in response.json["error"]["fields"]


def test_a_body_that_is_not_an_object_is_refused(client, supervisor):
    response = client.patch("/api/v1/departments/PW", data="nope", headers=supervisor)
    assert response.status_code == 400


def test_the_demo_gives_its_departments_heads_in_its_own_domain(session):
    credentials = seed_demo(session)
    session.commit()
    heads = dict(
        session.execute(
            sa.select(Department.code, Department.head_email)
            .join(Jurisdiction, Jurisdiction.id == Department.jurisdiction_id)
            .where(Jurisdiction.slug == credentials.jurisdiction)
        ).all()
    )
    assert heads["PW"] == "pw.head@demo-city.example"
    assert credentials.email not in heads.values()  # not back into the demo's own inbox
    assert all(heads.values())
