"""The performance staff API's id filters: an id no database column can hold is a 400 naming
the parameter (PostgreSQL would refuse the query, a 500), and another city's queue, agent,
department or service type is a 404, as on the console and in the forecast API."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.jurisdictions.models import Department, ServiceType
from tests import factories

TOO_BIG = "999999999999999999"
"""18 digits: the routes' own length limit, and far above a 32-bit id."""
WEEK = {"from": "2026-11-02", "to": "2026-11-08"}


@dataclass
class Cities:
    token: str
    mine: dict[str, int]
    theirs: dict[str, int]


def _ids(session: Session, city: Any) -> dict[str, int]:
    agent, _ = factories.make_agent(session, [city])
    return {
        "queue": factories.make_queue(session, city, "phones", name=f"{city.name} Phones").id,
        "agent": agent.id,
        "department": session.scalars(
            sa.select(Department.id).where(Department.jurisdiction_id == city.id).limit(1)
        ).one(),
        "service_type": session.scalars(
            sa.select(ServiceType.id).where(ServiceType.jurisdiction_id == city.id).limit(1)
        ).one(),
    }


@pytest.fixture
def cities(session: Session) -> Cities:
    """Springfield's supervisor; a queue, agent, department and service type in Springfield
    and in Shelbyville."""
    city = factories.make_jurisdiction(session, slug="springfield")
    other = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    _boss, token = factories.make_agent(session, [city], role=Role.SUPERVISOR)
    mine, theirs = _ids(session, city), _ids(session, other)
    session.commit()
    return Cities(token, mine, theirs)


def _get(client: FlaskClient, route: str, token: str, **params: Any) -> Any:
    return client.get(
        f"/api/v1/performance/{route}",
        query_string={**WEEK, **params},
        headers={"Authorization": f"Bearer {token}"},
    )


ID_PARAMS = [
    ("dashboard", {}, "queue"),
    ("contacts", {}, "queue"),
    ("agents", {}, "agent"),
    *[
        ("cases", {"figure": figure}, name)
        for figure in ("opened", "offered", "callbacks")
        for name in ("queue", "department", "service_type", "agent")
    ],
]


@pytest.mark.parametrize(
    ("route", "params", "name", "value"),
    [
        *[(*p, TOO_BIG) for p in ID_PARAMS],
        ("dashboard", {}, "queue", "2147483648"),
        ("cases", {"figure": "opened"}, "agent", "2147483648"),
        ("agents", {}, "agent", "0"),
        ("cases", {"figure": "opened"}, "department", "0"),
    ],
)
def test_an_id_no_record_can_have_is_a_400_naming_the_parameter(
    client: FlaskClient,
    cities: Cities,
    route: str,
    params: dict[str, str],
    name: str,
    value: str,
) -> None:
    response = _get(client, route, cities.token, **params, **{name: value})
    assert response.status_code == 400, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert list(error["fields"]) == [name]
    assert name in error["message"]


@pytest.mark.parametrize("route", ["dashboard", "contacts"])
def test_a_list_with_one_id_out_of_range_is_a_400(
    client: FlaskClient, cities: Cities, route: str
) -> None:
    response = _get(client, route, cities.token, queue=f"{cities.mine['queue']},{TOO_BIG}")
    assert response.status_code == 400
    assert list(response.get_json()["error"]["fields"]) == ["queue"]


@pytest.mark.parametrize(("route", "params", "name"), ID_PARAMS)
def test_another_citys_record_is_not_found(
    client: FlaskClient,
    cities: Cities,
    route: str,
    params: dict[str, str],
    name: str,
) -> None:
    theirs = cities.theirs[name]
    response = _get(client, route, cities.token, **params, **{name: str(theirs)})
    assert response.status_code == 404, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == f"{name}_not_found"
    assert "Shelbyville" not in response.get_data(as_text=True)


@pytest.mark.parametrize("route", ["dashboard", "contacts"])
def test_one_foreign_queue_among_this_citys_is_not_found(
    client: FlaskClient, cities: Cities, route: str
) -> None:
    queues = f"{cities.mine['queue']},{cities.theirs['queue']}"
    response = _get(client, route, cities.token, queue=queues)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "queue_not_found"


def test_an_id_that_is_nobodys_is_not_found(client: FlaskClient, cities: Cities) -> None:
    response = _get(client, "agents", cities.token, agent="2147483647")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "agent_not_found"


@pytest.mark.parametrize(("route", "params", "name"), ID_PARAMS)
def test_this_citys_records_filter_the_figures(
    client: FlaskClient,
    cities: Cities,
    route: str,
    params: dict[str, str],
    name: str,
) -> None:
    response = _get(client, route, cities.token, **params, **{name: str(cities.mine[name])})
    assert response.status_code == 200, response.get_data(as_text=True)


@pytest.mark.parametrize("name", ["department", "service_type"])
def test_none_still_asks_for_cases_without_one(
    client: FlaskClient, cities: Cities, name: str
) -> None:
    response = _get(client, "cases", cities.token, figure="opened", **{name: "none"})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_all_the_drilldowns_filters_are_checked_in_one_query(
    client: FlaskClient, cities: Cities, count_queries: Any
) -> None:
    def drill(**filters: str) -> int:
        with count_queries() as counter:
            response = _get(client, "cases", cities.token, figure="opened", **filters)
        assert response.status_code == 200, response.get_data(as_text=True)
        return int(counter.count)

    unfiltered = drill()
    assert drill(**{name: str(value) for name, value in cities.mine.items()}) == unfiltered + 1


def test_too_many_ids_is_a_400(client: FlaskClient, cities: Cities) -> None:
    many = ",".join(str(i) for i in range(1, 502))
    response = _get(client, "dashboard", cities.token, queue=many)
    assert response.status_code == 400
    assert list(response.get_json()["error"]["fields"]) == ["queue"]
