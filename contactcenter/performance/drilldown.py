"""From a figure to the records behind it: the cases, contacts or calls it counted.

A supervisor who sees "12 abandoned" or "5 SLA breaches" asks "which?". Each figure of the
dashboard and the scorecard has a drill-down here that selects, from the source tables, the
records the figure counts, with the same definitions (see :data:`FIGURES`), over the same
period, a page at a time with the total: two statements per page (the count and the page),
whatever the volume.

A row names the record (tracking number, service type, department, status, channel, queue,
times, waits, the agent) and nothing personal: no resident, description, address or message.

Filters narrow any figure: ``queue``, ``department``, ``service_type`` and ``agent`` by id,
``channel`` by name, ``district`` by code; ``none`` asks for records without a department,
service type or district; ``queue`` and ``channel`` may list several, comma-separated. A
case matches ``queue`` when any of its work was in that queue; a contact matches
``department``, ``service_type`` and ``district`` through its case.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import OPEN_STATUSES, Case, DuplicateStatus, Interaction
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel, Direction
from contactcenter.performance.period import local_bounds
from contactcenter.performance.rollup import CLOSED_STATUSES, zone_of
from contactcenter.performance.targets import SHORT_ABANDON_SECONDS, service_target
from contactcenter.routing.models import Queue, WorkItem, WorkKind, WorkState
from contactcenter.surveys.models import Survey, SurveyState

MAX_PER_PAGE = 100

RowKind = Literal["case", "contact", "call"]
Rows = sa.Select[*tuple[Any, ...]]

FIGURES: dict[str, str] = {
    "offered": "Contacts (first responses, calls and chats; not escalations) that arrived in "
    "the period, in the queue they are in now (a case's first response parked, unanswered, "
    "for its chat is not one: the chat is).",
    "answered": "Offered contacts an agent took (the first time one did; a transfer does not "
    "answer them again).",
    "abandoned": "Calls and chats that were cancelled before any agent took them (the "
    f"resident left or was handed off); those within {SHORT_ABANDON_SECONDS} s of arriving "
    "are listed too, though the abandonment rate leaves them out.",
    "answered_late": "Answered contacts that waited (from arriving to the first agent taking "
    "them) longer than their queue's service-level target for their channel.",
    "handled": "Contacts (first responses, calls and chats; not escalations) whose work an "
    'agent completed in the period, whenever they arrived: the agents\' "handled".',
    "transferred": "Contacts transferred at least once to another queue or agent.",
    "callbacks": "Calls that arrived in the period on which the caller asked to be called back "
    "(status called_back once an agent reached them).",
    "self_served": "Calls that arrived in the period and ended in the voice menu, the caller "
    "having heard what they needed.",
    "opened": "Cases created in the period.",
    "closed": "Cases resolved or closed in the period (the resolution's day).",
    "closed_late": "Cases closed in the period after their due date.",
    "backlog": "Cases open now (new, open or in progress), whatever the period.",
    "sla_breached": "Cases created in the period whose SLA clock breached a target.",
    "reopened": "Cases closed in the period that had been reopened at least once.",
    "duplicates": "Cases created in the period confirmed as duplicates of another.",
    "dissatisfied": "Cases closed in the period whose resident answered the satisfaction "
    "survey with 1 or 2 (of 5).",
    "rated": "Cases closed in the period whose resident answered the satisfaction survey (the "
    "satisfaction figures' answers).",
    "surveyed": "Cases whose satisfaction survey was sent in the period (not those the "
    "resident's opt-out or address suppressed).",
}
"""Every figure with a drill-down, and what its rows are."""

CONTACT_FIGURES = frozenset(
    {"offered", "answered", "abandoned", "answered_late", "transferred", "handled"}
)
CALL_FIGURES = frozenset({"callbacks", "self_served"})
CASE_FIGURES = frozenset(FIGURES) - CONTACT_FIGURES - CALL_FIGURES

FILTERS = ("queue", "channel", "department", "service_type", "district", "agent")
_ID_FILTERS = frozenset({"queue", "department", "service_type", "agent"})
_NONE = "none"
_MULTI_FILTERS = frozenset({"queue", "channel"})

CONTACT_KINDS = (WorkKind.FIRST_RESPONSE, WorkKind.CALL, WorkKind.CHAT)
ABANDONING_KINDS = (WorkKind.CALL, WorkKind.CHAT)


class DrilldownError(ValueError):
    """A figure or filter that does not exist, or a filter value of the wrong kind."""

    def __init__(self, message: str, field_name: str) -> None:
        super().__init__(message)
        self.field = field_name


@dataclass(frozen=True)
class DrilldownRow:
    """One record a figure counted. ``status`` is the case's status, the work's state or the
    call's outcome; ``answered_at`` when an agent took it; ``finished_at`` when the case was
    resolved (else closed), the work completed or the call ended."""

    kind: RowKind
    id: int
    case_id: int | None
    tracking_number: str | None
    service_type: str | None
    department: str | None
    district: str | None
    status: str
    channel: str
    queue: str | None
    agent: str | None
    created_at: dt.datetime
    answered_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    wait_seconds: int | None = None
    handle_seconds: int | None = None

    def as_dict(self, zone: dt.tzinfo = dt.UTC) -> dict[str, Any]:
        def local(value: dt.datetime | None) -> str | None:
            return None if value is None else value.astimezone(zone).isoformat()

        return {
            "kind": self.kind,
            "id": self.id,
            "case_id": self.case_id,
            "tracking_number": self.tracking_number,
            "service_type": self.service_type,
            "department": self.department,
            "district": self.district,
            "status": self.status,
            "channel": self.channel,
            "queue": self.queue,
            "agent": self.agent,
            "created_at": local(self.created_at),
            "answered_at": local(self.answered_at),
            "finished_at": local(self.finished_at),
            "due_at": local(self.due_at),
            "wait_seconds": self.wait_seconds,
            "handle_seconds": self.handle_seconds,
        }


@dataclass(frozen=True)
class DrilldownPage:
    figure: str
    rows: list[DrilldownRow]
    total: int
    page: int
    per_page: int
    zone: dt.tzinfo = field(default=dt.UTC, compare=False)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def as_dict(self) -> dict[str, Any]:
        return {
            "figure": self.figure,
            "definition": FIGURES[self.figure],
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "pages": self.pages,
            "rows": [row.as_dict(self.zone) for row in self.rows],
        }


def seconds_between(session: Session, later: Any, earlier: Any) -> sa.ColumnElement[Any]:
    """``later - earlier`` in seconds, in SQL, on PostgreSQL and SQLite alike."""
    if session.get_bind().dialect.name == "postgresql":
        return sa.func.extract("epoch", later - earlier)
    # julianday rounded to the millisecond, as the rollups do, so that exactly 20 s is 20 s.
    return sa.func.round((sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0, 3)


def drilldown(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    figure: str,
    start: dt.date,
    end: dt.date,
    filters: Mapping[str, str],
    page: int = 1,
    per_page: int = 50,
    start_at: dt.datetime | None = None,
    end_at: dt.datetime | None = None,
) -> DrilldownPage:
    """The records behind ``figure`` in the local days ``start``..``end``, newest first.

    ``start_at``/``end_at`` (aware) narrow the period to an interval of it, as a dashboard's
    15-minute or hourly row counts the contacts that arrived in it.

    :raises DrilldownError: an unknown figure or filter, a filter value that is not an id, or
        an interval bound without a time zone.
    """
    if figure not in FIGURES:
        raise DrilldownError(f"Unknown figure {figure!r}; one of: {', '.join(FIGURES)}.", "figure")
    wanted = _clean_filters(filters)
    page = max(page, 1)
    per_page = min(max(per_page, 1), MAX_PER_PAGE)
    since, until = local_bounds(jurisdiction, start, end)
    for name, bound in (("start_at", start_at), ("end_at", end_at)):
        if bound is not None and bound.utcoffset() is None:
            raise DrilldownError(f"{name!r} needs a time zone (an offset).", name)
    if start_at is not None:
        since = max(since, start_at)
    if end_at is not None:
        until = min(until, end_at)
    if figure in CONTACT_FIGURES:
        query, order, make = _contacts(session, jurisdiction, figure, since, until, wanted)
    elif figure in CALL_FIGURES:
        query, order, make = _calls(jurisdiction, figure, since, until, wanted)
    else:
        query, order, make = _cases(jurisdiction, figure, since, until, wanted)
    total = session.scalar(query.with_only_columns(sa.func.count()).order_by(None)) or 0
    rows: list[DrilldownRow] = []
    if total > (page - 1) * per_page:
        result = session.execute(
            query.order_by(*order).limit(per_page).offset((page - 1) * per_page)
        )
        rows = [make(r) for r in result]
    return DrilldownPage(figure, rows, int(total), page, per_page, zone_of(jurisdiction.timezone))


Wanted = str | int | tuple[str | int, ...] | None


def _clean_filters(filters: Mapping[str, str]) -> dict[str, Wanted]:
    """Known filters with their values typed: ids as ints, ``none`` as None, empty dropped;
    ``queue`` and ``channel`` may list several values, comma-separated (as the figures take
    several queues or channels), which become a tuple."""
    clean: dict[str, Wanted] = {}
    for name, raw in filters.items():
        if name not in FILTERS:
            raise DrilldownError(f"Unknown filter {name!r}; one of: {', '.join(FILTERS)}.", name)
        value = (raw or "").strip()
        if not value:
            continue
        if name in _MULTI_FILTERS and "," in value:
            clean[name] = tuple(_typed(name, part.strip()) for part in value.split(","))
        elif value == _NONE and name in {"department", "service_type", "district"}:
            clean[name] = None
        else:
            clean[name] = _typed(name, value)
    return clean


def _typed(name: str, value: str) -> str | int:
    if name in _ID_FILTERS:
        if not value.isascii() or not value.isdigit() or len(value) > 18:
            raise DrilldownError(f"{name!r} must be an id (a whole number).", name)
        return int(value)
    return value


def _match(column: Any, value: Wanted) -> sa.ColumnElement[bool]:
    condition: sa.ColumnElement[bool]
    if value is None:
        condition = column.is_(None)
    elif isinstance(value, tuple):
        condition = column.in_(value)
    else:
        condition = column == value
    return condition


def _case_filters(wanted: Mapping[str, Wanted]) -> list[sa.ColumnElement[bool]]:
    """Conditions on ``Case`` for the filters that describe a case."""
    conditions = []
    for name, column in (
        ("department", Case.department_id),
        ("service_type", Case.service_type_id),
        ("district", Case.district),
    ):
        if name in wanted:
            conditions.append(_match(column, wanted[name]))
    return conditions


# --- Cases --------------------------------------------------------------------------------


def _cases(
    jurisdiction: Jurisdiction,
    figure: str,
    since: dt.datetime,
    until: dt.datetime,
    wanted: Mapping[str, Wanted],
) -> tuple[Rows, list[Any], Any]:
    done_at = sa.func.coalesce(Case.resolved_at, Case.closed_at)
    is_closed = Case.status.in_(CLOSED_STATUSES)
    closed_in_period = sa.and_(is_closed, done_at >= since, done_at < until)
    created_in_period = sa.and_(Case.created_at >= since, Case.created_at < until)
    conditions: list[sa.ColumnElement[bool]] = [Case.jurisdiction_id == jurisdiction.id]
    order: list[Any] = [Case.created_at.desc(), Case.id.desc()]
    if figure == "opened":
        conditions.append(created_in_period)
    elif figure == "closed":
        conditions.append(closed_in_period)
        order = [done_at.desc(), Case.id.desc()]
    elif figure == "closed_late":
        conditions += [closed_in_period, Case.due_at.is_not(None), done_at > Case.due_at]
        order = [done_at.desc(), Case.id.desc()]
    elif figure == "backlog":
        conditions.append(Case.status.in_(OPEN_STATUSES))
        order = [Case.created_at, Case.id]  # the oldest first: they are the ones to chase
    elif figure == "sla_breached":
        conditions += [created_in_period, Case.sla_breached.is_(True)]
    elif figure == "reopened":
        conditions += [closed_in_period, Case.reopened_count > 0]
        order = [done_at.desc(), Case.id.desc()]
    elif figure == "duplicates":
        conditions += [created_in_period, Case.duplicate_status == DuplicateStatus.CONFIRMED]
    elif figure == "dissatisfied":
        conditions += [closed_in_period, Case.satisfaction.between(1, 2)]
        order = [done_at.desc(), Case.id.desc()]
    elif figure == "rated":
        conditions += [closed_in_period, Case.satisfaction.is_not(None)]
        order = [done_at.desc(), Case.id.desc()]
    elif figure == "surveyed":
        surveyed = (
            sa.select(Survey.id)
            .where(
                Survey.case_id == Case.id,
                Survey.jurisdiction_id == jurisdiction.id,
                Survey.sent_at >= since,
                Survey.sent_at < until,
                Survey.state != SurveyState.SUPPRESSED,
            )
            .exists()
        )
        conditions.append(surveyed)
    conditions += _case_filters(wanted)
    if "channel" in wanted:
        conditions.append(_match(Case.origin_channel, wanted["channel"]))
    if "agent" in wanted:
        conditions.append(_match(Case.assigned_agent_id, wanted["agent"]))
    if "queue" in wanted:
        conditions.append(
            sa.select(WorkItem.id)
            .where(WorkItem.case_id == Case.id, _match(WorkItem.queue_id, wanted["queue"]))
            .exists()
        )
    query = (
        sa.select(
            Case.id,
            Case.tracking_number,
            Case.status,
            Case.origin_channel,
            Case.district,
            Case.created_at,
            done_at.label("done_at"),
            Case.due_at,
            ServiceType.name.label("service_type"),
            Department.name.label("department"),
            Agent.name.label("agent"),
        )
        .select_from(Case)
        .outerjoin(ServiceType, ServiceType.id == Case.service_type_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Agent, Agent.id == Case.assigned_agent_id)
        .where(*conditions)
    )

    def make(r: Any) -> DrilldownRow:
        finished = r.done_at if r.status in CLOSED_STATUSES else None
        return DrilldownRow(
            kind="case",
            id=r.id,
            case_id=r.id,
            tracking_number=r.tracking_number,
            service_type=r.service_type,
            department=r.department,
            district=r.district,
            status=str(r.status),
            channel=str(r.origin_channel),
            queue=None,
            agent=r.agent,
            created_at=r.created_at,
            finished_at=finished,
            due_at=r.due_at,
        )

    return query, order, make


# --- Contacts (work items) --------------------------------------------------------------------


def _target_seconds(session: Session, jurisdiction: Jurisdiction) -> sa.ColumnElement[Any]:
    """The service-level target of each work item's queue and channel, as a SQL expression."""
    queues = session.execute(
        sa.select(Queue.id, Queue.service_targets).where(Queue.jurisdiction_id == jurisdiction.id)
    ).all()
    channels = [c.value for c in Channel]
    by_queue = [
        (
            sa.and_(WorkItem.queue_id == queue_id, WorkItem.channel == channel),
            service_target(targets, channel).seconds,
        )
        for queue_id, targets in queues
        if targets
        for channel in channels
    ]
    by_channel = sa.case(
        {channel: service_target(None, channel).seconds for channel in channels},
        value=WorkItem.channel,
        else_=service_target(None, "other").seconds,
    )
    if not by_queue:
        return by_channel
    return sa.case(*by_queue, else_=by_channel)


