"""Service attributes: the extra questions a service type asks, and checking the answers.

A service type's attributes are defined by an administrator (API or CLI), published in its
Open311 service definition, and answered in a POST as ``attribute[code]`` fields; the answers
are stored on the case (``Case.attributes``) as ``{code: value}``, lists for multi-value lists.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Collection, Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import Field, ValidationError
from sqlalchemy.orm import Session

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import ServiceType
from contactcenter.open311.models import AttributeDatatype, ServiceAttribute
from contactcenter.validation import StrictModel

MAX_STRING = 1000
MAX_TEXT = 10000
MAX_VALUES = 200
"""Values of one list attribute, and answers to a multi-value list."""
MAX_ATTRIBUTES = 100
"""Attributes of one service type."""
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$"
"""Codes travel in form field names (``attribute[code]``): no brackets, no spaces."""
LISTS = (AttributeDatatype.SINGLEVALUELIST, AttributeDatatype.MULTIVALUELIST)


def attributes_of(
    session: Session, service_type_ids: Collection[int]
) -> dict[int, list[ServiceAttribute]]:
    """Each service type's attributes in display order, in one query; every id is a key."""
    found: dict[int, list[ServiceAttribute]] = {sid: [] for sid in service_type_ids}
    if not found:
        return found
    rows = session.scalars(
        sa.select(ServiceAttribute)
        .where(ServiceAttribute.service_type_id.in_(found))
        .order_by(ServiceAttribute.service_type_id, ServiceAttribute.order, ServiceAttribute.id)
    )
    for attribute in rows:
        found[attribute.service_type_id].append(attribute)
    return found


def field_name(code: str) -> str:
    return f"attribute[{code}]"


def validate_answers(
    attributes: list[ServiceAttribute],
    raw: Mapping[str, list[str]],
    *,
    timezone: str = "UTC",
) -> dict[str, Any]:
    """The answers to ``attributes`` in ``raw`` ({code: values as posted}), checked and typed.

    Empty values count as not answered. Naive datetimes are read in ``timezone`` (the
    jurisdiction's) and stored with their offset.

    :raises Invalid: every bad answer at once, keyed ``attribute[code]``.
    """
    by_code = {a.code: a for a in attributes}
    errors: dict[str, str] = {}
    answers: dict[str, Any] = {}
    for code, values in raw.items():
        present = [v for v in values if v.strip()]
        attribute = by_code.get(code)
        if attribute is None:
            known = ", ".join(sorted(a.code for a in attributes if a.variable)) or "none"
            errors[field_name(code[:64])] = (
                f"This service has no attribute {code[:64]!r} (known: {known})."
            )
        elif not attribute.variable:
            errors[field_name(code)] = (
                "This attribute is information, not a question: leave it out."
            )
        elif present:
            try:
                answers[code] = _answer(attribute, present, timezone)
            except ValueError as exc:
                errors[field_name(code)] = str(exc)
    for attribute in attributes:
        if attribute.variable and attribute.required and attribute.code not in answers:
            errors.setdefault(field_name(attribute.code), "Required.")
    if errors:
        raise Invalid("Some attributes are invalid.", code="invalid_attributes", fields=errors)
    return answers


def _answer(attribute: ServiceAttribute, values: list[str], timezone: str) -> Any:
    if any("\x00" in v for v in values):
        raise ValueError("Must not contain NUL characters.")
    datatype = attribute.datatype
    if datatype is AttributeDatatype.MULTIVALUELIST:
        return _multi(attribute, values)
    if len(values) > 1:
        raise ValueError("Give one value.")
    value = values[0].strip()
    if datatype is AttributeDatatype.STRING:
        return _bounded(value, MAX_STRING)
    if datatype is AttributeDatatype.TEXT:
        return _bounded(value, MAX_TEXT)
    if datatype is AttributeDatatype.NUMBER:
        return _number(value)
    if datatype is AttributeDatatype.DATETIME:
        return _datetime(value, timezone)
    keys = [v["key"] for v in attribute.values]
    if value not in keys:
        raise ValueError(f"Choose one of: {', '.join(keys)}.")
    return value


def _bounded(value: str, limit: int) -> str:
    if len(value) > limit:
        raise ValueError(f"At most {limit} characters.")
    return value


_NUMBER = re.compile(r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?(?:[eE][+-]?[0-9]{1,3})?")
"""A number as a form posts it: ASCII digits only (no "1_000", no full-width digits, which
Python's own parsers take), at most 15 integer digits (an integer beyond that would not
survive a JSON client's doubles)."""
_W3C_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(?:T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?)?"
)
"""W3C/ISO-8601 extended format, as the spec's datetime datatype: no week dates, no basic
format (20261129T1430), no space for the T."""
MIN_YEAR = 1900
MAX_YEAR = 2200


def _number(value: str) -> int | float:
    if not _NUMBER.fullmatch(value):
        raise ValueError(
            "That is not a number: digits (at most 15 before the point), an optional "
            "decimal part and exponent, e.g. 42, -3.5 or 1e3."
        )
    if "." not in value and "e" not in value.lower():
        return int(value)
    number = float(value)
    if not math.isfinite(number):
        raise ValueError("That number is out of range.")
    return number


