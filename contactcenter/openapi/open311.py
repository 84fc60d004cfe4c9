"""What the description says of the Open311 GeoReport v2 API (``/open311/v2``).

Operations are matched by their path without the format extension, whatever the routes name
their variables, so ``/services/<code>.json`` and ``/services/<service_code>.<fmt>`` both find
the service definition. Parameters and fields are the GeoReport v2 specification's, plus the
field-tested extensions this app serves (``page``/``page_size``, ``extensions``, mySociety's
``servicerequestupdates``).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import Rule

from contactcenter.agents.models import Role
from contactcenter.openapi.spec import Operation

REF = "#/components/schemas/{}"
_FORMAT_SUFFIX = re.compile(r"\.(?:json|xml|<[^>]+>)$")
_VARIABLE = re.compile(r"<[^>]+>")

TAGS = [
    {
        "name": "open311",
        "description": (
            "Open311 GeoReport v2: public, no personal data. `jurisdiction_id` (the "
            "jurisdiction's slug) is required when the deployment holds more than one."
        ),
    }
]


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name)}


STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
OPTIONAL = {"type": ["string", "null"]}
OPTIONAL_TIME = {"type": ["string", "null"], "format": "date-time"}

SHAPES: dict[str, Any] = {
    "Open311Service": {
        "type": "object",
        "required": ["service_code", "service_name", "type"],
        "properties": {
            "service_code": STR,
            "service_name": STR,
            "description": STR,
            "metadata": {"type": "boolean"},
            "type": {"type": "string", "enum": ["realtime", "batch", "blackbox"]},
            "keywords": STR,
            "group": STR,
        },
    },
    "Open311ServiceDefinition": {
        "type": "object",
        "required": ["service_code", "attributes"],
        "properties": {
            "service_code": STR,
            "attributes": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["variable", "code", "datatype", "required", "order"],
                    "properties": {
                        "variable": {"type": "boolean"},
                        "code": STR,
                        "datatype": {
                            "type": "string",
                            "enum": [
                                "string",
                                "number",
                                "datetime",
                                "text",
                                "singlevaluelist",
                                "multivaluelist",
                            ],
                        },
                        "required": {"type": "boolean"},
                        "datatype_description": STR,
                        "order": {"type": "integer"},
                        "description": STR,
                        "values": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {"key": STR, "name": STR},
                            },
                        },
                    },
                },
            },
        },
    },
    "Open311Request": {
        "type": "object",
        "description": "A service request: codes and ids are strings; no personal data.",
        "required": ["service_request_id", "status", "requested_datetime"],
        "properties": {
            "service_request_id": STR,
            "status": {"type": "string", "enum": ["open", "closed"]},
            "status_notes": OPTIONAL,
            "service_name": OPTIONAL,
            "service_code": OPTIONAL,
            "description": OPTIONAL,
            "agency_responsible": OPTIONAL,
            "service_notice": OPTIONAL,
            "requested_datetime": TIME,
            "updated_datetime": OPTIONAL_TIME,
            "expected_datetime": OPTIONAL_TIME,
            "address": OPTIONAL,
            "address_id": OPTIONAL,
            "zipcode": OPTIONAL,
            "lat": {"type": ["string", "number", "null"]},
            "long": {"type": ["string", "number", "null"]},
            "media_url": OPTIONAL,
        },
    },
    "Open311SubmitResult": {
        "type": "object",
        "description": "The new request's id, or a token when the service type is batch.",
        "properties": {
            "service_request_id": OPTIONAL,
            "token": OPTIONAL,
            "service_notice": OPTIONAL,
            "account_id": OPTIONAL,
        },
    },
    "Open311Token": {
        "type": "object",
        "properties": {"service_request_id": OPTIONAL, "token": OPTIONAL},
    },
    "Open311RequestUpdate": {
        "type": "object",
        "properties": {
            "update_id": STR,
            "service_request_id": STR,
            "status": STR,
            "updated_datetime": OPTIONAL_TIME,
            "description": OPTIONAL,
            "media_url": OPTIONAL,
        },
    },
    "Open311Discovery": {
        "type": "object",
        "properties": {
            "changeset": STR,
            "contact": STR,
            "key_service": STR,
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "specification": STR,
                        "url": STR,
                        "changeset": STR,
                        "type": STR,
                        "formats": {"type": "array", "items": STR},
                    },
                },
            },
        },
    },
}


def _query(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


JURISDICTION_ID = _query(
    "jurisdiction_id",
    "The jurisdiction's slug; required when the deployment holds more than one.",
    {"type": "string", "maxLength": 64},
)
EXTENSIONS = _query(
    "extensions",
    "`true` adds the request's attribute answers and channel.",
    {"type": "string", "enum": ["true", "false"]},
)
DATE_RANGE = (
    _query("start_date", "Earliest requested_datetime (ISO 8601).", TIME),
    _query("end_date", "Latest requested_datetime (ISO 8601).", TIME),
)

FORM_FIELDS: dict[str, Any] = {
    "api_key": {"type": "string", "description": "The client's key, issued by an admin."},
    "jurisdiction_id": {"type": "string", "maxLength": 64},
    "service_code": {"type": "string"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "address_string": STR,
    "address_id": STR,
    "email": STR,
    "device_id": STR,
    "account_id": STR,
    "first_name": STR,
    "last_name": STR,
    "phone": STR,
    "description": {"type": "string", "maxLength": 4000},
    "media_url": STR,
}

_ARRAY = {"type": "array"}


def _array_of(name: str) -> dict[str, Any]:
    return {**_ARRAY, "items": ref(name)}


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/discovery", "get"): Operation(
        "Service discovery: where this endpoint is and what it speaks",
        ("open311",),
        response=ref("Open311Discovery"),
        errors=(404,),
        error_shape="open311",
    ),
    ("/services", "get"): Operation(
        "Service list: the service types requests can be filed under",
        ("open311",),
        parameters=(JURISDICTION_ID,),
        response=_array_of("Open311Service"),
        errors=(400, 404),
        error_shape="open311",
    ),
    ("/services/<>", "get"): Operation(
        "Service definition: a service type's attributes",
        ("open311",),
        parameters=(JURISDICTION_ID,),
        response=ref("Open311ServiceDefinition"),
        errors=(400, 404),
        error_shape="open311",
    ),
    ("/requests", "post"): Operation(
        "Create a service request (needs an api_key; rate-limited per key)",
        ("open311",),
        description=(
            "Form-encoded as the specification says. Attribute answers are sent as "
            "`attribute[code]=value` (`attribute[code][]=value` for a multivaluelist). The "
            "answer is the request's id, or a token when the service type is batch."
        ),
        form={
            "type": "object",
            "required": ["api_key", "service_code"],
            "properties": FORM_FIELDS,
            "additionalProperties": {"type": "string"},
        },
        response=_array_of("Open311SubmitResult"),
        errors=(400, 403, 404, 429),
        error_shape="open311",
    ),
    ("/tokens/<>", "get"): Operation(
        "The service request id behind a token (batch service types)",
        ("open311",),
        parameters=(JURISDICTION_ID,),
        response=_array_of("Open311Token"),
        errors=(400, 404),
        error_shape="open311",
    ),
    ("/requests", "get"): Operation(
        "Service requests: by default the last 90 days, at most 1,000",
        ("open311",),
        parameters=(
            JURISDICTION_ID,
            _query(
                "service_request_id",
                "Comma-separated ids; overrides every other filter.",
            ),
            _query("service_code", "Comma-separated service codes."),
            *DATE_RANGE,
            _query("status", "Comma-separated: open, closed."),
            _query("page", "Extension: page number (1 first).", {"type": "integer", "minimum": 1}),
            _query(
                "page_size",
                "Extension: requests per page.",
                {"type": "integer", "minimum": 1},
            ),
            EXTENSIONS,
        ),
        response=_array_of("Open311Request"),
        errors=(400, 404),
        error_shape="open311",
    ),
    ("/requests/<>", "get"): Operation(
        "One service request (an array of one, as the specification says)",
        ("open311",),
        parameters=(JURISDICTION_ID, EXTENSIONS),
        response=_array_of("Open311Request"),
        errors=(400, 404),
        error_shape="open311",
    ),
    ("/servicerequestupdates", "get"): Operation(
        "Extension (mySociety): status updates of requests in a period",
        ("open311",),
        parameters=(JURISDICTION_ID, *DATE_RANGE),
        response=_array_of("Open311RequestUpdate"),
        errors=(400, 404),
        error_shape="open311",
    ),
}


def operation_key(rule: str) -> str:
    """``/open311/v2/services/<code>.<fmt>`` -> ``/services/<>``."""
    path = _FORMAT_SUFFIX.sub("", rule.removeprefix("/open311/v2"))
    return _VARIABLE.sub("<>", path)


def operation(rule: Rule, method: str, role: Role | None) -> Operation:
    known = OPERATIONS.get((operation_key(rule.rule), method))
    if known is not None:
        return known
    return Operation(
        tags=("open311",), response={"type": "array"}, errors=(400, 404), error_shape="open311"
    )
