"""The supervisor's dashboard and the director's scorecard, composed from the figures.

Each is one JSON-ready dict: the period and the previous one of the same length (for the
comparison arrows), the figures of both, the targets they are judged against and the written
definition of every figure, so whatever shows them (the console, the staff API, the weekly
email) shows the same numbers with the same words.

Every figure function reads pre-aggregated rows (or, for agents, a bounded window of presence
changes) in a fixed number of statements, so a dashboard costs a fixed number of statements
whatever the volume and the period: see ``tests/test_performance_api.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.performance.agent_figures import AGENT_DEFINITIONS, agent_figures
from contactcenter.performance.contact_figures import (
    DEFINITIONS,
    ContactReport,
    ContactTotals,
    Grain,
    contact_figures,
    contact_queues,
)
from contactcenter.performance.drilldown import FIGURES as DRILLDOWN_DEFINITIONS
from contactcenter.performance.period import Period
from contactcenter.performance.service_figures import (
    SERVICE_DEFINITIONS,
    Dimension,
    ServiceReport,
    service_figures,
)
from contactcenter.surveys.figures import SurveyFigures, survey_figures_of_periods

WITHIN_TARGET_GOAL = 0.8
"""The share of cases a department should close within its service types' targets (the
scorecard's goal line; each service type's own target is in days, ``target_days``)."""

SATISFIED_GOAL = 0.8
"""The share of survey answers that should be 4 or 5 of 5."""


def _headline(totals: ContactTotals) -> dict[str, Any]:
    """The contact centre's headline figures for the scorecard and the weekly email."""
    return {
        "offered": totals.offered,
        "answered": totals.answered,
        "abandoned": totals.abandoned,
        "abandonment_rate": totals.abandonment_rate,
        "service_level": totals.service_level,
        "asa_seconds": totals.asa_seconds,
        "aht_seconds": totals.aht_seconds,
        "fcr_rate": totals.fcr_rate,
        "callbacks_requested": totals.callbacks_requested,
        "callbacks_completed": totals.callbacks_completed,
        "self_served": totals.self_served,
    }


def _surveys(
    session: Session, jurisdiction: Jurisdiction, period: Period, previous: Period
) -> tuple[SurveyFigures, SurveyFigures]:
    """The survey figures of a period and of the one before it, in one statement."""
    now, before = survey_figures_of_periods(
        session, jurisdiction, [(period.start, period.end), (previous.start, previous.end)]
    )
    return now, before


