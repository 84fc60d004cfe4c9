"""5xx the API fuzzer (tests/test_api_fuzz.py) found, each pinned by a plain test."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.jurisdictions.models import Jurisdiction
from tests import factories

BEYOND_THE_DATABASE = 832899097396539509702653


@pytest.fixture
def admin_headers(session: Session, jurisdiction: Jurisdiction) -> dict[str, str]:
    _agent, token = factories.make_agent(session, [jurisdiction], role=Role.ADMIN)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", "/api/v1/agents/{id}/presence", None),
        ("put", "/api/v1/agents/{id}/presence", {"presence": "available"}),
        ("patch", "/api/v1/agents/{id}/routing", {"skills": ["french"]}),
        ("post", "/api/v1/work/{id}/complete", None),
        ("put", "/api/v1/residents/{id}/flags", {"flags": ["vulnerable"]}),
    ],
)
def test_an_id_too_large_for_the_database_is_not_found_rather_than_a_500(
    client: FlaskClient, admin_headers: dict[str, str], method: str, path: str, body: Any
) -> None:
    """These ids went to the database as they were (OverflowError on SQLite, out of range on
    PostgreSQL)."""
    response = client.open(
        path.format(id=BEYOND_THE_DATABASE), method=method, json=body, headers=admin_headers
    )
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"].endswith("_not_found")
