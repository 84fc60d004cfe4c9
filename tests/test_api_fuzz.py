"""The app's own OpenAPI description drives a property-based fuzzer (schemathesis) against the
staff API and the Open311 API, in-process (WSGI), with a real admin token and Open311 key:
whatever it sends, no answer is a 5xx.

Each operation gets a bounded, reproducible number of examples (derandomized Hypothesis), in
positive and negative modes. Generated ids and codes are mostly swapped for ones the seeded
city really has (chosen by a hash of the generated value, so runs stay reproducible), else
nearly every request would stop at "not found".
"""

from __future__ import annotations

import copy
import logging
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.cases.models import CaseStatus
from tests import factories

MAX_EXAMPLES = 15

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 311,
        "phases": {"coverage": {"enabled": False}, "stateful": {"enabled": False}},
        "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "deterministic": True},
    }
)

FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@dataclass
class FuzzCity:
    """What the fuzzer's requests point at: a seeded city and its admin's token."""

    token: str
    slug: str
    api_key: str
    ids: dict[str, list[int]] = field(default_factory=dict)
    codes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def fuzz_city(session: Session, send_sms: Callable[..., Any]) -> FuzzCity:
    from contactcenter.open311.clients import issue_key

    city = factories.make_jurisdiction(session, slug="springfield", sms_number="+16135550311")
    other = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    admin, token = factories.make_agent(session, [city], role=Role.ADMIN)
    stranger, _ = factories.make_agent(session, [other])
    queue = factories.make_queue(session, city)
    cases = [
        factories.make_case(session, city),
        factories.make_case(session, city, status=CaseStatus.OPEN),
        factories.make_case(session, city, status=CaseStatus.RESOLVED),
        factories.make_case(session, other),
    ]
    work = factories.make_work(session, city, queue, case=cases[0])
    _client, api_key = issue_key(session, city, name="fuzzer", requests_per_minute=100_000)
    session.commit()
    send_sms("There is a pothole in front of 12 Main St")  # a case with a resident
    ids = {
        "case_id": [c.id for c in cases] + [cases[-1].id + 1],
        "agent_id": [admin.id, stranger.id],
        "item_id": [work.id],
        "offer_id": [1],
        "incident_id": [1],
        "call_id": [1],
        "raw_id": [1],
        "resident_id": [1],
        "client_id": [_client.id],
    }
    codes = {
        "code": [queue.code, "pothole", "missed-pickup", "business-hours"],
        "service_code": ["pothole", "missed-pickup"],
        "service_request_id": [c.tracking_number for c in cases],
        "token": ["0" * 32],
    }
    return FuzzCity(token, city.slug, api_key, ids, codes)


def _pick(generated: Any, choices: list[Any]) -> Any:
    """A real value two times in three, chosen by the generated one (reproducible)."""
    digest = zlib.crc32(repr(generated).encode())
    if digest % 3 == 0 or not choices:
        return generated
    return choices[digest % len(choices)]


def _aim(case: Any, city: FuzzCity) -> None:
    """Point the case's ids, codes, jurisdiction and api_key at the seeded city's."""
    for name, value in list((case.path_parameters or {}).items()):
        choices = city.ids.get(name) or city.codes.get(name)
        if choices:
            case.path_parameters[name] = _pick(value, choices)
    query = case.query if isinstance(case.query, dict) else None
    if query is not None:
        for name in ("jurisdiction", "jurisdiction_id"):
            if name in query:
                query[name] = _pick(query[name], [city.slug])
    if isinstance(case.body, dict) and case.path.startswith("/open311/"):
        case.body["api_key"] = _pick(case.body.get("api_key"), [city.api_key])


def _published_description() -> dict[str, Any]:
    """The description as the app publishes it. Schemathesis makes one test per operation at
    collection time, before any fixture exists, so a throwaway app (same routes, a database it
    never opens) is built for it; the requests go to the suite's app."""
    from contactcenter.app import create_app
    from tests.conftest import make_settings

    document: dict[str, Any] = create_app(make_settings("sqlite://")).extensions["openapi"].document
    return copy.deepcopy(document)


DOCUMENT = _published_description()
DESCRIPTION = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)


def _documented_unavailable(case: Any, status: int) -> bool:
    """A 503 the operation documents: a feature city IT has not configured (the browser phone
    without its Twilio keys, say) answers so by design, with a message naming what to set."""
    responses = DOCUMENT["paths"][case.operation.path][case.method.lower()]["responses"]
    return status == 503 and "503" in responses


def _app_frames(traceback: str) -> str:
    """The traceback's frames in this project's code, and the exception: what a report needs."""
    lines = traceback.splitlines()
    kept = [
        f"{line.strip()}: {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
        for i, line in enumerate(lines)
        if line.strip().startswith('File "') and "site-packages" not in line
    ]
    return "\n".join([*kept, lines[-1] if lines else ""])


def _call_and_check(
    case: Any, app: Flask, city: FuzzCity, caplog: pytest.LogCaptureFixture
) -> None:
    _aim(case, city)
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        response = case.call(app=app, headers=city.headers)
    if _documented_unavailable(case, response.status_code):
        return
    if response.status_code >= 500:
        traceback = "\n".join(_app_frames(r.exc_text or r.getMessage()) for r in caplog.records)
        pytest.fail(
            f"{case.method} {case.formatted_path} -> {response.status_code}\n"
            f"query={case.query!r} body={case.body!r}\n{response.text[:500]}\n{traceback}"
        )
    case.validate_response(response, checks=[not_a_server_error])


staff_api = DESCRIPTION.include(path_regex=r"^/api/v1/")
open311_api = DESCRIPTION.include(path_regex=r"^/open311/v2/")


@staff_api.parametrize()
@FUZZ_SETTINGS
def test_staff_api_never_answers_5xx(
    case: Any, app: Flask, fuzz_city: FuzzCity, caplog: pytest.LogCaptureFixture
) -> None:
    _call_and_check(case, app, fuzz_city, caplog)


@open311_api.parametrize()
@FUZZ_SETTINGS
def test_open311_api_never_answers_5xx(
    case: Any, app: Flask, fuzz_city: FuzzCity, caplog: pytest.LogCaptureFixture
) -> None:
    _call_and_check(case, app, fuzz_city, caplog)


BEYOND_THE_DATABASE = 832899097396539509702653


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
    client: Any, fuzz_city: FuzzCity, method: str, path: str, body: Any
) -> None:
    """Found by the fuzzer: these ids went to the database as they were (OverflowError)."""
    response = client.open(
        path.format(id=BEYOND_THE_DATABASE), method=method, json=body, headers=fuzz_city.headers
    )
    assert response.status_code == 404, response.get_json()
    assert response.get_json()["error"]["code"].endswith("_not_found")