def counted_contact(
    *, kind: Any, state: Any, first_assigned_at: Any, completed_at: Any, created_at: Any
) -> sa.ColumnElement[bool]:
    """Whether a contact-kind work item counts as a contact (the figures' "offered"), given
    its columns (of the model or of a table alias).

    A case's first response cancelled, never answered, the instant it was made (or with no
    end recorded) was parked for the case's chat, which is the contact: it never waited for
    anyone. Written without NULLs in the result, so ``NOT`` and filters agree everywhere.
    """
    parked = sa.and_(
        kind == WorkKind.FIRST_RESPONSE.value,
        state == WorkState.CANCELLED.value,
        first_assigned_at.is_(None),
        sa.or_(completed_at.is_(None), completed_at <= created_at),
    )
    return sa.not_(parked)


def _contacts(
    session: Session,
    jurisdiction: Jurisdiction,
    figure: str,
    since: dt.datetime,
    until: dt.datetime,
    wanted: Mapping[str, Wanted],
) -> tuple[Rows, list[Any], Any]:
    wait = seconds_between(session, WorkItem.first_assigned_at, WorkItem.created_at)
    conditions: list[sa.ColumnElement[bool]] = [
        WorkItem.jurisdiction_id == jurisdiction.id,
        WorkItem.kind.in_(CONTACT_KINDS),
    ]
    if figure == "handled":
        # The agents' figure: work finished in the period, whenever it arrived.
        conditions += [
            WorkItem.state == WorkState.COMPLETED,
            WorkItem.assigned_at.is_not(None),
            WorkItem.completed_at >= since,
            WorkItem.completed_at < until,
        ]
    else:
        conditions += [
            WorkItem.created_at >= since,
            WorkItem.created_at < until,
            counted_contact(
                kind=WorkItem.kind,
                state=WorkItem.state,
                first_assigned_at=WorkItem.first_assigned_at,
                completed_at=WorkItem.completed_at,
                created_at=WorkItem.created_at,
            ),
        ]
    if figure == "answered":
        conditions.append(WorkItem.first_assigned_at.is_not(None))
    elif figure == "abandoned":
        conditions += [
            WorkItem.state == WorkState.CANCELLED,
            WorkItem.first_assigned_at.is_(None),
            WorkItem.kind.in_(ABANDONING_KINDS),
        ]
    elif figure == "answered_late":
        conditions += [
            WorkItem.first_assigned_at.is_not(None),
            wait > _target_seconds(session, jurisdiction),
        ]
    elif figure == "transferred":
        conditions.append(WorkItem.transfers > 0)
    conditions += _case_filters(wanted)
    if "channel" in wanted:
        conditions.append(_match(WorkItem.channel, wanted["channel"]))
    if "queue" in wanted:
        conditions.append(_match(WorkItem.queue_id, wanted["queue"]))
    if "agent" in wanted:
        conditions.append(_match(WorkItem.agent_id, wanted["agent"]))
    query = (
        sa.select(
            WorkItem.id,
            WorkItem.case_id,
            WorkItem.kind,
            WorkItem.state,
            WorkItem.channel,
            WorkItem.created_at,
            WorkItem.assigned_at,
            WorkItem.first_assigned_at,
            WorkItem.completed_at,
            Case.tracking_number,
            Case.district,
            Case.due_at,
            Queue.name.label("queue"),
            ServiceType.name.label("service_type"),
            Department.name.label("department"),
            Agent.name.label("agent"),
        )
        .select_from(WorkItem)
        .join(Queue, Queue.id == WorkItem.queue_id)
        .outerjoin(Case, Case.id == WorkItem.case_id)
        .outerjoin(ServiceType, ServiceType.id == Case.service_type_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Agent, Agent.id == WorkItem.agent_id)
        .where(*conditions)
    )
    order = [WorkItem.created_at.desc(), WorkItem.id.desc()]
    if figure == "handled":
        order = [WorkItem.completed_at.desc(), WorkItem.id.desc()]

    def make(r: Any) -> DrilldownRow:
        return DrilldownRow(
            kind="contact",
            id=r.id,
            case_id=r.case_id,
            tracking_number=r.tracking_number,
            service_type=r.service_type,
            department=r.department,
            district=r.district,
            status=str(r.state),
            channel=str(r.channel),
            queue=r.queue,
            agent=r.agent,
            created_at=r.created_at,
            answered_at=r.first_assigned_at,
            finished_at=r.completed_at,
            due_at=r.due_at,
            wait_seconds=_seconds(r.created_at, r.first_assigned_at),
            # The agent who finished it: from when they got it (as the handle time counts).
            handle_seconds=_seconds(r.assigned_at, r.completed_at),
        )

    return query, order, make


