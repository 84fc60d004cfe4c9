"""Canned responses: a jurisdiction's staff-written replies, with a few placeholders.

Placeholders are checked when a response is saved, so an agent never sends a resident a
literal ``{typo}``; filling is a pure function of the text and the case's values.
"""

from __future__ import annotations

import datetime as dt
import string
from collections.abc import Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, Session, mapped_column

from contactcenter.cases.models import Case
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import Base, UTCDateTime, utcnow
from contactcenter.errors import Conflict, Invalid, NotFound

PLACEHOLDERS = ("tracking_number", "service", "city")
MAX_TITLE = 200
MAX_CANNED_BODY = 4000


class CannedResponse(Base):
    __tablename__ = "canned_responses"
    __table_args__ = (sa.UniqueConstraint("jurisdiction_id", "title", "language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    jurisdiction_id: Mapped[int] = mapped_column(sa.ForeignKey("jurisdictions.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(MAX_TITLE))
    body: Mapped[str] = mapped_column(sa.Text)
    language: Mapped[str] = mapped_column(sa.String(8), default="en")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class UnknownPlaceholder(ValueError):
    """The text names a placeholder nobody can fill, or is not well formed."""


def fill(body: str, values: Mapping[str, str]) -> str:
    """``body`` with each ``{name}`` replaced by ``values[name]``; ``{{`` and ``}}`` are braces.

    :raises UnknownPlaceholder: a name not in ``values``, a format spec or conversion
        (``{city!r}``, ``{city:>9}``), or an unmatched brace.
    """
    out: list[str] = []
    try:
        parts = list(string.Formatter().parse(body))
    except ValueError as exc:
        raise UnknownPlaceholder(f"Braces do not match: {exc}.") from exc
    for literal, name, spec, conversion in parts:
        out.append(literal)
        if name is None:
            continue
        if name not in values or spec or conversion:
            raise UnknownPlaceholder(f"Unknown placeholder {{{name}}}.")
        out.append(values[name])
    return "".join(out)


def check_placeholders(body: str) -> None:
    """:raises Invalid: the text uses a placeholder other than :data:`PLACEHOLDERS`."""
    try:
        fill(body, dict.fromkeys(PLACEHOLDERS, ""))
    except UnknownPlaceholder as exc:
        allowed = ", ".join(f"{{{p}}}" for p in PLACEHOLDERS)
        raise Invalid(
            f"{exc} Use only {allowed}.", code="unknown_placeholder", fields={"body": allowed}
        ) from exc


def case_values(case: Case) -> dict[str, str]:
    """What the placeholders mean for ``case``, in the case's language."""
    service = case.service_type
    return {
        "tracking_number": case.tracking_number,
        "service": service.localized_name(case.language) if service is not None else "",
        "city": case.jurisdiction.name,
    }


def responses_for(session: Session, case: Case) -> Sequence[CannedResponse]:
    """The case's jurisdiction's responses, those in the case's language first."""
    return session.scalars(
        sa.select(CannedResponse)
        .where(CannedResponse.jurisdiction_id == case.jurisdiction_id)
        .order_by(
            (CannedResponse.language != case.language),
            CannedResponse.language,
            CannedResponse.title,
        )
        .limit(500)
    ).all()


def list_canned(session: Session, jurisdiction_ids: Sequence[int]) -> Sequence[CannedResponse]:
    return session.scalars(
        sa.select(CannedResponse)
        .where(CannedResponse.jurisdiction_id.in_(jurisdiction_ids))
        .order_by(CannedResponse.jurisdiction_id, CannedResponse.title, CannedResponse.language)
        .limit(1000)
    ).all()


def get_canned(session: Session, jurisdiction_ids: Sequence[int], canned_id: int) -> CannedResponse:
    """:raises NotFound: no such response in these jurisdictions."""
    if not 1 <= canned_id <= MAX_ID:
        raise NotFound("No such canned response.", code="canned_not_found")
    found = session.scalars(
        sa.select(CannedResponse).where(
            CannedResponse.id == canned_id, CannedResponse.jurisdiction_id.in_(jurisdiction_ids)
        )
    ).one_or_none()
    if found is None:
        raise NotFound("No such canned response.", code="canned_not_found")
    return found


def add_canned(
    session: Session, jurisdiction_id: int, *, title: str, body: str, language: str
) -> CannedResponse:
    """:raises Invalid: empty, too long or unknown placeholders. :raises Conflict: a duplicate."""
    title, body, language = title.strip(), body.strip(), language.strip().lower()
    if not title or not body or not language:
        raise Invalid("A canned response needs a title, a text and a language.", code="invalid")
    if len(title) > MAX_TITLE or len(body) > MAX_CANNED_BODY or len(language) > 8:
        raise Invalid(
            f"Keep the title under {MAX_TITLE} and the text under {MAX_CANNED_BODY} characters.",
            code="too_long",
        )
    check_placeholders(body)
    taken = session.scalar(
        sa.select(CannedResponse.id).where(
            CannedResponse.jurisdiction_id == jurisdiction_id,
            CannedResponse.title == title,
            CannedResponse.language == language,
        )
    )
    if taken is not None:
        raise Conflict(f'"{title}" ({language}) already exists.', code="canned_exists")
    canned = CannedResponse(
        jurisdiction_id=jurisdiction_id, title=title, body=body, language=language
    )
    session.add(canned)
    session.flush()
    return canned
