"""The Open311 GeoReport v2 API, method by method, in both formats, against the spec.

JSON answers are validated against the shared JSON Schemas and XML answers are parsed with
lxml and compared with the spec's element lists and with responses recorded from real
servers (both from the shared test data when it is present).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from contactcenter.cases.models import Case, CaseStatus, DuplicateStatus
from contactcenter.cases.service import change_status
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.open311 import clients, queries
from contactcenter.open311.clients import issue_key
from contactcenter.open311.models import (
    AttributeDatatype,
    Open311Submission,
    ServiceAttribute,
    SubmissionState,
)
from tests import factories
from tests.conftest import TESTDATA

OPEN311_DATA = TESTDATA / "open311"
SCHEMAS = OPEN311_DATA / "schema"
RECORDED = OPEN311_DATA / "responses"

REQUEST_FIELDS = [
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
]
"""GET requests' response fields, in the spec's order."""
SERVICE_FIELDS = [
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
]
ATTRIBUTE_FIELDS = [
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
]
POST_ANSWER_FIELDS = ["service_request_id", "service_notice", "account_id"]
UPDATE_FIELDS = [
    "update_id",
    "service_request_id",
    "status",
    "updated_datetime",
    "description",
    "media_url",
    "external_status_code",
]


def test_field_lists_are_those_of_the_shared_georeport_swagger() -> None:
    path = SCHEMAS / "swagger.json"
    if not path.exists():
        pytest.skip(f"shared Open311 test data not found at {path}")
    definitions = json.loads(path.read_text())["definitions"]
    assert list(definitions["Request"]["properties"]) == REQUEST_FIELDS
    assert list(definitions["Service"]["properties"]) == SERVICE_FIELDS
    assert list(definitions["ServiceAttribute"]["properties"]) == ATTRIBUTE_FIELDS
    assert list(definitions["TokenResponse"]["properties"]) == ["service_request_id", "token"]
    assert set(definitions["RequestResponse"]["properties"]) >= set(POST_ANSWER_FIELDS)


# --- helpers ---------------------------------------------------------------------------


def get(client: FlaskClient, path: str, fmt: str = "json", **params: Any) -> TestResponse:
    return client.get(f"/open311/v2/{path}.{fmt}", query_string=params)


def xml_of(response: TestResponse) -> Any:
    assert response.content_type == "text/xml; charset=utf-8"
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return etree.fromstring(response.data)


def children(element: Any) -> list[str]:
    return [child.tag for child in element]


def assert_error(response: TestResponse, status: int, fmt: str, *, mentions: str = "") -> None:
    assert response.status_code == status, response.data
    if fmt == "json":
        assert response.content_type == "application/json; charset=utf-8"
        body = response.get_json()
        assert isinstance(body, list) and len(body) == 1
        assert body[0]["code"] == status
        description = body[0]["description"]
    else:
        root = xml_of(response)
        assert root.tag == "errors"
        assert children(root) == ["error"]
        assert children(root[0]) == ["code", "description"]
        assert root[0].findtext("code") == str(status)
        description = root[0].findtext("description")
    assert description
    assert mentions in description


def _validator(name: str) -> Any:
    jsonschema = pytest.importorskip("jsonschema")
    referencing = pytest.importorskip("referencing")
    from referencing.jsonschema import DRAFT7

    if not SCHEMAS.is_dir():
        pytest.skip(f"shared Open311 test data not found at {SCHEMAS}")
    resources = [
        (path.name, referencing.Resource.from_contents(json.loads(path.read_text()), DRAFT7))
        for path in SCHEMAS.glob("*.json")
        if path.name != "swagger.json"
    ]
    registry = referencing.Registry().with_resources(resources)
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft7Validator(
        schema, registry=registry, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


def assert_schema(body: Any, schema: str) -> None:
    errors = sorted(_validator(schema).iter_errors(body), key=str)
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]


def recorded(name: str) -> Any:
    path = RECORDED / name
    if not path.exists():
        pytest.skip(f"shared Open311 test data not found at {path}")
    return etree.fromstring(path.read_bytes())


# --- fixtures --------------------------------------------------------------------------


def add_attributes(session: Session, service: ServiceType) -> None:
    """One attribute of each of the spec's six datatypes, and an informational line."""
    session.add_all(
        [
            ServiceAttribute(
                service_type_id=service.id,
                code="size",
                order=1,
                datatype=AttributeDatatype.SINGLEVALUELIST,
                required=True,
                description="How big is it?",
                values=[{"key": "small", "name": "Small"}, {"key": "large", "name": "Large"}],
            ),
            ServiceAttribute(
                service_type_id=service.id,
                code="surface",
                order=2,
                datatype=AttributeDatatype.MULTIVALUELIST,
                description="Where is it?",
                values=[{"key": "road", "name": "Road"}, {"key": "bike", "name": "Bike lane"}],
            ),
            ServiceAttribute(
                service_type_id=service.id,
                code="note",
                order=3,
                datatype=AttributeDatatype.STRING,
                datatype_description="A few words",
            ),
            ServiceAttribute(
                service_type_id=service.id, code="details", order=4, datatype=AttributeDatatype.TEXT
            ),
            ServiceAttribute(
                service_type_id=service.id,
                code="depth_cm",
                order=5,
                datatype=AttributeDatatype.NUMBER,
            ),
            ServiceAttribute(
                service_type_id=service.id,
                code="seen_at",
                order=6,
                datatype=AttributeDatatype.DATETIME,
            ),
            ServiceAttribute(
                service_type_id=service.id,
                code="info",
                order=7,
                variable=False,
                datatype=AttributeDatatype.STRING,
                description="Crews fix these within a week.",
            ),
        ]
    )
    session.flush()


@pytest.fixture
def city(session: Session, jurisdiction: Jurisdiction) -> Jurisdiction:
    """The test city; its pothole service asks one attribute of each datatype."""
    add_attributes(session, factories.service_type(session, jurisdiction, "pothole"))
    session.commit()
    return jurisdiction


MakeCase = Callable[..., Case]


@pytest.fixture
def make_case(session: Session, city: Jurisdiction) -> MakeCase:
    """A committed case of the city: a pothole filed through Open311 by default (the only
    channel besides imports whose description is published), routed to its department."""

    def make(
        jurisdiction: Jurisdiction | None = None, service: str | None = "pothole", **fields: Any
    ) -> Case:
        where = jurisdiction or city
        service_type = factories.service_type(session, where, service) if service else None
        fields.setdefault("channel", Channel.OPEN311)
        case = factories.make_case(
            session,
            where,
            service_type=service_type,
            department=service_type.department if service_type else None,
            **fields,
        )
        session.commit()
        return case

    return make


# --- discovery -------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_discovery_names_the_georeport_v2_endpoint_and_its_formats(
    client: FlaskClient, city: Jurisdiction, fmt: str
) -> None:
    response = get(client, "discovery", fmt)
    assert response.status_code == 200
    if fmt == "json":
        body = response.get_json()
        assert list(body) == ["changeset", "contact", "key_service", "endpoints"]
        (endpoint,) = body["endpoints"]
        assert endpoint == {
            "specification": "http://wiki.open311.org/GeoReport_v2",
            "url": "https://311.city.example/open311/v2",
            "changeset": body["changeset"],
            "type": "production",
            "formats": ["text/xml", "application/json"],
        }
        assert dt.datetime.fromisoformat(body["changeset"]).tzinfo is not None
    else:
        root = xml_of(response)
        assert root.tag == "discovery"
        assert children(root) == ["changeset", "contact", "key_service", "endpoints"]
        endpoint = root.find("endpoints/endpoint")
        assert children(endpoint) == ["specification", "url", "changeset", "type", "formats"]
        assert [f.text for f in endpoint.find("formats")] == ["text/xml", "application/json"]
        assert endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"


