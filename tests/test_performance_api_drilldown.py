"""From a figure to the records behind it, on a small history where every answer is known.

The week reported is Monday 2 to Sunday 8 November 2026 in Toronto (UTC-5 that week). The
history has records just inside and just outside it (a case at 23:30 on the Sunday, local,
which is already Monday in UTC), records of another city, and one record per edge each figure
must get right: an abandoned chat, an SMS answered late against its queue's own target, an
escalation that is not a contact, a case reopened, one closed late, a confirmed duplicate.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import (
    Case,
    CaseStatus,
    DeliveryStatus,
    DuplicateStatus,
    Interaction,
)
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.performance.drilldown import FIGURES, DrilldownError, drilldown
from contactcenter.routing.models import Queue, WorkItem, WorkKind, WorkState
from contactcenter.surveys.models import Survey, SurveyState
from tests import factories

WEEK_START = dt.date(2026, 11, 2)
WEEK_END = dt.date(2026, 11, 8)
TORONTO = dt.timezone(dt.timedelta(hours=-5))  # EST throughout November's second week


def local(day: int, hour: int, minute: int = 0, month: int = 11) -> dt.datetime:
    return dt.datetime(2026, month, day, hour, minute, tzinfo=TORONTO).astimezone(dt.UTC)


@dataclass
class History:
    city: Jurisdiction
    other: Jurisdiction
    cases: dict[str, Case]
    work: dict[str, WorkItem]
    calls: dict[str, Call]
    queues: dict[str, Queue]
    departments: dict[str, Department]
    agent_id: int
    supervisor_token: str
    agent_token: str


def _case(session: Session, city: Jurisdiction, created: dt.datetime, **fields: Any) -> Case:
    case = factories.make_case(
        session,
        city,
        description="My phone is 613-555-0100, pothole at 12 Main St",
        address_text="12 Main St",
        **fields,
    )
    case.created_at = created
    session.flush()
    return case


def _work(
    session: Session,
    city: Jurisdiction,
    queue: Queue,
    created: dt.datetime,
    *,
    kind: WorkKind = WorkKind.FIRST_RESPONSE,
    channel: Channel = Channel.SMS,
    wait: int | None = None,
    handle: int | None = None,
    state: WorkState | None = None,
    case: Case | None = None,
    agent_id: int | None = None,
    transfers: int = 0,
    cancelled_after: int = 30,
) -> WorkItem:
    assigned = created + dt.timedelta(seconds=wait) if wait is not None else None
    completed = assigned + dt.timedelta(seconds=handle) if assigned and handle else None
    if state == WorkState.CANCELLED:
        completed = created + dt.timedelta(seconds=cancelled_after)
    if state is None:
        state = (
            WorkState.COMPLETED
            if completed
            else WorkState.ASSIGNED
            if assigned
            else (WorkState.WAITING)
        )
    item = WorkItem(
        jurisdiction_id=city.id,
        case_id=case.id if case else None,
        kind=kind,
        channel=channel,
        queue_id=queue.id,
        targets=[[queue.id, None]],
        target_started_at=created,
        state=state,
        agent_id=agent_id if assigned else None,
        created_at=created,
        assigned_at=assigned,
        first_assigned_at=assigned,
        completed_at=completed,
        transfers=transfers,
    )
    session.add(item)
    session.flush()
    return item


def _call(
    session: Session,
    city: Jurisdiction,
    created: dt.datetime,
    *,
    outcome: CallOutcome,
    case: Case | None = None,
    direction: Direction = Direction.INBOUND,
    parent: Call | None = None,
    **fields: Any,
) -> Call:
    interaction = Interaction(
        jurisdiction_id=city.id,
        case_id=case.id if case else None,
        channel=Channel.VOICE,
        direction=direction,
        provider_id="CA" + secrets.token_hex(16),
        from_address="+16135550100",
        to_address="+16135550311",
        body="",
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=created,
    )
    session.add(interaction)
    session.flush()
    call = Call(
        jurisdiction_id=city.id,
        interaction_id=interaction.id,
        call_sid=interaction.provider_id,
        direction=direction,
        outcome=outcome,
        parent_call_id=parent.id if parent else None,
        created_at=created,
        **fields,
    )
    session.add(call)
    session.flush()
    return call


def build_history(session: Session) -> History:
    city = factories.make_jurisdiction(session, slug="springfield")
    other = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    departments = {
        d.code: d
        for d in session.scalars(sa.select(Department).where(Department.jurisdiction_id == city.id))
    }
    pothole = factories.service_type(session, city, "pothole")
    pickup = factories.service_type(session, city, "missed-pickup")
    phones = factories.make_queue(session, city, "phones", name="Phones")
    texts = factories.make_queue(
        session,
        city,
        "texts",
        name="Texts",
        service_targets={"sms": {"seconds": 60, "percent": 90}},
    )
    agent, agent_token = factories.make_agent(session, [city], name="Alex Agent")
    _boss, supervisor_token = factories.make_agent(
        session, [city], role=Role.SUPERVISOR, name="Sam Supervisor"
    )
    pw = departments["PW"]
    cases = {
        # Opened in the week, resolved the next day before its due date; the resident gave 5.
        "on_time": _case(
            session,
            city,
            local(3, 10),
            service_type=pothole,
            department=pw,
            district="ward-1",
            status=CaseStatus.RESOLVED,
            resolved_at=local(4, 9),
            due_at=local(5, 9),
            satisfaction=5,
            assigned_agent_id=agent.id,
        ),
        # Opened in the week, resolved after it (late, but not in this week's closings).
        "closed_after": _case(
            session,
            city,
            local(3, 12),
            service_type=pickup,
            department=departments["SAN"],
            status=CaseStatus.RESOLVED,
            resolved_at=local(10, 9),
            due_at=local(4, 12),
        ),
        # Opened before the week, reopened once, closed in it late; the resident gave 2.
        "reopened_late": _case(
            session,
            city,
            local(20, 9, month=10),
            service_type=pothole,
            department=pw,
            district="ward-2",
            status=CaseStatus.CLOSED,
            closed_at=local(5, 16),
            due_at=local(1, 9),
            reopened_count=1,
            satisfaction=2,
        ),
        # Opened in the week, still open, breached its SLA, a confirmed duplicate.
        "breached_duplicate": _case(
            session,
            city,
            local(6, 8),
            department=pw,
            status=CaseStatus.OPEN,
            sla_breached=True,
            duplicate_status=DuplicateStatus.CONFIRMED,
        ),
        # Opened long before and still open: backlog only.
        "old_open": _case(session, city, local(1, 8, month=10), status=CaseStatus.IN_PROGRESS),
        # Sunday 23:30 in Toronto is Monday 04:30 UTC: still the week's.
        "sunday_night": _case(session, city, local(8, 23, 30), status=CaseStatus.NEW),
        # Monday after the week: none of its figures.
        "next_week": _case(session, city, local(9, 0, 30), status=CaseStatus.NEW),
        # Another city's case in the same week: never anywhere.
        "elsewhere": _case(session, other, local(3, 10), status=CaseStatus.OPEN),
    }
    work = {
        "call_on_time": _work(
            session,
            city,
            phones,
            local(3, 10),
            kind=WorkKind.CALL,
            channel=Channel.VOICE,
            wait=10,
            handle=300,
            case=cases["on_time"],
            agent_id=agent.id,
        ),
        "call_late_transferred": _work(
            session,
            city,
            phones,
            local(3, 11),
            kind=WorkKind.CALL,
            channel=Channel.VOICE,
            wait=45,
            handle=120,
            agent_id=agent.id,
            transfers=1,
        ),
        "chat_abandoned": _work(
            session,
            city,
            phones,
            local(4, 9),
            kind=WorkKind.CHAT,
            channel=Channel.WEBCHAT,
            state=WorkState.CANCELLED,
        ),
        "sms_late_for_its_queue": _work(
            session,
            city,
            texts,
            local(4, 10),
            wait=90,
            handle=60,
            case=cases["breached_duplicate"],
            agent_id=agent.id,
        ),
        "sms_in_default_target": _work(session, city, phones, local(4, 11), wait=90, handle=60),
        "sms_cancelled": _work(session, city, phones, local(5, 11), state=WorkState.CANCELLED),
        # Cancelled the instant it was made: parked for the case's chat, never a contact.
        "parked": _work(
            session, city, phones, local(5, 11), state=WorkState.CANCELLED, cancelled_after=0
        ),
        "escalation": _work(
            session,
            city,
            phones,
            local(5, 12),
            kind=WorkKind.ESCALATION,
            wait=9999,
            transfers=2,
        ),
        "next_week": _work(
            session, city, phones, local(9, 9), kind=WorkKind.CALL, channel=Channel.VOICE
        ),
        "elsewhere": _work(
            session,
            other,
            factories.make_queue(session, other, "phones"),
            local(3, 10),
            kind=WorkKind.CALL,
            channel=Channel.VOICE,
            state=WorkState.CANCELLED,
        ),
    }
    wanted_callback = _call(
        session,
        city,
        local(4, 14),
        outcome=CallOutcome.ANSWERED,  # an agent reached the caller on the callback
        callback_requested_at=local(4, 14, 2),
        queue_id=phones.id,
    )
    calls = {
        "self_served": _call(session, city, local(3, 15), outcome=CallOutcome.SELF_SERVED),
        "callback": wanted_callback,
        "called_back": _call(
            session,
            city,
            local(4, 15),
            outcome=CallOutcome.ANSWERED,
            direction=Direction.OUTBOUND,
            parent=wanted_callback,
            answered_at=local(4, 15, 1),
        ),
        "self_served_elsewhere": _call(
            session, other, local(3, 15), outcome=CallOutcome.SELF_SERVED
        ),
    }
    for key, sent, state in (
        ("on_time", local(4, 10), SurveyState.ANSWERED),
        ("reopened_late", local(5, 17), SurveyState.ANSWERED),
        ("closed_after", local(5, 17), SurveyState.SUPPRESSED),  # opted out: not surveyed
    ):
        session.add(
            Survey(
                jurisdiction_id=city.id,
                case_id=cases[key].id,
                channel=Channel.SMS,
                address="+16135550100",
                token=secrets.token_hex(16),
                state=state,
                score=cases[key].satisfaction,
                sent_at=sent,
                expires_at=sent + dt.timedelta(days=7),
            )
        )
    session.commit()
    return History(
        city=city,
        other=other,
        cases=cases,
        work=work,
        calls=calls,
        queues={"phones": phones, "texts": texts},
        departments=departments,
        agent_id=agent.id,
        supervisor_token=supervisor_token,
        agent_token=agent_token,
    )


@pytest.fixture
def history(session: Session) -> History:
    return build_history(session)


EXPECTED: dict[str, set[str]] = {
    "offered": {
        "call_on_time",
        "call_late_transferred",
        "chat_abandoned",
        "sms_late_for_its_queue",
        "sms_in_default_target",
        "sms_cancelled",
    },
    "answered": {
        "call_on_time",
        "call_late_transferred",
        "sms_late_for_its_queue",
        "sms_in_default_target",
    },
    "abandoned": {"chat_abandoned"},
    "answered_late": {"call_late_transferred", "sms_late_for_its_queue"},
    "transferred": {"call_late_transferred"},
    "callbacks": {"callback"},
    "self_served": {"self_served"},
    "opened": {"on_time", "closed_after", "breached_duplicate", "sunday_night"},
    "closed": {"on_time", "reopened_late"},
    "closed_late": {"reopened_late"},
    "backlog": {"breached_duplicate", "old_open", "sunday_night", "next_week"},
    "sla_breached": {"breached_duplicate"},
    "reopened": {"reopened_late"},
    "duplicates": {"breached_duplicate"},
    "dissatisfied": {"reopened_late"},
    "surveyed": {"on_time", "reopened_late"},
    "rated": {"on_time", "reopened_late"},
    "handled": {
        "call_on_time",
        "call_late_transferred",
        "sms_late_for_its_queue",
        "sms_in_default_target",
    },
}


def _names(history: History, kind: str) -> dict[int, str]:
    sources: dict[str, dict[str, Any]] = {
        "case": history.cases,
        "contact": history.work,
        "call": history.calls,
    }
    source = sources[kind]
    return {record.id: name for name, record in source.items()}


def _found(history: History, page: Any) -> set[str]:
    return {_names(history, row.kind)[row.id] for row in page.rows}


def test_every_figure_has_its_known_records(session: Session, history: History) -> None:
    assert set(EXPECTED) == set(FIGURES)
    for figure, expected in EXPECTED.items():
        page = drilldown(
            session, history.city, figure=figure, start=WEEK_START, end=WEEK_END, filters={}
        )
        assert _found(history, page) == expected, figure
        assert page.total == len(expected), figure


def test_rows_name_the_record_and_nothing_personal(session: Session, history: History) -> None:
    page = drilldown(
        session, history.city, figure="answered", start=WEEK_START, end=WEEK_END, filters={}
    )
    late_sms = next(r for r in page.rows if r.id == history.work["sms_late_for_its_queue"].id)
    row = late_sms.as_dict(dt.UTC)
    assert row["tracking_number"] == history.cases["breached_duplicate"].tracking_number
    assert (row["queue"], row["agent"], row["channel"]) == ("Texts", "Alex Agent", "sms")
    assert (row["wait_seconds"], row["handle_seconds"]) == (90, 60)
    assert row["department"] == "Public Works"
    text = repr([r.as_dict() for r in page.rows])
    assert "613-555-0100" not in text and "Main St" not in text and "+1613" not in text


def test_filters_narrow_any_figure(session: Session, history: History) -> None:
    def found(figure: str, **filters: str) -> set[str]:
        page = drilldown(
            session,
            history.city,
            figure=figure,
            start=WEEK_START,
            end=WEEK_END,
            filters=filters,
        )
        return _found(history, page)

    pw = str(history.departments["PW"].id)
    texts = str(history.queues["texts"].id)
    assert found("opened", department=pw) == {"on_time", "breached_duplicate"}
    assert found("opened", department="none") == {"sunday_night"}
    assert found("answered", queue=texts) == {"sms_late_for_its_queue"}
    assert found("answered", channel="voice") == {"call_on_time", "call_late_transferred"}
    assert found("offered", agent=str(history.agent_id)) == {
        "call_on_time",
        "call_late_transferred",
        "sms_late_for_its_queue",
    }
    assert found("closed", district="ward-2") == {"reopened_late"}
    assert found("opened", queue=texts) == {"breached_duplicate"}
    assert found("answered", department=pw) == {"call_on_time", "sms_late_for_its_queue"}
    assert found("callbacks", channel="sms") == set()


def test_pages_are_bounded_and_carry_the_total(session: Session, history: History) -> None:
    first = drilldown(
        session,
        history.city,
        figure="offered",
        start=WEEK_START,
        end=WEEK_END,
        filters={},
        page=1,
        per_page=4,
    )
    second = drilldown(
        session,
        history.city,
        figure="offered",
        start=WEEK_START,
        end=WEEK_END,
        filters={},
        page=2,
        per_page=4,
    )
    assert (first.total, len(first.rows), len(second.rows), first.pages) == (6, 4, 2, 2)
    assert not {r.id for r in first.rows} & {r.id for r in second.rows}
    newest_first = [r.created_at for r in first.rows + second.rows]
    assert newest_first == sorted(newest_first, reverse=True)
    huge = drilldown(
        session,
        history.city,
        figure="offered",
        start=WEEK_START,
        end=WEEK_END,
        filters={},
        per_page=10_000,
    )
    assert huge.per_page == 100


def test_a_page_costs_two_statements(
    session: Session, history: History, count_queries: Any
) -> None:
    with count_queries() as counter:
        drilldown(
            session, history.city, figure="backlog", start=WEEK_START, end=WEEK_END, filters={}
        )
    assert counter.count == 2, counter.statements


def test_an_empty_period_has_no_records(session: Session, history: History) -> None:
    for figure in FIGURES:
        page = drilldown(
            session,
            history.city,
            figure=figure,
            start=dt.date(2020, 1, 1),
            end=dt.date(2020, 1, 7),
            filters={},
        )
        if figure != "backlog":
            assert (page.total, page.rows) == (0, []), figure


@pytest.mark.parametrize(
    ("figure", "filters", "field"),
    [
        ("everything", {}, "figure"),
        ("opened", {"resident": "1"}, "resident"),
        ("opened", {"queue": "phones"}, "queue"),
        ("opened", {"department": "1; DROP TABLE cases"}, "department"),
    ],
)
def test_unknown_figures_and_filters_are_refused(
    session: Session, history: History, figure: str, filters: dict[str, str], field: str
) -> None:
    with pytest.raises(DrilldownError) as refused:
        drilldown(
            session, history.city, figure=figure, start=WEEK_START, end=WEEK_END, filters=filters
        )
    assert refused.value.field == field


def test_a_callback_that_reached_the_caller_says_so(session: Session, history: History) -> None:
    page = drilldown(
        session, history.city, figure="callbacks", start=WEEK_START, end=WEEK_END, filters={}
    )
    [row] = page.rows
    assert (row.status, row.queue, row.channel) == ("called_back", "Phones", "voice")


def _drill(session: Session, history: History, figure: str, **kw: Any) -> set[str]:
    page = drilldown(
        session,
        history.city,
        figure=figure,
        start=WEEK_START,
        end=WEEK_END,
        filters=kw.pop("filters", {}),
        **kw,
    )
    return _found(history, page)


def test_answered_and_the_wait_are_the_first_answer_not_the_last_transfer(
    session: Session, history: History
) -> None:
    item = history.work["call_late_transferred"]
    # Transferred and taken again an hour later: still answered 45 s after it arrived.
    item.assigned_at = item.first_assigned_at + dt.timedelta(hours=1)  # type: ignore[operator]
    session.commit()
    page = drilldown(
        session, history.city, figure="answered", start=WEEK_START, end=WEEK_END, filters={}
    )
    row = next(r for r in page.rows if r.id == item.id)
    assert (row.answered_at, row.wait_seconds) == (item.first_assigned_at, 45)
    assert _drill(session, history, "answered_late") == EXPECTED["answered_late"]
    # Sent back to a queue and cancelled there: answered once, so never abandoned.
    chat = history.work["chat_abandoned"]
    chat.first_assigned_at = chat.created_at + dt.timedelta(seconds=5)
    session.commit()
    assert "chat_abandoned" in _drill(session, history, "answered")
    assert _drill(session, history, "abandoned") == set()


def test_a_parked_first_response_with_no_end_recorded_is_not_offered(
    session: Session, history: History
) -> None:
    history.work["parked"].completed_at = None
    session.commit()
    assert _drill(session, history, "offered") == EXPECTED["offered"]


def test_handled_is_the_agents_work_finished_in_the_period(
    session: Session, history: History
) -> None:
    mine = _drill(session, history, "handled", filters={"agent": str(history.agent_id)})
    assert mine == {"call_on_time", "call_late_transferred", "sms_late_for_its_queue"}
    # Arrived the week before, finished in it: the agents' figure counts it, so does this.
    item = history.work["sms_in_default_target"]
    item.created_at -= dt.timedelta(days=7)
    item.target_started_at = item.created_at
    session.commit()
    assert "sms_in_default_target" in _drill(session, history, "handled")
    assert "sms_in_default_target" not in _drill(session, history, "offered")


def test_an_interval_narrows_the_period_to_its_records(session: Session, history: History) -> None:
    hour = _drill(session, history, "offered", start_at=local(3, 11), end_at=local(3, 12))
    assert hour == {"call_late_transferred"}
    quarter = _drill(session, history, "offered", start_at=local(4, 9), end_at=local(4, 9, 15))
    assert quarter == {"chat_abandoned"}
    # An interval reaching outside the period is cut to it.
    wide = _drill(
        session, history, "offered", start_at=local(1, 0, month=1), end_at=local(1, 0, month=12)
    )
    assert wide == EXPECTED["offered"]


def test_an_interval_without_a_time_zone_is_refused(session: Session, history: History) -> None:
    with pytest.raises(DrilldownError) as refused:
        drilldown(
            session,
            history.city,
            figure="offered",
            start=WEEK_START,
            end=WEEK_END,
            filters={},
            start_at=dt.datetime(2026, 11, 3, 11),
        )
    assert refused.value.field == "start_at"
