"""Cases out as open data: New York's 311 layout (CSV) and Open311 GeoReport v2 (JSON).

Both are generators of text chunks, one per page of cases, so a million cases stream in
constant memory: pages are read by keyset over ``(created_at, id)`` (the
``(jurisdiction_id, created_at)`` index), with a fixed number of queries per page, each page in
its own short transaction (no connection is held while a chunk waits for the client); the
jurisdiction's departments and service types are read once.

Never personal data: no resident field is read at all; a description is published only where
Open311 publishes it (:func:`public_description`: requests filed through Open311 and imported
open data, masked; a resident's own words on other channels stay out), and the other free
text (resolution notes, the addresses residents typed) goes through :func:`mask_personal_data`.
An imported case's address is written as it was imported: it came from the source's
structured address columns (already open data), and the masker would take a Queens house
number such as ``87-47 112 STREET`` for a seven-digit phone number.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from contactcenter.cases.models import Case
from contactcenter.imports.csvsafe import defuse
from contactcenter.imports.nyc import (
    COLUMNS,
    EXPORT_CHANNELS,
    EXPORT_STATUSES,
    RESOLUTION_KEY,
    LocalTimes,
)
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.open311.privacy import mask_personal_data
from contactcenter.open311.serialize import (
    public_description,
    public_request,
    zipcode_of,
    zone_of,
)

PAGE_SIZE = 1000
DESCRIPTOR_LIMIT = 500
"""New York's descriptors are short labels; a long free-text description is cut (at a word)."""


@dataclass(frozen=True)
class ExportWindow:
    """Cases created in ``[start, end)`` (UTC); either bound may be open."""

    start: dt.datetime | None = None
    end: dt.datetime | None = None

    @classmethod
    def of(
        cls, jurisdiction: Jurisdiction, first_day: dt.date | None, last_day: dt.date | None
    ) -> ExportWindow:
        """From the first day's local midnight to the end of the last day, both included.

        A day at the very end of the calendar (``9999-12-31``) leaves that side open.
        """
        zone = zone_of(jurisdiction)

        def midnight(day: dt.date | None, days_after: int = 0) -> dt.datetime | None:
            if day is None:
                return None
            try:
                local = dt.datetime.combine(day + dt.timedelta(days=days_after), dt.time(), zone)
                return local.astimezone(dt.UTC)
            except OverflowError:
                return None

        return cls(start=midnight(first_day), end=midnight(last_day, days_after=1))


def _pages(
    session: Session,
    query: sa.Select[*tuple[Any, ...]],
    jurisdiction_id: int,
    window: ExportWindow,
    page_size: int,
) -> Iterator[Sequence[Any]]:
    """``query`` (selecting ``Case.created_at`` and ``Case.id`` first) page after page."""
    query = query.where(Case.jurisdiction_id == jurisdiction_id)
    if window.start is not None:
        query = query.where(Case.created_at >= window.start)
    if window.end is not None:
        query = query.where(Case.created_at < window.end)
    query = query.order_by(Case.created_at, Case.id).limit(page_size)
    after: tuple[dt.datetime, int] | None = None
    while True:
        page_query = query
        if after is not None:
            page_query = query.where(sa.tuple_(Case.created_at, Case.id) > after)
        page = session.execute(page_query).all()
        # The transaction ends before the page is handed on: a download the client reads
        # slowly must not hold a pooled connection (idle in transaction) between pages; keyset
        # paging needs no snapshot across them. Nothing is ever written here, so this commit
        # only ends the reads; it is not a rollback because that would expire every object the
        # page, the catalog and the jurisdiction hold, to be read again (the sessions this
        # runs in keep objects loaded at commit).
        session.commit()
        if not page:
            return
        yield page
        if len(page) < page_size:
            return
        last = page[-1]
        after = (last[0], last[1])


def _catalog(
    session: Session, jurisdiction_id: int
) -> tuple[dict[int, Department], dict[int, ServiceType]]:
    departments = session.scalars(
        sa.select(Department).where(Department.jurisdiction_id == jurisdiction_id)
    ).all()
    services = session.scalars(
        sa.select(ServiceType).where(ServiceType.jurisdiction_id == jurisdiction_id)
    ).all()
    session.commit()  # read-only; no transaction stays open while the header is sent
    return {d.id: d for d in departments}, {s.id: s for s in services}