def test_discovery_gives_the_jurisdictions_own_contact_when_set(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    city.settings = {
        "open311": {"contact": "open311@springfield.example", "key_service": "https://x.example"}
    }
    session.commit()
    body = get(client, "discovery").get_json()
    assert (body["contact"], body["key_service"]) == (
        "open311@springfield.example",
        "https://x.example",
    )


# --- GET services ----------------------------------------------------------------------


def test_services_json_lists_active_types_with_metadata_keywords_and_group(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    retired = factories.service_type(session, city, "missed-pickup")
    session.add(
        ServiceType(jurisdiction_id=city.id, code="old", name="Retired", active=False, group="X")
    )
    retired.open311_type = "batch"
    session.commit()

    response = get(client, "services")

    assert response.status_code == 200
    assert response.content_type == "application/json; charset=utf-8"
    body = response.get_json()
    assert_schema(body, "services.json")
    by_code = {s["service_code"]: s for s in body}
    assert set(by_code) == {"pothole", "missed-pickup"}
    assert list(by_code["pothole"]) == SERVICE_FIELDS
    assert by_code["pothole"]["metadata"] is True
    assert by_code["missed-pickup"]["metadata"] is False
    assert by_code["missed-pickup"]["type"] == "batch"
    assert by_code["pothole"]["keywords"] == "pothole, nid de poule, bache"
    assert by_code["pothole"]["group"] == "Streets"
    assert by_code["pothole"]["description"] == ""


def test_services_xml_has_the_spec_elements_and_those_of_a_real_server(
    client: FlaskClient, city: Jurisdiction
) -> None:
    root = xml_of(get(client, "services", "xml"))

    assert root.tag == "services"
    assert set(children(root)) == {"service"}
    pothole = next(s for s in root if s.findtext("service_code") == "pothole")
    assert children(pothole) == SERVICE_FIELDS
    assert pothole.findtext("metadata") == "true"
    assert pothole.find("description") is not None  # empty, not omitted
    real = recorded("ruby-open311-gem/services.xml")
    assert set(children(real[0])) == set(SERVICE_FIELDS)


def test_services_of_a_city_without_any_is_an_empty_list(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    session.execute(sa.update(ServiceType).values(active=False))
    session.commit()
    assert get(client, "services").get_json() == []
    root = xml_of(get(client, "services", "xml"))
    assert root.tag == "services" and len(root) == 0


# --- GET service definition ------------------------------------------------------------


def test_service_definition_json_gives_every_datatype_in_order(
    client: FlaskClient, city: Jurisdiction
) -> None:
    response = get(client, "services/pothole")

    assert response.status_code == 200
    body = response.get_json()
    assert_schema(body, "service-definition.json")
    assert body["service_code"] == "pothole"
    attributes = body["attributes"]
    assert [a["code"] for a in attributes] == [
        "size",
        "surface",
        "note",
        "details",
        "depth_cm",
        "seen_at",
        "info",
    ]
    assert {a["datatype"] for a in attributes} == {d.value for d in AttributeDatatype}
    assert all(list(a) == ATTRIBUTE_FIELDS for a in attributes)
    size = attributes[0]
    assert size["required"] is True and size["variable"] is True and size["order"] == 1
    assert size["values"] == [{"key": "small", "name": "Small"}, {"key": "large", "name": "Large"}]
    assert attributes[-1]["variable"] is False
    assert attributes[2]["datatype_description"] == "A few words"


def test_service_definition_xml_nests_attributes_and_values_as_the_spec(
    client: FlaskClient, city: Jurisdiction
) -> None:
    root = xml_of(get(client, "services/pothole", "xml"))

    assert root.tag == "service_definition"
    assert children(root) == ["service_code", "attributes"]
    attributes = root.find("attributes")
    assert set(children(attributes)) == {"attribute"}
    size = attributes[0]
    assert children(size) == ATTRIBUTE_FIELDS
    assert size.findtext("variable") == "true" and size.findtext("required") == "true"
    assert [(v.findtext("key"), v.findtext("name")) for v in size.find("values")] == [
        ("small", "Small"),
        ("large", "Large"),
    ]
    real = recorded("ruby-open311-gem/service_definition.xml")
    assert set(children(real.find("attribute"))) == set(ATTRIBUTE_FIELDS)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_service_definition_of_an_unknown_or_retired_code_is_404(
    client: FlaskClient, session: Session, city: Jurisdiction, fmt: str
) -> None:
    factories.service_type(session, city, "missed-pickup").active = False
    session.commit()
    assert_error(get(client, "services/nope", fmt), 404, fmt, mentions="nope")
    assert_error(get(client, "services/" + "pothole".ljust(64, "-") + "x", fmt), 404, fmt)
    assert_error(get(client, "services/missed-pickup", fmt), 404, fmt)


def test_service_definition_without_attributes_is_an_empty_list(
    client: FlaskClient, city: Jurisdiction
) -> None:
    body = get(client, "services/missed-pickup").get_json()
    assert body == {"service_code": "missed-pickup", "attributes": []}


# --- GET requests ----------------------------------------------------------------------


def test_requests_json_has_every_spec_field_and_validates(
    client: FlaskClient, make_case: MakeCase
) -> None:
    case = make_case(
        latitude=45.42,
        longitude=-75.69,
        address_text="12 Main St, Ottawa ON K1A 0B1",
        description="Deep pothole",
    )

    response = get(client, "requests")

    assert response.status_code == 200
    body = response.get_json()
    assert_schema(body, "requests.json")
    (request,) = body
    assert list(request) == REQUEST_FIELDS
    assert request["service_request_id"] == case.tracking_number
    assert request["status"] == "open"
    assert request["service_code"] == "pothole" and request["service_name"] == "Pothole"
    assert request["agency_responsible"] == "Public Works"
    assert request["description"] == "Deep pothole"
    assert request["address"] == "12 Main St, Ottawa ON K1A 0B1"
    assert request["zipcode"] == "K1A 0B1"
    assert (request["lat"], request["long"]) == (45.42, -75.69)
    assert request["media_url"] is None
    assert request["service_notice"]
    requested = dt.datetime.fromisoformat(request["requested_datetime"])
    assert requested.utcoffset() in {dt.timedelta(hours=-5), dt.timedelta(hours=-4)}  # Toronto
    assert requested == case.created_at.replace(microsecond=0)
    assert dt.datetime.fromisoformat(request["expected_datetime"]) == case.due_at.replace(
        microsecond=0
    )


def test_requests_xml_has_the_spec_elements_empty_rather_than_omitted(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    factories.make_case(
        session,
        city,
        service_type=factories.service_type(session, city, "pothole"),
        channel=Channel.OPEN311,
        description="",
        address_text="",
    )
    session.commit()

    root = xml_of(get(client, "requests", "xml"))

    assert root.tag == "service_requests"
    (request,) = root
    assert request.tag == "request"
    assert children(request) == REQUEST_FIELDS
    for empty in ("description", "agency_responsible", "lat", "long", "media_url", "address"):
        assert request.find(empty).text is None
    real = recorded("ruby-open311-gem/service_requests.xml")
    assert set(children(real[0])) == set(REQUEST_FIELDS)
    toronto = recorded("open311status/requests_single.xml")
    assert set(children(toronto[0])) == set(REQUEST_FIELDS)


def test_requests_map_the_lifecycle_to_open_and_closed(
    client: FlaskClient, make_case: MakeCase
) -> None:
    expected = {
        CaseStatus.NEW: "open",
        CaseStatus.OPEN: "open",
        CaseStatus.IN_PROGRESS: "open",
        CaseStatus.RESOLVED: "closed",
        CaseStatus.CLOSED: "closed",
    }
    ids = {make_case(status=status).tracking_number: wanted for status, wanted in expected.items()}

    body = get(client, "requests").get_json()
    assert {r["service_request_id"]: r["status"] for r in body} == ids

    open_ids = {r["service_request_id"] for r in get(client, "requests", status="open").get_json()}
    assert open_ids == {i for i, s in ids.items() if s == "open"}
    closed = get(client, "requests", "xml", status="closed")
    assert {r.findtext("service_request_id") for r in xml_of(closed)} == {
        i for i, s in ids.items() if s == "closed"
    }
    both = get(client, "requests", status="open,closed").get_json()
    assert len(both) == 5


def test_requests_default_to_the_last_90_days_newest_first(
    client: FlaskClient, make_case: MakeCase
) -> None:
    now = utcnow()
    recent = make_case(created_at=now - dt.timedelta(days=1))
    newest = make_case(created_at=now - dt.timedelta(minutes=5))
    old = make_case(created_at=now - dt.timedelta(days=91))

    ids = [r["service_request_id"] for r in get(client, "requests").get_json()]

    assert ids == [newest.tracking_number, recent.tracking_number]
    start = (now - dt.timedelta(days=100)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now - dt.timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = [
        r["service_request_id"]
        for r in get(client, "requests", start_date=start, end_date=end).get_json()
    ]
    assert ids == [old.tracking_number]


def test_one_date_makes_a_90_day_range_with_it(client: FlaskClient, make_case: MakeCase) -> None:
    now = utcnow()
    old = make_case(created_at=now - dt.timedelta(days=150))
    older = make_case(created_at=now - dt.timedelta(days=250))
    start = (now - dt.timedelta(days=160)).isoformat()
    assert [
        r["service_request_id"] for r in get(client, "requests", start_date=start).get_json()
    ] == [old.tracking_number]
    end = (now - dt.timedelta(days=200)).isoformat()
    assert [r["service_request_id"] for r in get(client, "requests", end_date=end).get_json()] == [
        older.tracking_number
    ]


def test_requests_filter_by_service_codes_comma_delimited_or_repeated(
    client: FlaskClient, make_case: MakeCase
) -> None:
    pothole = make_case(service="pothole")
    pickup = make_case(service="missed-pickup")
    make_case(service=None)

    def codes(**params: Any) -> set[str]:
        return {r["service_request_id"] for r in get(client, "requests", **params).get_json()}

    assert codes(service_code="pothole") == {pothole.tracking_number}
    both = {pothole.tracking_number, pickup.tracking_number}
    assert codes(service_code="pothole,missed-pickup") == both
    assert codes(service_code=["pothole", "missed-pickup"]) == both
    assert codes(service_code="unknown") == set()


def test_service_request_id_list_overrides_the_other_arguments(
    client: FlaskClient, make_case: MakeCase
) -> None:
    old = make_case(created_at=utcnow() - dt.timedelta(days=400), status=CaseStatus.CLOSED)
    recent = make_case()
    make_case()

    body = get(
        client,
        "requests",
        service_request_id=f"{old.tracking_number}, {recent.tracking_number},0000-0000",
        status="open",
        start_date="2001-01-01T00:00:00Z",
    ).get_json()

    assert [r["service_request_id"] for r in body] == [recent.tracking_number, old.tracking_number]


def test_paging_with_page_and_page_size(client: FlaskClient, make_case: MakeCase) -> None:
    now = utcnow()
    cases = [make_case(created_at=now - dt.timedelta(minutes=i)) for i in range(5)]
    ids = [c.tracking_number for c in cases]

    def page(**params: Any) -> list[str]:
        return [r["service_request_id"] for r in get(client, "requests", **params).get_json()]

    assert page(page_size=2) == ids[:2]
    assert page(page_size=2, page=2) == ids[2:4]
    assert page(page_size=2, page=3) == ids[4:]
    assert page(page_size=2, page=4) == []
    assert page(page=999999999999) == []
    assert page(page="1", page_size="1000") == ids


def test_at_most_1000_requests_by_default(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    now = utcnow()
    service = factories.service_type(session, city, "pothole")
    session.execute(
        sa.insert(Case),
        [
            {
                "jurisdiction_id": city.id,
                "tracking_number": f"T{i:06d}",
                "origin_channel": "open311",
                "service_type_id": service.id,
                "created_at": now - dt.timedelta(seconds=i),
                "updated_at": now,
            }
            for i in range(1003)
        ],
    )
    session.commit()

    body = get(client, "requests").get_json()

    assert len(body) == 1000
    assert body[0]["service_request_id"] == "T000000"
    assert len(get(client, "requests", page=2).get_json()) == 3


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize(
    ("params", "mentions"),
    [
        ({"start_date": "yesterday"}, "start_date"),
        ({"end_date": "2024-13-45T00:00:00Z"}, "end_date"),
        ({"start_date": "0001-01-01T00:00:00+05:00"}, "start_date"),
        ({"start_date": "99999-01-01"}, "start_date"),
        ({"start_date": "2024-03-01T00:00:00Z", "end_date": "2024-01-01T00:00:00Z"}, "end_date"),
        ({"start_date": "2024-01-01T00:00:00Z", "end_date": "2024-06-01T00:00:00Z"}, "90 days"),
        ({"status": "pending"}, "status"),
        ({"page": "0"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "abc"}, "page"),
        ({"page_size": "0"}, "page_size"),
        ({"page_size": "-1"}, "page_size"),
        ({"page_size": "abc"}, "page_size"),
        ({"page_size": "1001"}, "page_size"),
        ({"page_size": "\u0661\u0660"}, "page_size"),  # Arabic-Indic digits
        ({"page": "9" * 40}, "page"),
    ],
)
def test_bad_request_parameters_are_400_saying_which(
    client: FlaskClient, city: Jurisdiction, fmt: str, params: dict[str, str], mentions: str
) -> None:
    assert_error(get(client, "requests", fmt, **params), 400, fmt, mentions=mentions)


def test_w3c_dates_with_offsets_zones_and_plain_dates_are_understood(
    client: FlaskClient, make_case: MakeCase
) -> None:
    case = make_case(created_at=dt.datetime(2024, 5, 1, 16, 0, tzinfo=dt.UTC))

    def found(**params: str) -> bool:
        response = get(client, "requests", **params)
        assert response.status_code == 200, response.data
        return case.tracking_number in {r["service_request_id"] for r in response.get_json()}

    assert found(start_date="2024-05-01T15:00:00Z", end_date="2024-05-01T17:00:00Z")
    assert found(start_date="2024-05-01T11:30:00-04:00", end_date="2024-05-01T12:30:00-04:00")
    # A "+" sent unencoded in a URL arrives as a space.
    assert found(start_date="2024-05-01T16:30:00 01:00", end_date="2024-05-01T17:30:00 01:00")
    # No zone: the jurisdiction's (Toronto, 12:00 local is 16:00 UTC).
    assert found(start_date="2024-05-01T11:00:00", end_date="2024-05-01T13:00:00")
    assert found(start_date="2024-05-01", end_date="2024-05-02")
    assert not found(start_date="2024-05-01T12:30:00-04:00", end_date="2024-05-02")


def test_odd_query_strings_are_never_a_server_error(
    client: FlaskClient, make_case: MakeCase
) -> None:
    make_case()
    for query in (
        b"start_date=%ff%fe&status=%c3%28",
        b"service_code=%00%01&status=open&status=closed",
        b"page=1&page=abc&page_size=5&page_size=-3",
        b"service_request_id=" + b",".join([b"x"] * 1001),
        b"extensions=%ff&jurisdiction_id=",
        b"service_code=" + b"a" * 30000,
    ):
        for fmt in ("json", "xml"):
            response = client.get(f"/open311/v2/requests.{fmt}?{query.decode('latin-1')}")
            assert response.status_code in {200, 400}, (query, response.data)
            if fmt == "xml":
                xml_of(response)
            else:
                assert isinstance(response.get_json(), list)


def test_nul_characters_anywhere_are_400(
    client: FlaskClient, make_case: MakeCase, api_key: str
) -> None:
    for path in (
        "/open311/v2/requests/%00.json",
        "/open311/v2/services/a%00b.xml",
        "/open311/v2/tokens/%00.json",
        "/open311/v2/services.json?jurisdiction_id=%00",
        "/open311/v2/requests.xml?service_request_id=%00",
        "/open311/v2/servicerequestupdates.json?x%00=1",
    ):
        response = client.get(path)
        assert_error(response, 400, "xml" if ".xml" in path else "json", mentions="NUL")
    response = post(client, api_key=api_key, jurisdiction_id="\x00", **POTHOLE_FORM)
    assert_error(response, 400, "json", mentions="jurisdiction_id")


# --- GET request -----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_one_request_is_a_one_element_list(
    client: FlaskClient, make_case: MakeCase, fmt: str
) -> None:
    case = make_case(created_at=utcnow() - dt.timedelta(days=365))
    make_case()

    response = get(client, f"requests/{case.tracking_number}", fmt)

    assert response.status_code == 200
    if fmt == "json":
        body = response.get_json()
        assert_schema(body, "requests.json")
        assert [r["service_request_id"] for r in body] == [case.tracking_number]
    else:
        root = xml_of(response)
        assert root.tag == "service_requests"
        assert [r.findtext("service_request_id") for r in root] == [case.tracking_number]
        assert children(root[0]) == REQUEST_FIELDS


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_request_is_404(client: FlaskClient, city: Jurisdiction, fmt: str) -> None:
    assert_error(get(client, "requests/1234-5678", fmt), 404, fmt, mentions="1234-5678")
    assert_error(get(client, "requests/" + "9" * 5000, fmt), 404, fmt)
    assert_error(get(client, "requests", fmt, jurisdiction_id="s" * 5000), 404, fmt)
    real = recorded("ruby-open311-gem/get_service_request_not_found.xml")
    assert real.tag == "errors" and children(real[0]) == ["code", "description"]


# --- extensions ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_extensions_add_attributes_channel_district_and_the_confirmed_original(
    client: FlaskClient, session: Session, make_case: MakeCase, fmt: str
) -> None:
    original = make_case()
    case = make_case(
        channel=Channel.SMS,
        district="Ward 3",
        attributes={"size": "large", "surface": ["road", "bike"], "note": "call 613-555-0199"},
        duplicate_of_id=original.id,
        duplicate_status=DuplicateStatus.CONFIRMED,
        status=CaseStatus.CLOSED,
    )

    plain = get(client, f"requests/{case.tracking_number}", fmt)
    extended = get(client, f"requests/{case.tracking_number}", fmt, extensions="true")

    if fmt == "json":
        assert "extended_attributes" not in plain.get_json()[0]
        (request,) = extended.get_json()
        assert_schema([request], "requests.json")
        assert request["status_notes"] == "Duplicate request."
        assert request["extended_attributes"] == {
            "channel": "sms",
            "district": "Ward 3",
            "duplicate_of": original.tracking_number,
            "attributes": [
                {"code": "note", "value": "call [redacted]"},
                {"code": "size", "value": "large"},
                {"code": "surface", "value": ["road", "bike"]},
            ],
        }
    else:
        assert xml_of(plain)[0].find("extended_attributes") is None
        request = xml_of(extended)[0]
        assert children(request) == [*REQUEST_FIELDS, "extended_attributes"]
        extra = request.find("extended_attributes")
        assert extra.findtext("channel") == "sms"
        assert extra.findtext("duplicate_of") == original.tracking_number
        surface = [
            a for a in extra.findall("attributes/attribute") if a.findtext("code") == "surface"
        ]
        assert [v.text for v in surface[0].findall("value")] == ["road", "bike"]


# --- jurisdictions ---------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_request_of_one_jurisdiction_is_invisible_through_another(
    client: FlaskClient, make_case: MakeCase, city: Jurisdiction, other_city: Jurisdiction, fmt: str
) -> None:
    ours = make_case()
    theirs = make_case(jurisdiction=other_city)

    def listed(slug: str, **params: str) -> set[str]:
        response = get(client, "requests", fmt, jurisdiction_id=slug, **params)
        assert response.status_code == 200
        if fmt == "json":
            return {r["service_request_id"] for r in response.get_json()}
        return {r.findtext("service_request_id") for r in xml_of(response)}

    assert listed(city.slug) == {ours.tracking_number}
    assert listed(other_city.slug) == {theirs.tracking_number}
    assert listed(other_city.slug, service_request_id=ours.tracking_number) == set()
    assert_error(
        get(client, f"requests/{ours.tracking_number}", fmt, jurisdiction_id=other_city.slug),
        404,
        fmt,
    )
    assert (
        get(client, f"requests/{ours.tracking_number}", fmt, jurisdiction_id=city.slug).status_code
        == 200
    )


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_jurisdiction_id_is_required_where_several_are_served(
    client: FlaskClient, city: Jurisdiction, other_city: Jurisdiction, fmt: str
) -> None:
    for path in ("services", "services/pothole", "requests", "servicerequestupdates"):
        assert_error(get(client, path, fmt), 400, fmt, mentions="jurisdiction_id")
        assert_error(
            get(client, path, fmt, jurisdiction_id="atlantis"), 404, fmt, mentions="atlantis"
        )
    assert get(client, "services", fmt, jurisdiction_id=city.slug).status_code == 200
    assert get(client, "discovery", fmt).status_code == 200


def test_services_of_one_jurisdiction_are_not_those_of_another(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    session.add(ServiceType(jurisdiction_id=other_city.id, code="snow", name="Snow removal"))
    session.commit()
    ours = {
        s["service_code"] for s in get(client, "services", jurisdiction_id=city.slug).get_json()
    }
    assert "snow" not in ours
    assert get(client, "services/snow", jurisdiction_id=city.slug).status_code == 404
    assert get(client, "services/snow", jurisdiction_id=other_city.slug).status_code == 200


# --- privacy ---------------------------------------------------------------------------


PERSONAL = ["Jo Resident", "Resident", "555-123-4567", "5551234567", "jo@example.com", "Agent"]


def test_no_personal_data_in_any_response_in_either_format(
    client: FlaskClient, session: Session, make_case: MakeCase, city: Jurisdiction
) -> None:
    from contactcenter.messages import ContactKind
    from contactcenter.residents.models import ContactPoint, Resident

    resident = Resident(jurisdiction_id=city.id, display_name="Jo Resident")
    session.add(resident)
    session.flush()
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=city.id,
                resident_id=resident.id,
                kind=ContactKind.PHONE,
                address="+15551234567",
            ),
            ContactPoint(
                jurisdiction_id=city.id,
                resident_id=resident.id,
                kind=ContactKind.EMAIL,
                address="jo@example.com",
            ),
        ]
    )
    agent, _ = factories.make_agent(session, [city], name="Agent Smith")
    case = make_case(
        resident=resident,
        description="Pothole; call me at 555-123-4567 or jo@example.com",
        attributes={"note": "my email is jo@example.com", "size": "large"},
        assigned_agent_id=agent.id,
    )
    change_status(
        session, case, CaseStatus.IN_PROGRESS, agent=agent, note="Called Jo at 555-123-4567"
    )
    session.commit()

    for fmt in ("json", "xml"):
        for path, params in (
            ("requests", {}),
            ("requests", {"extensions": "true"}),
            (f"requests/{case.tracking_number}", {"extensions": "true"}),
            ("servicerequestupdates", {}),
        ):
            response = get(client, path, fmt, **params)
            assert response.status_code == 200
            text = response.get_data(as_text=True)
            assert case.tracking_number in text
            for secret in PERSONAL:
                assert secret not in text, (path, fmt, secret)
            assert "Called" not in text
    body = get(client, "requests").get_json()
    assert body[0]["description"] == "Pothole; call me at [redacted] or [redacted]"


def test_media_only_when_staff_published_it(
    client: FlaskClient, session: Session, make_case: MakeCase
) -> None:
    from contactcenter.cases.models import DeliveryStatus, Interaction
    from contactcenter.messages import Channel, Direction

    case = make_case()
    session.add(
        Interaction(
            jurisdiction_id=case.jurisdiction_id,
            case_id=case.id,
            channel=Channel.SMS,
            direction=Direction.INBOUND,
            body="photo",
            media_urls=["https://api.twilio.com/private/photo.jpg"],
            delivery_status=DeliveryStatus.RECEIVED,
        )
    )
    session.commit()
    assert get(client, "requests").get_json()[0]["media_url"] is None
    assert "twilio" not in get(client, "requests", "xml").get_data(as_text=True)

    case.public_media_url = "https://city.example/photos/1.jpg"
    session.commit()
    assert get(client, "requests").get_json()[0]["media_url"] == "https://city.example/photos/1.jpg"
    request = xml_of(get(client, "requests", "xml"))[0]
    assert request.findtext("media_url") == "https://city.example/photos/1.jpg"


def test_xml_escapes_markup_and_drops_characters_xml_cannot_carry(
    client: FlaskClient, make_case: MakeCase
) -> None:
    make_case(description='<script>alert("x")</script> & \x01\x0b café 🚧 ]]>')

    request = xml_of(get(client, "requests", "xml"))[0]

    assert request.findtext("description") == '<script>alert("x")</script> &  café 🚧 ]]>'
    assert get(client, "requests").get_json()[0]["description"].startswith("<script>")


# --- tokens ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_token_gives_an_empty_id_until_processed_then_the_request_id(
    client: FlaskClient, session: Session, make_case: MakeCase, city: Jurisdiction, fmt: str
) -> None:
    submission = Open311Submission(jurisdiction_id=city.id, token="tok-123")
    session.add(submission)
    session.commit()

    def lookup() -> tuple[str | None, str | None]:
        response = get(client, "tokens/tok-123", fmt)
        assert response.status_code == 200
        if fmt == "json":
            (item,) = response.get_json()
            assert list(item) == ["service_request_id", "token"]
            return item["service_request_id"], item["token"]
        root = xml_of(response)
        assert root.tag == "service_requests" and children(root) == ["request"]
        assert children(root[0]) == ["service_request_id", "token"]
        return root[0].findtext("service_request_id"), root[0].findtext("token")

    pending_id, token = lookup()
    assert not pending_id and token == "tok-123"
    case = make_case()
    submission.case_id = case.id
    submission.state = SubmissionState.DONE
    session.commit()
    assert lookup() == (case.tracking_number, "tok-123")
    real = recorded("ruby-open311-gem/request_id_from_token.xml")
    assert children(real[0]) == ["service_request_id", "token"]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_unknown_token_or_another_jurisdictions_is_404(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction, fmt: str
) -> None:
    session.add(Open311Submission(jurisdiction_id=other_city.id, token="theirs"))
    session.commit()
    assert_error(get(client, "tokens/nope", fmt, jurisdiction_id=city.slug), 404, fmt)
    assert_error(get(client, "tokens/theirs", fmt, jurisdiction_id=city.slug), 404, fmt)
    assert get(client, "tokens/theirs", fmt, jurisdiction_id=other_city.slug).status_code == 200


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_failed_submissions_token_is_404_saying_it_could_not_be_filed_and_why(
    client: FlaskClient, session: Session, city: Jurisdiction, fmt: str
) -> None:
    session.add(
        Open311Submission(
            jurisdiction_id=city.id,
            token="tok-failed",
            state=SubmissionState.FAILED,
            error="No service 'retired' here.",
        )
    )
    session.commit()

    assert_error(
        get(client, "tokens/tok-failed", fmt),
        404,
        fmt,
        mentions="The request for this token could not be filed: No service 'retired' here.",
    )


