"""Assembles the OpenAPI document from ``app.url_map``.

Every rule under a described prefix becomes an operation, whatever its module: what is known of
it (summary, request body, query string, responses) comes from the tables in
:mod:`contactcenter.openapi.staff` and :mod:`contactcenter.openapi.open311`; a route missing
from them is still described from what the rule itself says (path parameters, methods, whether
it asks for a bearer token), so the description never leaves out a route nor invents one.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import Rule

from contactcenter.agents.models import Role
from contactcenter.openapi import open311, staff
from contactcenter.openapi.spec import ERROR_SCHEMAS, Operation

OPENAPI_VERSION = "3.1.0"
STAFF_PREFIX = "/api/v1"
OPEN311_PREFIX = "/open311/v2"
PREFIXES = (STAFF_PREFIX, OPEN311_PREFIX)
REF = "#/components/schemas/{model}"

_VARIABLE = re.compile(
    r"<(?:(?P<converter>[a-zA-Z_][a-zA-Z0-9_]*)(?:\((?P<args>[^)]*)\))?:)?"
    r"(?P<name>[a-zA-Z_][a-zA-Z0-9_]*)>"
)
_METHODS = ("get", "put", "post", "patch", "delete")


def is_fallback(rule: Rule) -> bool:
    """A catch-all (``<path:...>``) that only answers "not found" in the API's error format:
    not an operation, so not described."""
    return "<path:" in rule.rule


def described_rules(app: Flask) -> list[Rule]:
    """The rules this document covers, in a stable order."""
    return sorted(
        (
            rule
            for rule in app.url_map.iter_rules()
            if rule.rule.startswith(PREFIXES) and not is_fallback(rule)
        ),
        key=lambda rule: (rule.rule, rule.endpoint),
    )


def openapi_path(rule: str) -> str:
    """``/cases/<int:case_id>`` -> ``/cases/{case_id}``."""
    return _VARIABLE.sub(lambda m: "{" + m.group("name") + "}", rule)


def rule_methods(rule: Rule) -> list[str]:
    return sorted(m.lower() for m in (rule.methods or ()) if m.lower() in _METHODS)


def _converter_schema(converter: str | None, args: str | None) -> dict[str, Any]:
    if converter == "int":
        return {"type": "integer", "minimum": 0}
    if converter == "float":
        return {"type": "number", "minimum": 0}
    if converter == "any" and args:
        values = [v.strip().strip("'\"") for v in args.split(",") if "=" not in v]
        return {"type": "string", "enum": values}
    return {"type": "string", "minLength": 1, "pattern": "^[^/]+$"}


def path_parameters(rule: Rule) -> list[dict[str, Any]]:
    params = []
    for m in _VARIABLE.finditer(rule.rule):
        schema = _converter_schema(m.group("converter"), m.group("args"))
        if m.end() == len(rule.rule) and rule.rule[m.start() - 1] == "." and "enum" not in schema:
            schema = {"type": "string", "enum": ["json", "xml"]}  # a format extension
        params.append({"name": m.group("name"), "in": "path", "required": True, "schema": schema})
    return params


def required_role(app: Flask, endpoint: str) -> Role | None:
    """The role ``require_staff`` asks for on this view, or ``None`` for a public one.

    The decorator's wrapper keeps the role in its closure; that is read instead of a second
    list kept by hand.
    """
    view: Any = app.view_functions.get(endpoint)
    while view is not None:
        cells = dict(zip(view.__code__.co_freevars, view.__closure__ or (), strict=False))
        cell = cells.get("role")
        if cell is not None and isinstance(cell.cell_contents, Role):
            return cell.cell_contents
        view = getattr(view, "__wrapped__", None)
    return None


class _Schemas:
    """The ``components/schemas`` being collected: pydantic models and named shapes."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}
        self.named_shapes: set[str] = set()

    def _add(self, definitions: dict[str, Any]) -> None:
        for name, schema in definitions.items():
            if name in self.named_shapes:
                raise ValueError(f"{name!r} names both a response shape and a pydantic model")
            self.components[name] = schema

    def model(self, model: type[BaseModel]) -> dict[str, Any]:
        """A ``$ref`` to ``model``'s JSON Schema (its enums and nested models added too)."""
        refs, top = models_json_schema([(model, "validation")], ref_template=REF)
        self._add(top.get("$defs", {}))
        schema: dict[str, Any] = refs[(model, "validation")]
        return schema

    def model_properties(self, model: type[BaseModel]) -> tuple[dict[str, Any], set[str]]:
        """``model``'s fields as separate schemas (query strings), ``$ref``s resolved here."""
        schema = model.model_json_schema(ref_template=REF)
        self._add(schema.pop("$defs", {}))
        return schema.get("properties", {}), set(schema.get("required", ()))

    def named(self, shapes: dict[str, Any]) -> None:
        self.named_shapes |= set(shapes)
        self.components.update(copy.deepcopy(shapes))


