"""What the description knows of one operation beyond its rule, and the two error shapes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

JSON = "application/json"
XML = "text/xml"


@dataclass(frozen=True)
class Operation:
    """One operation's metadata. ``body`` is a pydantic model (its JSON Schema is generated) or
    a JSON Schema; ``query`` a pydantic model whose fields are the query parameters."""

    summary: str = ""
    tags: tuple[str, ...] = ()
    description: str = ""
    body: type[BaseModel] | dict[str, Any] | None = None
    body_required: bool = True
    form: dict[str, Any] | None = None
    raw_body: tuple[str, dict[str, Any]] | None = None
    query: type[BaseModel] | None = None
    parameters: tuple[dict[str, Any], ...] = ()
    status: int = 200
    success_description: str = "OK"
    response: dict[str, Any] | None = None
    raw_response: str | None = None
    errors: tuple[int, ...] = (400,)
    error_shape: str = "staff"

    def media_for(self, rule: str) -> list[str]:
        """Media types of the responses: JSON for the staff API; for Open311, the format the
        path's extension names (both when the extension is a variable)."""
        if self.error_shape == "staff":
            return [JSON]
        if rule.endswith(".json"):
            return [JSON]
        if rule.endswith(".xml"):
            return [XML]
        return [JSON, XML]


ERROR_SCHEMAS: dict[str, dict[str, Any]] = {
    "staff": {
        "name": "Error",
        "schema": {
            "type": "object",
            "description": "Every staff API error.",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "examples": ["case_not_found"]},
                        "message": {"type": "string"},
                        "fields": {
                            "type": "object",
                            "description": "The invalid fields, each with what is wrong.",
                            "additionalProperties": True,
                        },
                    },
                }
            },
        },
        "descriptions": {
            400: "Invalid input; `fields` names each bad field.",
            401: "No bearer token, or an unknown or revoked one.",
            403: "The token's agent lacks the role this needs.",
            404: "No such record in the caller's jurisdictions.",
            409: "The change conflicts with the record's state.",
            413: "The request body is too large.",
            429: "Too many requests.",
            503: "The feature is not configured on this installation.",
        },
    },
    "open311": {
        "name": "Open311Errors",
        "schema": {
            "type": "array",
            "description": (
                "GeoReport v2 errors. In XML: "
                "`<errors><error><code>400</code><description>...</description></error></errors>`."
            ),
            "items": {
                "type": "object",
                "required": ["code", "description"],
                "properties": {
                    "code": {"type": "integer"},
                    "description": {"type": "string"},
                },
            },
        },
        "descriptions": {
            400: "Invalid or missing parameter (e.g. `jurisdiction_id` in a shared deployment).",
            403: "Missing, unknown or revoked `api_key`.",
            404: "No such service, request, token or format.",
            429: "Too many requests for this `api_key`.",
        },
    },
}