# --- POST requests ---------------------------------------------------------------------


def post(client: FlaskClient, fmt: str = "json", **form: Any) -> TestResponse:
    return client.post(f"/open311/v2/requests.{fmt}", data=form)


@pytest.fixture
def api_key(session: Session, city: Jurisdiction) -> str:
    _, key = issue_key(session, city, name="Civic app", requests_per_minute=1000)
    session.commit()
    return key


POTHOLE_FORM = {
    "service_code": "pothole",
    "lat": "45.4215",
    "long": "-75.6972",
    "description": "Huge pothole, call me at 555-123-4567",
    "first_name": "Jo",
    "last_name": "Resident",
    "email": "jo@example.com",
    "phone": "+1 613 555 0123",
    "attribute[size]": "large",
    "attribute[surface][]": ["road", "bike"],
    "attribute[depth_cm]": "12",
    "account_id": "acct-9",
}


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_realtime_answers_with_the_request_id(
    client: FlaskClient, session: Session, api_key: str, fmt: str
) -> None:
    response = post(client, fmt, api_key=api_key, **POTHOLE_FORM)

    assert response.status_code == 200, response.data
    if fmt == "json":
        (answer,) = response.get_json()
        assert list(answer) == POST_ANSWER_FIELDS
        tracking = answer["service_request_id"]
        assert answer["account_id"] == "acct-9"
    else:
        root = xml_of(response)
        assert root.tag == "service_requests"
        assert children(root[0]) == POST_ANSWER_FIELDS
        tracking = root[0].findtext("service_request_id")
        real = recorded("ruby-open311-gem/post_service_request.xml")
        assert children(real[0]) == children(root[0])
    case = session.scalars(sa.select(Case).where(Case.tracking_number == tracking)).one()
    assert case.origin_channel == "open311"
    assert case.attributes["surface"] == ["road", "bike"]


