"""The staff reports' records as CSV: one row per case, per contact, or per interaction.

The figures are sums; these files are what they sum, for a spreadsheet or a BI tool:

- ``cases.csv``: every case created in the period (:data:`CASE_COLUMNS`);
- ``contacts.csv``: every contact that arrived in the period (the rows the figures' "offered"
  counts: first responses, calls and chats; no escalations, no first response parked for its
  chat), with its wait, handle time and whether it met its service-level target
  (:data:`CONTACT_COLUMNS`);
- ``interactions.csv``: every message and call recorded in the period, with the call's
  outcome and times (:data:`INTERACTION_COLUMNS`).

No personal data and no free text: no resident, phone number, email address, message body,
subject, description or street address is read at all; agents are staff and are named.
Times are the jurisdiction's local time (ISO 8601 with the offset). Every text cell is
defused (:mod:`contactcenter.imports.csvsafe`): a spreadsheet never runs one as a formula.

Each file is a generator of text chunks, one per page of rows read by keyset over
``(created_at, id)``, each page in its own short read transaction (as
:mod:`contactcenter.imports.export` does), so a year of records streams in constant memory
without holding a connection while the client reads.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.calls.models import Call
from contactcenter.cases.models import Case, Interaction
from contactcenter.imports.csvsafe import defuse
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.performance.drilldown import ABANDONING_KINDS, CONTACT_KINDS, counted_contact
from contactcenter.performance.period import local_bounds
from contactcenter.performance.rollup import CLOSED_STATUSES, zone_of
from contactcenter.performance.targets import service_target
from contactcenter.routing.models import Queue, WorkItem, WorkState

PAGE_SIZE = 1000

CASE_COLUMNS = (
    "tracking_number",
    "created_at",
    "status",
    "priority",
    "channel",
    "department_code",
    "department",
    "service_type_code",
    "service_type",
    "district",
    "assigned_agent",
    "due_at",
    "resolved_at",
    "closed_at",
    "hours_to_close",
    "closed_on_time",
    "sla_breached",
    "reopened_count",
    "duplicate_status",
    "satisfaction",
)
CONTACT_COLUMNS = (
    "contact_id",
    "created_at",
    "kind",
    "channel",
    "queue_code",
    "queue",
    "state",
    "tracking_number",
    "agent",
    "answered_at",
    "assigned_at",
    "completed_at",
    "wait_seconds",
    "handle_seconds",
    "target_seconds",
    "answered_in_target",
    "abandoned",
    "transfers",
    "resolved_on_contact",
)
INTERACTION_COLUMNS = (
    "interaction_id",
    "created_at",
    "channel",
    "direction",
    "delivery_status",
    "automated",
    "tracking_number",
    "agent",
    "call_outcome",
    "call_queue",
    "call_wait_seconds",
    "call_talk_seconds",
    "call_duration_seconds",
    "callback_requested",
)


def _text(value: Any) -> str:
    return "" if value is None else defuse(str(value))


def _flag(value: bool | None) -> str:
    return "" if value is None else ("true" if value else "false")


def _seconds(earlier: dt.datetime | None, later: dt.datetime | None) -> int | None:
    if earlier is None or later is None:
        return None
    return round((later - earlier).total_seconds())


def _stream(
    session: Session,
    header: Sequence[str],
    query: sa.Select[*tuple[Any, ...]],
    created: Any,
    key: Any,
    render: Callable[[Any], Iterable[Any]],
    page_size: int,
) -> Iterator[str]:
    """The header, then ``query`` page by page (keyset on ``created``, ``key``) as CSV."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    yield buffer.getvalue()
    query = query.order_by(created, key).limit(page_size)
    after: tuple[dt.datetime, int] | None = None
    while True:
        page_query = query
        if after is not None:
            page_query = query.where(sa.tuple_(created, key) > after)
        page = session.execute(page_query).all()
        session.commit()  # read-only: no transaction stays open while the client reads
        if not page:
            return
        buffer.seek(0)
        buffer.truncate()
        writer.writerows(render(r) for r in page)
        yield buffer.getvalue()
        if len(page) < page_size:
            return
        after = (page[-1].created_at, page[-1].id)


