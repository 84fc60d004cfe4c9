"""The demo's eight weeks of contact-center history: enough to chart, consistent with the rules
the live system records by, made once, and never live work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Presence, PresenceChange
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.demo import seed_demo
from contactcenter.demo_history import CONTACT_SOURCE_PREFIX, SAMPLE_AGENTS, seed_contact_history
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.performance.agent_figures import agent_figures
from contactcenter.performance.contacts import rebuild_contact_rollups
from contactcenter.performance.models import DailyCount
from contactcenter.routing.models import LIVE_WORK_STATES, Offer, WorkItem, agent_queues
from contactcenter.surveys.models import Survey, SurveyState

NOW = dt.datetime(2026, 11, 18, 15, 30, tzinfo=dt.UTC)  # a Wednesday, mid-afternoon in Toronto


@pytest.fixture(autouse=True)
def _app_context(app: Flask) -> Iterator[None]:
    with app.app_context():
        yield


@pytest.fixture
def demo(session: Session) -> Jurisdiction:
    seed_demo(session)
    jurisdiction = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    assert seed_contact_history(session, jurisdiction, now=NOW) > 2000
    rebuild_contact_rollups(session, jurisdiction.id)  # as seed_history does
    session.commit()
    return jurisdiction


def _count(session: Session, model: type, *where: sa.ColumnElement[bool]) -> int:
    return int(session.scalar(sa.select(sa.func.count()).select_from(model).where(*where)) or 0)


def test_the_history_is_made_once_and_is_the_same_each_time(session, demo):
    counts = [_count(session, m) for m in (WorkItem, Offer, Call, PresenceChange, Survey)]
    assert seed_contact_history(session, demo, now=NOW) == 0
    assert [_count(session, m) for m in (WorkItem, Offer, Call, PresenceChange, Survey)] == counts


def test_nothing_is_live_and_the_sample_agents_take_no_real_work(session, demo):
    assert _count(session, WorkItem, WorkItem.state.in_(LIVE_WORK_STATES)) == 0
    assert _count(session, Offer, Offer.state == "pending") == 0
    samples = list(session.scalars(sa.select(Agent).where(Agent.email.like("sample-agent-%"))))
    assert len(samples) == len(SAMPLE_AGENTS)
    assert all(a.presence == Presence.OFFLINE and not a.password_hash for a in samples)
    members = sa.select(agent_queues.c.agent_id).where(
        agent_queues.c.agent_id.in_([a.id for a in samples])
    )
    assert session.execute(members).first() is None
    assert not session.scalars(
        sa.select(WorkItem).where(WorkItem.completed_at > NOW).limit(1)
    ).first()


def test_the_facts_follow_the_rules_the_live_system_records_by(session, demo):
    contact_cases = Case.source_key.like(f"{CONTACT_SOURCE_PREFIX}%")
    # Resolved on contact: never transferred, its case closed when the work ended, not reopened.
    credited = session.execute(
        sa.select(WorkItem.transfers, Case.status, Case.closed_at, WorkItem.completed_at)
        .join(Case, Case.id == WorkItem.case_id)
        .where(WorkItem.resolved_on_contact.is_(True))
    ).all()
    assert credited
    assert all(t == 0 and s == CaseStatus.CLOSED and c == done for t, s, c, done in credited)
    assert _count(session, Case, contact_cases, Case.reopened_count > 0) > 0
    assert _count(session, Case, contact_cases, Case.sla_breached.is_(True)) > 0
    # Every answered survey's score is on its case, and only those.
    answered = session.execute(
        sa.select(Survey.score, Case.satisfaction)
        .join(Case, Case.id == Survey.case_id)
        .where(Survey.state == SurveyState.ANSWERED)
    ).all()
    assert len(answered) > 100 and all(score == mine for score, mine in answered)
    assert _count(session, Case, Case.satisfaction.is_not(None)) == len(answered)
    # Callbacks come back on an outbound call pointing at the call they were asked on.
    callbacks = _count(session, Call, Call.callback_requested_at.is_not(None))
    assert callbacks > 0
    assert _count(session, Call, Call.parent_call_id.is_not(None)) == callbacks
    assert _count(session, Call, Call.outcome == CallOutcome.SELF_SERVED) > 100


def test_contacts_peak_on_weekday_daytime(session, demo):
    arrivals = session.scalars(sa.select(WorkItem.created_at)).all()
    local = [a.astimezone(ZoneInfo("America/Toronto")) for a in arrivals]
    weekday_day = sum(1 for t in local if t.weekday() < 5 and 9 <= t.hour < 17)
    night = sum(1 for t in local if t.hour < 6)
    assert weekday_day > len(local) / 2
    assert night < len(local) / 50
    first = min(arrivals)
    assert NOW - first > dt.timedelta(weeks=7)


def test_the_agents_figures_read_the_sample_shifts(session, demo):
    start = dt.date(2026, 11, 9)  # Monday to Friday of the week before
    rows = {
        r.name: r for r in agent_figures(session, demo, start=start, end=start + dt.timedelta(4))
    }
    early = rows[SAMPLE_AGENTS[0][0]]
    assert 20 * 3600 < early.staffed_seconds < 42 * 3600
    assert early.handled > 10 and early.occupancy is not None and 0 < early.occupancy < 1
    assert early.accepted >= early.handled - 5


def test_the_rollups_are_rebuilt_with_the_history(session, app):
    from contactcenter.demo_history import seed_history

    seed_demo(session)
    jurisdiction = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    seed_history(session, jurisdiction, count=50, now=NOW)
    session.commit()
    opened = session.scalar(
        sa.select(sa.func.sum(DailyCount.opened)).where(
            DailyCount.jurisdiction_id == jurisdiction.id, DailyCount.dimension == "all"
        )
    )
    assert opened == _count(session, Case, Case.jurisdiction_id == jurisdiction.id)