def test_round_trip_post_token_request_list(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    api_key: str,
    run_jobs: Callable[[], None],
) -> None:
    factories.service_type(session, city, "pothole").open311_type = "batch"
    session.commit()

    response = post(client, "xml", api_key=api_key, **POTHOLE_FORM)

    assert response.status_code == 200, response.data
    answer = xml_of(response)[0]
    assert answer.find("service_request_id") is None
    token = answer.findtext("token")
    assert token
    run_jobs()
    (by_token,) = get(client, f"tokens/{token}").get_json()
    tracking = by_token["service_request_id"]
    assert tracking and by_token["token"] == token

    (one,) = get(client, f"requests/{tracking}").get_json()
    assert one["service_code"] == "pothole" and one["status"] == "open"
    assert one["description"] == "Huge pothole, call me at [redacted]"
    assert (one["lat"], one["long"]) == (45.4215, -75.6972)
    listed = get(client, "requests", "xml", service_code="pothole")
    assert tracking in {r.findtext("service_request_id") for r in xml_of(listed)}
    for fmt in ("json", "xml"):
        text = get(client, "requests", fmt, extensions="true").get_data(as_text=True)
        for secret in ("Resident", "jo@example.com", "555 0123", "acct-9", "Civic app"):
            assert secret not in text


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_post_errors_in_the_open311_format(
    client: FlaskClient, session: Session, city: Jurisdiction, api_key: str, fmt: str
) -> None:
    assert_error(post(client, fmt, **POTHOLE_FORM), 403, fmt)
    assert_error(post(client, fmt, api_key="o311_wrong", **POTHOLE_FORM), 403, fmt)
    unknown = {**POTHOLE_FORM, "service_code": "nope"}
    assert_error(post(client, fmt, api_key=api_key, **unknown), 404, fmt)
    no_size = {k: v for k, v in POTHOLE_FORM.items() if k != "attribute[size]"}
    assert_error(post(client, fmt, api_key=api_key, **no_size), 400, fmt, mentions="size")
    bad_lat = {**POTHOLE_FORM, "lat": "north"}
    assert_error(post(client, fmt, api_key=api_key, **bad_lat), 400, fmt, mentions="lat")
    assert session.scalar(sa.select(sa.func.count(Case.id))) == 0