def _query_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """A field's schema as a query parameter: a query string has no ``null``."""
    schema = {k: v for k, v in schema.items() if k not in {"default", "title"}}
    options = schema.pop("anyOf", None)
    if options:
        kept = [o for o in options if o.get("type") != "null"]
        if len(kept) == 1:
            schema.update(kept[0])
        else:
            schema["anyOf"] = kept
    return schema


def _query_parameters(schemas: _Schemas, op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    if op.query is not None:
        properties, required = schemas.model_properties(op.query)
        for name, schema in properties.items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": _query_schema(schema),
            }
            if schema.get("description"):
                param["description"] = schema["description"]
            params.append(param)
    params.extend(copy.deepcopy(list(op.parameters)))
    return params


def _request_body(schemas: _Schemas, op: Operation) -> dict[str, Any] | None:
    if op.body is None and op.form is None and op.raw_body is None:
        return None
    content: dict[str, Any] = {}
    if op.body is not None:
        body = schemas.model(op.body) if isinstance(op.body, type) else copy.deepcopy(op.body)
        content["application/json"] = {"schema": body}
    if op.form is not None:
        content["application/x-www-form-urlencoded"] = {"schema": copy.deepcopy(op.form)}
    if op.raw_body is not None:
        media, schema = op.raw_body
        content[media] = {"schema": copy.deepcopy(schema)}
    return {"required": op.body_required, "content": content}


def _responses(op: Operation, role: Role | None, media: Iterable[str]) -> dict[str, Any]:
    media = list(media)
    success: dict[str, Any] = {"description": op.success_description}
    if op.response is not None:
        success["content"] = {m: {"schema": copy.deepcopy(op.response)} for m in media}
        if op.raw_response is not None:
            success["content"] = {op.raw_response: {"schema": copy.deepcopy(op.response)}}
    responses: dict[str, Any] = {str(op.status): success}
    codes = set(op.errors)
    if role is not None:
        codes |= {401, 403}
    for code in sorted(codes):
        responses[str(code)] = {
            "description": ERROR_SCHEMAS[op.error_shape]["descriptions"].get(code, "Refused."),
            "content": {
                m: {"schema": {"$ref": REF.format(model=ERROR_SCHEMAS[op.error_shape]["name"])}}
                for m in media
            },
        }
    return responses


def _operation(
    app: Flask, rule: Rule, method: str, schemas: _Schemas, lookup: Callable[..., Operation]
) -> dict[str, Any]:
    role = required_role(app, rule.endpoint)
    op = lookup(rule, method, role)
    view = app.view_functions.get(rule.endpoint)
    summary = op.summary or _first_line(getattr(view, "__doc__", None)) or rule.endpoint
    media = op.media_for(rule.rule)
    result: dict[str, Any] = {
        "operationId": f"{rule.endpoint}.{method}"
        if len(rule_methods(rule)) > 1
        else rule.endpoint,
        "summary": summary,
        "tags": list(op.tags),
    }
    if op.description:
        result["description"] = op.description
    if role is not None:
        result["security"] = [{"bearerAuth": []}]
        result["x-required-role"] = str(role)
    else:
        result["security"] = []
    params = path_parameters(rule) + _query_parameters(schemas, op)
    if params:
        result["parameters"] = params
    body = _request_body(schemas, op)
    if body is not None:
        result["requestBody"] = body
    result["responses"] = _responses(op, role, media)
    return result


def _first_line(doc: str | None) -> str:
    return doc.strip().splitlines()[0].strip() if doc and doc.strip() else ""


def build_description(app: Flask, *, version: str = "0.1.0") -> dict[str, Any]:
    """The whole document, as a JSON-ready dict."""
    schemas = _Schemas()
    schemas.named(staff.SHAPES)
    schemas.named(open311.SHAPES)
    schemas.named({shape["name"]: shape["schema"] for shape in ERROR_SCHEMAS.values()})
    paths: dict[str, dict[str, Any]] = {}
    for rule in described_rules(app):
        lookup = staff.operation if rule.rule.startswith(STAFF_PREFIX) else open311.operation
        item = paths.setdefault(openapi_path(rule.rule), {})
        for method in rule_methods(rule):
            item[method] = _operation(app, rule, method, schemas, lookup)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "3-1-1 contact center: staff API and Open311 GeoReport v2",
            "version": version,
            "description": (
                "The staff JSON API (`/api/v1`, bearer tokens from `POST /api/v1/tokens`) and "
                "the public Open311 GeoReport v2 API (`/open311/v2`, every method in `.json` "
                'and `.xml`). Staff errors are `{"error": {"code", "message", '
                '"fields"}}`; Open311 errors are `[{"code", "description"}]` (JSON) or '
                "`<errors><error>...</error></errors>` (XML)."
            ),
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "tags": [*staff.TAGS, *open311.TAGS],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.components.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A staff token from `POST /api/v1/tokens` (or the console).",
                }
            },
        },
    }