def supervisor_dashboard(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    start: dt.date,
    end: dt.date,
    grain: Grain = "day",
    queue_ids: Sequence[int] | None = None,
    channels: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The contact centre's figures for ``start``..``end`` (local days) and the period before.

    Contacts by interval, queue and channel (with each channel's service-level target), the
    agents' figures, the service-delivery headline and satisfaction.
    """
    period = Period(start, end)
    previous = period.previous()
    queues = contact_queues(session, jurisdiction)

    def contacts(of: Period) -> ContactReport:
        return contact_figures(
            session,
            jurisdiction,
            start=of.start,
            end=of.end,
            grain=grain,
            queue_ids=queue_ids,
            channels=channels,
            queues=queues,
        )

    current_contacts, previous_contacts = contacts(period), contacts(previous)
    agents = agent_figures(session, jurisdiction, start=start, end=end)

    def service(of: Period) -> ServiceReport:
        return service_figures(session, jurisdiction, start=of.start, end=of.end, trend=False)

    service_now, service_before = service(period), service(previous)
    surveys_now, surveys_before = _surveys(session, jurisdiction, period, previous)
    return {
        "jurisdiction": jurisdiction.slug,
        "timezone": jurisdiction.timezone,
        "period": period.as_dict(),
        "previous_period": previous.as_dict(),
        "grain": grain,
        "filters": {"queue": list(queue_ids or []), "channel": list(channels or [])},
        "contacts": {
            "current": current_contacts.as_dict(),
            "previous": previous_contacts.as_dict(),
        },
        "targets": {
            channel: target.as_dict() for channel, target in current_contacts.targets.items()
        },
        "agents": [figures.as_dict() for figures in agents],
        "service": {
            "current": service_now.totals.as_dict(),
            "previous": service_before.totals.as_dict(),
        },
        "satisfaction": {"current": surveys_now.as_dict(), "previous": surveys_before.as_dict()},
        "definitions": {
            "contacts": DEFINITIONS,
            "agents": AGENT_DEFINITIONS,
            "service": SERVICE_DEFINITIONS,
            "drilldown": DRILLDOWN_DEFINITIONS,
        },
    }


@dataclass(frozen=True)
class Scorecard:
    """The director's figures, typed: what :func:`director_scorecard` renders as a dict and
    the weekly summary reads for one department."""

    period: Period
    previous_period: Period
    dimension: Dimension
    service: ServiceReport
    previous_service: ServiceReport
    surveys: SurveyFigures
    previous_surveys: SurveyFigures
    contacts: ContactTotals
    previous_contacts: ContactTotals
    target_days: dict[str, float]


def scorecard_figures(
    session: Session,
    jurisdiction: Jurisdiction,
    period: Period,
    dimension: Dimension = "department",
) -> Scorecard:
    previous = period.previous()

    def service(of: Period, trend: bool = True) -> ServiceReport:
        return service_figures(
            session, jurisdiction, start=of.start, end=of.end, dimension=dimension, trend=trend
        )

    def contacts(of: Period) -> ContactTotals:
        return contact_figures(
            session, jurisdiction, start=of.start, end=of.end, grain="month"
        ).totals

    targets = session.execute(
        sa.select(ServiceType.code, ServiceType.target_days).where(
            ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.target_days.is_not(None)
        )
    ).all()
    surveys, previous_surveys = _surveys(session, jurisdiction, period, previous)
    return Scorecard(
        period=period,
        previous_period=previous,
        dimension=dimension,
        service=service(period),
        previous_service=service(previous, trend=False),  # its totals and rows are shown
        surveys=surveys,
        previous_surveys=previous_surveys,
        contacts=contacts(period),
        previous_contacts=contacts(previous),
        target_days={code: float(days) for code, days in targets if days is not None},
    )


def director_scorecard(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    start: dt.date,
    end: dt.date,
    dimension: Dimension = "department",
) -> dict[str, Any]:
    """Service delivery by ``dimension`` for ``start``..``end`` and the period before, with
    satisfaction, the contact centre's headline, the targets and the definitions."""
    card = scorecard_figures(session, jurisdiction, Period(start, end), dimension)
    before = {row.value: row.totals for row in card.previous_service.rows}
    return {
        "jurisdiction": jurisdiction.slug,
        "timezone": jurisdiction.timezone,
        "period": card.period.as_dict(),
        "previous_period": card.previous_period.as_dict(),
        "dimension": dimension,
        "service": {
            "current": card.service.as_dict(),
            "previous": card.previous_service.totals.as_dict(),
        },
        "rows": [
            {
                "value": row.value,
                "label": row.label,
                "current": row.totals.as_dict(),
                "previous": before[row.value].as_dict() if row.value in before else None,
            }
            for row in card.service.rows
        ],
        "satisfaction": {
            "current": card.surveys.as_dict(),
            "previous": card.previous_surveys.as_dict(),
        },
        "contacts": {
            "current": _headline(card.contacts),
            "previous": _headline(card.previous_contacts),
        },
        "targets": {
            "within_target_rate": WITHIN_TARGET_GOAL,
            "sat_satisfied_rate": SATISFIED_GOAL,
            "target_days": card.target_days,
        },
        "definitions": {
            "service": SERVICE_DEFINITIONS,
            "contacts": DEFINITIONS,
            "drilldown": DRILLDOWN_DEFINITIONS,
            "within_target_rate_goal": "The share of cases closed within their service "
            "type's target that the city aims for.",
            "sat_satisfied_rate_goal": "The share of survey answers of 4 or 5 the city aims for.",
        },
    }