def test_post_with_another_jurisdictions_key_is_403(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    _, their_key = issue_key(session, other_city, name="Their app")
    session.commit()
    response = post(client, api_key=their_key, jurisdiction_id=city.slug, **POTHOLE_FORM)
    assert_error(response, 403, "json")


def test_post_over_the_keys_rate_is_429_with_retry_after(
    client: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    _, key = issue_key(session, city, name="Slow app", requests_per_minute=1)
    session.commit()
    assert post(client, api_key=key, **POTHOLE_FORM).status_code == 200
    response = post(client, "xml", api_key=key, **POTHOLE_FORM)
    assert_error(response, 429, "xml")
    assert int(response.headers["Retry-After"]) >= 1


def test_post_accepts_multipart_forms(client: FlaskClient, session: Session, api_key: str) -> None:
    response = client.post(
        "/open311/v2/requests.json",
        data={**POTHOLE_FORM, "api_key": api_key},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.data


def test_post_of_a_blackbox_service_answers_without_an_id(
    client: FlaskClient, session: Session, city: Jurisdiction, api_key: str
) -> None:
    factories.service_type(session, city, "missed-pickup").open311_type = "blackbox"
    session.commit()
    form = {"service_code": "missed-pickup", "address_string": "12 Main St", "api_key": api_key}
    (answer,) = post(client, **form).get_json()
    assert "service_request_id" not in answer and "token" not in answer


# --- servicerequestupdates -------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_servicerequestupdates_publishes_status_changes_without_notes(
    app: Flask, client: FlaskClient, session: Session, make_case: MakeCase, fmt: str
) -> None:
    case = make_case()
    with app.app_context():  # resolving tells the resident
        change_status(session, case, CaseStatus.IN_PROGRESS, agent=None, note="crew sent, secret")
        change_status(session, case, CaseStatus.RESOLVED, agent=None, note="internal: filled")
        session.commit()

    response = get(client, "servicerequestupdates", fmt)

    assert response.status_code == 200
    assert "secret" not in response.get_data(as_text=True)
    assert "internal" not in response.get_data(as_text=True)
    if fmt == "json":
        updates = response.get_json()
        assert all(list(u) == UPDATE_FIELDS for u in updates)
    else:
        root = xml_of(response)
        assert root.tag == "service_requests_updates"
        assert set(children(root)) == {"request_update"}
        assert all(children(u) == UPDATE_FIELDS for u in root)
        updates = [{child.tag: child.text for child in u} for u in root]
    assert [(u["service_request_id"], u["status"], u["external_status_code"]) for u in updates] == [
        (case.tracking_number, "in_progress", "in_progress"),
        (case.tracking_number, "fixed", "resolved"),
    ]
    assert updates[0]["update_id"] != updates[1]["update_id"]
    assert all(dt.datetime.fromisoformat(u["updated_datetime"]).tzinfo for u in updates)


def test_servicerequestupdates_window_paging_and_jurisdiction(
    app: Flask,
    client: FlaskClient,
    session: Session,
    make_case: MakeCase,
    city: Jurisdiction,
    other_city: Jurisdiction,
) -> None:
    ours = make_case()
    theirs = make_case(jurisdiction=other_city)
    with app.app_context():  # closing tells the resident
        for case in (ours, theirs):
            change_status(session, case, CaseStatus.OPEN, agent=None)
        change_status(session, ours, CaseStatus.CLOSED, agent=None)
        session.commit()

    updates = get(client, "servicerequestupdates", jurisdiction_id=city.slug).get_json()
    assert {u["service_request_id"] for u in updates} == {ours.tracking_number}
    assert len(updates) == 2
    first = get(
        client, "servicerequestupdates", jurisdiction_id=city.slug, page_size=1, page=1
    ).get_json()
    second = get(
        client, "servicerequestupdates", jurisdiction_id=city.slug, page_size=1, page=2
    ).get_json()
    assert [first[0]["update_id"], second[0]["update_id"]] == [u["update_id"] for u in updates]
    past = get(
        client,
        "servicerequestupdates",
        jurisdiction_id=city.slug,
        start_date="2020-01-01T00:00:00Z",
        end_date="2020-02-01T00:00:00Z",
    ).get_json()
    assert past == []
    assert_error(
        get(client, "servicerequestupdates", "xml", jurisdiction_id=city.slug, start_date="x"),
        400,
        "xml",
    )


# --- formats, methods, headers ---------------------------------------------------------


def test_unknown_formats_and_paths_are_404_in_the_error_format(
    client: FlaskClient, make_case: MakeCase
) -> None:
    case = make_case()
    for path in (
        "/open311/v2/services.yaml",
        "/open311/v2/services/pothole.html",
        f"/open311/v2/requests/{case.tracking_number}.csv",
        "/open311/v2/tokens/x.txt",
        "/open311/v2/discovery.",
        "/open311/v2/services",
        "/open311/v2/nothing/here.json",
    ):
        response = client.get(path)
        assert_error(response, 404, "json" if path.endswith(".json") else "xml")


def test_other_methods_are_405_in_the_error_format(client: FlaskClient, city: Jurisdiction) -> None:
    assert_error(client.post("/open311/v2/services.json"), 405, "json")
    assert_error(client.delete("/open311/v2/requests.xml"), 405, "xml")
    assert_error(client.put("/open311/v2/requests/1234-5678.json"), 405, "json")


def test_head_options_and_oversized_posts_are_answered_cleanly(
    client: FlaskClient, city: Jurisdiction, api_key: str
) -> None:
    head = client.head("/open311/v2/services.json")
    assert head.status_code == 200 and head.headers["Access-Control-Allow-Origin"] == "*"
    assert client.options("/open311/v2/requests.json").status_code == 200
    huge = {**POTHOLE_FORM, "api_key": api_key, "description": "x" * 200_000}
    assert_error(post(client, "xml", **huge), 413, "xml")


def test_get_responses_are_open_to_any_origin_and_set_no_cookie(
    client: FlaskClient, make_case: MakeCase
) -> None:
    case = make_case()
    for path in ("services", "services/pothole", "requests", f"requests/{case.tracking_number}"):
        for fmt in ("json", "xml"):
            response = client.get(
                f"/open311/v2/{path}.{fmt}", headers={"Origin": "https://civic.example"}
            )
            assert response.status_code == 200
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "Set-Cookie" not in response.headers
            assert "Access-Control-Allow-Credentials" not in response.headers


def test_descriptions_are_cut_to_the_specs_4000_characters(
    client: FlaskClient, make_case: MakeCase
) -> None:
    make_case(description="x" * 9000)
    body = get(client, "requests").get_json()
    assert body[0]["description"] == "x" * 4000
    assert_schema(body, "requests.json")


def test_errors_and_requests_are_utf8(client: FlaskClient, make_case: MakeCase) -> None:
    make_case(description="Nid-de-poule près du café — 🚧")
    assert "café — 🚧" in get(client, "requests").data.decode("utf-8")
    assert "café — 🚧".encode() in get(client, "requests", "xml").data


# --- query budget ----------------------------------------------------------------------


def test_a_page_costs_the_same_queries_for_1_or_50_requests(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    make_case: MakeCase,
    count_queries: Callable[[], Any],
) -> None:
    original = make_case()

    def measure() -> int:
        with count_queries() as counter:
            response = get(client, "requests", extensions="true")
            assert response.status_code == 200
        return int(counter.count)

    make_case(duplicate_of_id=original.id, duplicate_status=DuplicateStatus.CONFIRMED)
    one = measure()
    for i in range(50):
        make_case(
            service=("pothole", "missed-pickup")[i % 2],
            channel=(Channel.OPEN311, Channel.SMS, Channel.OTHER)[i % 3],
            duplicate_of_id=original.id if i % 5 == 0 else None,
            duplicate_status=DuplicateStatus.CONFIRMED if i % 5 == 0 else None,
        )
    fifty = measure()

    assert len(get(client, "requests").get_json()) == 52
    assert one == fifty
    assert fifty <= 6


# --- what is published -------------------------------------------------------------------

PRIVATE_WORDS = "Flat 4B, Ana Lima says the pothole outside is deep"


def _every_answer(client: FlaskClient, tracking: str) -> list[str]:
    """The case's tracking number asked every way a client can: list and single, both
    formats, with and without extensions."""
    answers = []
    for fmt in ("json", "xml"):
        for extra in ({}, {"extensions": "true"}):
            answers.append(get(client, "requests", fmt, **extra).get_data(as_text=True))
            answers.append(get(client, f"requests/{tracking}", fmt, **extra).get_data(as_text=True))
            answers.append(
                get(client, "requests", fmt, service_request_id=tracking, **extra).get_data(
                    as_text=True
                )
            )
    return answers


@pytest.mark.parametrize(
    "channel", [Channel.SMS, Channel.EMAIL, Channel.WEBCHAT, Channel.VOICE, Channel.WALK_IN]
)
def test_a_description_from_a_residents_own_channel_is_never_published(
    client: FlaskClient, make_case: MakeCase, channel: Channel
) -> None:
    case = make_case(channel=channel, description=PRIVATE_WORDS)

    answers = _every_answer(client, case.tracking_number)

    assert all(case.tracking_number in answer for answer in answers)  # the request is public
    assert not any("Ana Lima" in answer or "Flat 4B" in answer for answer in answers)
    (request,) = get(client, f"requests/{case.tracking_number}").get_json()
    assert request["description"] == ""


def test_descriptions_filed_through_open311_or_imported_are_published_masked(
    client: FlaskClient, make_case: MakeCase
) -> None:
    filed = make_case(channel=Channel.OPEN311, description="Deep pothole, call 613-555-0199")
    imported = make_case(
        channel=Channel.OTHER, source_key="NYC-123", description="Pothole, jo@example.com"
    )

    shown = {r["service_request_id"]: r["description"] for r in get(client, "requests").get_json()}

    assert shown[filed.tracking_number] == "Deep pothole, call [redacted]"
    assert shown[imported.tracking_number] == "Pothole, [redacted]"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_case_without_a_service_type_is_not_published(
    client: FlaskClient, session: Session, make_case: MakeCase, fmt: str
) -> None:
    case = make_case(service=None, channel=Channel.OPEN311)
    change_status(session, case, CaseStatus.OPEN, agent=None)
    session.commit()

    listed = get(client, "requests", fmt).get_data(as_text=True)
    by_id = get(client, "requests", fmt, service_request_id=case.tracking_number)
    updates = get(client, "servicerequestupdates", fmt).get_data(as_text=True)

    assert case.tracking_number not in listed
    assert case.tracking_number not in by_id.get_data(as_text=True)
    assert case.tracking_number not in updates
    assert_error(get(client, f"requests/{case.tracking_number}", fmt), 404, fmt)


@pytest.mark.parametrize("path", ["requests", "servicerequestupdates"])
@pytest.mark.parametrize(
    "dates",
    [
        {"start_date": "9999-12-31"},
        {"end_date": "0001-01-01"},
        {"start_date": "0001-01-01T00:00:00+14:00"},
        {"end_date": "9999-12-31T23:59:59-12:00"},
        {"start_date": "1899-12-31", "end_date": "1900-01-02"},
    ],
)
def test_dates_at_the_ends_of_the_calendar_are_a_clear_400(
    client: FlaskClient, make_case: MakeCase, path: str, dates: dict[str, str]
) -> None:
    for fmt in ("json", "xml"):
        assert_error(get(client, path, fmt, **dates), 400, fmt, mentions="from 1900 to 2200")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_servicerequestupdates_refuses_to_cut_a_window_without_page(
    app: Flask,
    client: FlaskClient,
    session: Session,
    make_case: MakeCase,
    monkeypatch: pytest.MonkeyPatch,
    fmt: str,
) -> None:
    monkeypatch.setattr(queries, "MAX_UPDATES", 3)
    cases = [make_case() for _ in range(2)]
    with app.app_context():
        for case in cases:
            change_status(session, case, CaseStatus.OPEN, agent=None)
        change_status(session, cases[0], CaseStatus.IN_PROGRESS, agent=None)
        session.commit()

    assert len(get(client, "servicerequestupdates").get_json()) == 3  # the cap: answered whole

    with app.app_context():
        change_status(session, cases[1], CaseStatus.IN_PROGRESS, agent=None)  # cap + 1
        session.commit()

    assert_error(
        get(client, "servicerequestupdates", fmt),
        400,
        fmt,
        mentions="More than 3 updates in this window; narrow start_date/end_date or use page",
    )
    assert_error(get(client, "servicerequestupdates", fmt, page_size=2), 400, fmt)
    pages = [get(client, "servicerequestupdates", page=n, page_size=2).get_json() for n in (1, 2)]
    assert [len(p) for p in pages] == [2, 2]


def test_typed_attribute_answers_are_published_as_given_and_free_text_masked(
    client: FlaskClient, session: Session, city: Jurisdiction, make_case: MakeCase
) -> None:
    pothole = factories.service_type(session, city, "pothole")
    session.add(
        ServiceAttribute(
            service_type_id=pothole.id,
            code="hydrant",
            order=8,
            datatype=AttributeDatatype.SINGLEVALUELIST,
            values=[{"key": "555-1234", "name": "Hydrant 555-1234"}],
        )
    )
    case = make_case(
        attributes={
            "depth_cm": 1234567,
            "seen_at": "2026-11-29T14:30:00-05:00",
            "hydrant": "555-1234",
            "surface": ["road"],
            "note": "call 613-555-0199",
            "details": "or jo@example.com",
            "gone": "613-555-0199",  # an attribute since deleted: masked
            "_address_id": "secret-id",  # ours, never an answer
        }
    )

    for fmt in ("json", "xml"):
        response = get(client, f"requests/{case.tracking_number}", fmt, extensions="true")
        if fmt == "json":
            answers = response.get_json()[0]["extended_attributes"]["attributes"]
            shown = {a["code"]: a["value"] for a in answers}
        else:
            shown = {
                a.findtext("code"): a.findtext("value")
                for a in xml_of(response).findall(".//attributes/attribute")
            }
            shown["surface"] = ["road"]
        assert shown == {
            "depth_cm": "1234567",
            "details": "or [redacted]",
            "gone": "[redacted]",
            "hydrant": "555-1234",
            "note": "call [redacted]",
            "seen_at": "2026-11-29T14:30:00-05:00",
            "surface": ["road"],
        }


@pytest.mark.parametrize(
    "name", ["attribute[size][0]", "attribute[]", "attribute[size", "attribute[a][b][]"]
)
def test_a_malformed_attribute_field_is_a_400_naming_it(
    client: FlaskClient, session: Session, api_key: str, name: str
) -> None:
    for fmt in ("json", "xml"):
        response = post(client, fmt, api_key=api_key, **POTHOLE_FORM, **{name: "large"})
        assert_error(response, 400, fmt, mentions=name)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0


def test_a_blackbox_services_requests_are_not_published(
    app: Flask, client: FlaskClient, session: Session, city: Jurisdiction, make_case: MakeCase
) -> None:
    factories.service_type(session, city, "missed-pickup").open311_type = "blackbox"
    hidden = make_case(service="missed-pickup")
    shown = make_case()
    with app.app_context():
        for case in (hidden, shown):
            change_status(session, case, CaseStatus.OPEN, agent=None)
        session.commit()

    for fmt in ("json", "xml"):
        listed = get(client, "requests", fmt).get_data(as_text=True)
        assert shown.tracking_number in listed and hidden.tracking_number not in listed
        by_id = get(client, "requests", fmt, service_request_id=hidden.tracking_number)
        assert hidden.tracking_number not in by_id.get_data(as_text=True)
        assert_error(get(client, f"requests/{hidden.tracking_number}", fmt), 404, fmt)
        updates = get(client, "servicerequestupdates", fmt).get_data(as_text=True)
        assert shown.tracking_number in updates and hidden.tracking_number not in updates


def test_a_posted_address_id_is_published_as_address_id_not_address(
    client: FlaskClient, session: Session, api_key: str
) -> None:
    form = {"service_code": "pothole", "address_id": "ADDR-77", "api_key": api_key}
    form["attribute[size]"] = "small"
    (answer,) = post(client, **form).get_json()

    (request,) = get(
        client, f"requests/{answer['service_request_id']}", extensions="true"
    ).get_json()

    assert request["address_id"] == "ADDR-77"
    assert request["address"] == ""
    codes = [a["code"] for a in request["extended_attributes"]["attributes"]]
    assert codes == ["size"], "the address_id is not an attribute answer"
    case = session.scalars(sa.select(Case)).one()
    assert case.attributes == {"size": "small", "_address_id": "ADDR-77"}


def test_a_posted_description_is_at_most_the_specs_4000_characters(
    client: FlaskClient, api_key: str
) -> None:
    form = {**POTHOLE_FORM, "api_key": api_key}
    assert post(client, **{**form, "description": "x" * 4000}).status_code == 200
    for fmt in ("json", "xml"):
        response = post(client, fmt, **{**form, "description": "x" * 4001})
        assert_error(response, 400, fmt, mentions="description: At most 4000 characters")


# --- rate limits ---------------------------------------------------------------------------


@pytest.fixture
def fresh_limits(app: Flask) -> Iterator[None]:
    app.extensions["ratelimit"].reset()
    yield
    app.extensions["ratelimit"].reset()


def test_with_the_limiters_store_down_posts_go_through_with_a_warning(
    app: Flask,
    client: FlaskClient,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from contactcenter.ratelimit import RateLimits

    monkeypatch.setitem(app.extensions, "ratelimit", RateLimits("redis://127.0.0.1:1/0", {}))

    with caplog.at_level("WARNING", logger="contactcenter.open311.clients"):
        filed = post(client, api_key=api_key, **POTHOLE_FORM)
        refused = post(client, api_key="o311_wrong", **POTHOLE_FORM)

    assert filed.status_code == 200, filed.data
    assert refused.status_code == 403
    assert "unreachable" in caplog.text


def test_a_flood_of_bad_keys_from_one_address_is_throttled(
    client: FlaskClient,
    api_key: str,
    monkeypatch: pytest.MonkeyPatch,
    fresh_limits: None,
) -> None:
    monkeypatch.setattr(clients, "BAD_KEYS_PER_MINUTE", 3)
    form = {**POTHOLE_FORM, "api_key": "o311_guess"}
    guesser = {"REMOTE_ADDR": "2001:db8::1"}
    same_network = {"REMOTE_ADDR": "2001:db8::2"}  # the same /64
    elsewhere = {"REMOTE_ADDR": "203.0.113.9"}

    def send(environ: dict[str, str], **fields: Any) -> TestResponse:
        return client.post("/open311/v2/requests.json", data=fields, environ_base=environ)

    assert [send(guesser, **form).status_code for _ in range(3)] == [403, 403, 403]
    throttled = send(same_network, **form)
    assert_error(throttled, 429, "json", mentions="Too many refused api_keys")
    assert 1 <= int(throttled.headers["Retry-After"]) <= 60
    assert send(elsewhere, **form).status_code == 403
    assert send(elsewhere, **{**POTHOLE_FORM, "api_key": api_key}).status_code == 200
