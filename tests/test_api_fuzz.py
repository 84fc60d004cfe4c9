"""The app's own OpenAPI description drives a property-based fuzzer (schemathesis) against the
staff API and the Open311 API, in-process (WSGI), with a real admin token and Open311 key:
whatever it sends, no answer is a 5xx, and every answer has the media type and shape the
description gives it (so the description stays true).

Each operation gets schemathesis' coverage cases (each parameter's boundaries and wrong types)
and a bounded, reproducible number of fuzzed examples (derandomized Hypothesis), valid and
invalid. Generated ids and codes are mostly swapped for ones the seeded city really has (chosen
by a hash of the generated value, so runs stay reproducible), else nearly every request would
stop at "not found".
"""

from __future__ import annotations

import copy
import logging
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import schemathesis
import sqlalchemy as sa
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.app import create_app
from contactcenter.cases.models import CaseStatus
from contactcenter.db import Base, get_db
from contactcenter.messages import ContactKind
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.context import forget_contexts
from tests import factories
from tests.conftest import make_settings
from tests.twilio_http import CapturingHttpClient

MAX_EXAMPLES = 15

CONFIG = schemathesis.Config.from_dict(
    {
        "seed": 311,
        "phases": {
            # Every unlisted method answers 405 from the router alone: not worth 400 requests.
            "coverage": {"unexpected-methods": []},
            "stateful": {"enabled": False},
        },
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
    own_client_id: int
    ids: dict[str, list[int]] = field(default_factory=dict)
    codes: dict[str, list[str]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def fuzz_app(
    database_url: str, redis_url: str, twilio_http: CapturingHttpClient
) -> Iterator[Flask]:
    """The app the fuzzer calls, on the suite's database and Redis, for the whole module.

    Not the suite's ``app`` fixture on purpose: every test using that one has the tables
    emptied after it, and seeding then emptying around each of some 70 operations would cost
    the fuzzing most of its time on PostgreSQL. Its data lives for the module instead and is
    emptied once, at the end, the way tests/conftest.py empties it.
    """
    from contactcenter import realtime

    shared_server = realtime.socketio.server
    application = create_app(make_settings(database_url, redis_url), twilio_http_client=twilio_http)
    try:
        yield application
    finally:
        _empty(application)
        twilio_http.reset()  # what the fuzzer's replies sent is no later test's business
        get_db(application).engine.dispose()
        if application.extensions["jobs"].redis is not None:
            application.extensions["jobs"].redis.close()
        realtime.socketio.server = shared_server  # Socket.IO is one object for every app


def _empty(application: Flask) -> None:
    application.extensions["directory"].clear()
    forget_contexts()
    engine = get_db(application).engine
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))
    runner = application.extensions["jobs"]
    if runner.redis is not None:
        runner.redis.flushdb()


@pytest.fixture(scope="module")
def fuzz_city(fuzz_app: Flask) -> FuzzCity:
    """Two cities; the fuzzer is an admin of Springfield, which has cases (one of them a
    resident's), a queue with work, Open311 attributes and an Open311 client key."""
    session = get_db(fuzz_app).session()
    try:
        return _seed(session)
    finally:
        session.close()


def _seed(session: Session) -> FuzzCity:
    from contactcenter.open311.attributes import set_attributes
    from contactcenter.open311.clients import issue_key

    city = factories.make_jurisdiction(session, slug="springfield", sms_number="+16135550311")
    other = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    admin, token = factories.make_agent(session, [city], role=Role.ADMIN)
    stranger, _ = factories.make_agent(session, [other])
    queue = factories.make_queue(session, city)
    resident = Resident(jurisdiction_id=city.id, display_name="Pat Resident")
    session.add(resident)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=city.id,
            resident_id=resident.id,
            kind=ContactKind.PHONE,
            address="+16135550100",
        )
    )
    pothole = factories.service_type(session, city)
    cases = [
        factories.make_case(session, city, resident=resident, service_type=pothole),
        factories.make_case(session, city, status=CaseStatus.OPEN, service_type=pothole),
        factories.make_case(session, city, status=CaseStatus.RESOLVED),
        factories.make_case(session, other, service_type=factories.service_type(session, other)),
    ]
    work = factories.make_work(session, city, queue, case=cases[0])
    set_attributes(
        session,
        pothole,
        [
            {
                "code": "depth",
                "datatype": "singlevaluelist",
                "required": True,
                "description": "How deep is it?",
                "values": [{"key": "shallow", "name": "Shallow"}, {"key": "deep", "name": "Deep"}],
            }
        ],
    )
    _client, api_key = issue_key(session, city, name="fuzzer", requests_per_minute=100_000)
    # The fuzzer may revoke this one; the one it posts with stays valid.
    spare, _ = issue_key(session, city, name="spare")
    session.commit()
    ids = {
        "case_id": [c.id for c in cases] + [cases[-1].id + 1],
        "agent_id": [admin.id, stranger.id],
        "item_id": [work.id],
        "offer_id": [1],
        "incident_id": [1],
        "call_id": [1],
        "raw_id": [1],
        "resident_id": [resident.id],
        "client_id": [spare.id],
    }
    codes = {
        "queue": [queue.code],
        "calendar": ["business-hours"],
        "policy": ["standard"],
        "service_code": ["pothole", "missed-pickup"],
        "service_request_id": [c.tracking_number for c in cases],
        "token": ["0" * 32],
    }
    return FuzzCity(token, city.slug, api_key, _client.id, ids, codes)