def _seconds(earlier: dt.datetime | None, later: dt.datetime | None) -> int | None:
    if earlier is None or later is None:
        return None
    return round((later - earlier).total_seconds())


# --- Calls --------------------------------------------------------------------------------


def _calls(
    jurisdiction: Jurisdiction,
    figure: str,
    since: dt.datetime,
    until: dt.datetime,
    wanted: Mapping[str, Wanted],
) -> tuple[Rows, list[Any], Any]:
    conditions: list[sa.ColumnElement[bool]] = [
        Call.jurisdiction_id == jurisdiction.id,
        Call.direction == Direction.INBOUND,
        Call.parent_call_id.is_(None),
        Call.created_at >= since,
        Call.created_at < until,
    ]
    if figure == "callbacks":
        conditions.append(Call.callback_requested_at.is_not(None))
    else:
        conditions.append(Call.outcome == CallOutcome.SELF_SERVED)
    conditions += _case_filters(wanted)
    if "channel" in wanted:
        conditions.append(_match(sa.literal(Channel.VOICE.value), wanted["channel"]))
    if "queue" in wanted:
        conditions.append(_match(Call.queue_id, wanted["queue"]))
    if "agent" in wanted:
        conditions.append(_match(Call.agent_id, wanted["agent"]))
    query = (
        sa.select(
            Call.id,
            Call.outcome,
            Call.created_at,
            Call.answered_at,
            Call.ended_at,
            Call.wait_seconds,
            Call.talk_seconds,
            Interaction.case_id,
            Case.tracking_number,
            Case.district,
            Case.due_at,
            Queue.name.label("queue"),
            ServiceType.name.label("service_type"),
            Department.name.label("department"),
            Agent.name.label("agent"),
        )
        .select_from(Call)
        .join(Interaction, Interaction.id == Call.interaction_id)
        .outerjoin(Case, Case.id == Interaction.case_id)
        .outerjoin(Queue, Queue.id == Call.queue_id)
        .outerjoin(ServiceType, ServiceType.id == Case.service_type_id)
        .outerjoin(Department, Department.id == Case.department_id)
        .outerjoin(Agent, Agent.id == Call.agent_id)
        .where(*conditions)
    )
    order = [Call.created_at.desc(), Call.id.desc()]

    def make(r: Any) -> DrilldownRow:
        status = str(r.outcome)
        if figure == "callbacks":
            # The call on which the resident asked is marked answered once an agent reached
            # them on the callback (the figures' "callbacks completed").
            status = "called_back" if r.outcome == CallOutcome.ANSWERED else "callback_pending"
        return DrilldownRow(
            kind="call",
            id=r.id,
            case_id=r.case_id,
            tracking_number=r.tracking_number,
            service_type=r.service_type,
            department=r.department,
            district=r.district,
            status=status,
            channel=Channel.VOICE.value,
            queue=r.queue,
            agent=r.agent,
            created_at=r.created_at,
            answered_at=r.answered_at,
            finished_at=r.ended_at,
            due_at=r.due_at,
            wait_seconds=r.wait_seconds,
            handle_seconds=r.talk_seconds,
        )

    return query, order, make