def cases_csv(
    session: Session,
    jurisdiction: Jurisdiction,
    start: dt.date,
    end: dt.date,
    *,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """Every case created in the local days ``start``..``end``, one row each, oldest first.

    ``hours_to_close`` runs from creation to resolution (else closing), to the tenth of an
    hour; ``closed_on_time`` is empty without a due date or while the case is open.
    """
    zone = zone_of(jurisdiction.timezone)
    since, until = local_bounds(jurisdiction, start, end)

    def local(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).isoformat()

    query = (
        sa.select(
            Case.id,
            Case.created_at,
            Case.tracking_number,
            Case.status,
            Case.priority,
            Case.origin_channel,
            Case.district,
            Case.due_at,
            Case.resolved_at,
            Case.closed_at,
            Case.sla_breached,
            Case.reopened_count,
            Case.duplicate_status,
            Case.satisfaction,
            Department.code.label("department_code"),
            Department.name.label("department"),
            ServiceType.code.label("service_type_code"),
            ServiceType.name.label("service_type"),
            Agent.name.label("agent"),
        )
        .select_from(Case)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(ServiceType, ServiceType.id == Case.service_type_id)
        .outerjoin(Agent, Agent.id == Case.assigned_agent_id)
        .where(
            Case.jurisdiction_id == jurisdiction.id,
            Case.created_at >= since,
            Case.created_at < until,
        )
    )

    def render(r: Any) -> list[Any]:
        done_at = (r.resolved_at or r.closed_at) if r.status in CLOSED_STATUSES else None
        hours = (
            None if done_at is None else round((done_at - r.created_at).total_seconds() / 3600, 1)
        )
        on_time = None if done_at is None or r.due_at is None else done_at <= r.due_at
        return [
            _text(r.tracking_number),
            local(r.created_at),
            _text(r.status),
            _text(r.priority),
            _text(r.origin_channel),
            _text(r.department_code),
            _text(r.department),
            _text(r.service_type_code),
            _text(r.service_type),
            _text(r.district),
            _text(r.agent),
            local(r.due_at),
            local(r.resolved_at),
            local(r.closed_at),
            "" if hours is None else hours,
            _flag(on_time),
            _flag(r.sla_breached),
            r.reopened_count,
            _text(r.duplicate_status),
            "" if r.satisfaction is None else r.satisfaction,
        ]

    yield from _stream(session, CASE_COLUMNS, query, Case.created_at, Case.id, render, page_size)


def contacts_csv(
    session: Session,
    jurisdiction: Jurisdiction,
    start: dt.date,
    end: dt.date,
    *,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """Every contact that arrived in the local days ``start``..``end``, one row each: the
    rows the figures' "offered" counts (:func:`~contactcenter.performance.drilldown.
    counted_contact`), so the file adds up to the figures.

    ``answered_at`` is when an agent first took it and ``wait_seconds`` the wait until then
    (a transfer does not answer it again); ``assigned_at`` is when the agent who has or
    finished it got it, and ``handle_seconds`` runs from then to ``completed_at`` (the handle
    time's definition). ``target_seconds`` is the service-level target of its queue for its
    channel; ``answered_in_target`` is empty until an agent takes it; ``abandoned`` marks a
    call or chat cancelled before any agent took it (the contact figures' definitions).
    """
    zone = zone_of(jurisdiction.timezone)
    since, until = local_bounds(jurisdiction, start, end)
    queues = session.execute(
        sa.select(Queue.id, Queue.code, Queue.name, Queue.service_targets).where(
            Queue.jurisdiction_id == jurisdiction.id
        )
    ).all()
    session.commit()
    by_id = {q.id: q for q in queues}

    def local(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).isoformat()

    query = (
        sa.select(
            WorkItem.id,
            WorkItem.created_at,
            WorkItem.kind,
            WorkItem.channel,
            WorkItem.queue_id,
            WorkItem.state,
            WorkItem.assigned_at,
            WorkItem.first_assigned_at,
            WorkItem.completed_at,
            WorkItem.transfers,
            WorkItem.resolved_on_contact,
            Case.tracking_number,
            Agent.name.label("agent"),
        )
        .select_from(WorkItem)
        .outerjoin(Case, Case.id == WorkItem.case_id)
        .outerjoin(Agent, Agent.id == WorkItem.agent_id)
        .where(
            WorkItem.jurisdiction_id == jurisdiction.id,
            WorkItem.created_at >= since,
            WorkItem.created_at < until,
            WorkItem.kind.in_(CONTACT_KINDS),
            counted_contact(
                kind=WorkItem.kind,
                state=WorkItem.state,
                first_assigned_at=WorkItem.first_assigned_at,
                completed_at=WorkItem.completed_at,
                created_at=WorkItem.created_at,
            ),
        )
    )

    def render(r: Any) -> list[Any]:
        queue = by_id.get(r.queue_id)
        target = service_target(queue.service_targets if queue else None, str(r.channel))
        wait = _seconds(r.created_at, r.first_assigned_at)
        in_target = None
        if r.first_assigned_at is not None:
            in_target = (r.first_assigned_at - r.created_at).total_seconds() <= target.seconds
        abandoned = (
            r.state == WorkState.CANCELLED
            and r.first_assigned_at is None
            and r.kind in ABANDONING_KINDS
        )
        return [
            r.id,
            local(r.created_at),
            _text(r.kind),
            _text(r.channel),
            _text(queue.code if queue else None),
            _text(queue.name if queue else None),
            _text(r.state),
            _text(r.tracking_number),
            _text(r.agent),
            local(r.first_assigned_at),
            local(r.assigned_at),
            local(r.completed_at),
            "" if wait is None else wait,
            _opt(_seconds(r.assigned_at, r.completed_at)),
            target.seconds,
            _flag(in_target),
            _flag(abandoned),
            r.transfers,
            _flag(r.resolved_on_contact),
        ]

    yield from _stream(
        session, CONTACT_COLUMNS, query, WorkItem.created_at, WorkItem.id, render, page_size
    )


def _opt(value: int | None) -> Any:
    return "" if value is None else value


def interactions_csv(
    session: Session,
    jurisdiction: Jurisdiction,
    start: dt.date,
    end: dt.date,
    *,
    page_size: int = PAGE_SIZE,
) -> Iterator[str]:
    """Every interaction recorded in the local days ``start``..``end``, one row each; calls
    carry their outcome, queue and times. Never a body, subject or address."""
    zone = zone_of(jurisdiction.timezone)
    since, until = local_bounds(jurisdiction, start, end)

    def local(value: dt.datetime | None) -> str:
        return "" if value is None else value.astimezone(zone).isoformat()

    query = (
        sa.select(
            Interaction.id,
            Interaction.created_at,
            Interaction.channel,
            Interaction.direction,
            Interaction.delivery_status,
            Interaction.automated,
            Case.tracking_number,
            Agent.name.label("agent"),
            Call.outcome,
            Call.wait_seconds,
            Call.talk_seconds,
            Call.duration_seconds,
            Call.callback_requested_at,
            Queue.code.label("queue"),
        )
        .select_from(Interaction)
        .outerjoin(Case, Case.id == Interaction.case_id)
        .outerjoin(Agent, Agent.id == Interaction.agent_id)
        .outerjoin(Call, Call.interaction_id == Interaction.id)
        .outerjoin(Queue, Queue.id == Call.queue_id)
        .where(
            Interaction.jurisdiction_id == jurisdiction.id,
            Interaction.created_at >= since,
            Interaction.created_at < until,
        )
    )

    def render(r: Any) -> list[Any]:
        is_call = r.outcome is not None
        return [
            r.id,
            local(r.created_at),
            _text(r.channel),
            _text(r.direction),
            _text(r.delivery_status),
            _flag(r.automated),
            _text(r.tracking_number),
            _text(r.agent),
            _text(r.outcome),
            _text(r.queue),
            _opt(r.wait_seconds),
            _opt(r.talk_seconds),
            _opt(r.duration_seconds),
            _flag(r.callback_requested_at is not None) if is_call else "",
        ]

    yield from _stream(
        session,
        INTERACTION_COLUMNS,
        query,
        Interaction.created_at,
        Interaction.id,
        render,
        page_size,
    )