def _pick(generated: Any, choices: list[Any]) -> Any:
    """A real value two times in three, chosen by the generated one (reproducible)."""
    digest = zlib.crc32(repr(generated).encode())
    if digest % 3 == 0 or not choices:
        return generated
    return choices[digest % len(choices)]


_CODE_KINDS = {"/queues/": "queue", "/calendars/": "calendar", "/sla-policies/": "policy"}


def _aim(case: Any, city: FuzzCity) -> None:
    """Point the case's ids, codes, jurisdiction and api_key at the seeded city's."""
    seed = repr((case.path_parameters, case.query, case.body))
    for name, value in list((case.path_parameters or {}).items()):
        if name == "code":
            kind = next((k for p, k in _CODE_KINDS.items() if p in case.path), "service_code")
            choices = city.codes[kind]
        else:
            choices = city.ids.get(name) or city.codes.get(name) or []
        case.path_parameters[name] = _pick(value, choices)
    if not case.path.startswith("/open311/"):
        if isinstance(case.query, dict) and "jurisdiction" in case.query:
            case.query["jurisdiction"] = _pick(case.query["jurisdiction"], [city.slug])
        return
    # Two jurisdictions share this deployment: Open311 needs jurisdiction_id (query or form).
    fields = case.body if isinstance(case.body, dict) else None
    if fields is None:
        if not isinstance(case.query, dict):
            case.query = {}
        fields = case.query
    _aim_field(fields, "jurisdiction_id", [city.slug], seed)
    if isinstance(case.body, dict):
        _aim_field(case.body, "api_key", [city.api_key], seed)
        _aim_field(case.body, "service_code", city.codes["service_code"], seed)


def _aim_field(fields: dict[str, Any], name: str, choices: list[Any], seed: str) -> None:
    """A real value for ``name`` two times in three; otherwise as generated (or left out)."""
    value = _pick(fields.get(name, seed), choices)
    if value is not seed:
        fields[name] = value


def _published_description() -> dict[str, Any]:
    """The description as the app publishes it. Schemathesis makes one test per operation at
    collection time, before any fixture exists, so a throwaway app (same routes, a database it
    never opens) is built for it; the requests go to the suite's app."""
    document: dict[str, Any] = create_app(make_settings("sqlite://")).extensions["openapi"].document
    return copy.deepcopy(document)


DOCUMENT = _published_description()
DESCRIPTION = schemathesis.openapi.from_dict(copy.deepcopy(DOCUMENT), config=CONFIG)


KNOWN_5XX: dict[tuple[str, str], str] = {}
"""Operations whose 5xx is already reported to their authors: the test is an expected failure
for them (and passes, as it should, once they are fixed)."""


def _documented_unavailable(case: Any, status: int) -> bool:
    """A 503 the operation documents: a feature city IT has not configured (the browser phone
    without its Twilio keys, say) answers so by design, with a message naming what to set."""
    operation = DOCUMENT["paths"][case.operation.path].get(case.method.lower(), {})
    return status == 503 and "503" in operation.get("responses", {})


def _app_frames(traceback: str) -> str:
    """The traceback's frames in this project's code, and the exception: what a report needs."""
    lines = traceback.splitlines()
    kept = [
        f"{line.strip()}: {lines[i + 1].strip() if i + 1 < len(lines) else ''}"
        for i, line in enumerate(lines)
        if line.strip().startswith('File "') and "site-packages" not in line
    ]
    errors = [line for line in lines if re.match(r"^[\w.]+(Error|Exception|Warning)\b", line)]
    return "\n".join([*kept, *(errors[-1:] or lines[-1:])])


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
        report = (
            f"{case.method} {case.formatted_path} -> {response.status_code}\n"
            f"query={case.query!r} body={case.body!r}\n{response.text[:500]}\n{traceback}"
        )
        known = KNOWN_5XX.get((case.method.upper(), case.operation.path))
        if known is not None:
            pytest.xfail(f"{known}\n{report}")
        pytest.fail(report)
    # And the answer is what the description says: its media type and, for JSON, its shape.
    case.validate_response(
        response,
        checks=[not_a_server_error, content_type_conformance, response_schema_conformance],
    )


staff_api = DESCRIPTION.include(path_regex=r"^/api/v1/")
open311_api = DESCRIPTION.include(path_regex=r"^/open311/v2/")


@staff_api.parametrize()
@FUZZ_SETTINGS
def test_staff_api_never_answers_5xx(
    case: Any, fuzz_app: Flask, fuzz_city: FuzzCity, caplog: pytest.LogCaptureFixture
) -> None:
    _call_and_check(case, fuzz_app, fuzz_city, caplog)


@pytest.fixture
def open311_key(fuzz_app: Flask, fuzz_city: FuzzCity) -> str:
    """The fuzzer's Open311 key, valid again if the staff API's fuzzing revoked it."""
    from contactcenter.open311.models import Open311Client

    with get_db(fuzz_app).session() as session:
        session.execute(
            sa.update(Open311Client)
            .where(Open311Client.id == fuzz_city.own_client_id)
            .values(revoked_at=None)
        )
        session.commit()
    return fuzz_city.api_key


if any(path.startswith("/open311/v2/") for path in DOCUMENT["paths"]):

    @open311_api.parametrize()
    @FUZZ_SETTINGS
    def test_open311_api_never_answers_5xx(
        case: Any,
        fuzz_app: Flask,
        fuzz_city: FuzzCity,
        open311_key: str,
        caplog: pytest.LogCaptureFixture,
    ) -> None:
        _call_and_check(case, fuzz_app, fuzz_city, caplog)

else:

    def test_open311_api_never_answers_5xx() -> None:
        pytest.skip("the Open311 routes are not registered in this build")
