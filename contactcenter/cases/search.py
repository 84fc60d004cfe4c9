"""Finding cases for staff from one search box: a tracking number, a phone, an email or words.

Every query is scoped to the jurisdictions the reader works for and bounded, so a search box
can never become a full-table dump or show one town's residents to another town's staff.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from contactcenter import tracking
from contactcenter.cases.models import Case
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import ContactKind
from contactcenter.residents.addresses import normalize
from contactcenter.residents.models import ContactPoint, Resident

MIN_TEXT = 2
"""Shorter queries match nearly everything: they get a hint instead of a scan."""
MAX_QUERY = 200
MAX_RESIDENTS = 20
LIKE_ESCAPE = "!"
"""Not a backslash: PostgreSQL and SQLite would read a backslash escape literal differently."""

_TRACKING = re.compile(r"\d{4}[\s.-]?\d{4}")
_PHONE = re.compile(r"\+?[\d\s().-]+")
_MIN_PHONE_DIGITS = 7


class SearchKind(StrEnum):
    HINT = "hint"
    TRACKING = "tracking"
    CONTACT = "contact"
    TEXT = "text"


@dataclass(frozen=True)
class SearchResult:
    kind: SearchKind
    cases: Sequence[Case] = ()
    residents: Sequence[Resident] = ()
    more: bool = False
    """More cases matched than were returned."""

    @property
    def exact(self) -> Case | None:
        """The one case a tracking number named, for the page to go straight to."""
        return self.cases[0] if self.kind is SearchKind.TRACKING and self.cases else None


def search_cases(
    session: Session, jurisdiction_ids: Sequence[int], text: str, limit: int = 50
) -> SearchResult:
    """Cases matching ``text``, newest first, at most ``limit`` of them."""
    query = " ".join(text.split())[:MAX_QUERY]
    if len(query) < MIN_TEXT or not jurisdiction_ids:
        return SearchResult(SearchKind.HINT)
    number = tracking_number(query)
    if number is not None:
        found = session.scalars(
            _cases_in(jurisdiction_ids).where(Case.tracking_number == number).limit(1)
        ).all()
        if found:
            return SearchResult(SearchKind.TRACKING, cases=found)
    if is_contact(query):
        residents = find_residents(session, jurisdiction_ids, query)
        cases, more = _limited(
            session,
            _cases_in(jurisdiction_ids).where(Case.resident_id.in_([r.id for r in residents])),
            limit,
        )
        return SearchResult(SearchKind.CONTACT, cases=cases, residents=residents, more=more)
    pattern = f"%{escape_like(query)}%"
    cases, more = _limited(
        session,
        _cases_in(jurisdiction_ids).where(
            sa.or_(
                Case.description.ilike(pattern, escape=LIKE_ESCAPE),
                Case.address_text.ilike(pattern, escape=LIKE_ESCAPE),
            )
        ),
        limit,
    )
    return SearchResult(SearchKind.TEXT, cases=cases, more=more)


def tracking_number(text: str) -> str | None:
    """``text`` as a formatted tracking number when it is one (dash, space or nothing)."""
    if not _TRACKING.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    return tracking.format_number(digits) if tracking.is_valid(digits) else None


def is_contact(text: str) -> bool:
    """An email, or something written the way phone numbers are."""
    if "@" in text:
        return True
    return bool(_PHONE.fullmatch(text)) and sum(c.isdigit() for c in text) >= _MIN_PHONE_DIGITS


def find_residents(
    session: Session, jurisdiction_ids: Sequence[int], text: str
) -> Sequence[Resident]:
    """Residents with this phone or email, normalized as intake stores it (E.164, lower case).

    A phone is read with each jurisdiction's country as the default region, since a local
    number means something different in each country.
    """
    kind = ContactKind.EMAIL if "@" in text else ContactKind.PHONE
    if not jurisdiction_ids:
        return []
    countries = session.scalars(
        sa.select(Jurisdiction.country).where(Jurisdiction.id.in_(jurisdiction_ids)).distinct()
    ).all()
    addresses = {normalize(kind, text, country).address for country in countries}
    return (
        session.scalars(
            sa.select(Resident)
            .join(ContactPoint, ContactPoint.resident_id == Resident.id)
            .where(
                ContactPoint.jurisdiction_id.in_(jurisdiction_ids),
                ContactPoint.kind == kind,
                ContactPoint.address.in_(addresses),
            )
            .options(selectinload(Resident.contact_points))
            .order_by(Resident.id)
            .limit(MAX_RESIDENTS)
        )
        .unique()
        .all()
    )


def recent_cases(
    session: Session, residents: Sequence[Resident], per_resident: int = 5
) -> dict[int, list[Case]]:
    """Each resident's newest cases (one query, ranked per resident), so the agent sees what
    they reported before recording it again."""
    if not residents:
        return {}
    ranked = (
        sa.select(
            Case.id,
            sa.func.row_number()
            .over(partition_by=Case.resident_id, order_by=(Case.created_at.desc(), Case.id.desc()))
            .label("rank"),
        )
        .where(
            Case.jurisdiction_id.in_({r.jurisdiction_id for r in residents}),
            Case.resident_id.in_([r.id for r in residents]),
        )
        .subquery()
    )
    rows = session.scalars(
        _cases_in({r.jurisdiction_id for r in residents})
        .join(ranked, ranked.c.id == Case.id)
        .where(ranked.c.rank <= per_resident)
    ).all()
    recent: dict[int, list[Case]] = {r.id: [] for r in residents}
    for case in rows:
        if case.resident_id is not None:
            recent[case.resident_id].append(case)
    return recent


def escape_like(text: str) -> str:
    """``text`` with LIKE's wildcards taken literally: a "%" typed is a "%" searched for."""
    for char in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(char, LIKE_ESCAPE + char)
    return text


def _cases_in(jurisdiction_ids: Sequence[int] | set[int]) -> sa.Select[Case]:
    return (
        sa.select(Case)
        .where(Case.jurisdiction_id.in_(jurisdiction_ids))
        .options(joinedload(Case.service_type), joinedload(Case.jurisdiction))
        .order_by(Case.created_at.desc(), Case.id.desc())
    )


def _limited(session: Session, query: sa.Select[Case], limit: int) -> tuple[list[Case], bool]:
    """At most ``limit`` cases, and whether there were more (one extra row tells)."""
    rows = list(session.scalars(query.limit(limit + 1)).all())
    return rows[:limit], len(rows) > limit