_CSV_FIELDS = (
    Case.created_at,
    Case.id,
    Case.source_key,
    Case.tracking_number,
    Case.closed_at,
    Case.resolved_at,
    Case.department_id,
    Case.service_type_id,
    Case.description,
    Case.address_text,
    Case.status,
    Case.due_at,
    Case.attributes,
    Case.updated_at,
    Case.district,
    Case.origin_channel,
    Case.latitude,
    Case.longitude,
)


def _truncate(text: str, limit: int = DESCRIPTOR_LIMIT) -> str:
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip() + "…"


def nyc_csv(
    session: Session,
    jurisdiction: Jurisdiction,
    window: ExportWindow | None = None,
    *,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """The jurisdiction's cases as CSV in New York's 41 columns, header first.

    Unique Key is the source key of an imported case, else its tracking number; Agency is the
    department's code and Agency Name its name; Complaint Type the service type's name;
    Descriptor the published description (see above), shortened; dates are local, in the
    layout's format. Columns we have nothing for are left empty. Every text cell is defused
    (:mod:`contactcenter.imports.csvsafe`): a spreadsheet never runs one as a formula.
    """
    departments, services = _catalog(session, jurisdiction.id)
    times = LocalTimes(zone_of(jurisdiction))
    country = jurisdiction.country or "US"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    yield buffer.getvalue()
    query = sa.select(*_CSV_FIELDS)
    empty = [""] * len(COLUMNS)
    at = {name: index for index, name in enumerate(COLUMNS)}
    for page in _pages(session, query, jurisdiction.id, window or ExportWindow(), page_size):
        buffer.seek(0)
        buffer.truncate()
        for r in page:
            row = empty.copy()
            department = departments.get(r.department_id) if r.department_id else None
            service = services.get(r.service_type_id) if r.service_type_id else None
            address = r.address_text or ""
            if r.source_key is None:  # typed by a resident: may hold a phone number
                address = mask_personal_data(address, country)
            resolution = (r.attributes or {}).get(RESOLUTION_KEY) or ""
            row[at["Unique Key"]] = defuse(r.source_key or r.tracking_number)
            row[at["Created Date"]] = times.format(r.created_at)
            row[at["Closed Date"]] = times.format(r.closed_at or r.resolved_at)
            row[at["Agency"]] = defuse(department.code) if department else ""
            row[at["Agency Name"]] = defuse(department.name) if department else ""
            row[at["Complaint Type"]] = defuse(service.name) if service else ""
            # Row has the three fields the rule reads (channel, source key, description).
            descriptor = _truncate(public_description(cast(Case, r), country))
            row[at["Descriptor"]] = defuse(descriptor)
            row[at["Incident Zip"]] = defuse(zipcode_of(address, country))
            row[at["Incident Address"]] = defuse(address)
            row[at["Status"]] = EXPORT_STATUSES.get(r.status, "Open")
            row[at["Due Date"]] = times.format(r.due_at)
            if resolution:
                resolution = mask_personal_data(str(resolution), country)
                row[at["Resolution Description"]] = defuse(resolution)
            row[at["Resolution Action Updated Date"]] = times.format(r.updated_at)
            row[at["Borough"]] = defuse(r.district or "")
            row[at["Open Data Channel Type"]] = EXPORT_CHANNELS.get(r.origin_channel, "OTHER")
            if r.latitude is not None and r.longitude is not None:
                row[at["Latitude"]] = repr(r.latitude)
                row[at["Longitude"]] = repr(r.longitude)
                row[at["Location"]] = f"({r.latitude!r}, {r.longitude!r})"
            writer.writerow(row)
        yield buffer.getvalue()


def open311_json(
    session: Session,
    jurisdiction: Jurisdiction,
    window: ExportWindow | None = None,
    *,
    extensions: bool = False,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """The jurisdiction's cases as one JSON array of Open311 requests, written as it goes."""
    jurisdiction = session.get_one(Jurisdiction, jurisdiction.id)
    departments, services = _catalog(session, jurisdiction.id)
    query = sa.select(Case.created_at, Case.id, Case).options(selectinload(Case.duplicate_of))
    yield "["
    first = True
    for page in _pages(session, query, jurisdiction.id, window or ExportWindow(), page_size):
        items = []
        for r in page:
            case: Case = r[2]  # its jurisdiction comes from the identity map, no query
            items.append(
                json.dumps(
                    public_request(
                        case,
                        service=services.get(case.service_type_id or 0),
                        department=departments.get(case.department_id or 0),
                        extensions=extensions,
                    ),
                    ensure_ascii=False,
                )
            )
        for r in page:
            session.expunge(r[2])
        yield ("\n" if first else ",\n") + ",\n".join(items)
        first = False
    yield "\n]\n"