def _datetime(value: str, timezone: str) -> str:
    example = "e.g. 2026-11-29T14:30:00-05:00"
    if not _W3C_DATETIME.fullmatch(value):
        raise ValueError(f"Give a date and time in W3C/ISO 8601 format, {example}.")
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"Give a date and time in W3C/ISO 8601 format, {example}.") from None
    if not MIN_YEAR <= moment.year <= MAX_YEAR:
        raise ValueError(f"Give a date from {MIN_YEAR} to {MAX_YEAR}.")
    if moment.tzinfo is None:
        try:
            zone: dt.tzinfo = ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            zone = dt.UTC
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


def _multi(attribute: ServiceAttribute, values: list[str]) -> list[str]:
    keys = {v["key"] for v in attribute.values}
    chosen: list[str] = []
    for value in (v.strip() for v in values):
        if value not in keys:
            order = ", ".join(v["key"] for v in attribute.values)
            raise ValueError(f"{value[:64]!r} is not one of: {order}.")
        if value not in chosen:
            chosen.append(value)
    if len(chosen) > MAX_VALUES:
        raise ValueError(f"At most {MAX_VALUES} values.")
    return chosen


# --- Definitions ----------------------------------------------------------------------------


class ValueDefinition(StrictModel):
    key: str = Field(min_length=1, max_length=100)
    name: str = Field(min_length=1, max_length=200)


class AttributeDefinition(StrictModel):
    """One attribute as an administrator writes it (JSON or YAML), Open311's field names."""

    code: str = Field(pattern=CODE_PATTERN)
    datatype: AttributeDatatype
    description: str = Field(min_length=1, max_length=1000)
    """The question, as shown to the resident."""
    variable: bool = True
    required: bool = False
    order: int | None = Field(default=None, ge=1, le=10_000)
    datatype_description: str = Field(default="", max_length=1000)
    values: list[ValueDefinition] = Field(default_factory=list, max_length=MAX_VALUES)


def parse_definitions(definitions: Any) -> list[AttributeDefinition]:
    """``definitions`` checked: codes unique, lists with unique value keys, others without.

    :raises Invalid: every problem, keyed ``attributes.<index>.<field>``.
    """
    if not isinstance(definitions, list):
        raise Invalid(
            "Expected a list of attributes.",
            code="invalid_attributes",
            fields={"attributes": "a list"},
        )
    if len(definitions) > MAX_ATTRIBUTES:
        raise Invalid(
            f"At most {MAX_ATTRIBUTES} attributes.",
            code="invalid_attributes",
            fields={"attributes": f"at most {MAX_ATTRIBUTES}"},
        )
    errors: dict[str, str] = {}
    parsed: list[AttributeDefinition] = []
    codes: set[str] = set()
    for index, item in enumerate(definitions):
        where = f"attributes.{index}"
        if not isinstance(item, dict):
            errors[where] = "An attribute is an object."
            continue
        try:
            definition = AttributeDefinition.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors():
                path = ".".join(str(p) for p in err["loc"])
                errors[f"{where}.{path}" if path else where] = err["msg"]
            continue
        problem = _definition_problem(definition, codes)
        if problem is not None:
            errors[f"{where}.{problem[0]}"] = problem[1]
        codes.add(definition.code)
        parsed.append(definition)
    if errors:
        raise Invalid("Some attributes are invalid.", code="invalid_attributes", fields=errors)
    return parsed


def _definition_problem(
    definition: AttributeDefinition, codes_before: set[str]
) -> tuple[str, str] | None:
    if definition.code in codes_before:
        return "code", "Used twice: codes are unique within a service."
    if definition.datatype in LISTS:
        keys = [v.key for v in definition.values]
        if not keys:
            return "values", "A list attribute needs values to choose from."
        if len(set(keys)) != len(keys):
            return "values", "Value keys must be unique."
    elif definition.values:
        return "values", "Only singlevaluelist and multivaluelist attributes have values."
    if definition.required and not definition.variable:
        return "required", "An attribute that is not variable cannot be required."
    return None


def set_attributes(
    session: Session, service_type: ServiceType, definitions: Any
) -> list[ServiceAttribute]:
    """Replace ``service_type``'s attributes with ``definitions`` (all or nothing).

    Attributes kept by code are updated in place, so their rows (and ids) survive; the
    others are deleted. Answers already stored on cases are left as they were.

    :raises Invalid: see :func:`parse_definitions`.
    """
    parsed = parse_definitions(definitions)
    existing = {
        a.code: a
        for a in session.scalars(
            sa.select(ServiceAttribute).where(ServiceAttribute.service_type_id == service_type.id)
        )
    }
    result: list[ServiceAttribute] = []
    for index, definition in enumerate(parsed):
        attribute = existing.pop(definition.code, None)
        if attribute is None:
            attribute = ServiceAttribute(service_type_id=service_type.id, code=definition.code)
            session.add(attribute)
        attribute.order = definition.order or index + 1
        attribute.variable = definition.variable
        attribute.datatype = definition.datatype
        attribute.required = definition.required
        attribute.description = definition.description
        attribute.datatype_description = definition.datatype_description
        attribute.values = [v.model_dump() for v in definition.values]
        result.append(attribute)
    for gone in existing.values():
        session.delete(gone)
    session.flush()
    return sorted(result, key=lambda a: (a.order, a.id))


def attribute_json(attribute: ServiceAttribute) -> dict[str, Any]:
    """An attribute as the staff API and the CLI show it (the definition's own field names)."""
    return {
        "code": attribute.code,
        "datatype": str(attribute.datatype),
        "description": attribute.description,
        "variable": attribute.variable,
        "required": attribute.required,
        "order": attribute.order,
        "datatype_description": attribute.datatype_description,
        "values": list(attribute.values),
    }
