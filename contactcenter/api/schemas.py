"""Request bodies and query strings of the staff API, validated with pydantic."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, Field, ValidationError, field_validator

from contactcenter.cases.models import CaseStatus
from contactcenter.cases.queries import MAX_PAGE_SIZE
from contactcenter.errors import Invalid
from contactcenter.validation import StrictModel

M = TypeVar("M", bound=BaseModel)


class TokenRequest(StrictModel):
    email: str = Field(min_length=3, max_length=320)
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=100)


class StatusChange(StrictModel):
    status: CaseStatus
    note: str = Field(default="", max_length=4000)


class NoteRequest(StrictModel):
    body: str = Field(min_length=1, max_length=10000)


class ReplyRequest(StrictModel):
    body: str = Field(min_length=1, max_length=1600)


class CaseListQuery(StrictModel):
    status: CaseStatus | None = None
    department: str | None = Field(default=None, max_length=32)
    service_type: str | None = Field(default=None, max_length=64)
    jurisdiction: str | None = Field(default=None, max_length=64)
    tracking_number: str | None = Field(default=None, max_length=16)
    page: int = Field(default=1, ge=1, le=100_000)
    per_page: int = Field(default=25, ge=1)

    @field_validator("per_page")
    @classmethod
    def _cap_per_page(cls, value: int) -> int:
        """A larger page is served at the maximum size; the response's ``per_page`` says so."""
        return min(value, MAX_PAGE_SIZE)


def parse(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or :class:`Invalid` naming every bad field."""
    if not isinstance(data, dict):
        raise Invalid("Expected a JSON object.", code="invalid_body")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        fields = {
            ".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()
        }
        raise Invalid("Some fields are invalid.", code="invalid_fields", fields=fields) from None
