"""Satisfaction survey figures for staff: how many were asked, answered, and how they rated.

Surveys count in the period by the local day they were *sent* (a cohort: a survey sent on
the last day of a month and answered the next belongs to its month), so the response rate of
a period never exceeds 100 %. One GROUP BY query over the surveys alone, whatever the volume
(one for a period and the one before it too: :func:`survey_figures_of_periods`): a survey
whose message failed, bounced or was held back (STOP) is marked suppressed when that happens
(:mod:`contactcenter.surveys.service`), so no message needs joining here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.db import utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.surveys.models import Survey, SurveyState

SCORES = (1, 2, 3, 4, 5)

SURVEY_DEFINITIONS: dict[str, str] = {
    "period": "Surveys count on the local day they were sent (or would have been), whenever "
    "they were answered.",
    "sent": "Surveys that went out: by text, by email, or offered in the chat window at the "
    "chat's end (answered, expired and still open ones).",
    "answered": "Sent surveys the resident answered (1 to 5) before they expired.",
    "suppressed": "Surveys not sent: the resident opted out of texts, the address is "
    "undeliverable, the message failed or bounced, or the resident was already asked within "
    "30 days.",
    "expired": "Sent surveys not answered within 7 days.",
    "response_rate": "answered / sent; none when nothing was sent.",
    "average": "The mean score of the answers, 1 (poor) to 5 (great); none without answers.",
    "distribution": "The number of answers with each score, 1 to 5.",
    "satisfied_rate": "Answers of 4 or 5 / answers; none without answers.",
}


@dataclass
class SurveyCounts:
    sent: int = 0
    answered: int = 0
    suppressed: int = 0
    expired: int = 0
    score_sum: int = 0
    distribution: dict[int, int] = field(default_factory=lambda: dict.fromkeys(SCORES, 0))

    @property
    def response_rate(self) -> float | None:
        return self.answered / self.sent if self.sent else None

    @property
    def average(self) -> float | None:
        return self.score_sum / self.answered if self.answered else None

    @property
    def satisfied_rate(self) -> float | None:
        satisfied = self.distribution[4] + self.distribution[5]
        return satisfied / self.answered if self.answered else None

    def add(self, kind: str, score: int | None, count: int) -> None:
        if kind == "suppressed":
            self.suppressed += count
            return
        self.sent += count
        if kind == "expired":
            self.expired += count
        elif kind == "answered" and score in self.distribution:
            self.answered += count
            self.score_sum += score * count
            self.distribution[score] += count

    def as_dict(self) -> dict[str, Any]:
        return {
            "sent": self.sent,
            "answered": self.answered,
            "suppressed": self.suppressed,
            "expired": self.expired,
            "response_rate": self.response_rate,
            "average": self.average,
            "satisfied_rate": self.satisfied_rate,
            "distribution": {str(score): n for score, n in self.distribution.items()},
        }


@dataclass
class SurveyFigures(SurveyCounts):
    start: dt.date | None = None
    end: dt.date | None = None
    by_channel: dict[str, dict[str, Any]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat() if self.start else None,
            "end": self.end.isoformat() if self.end else None,
            **super().as_dict(),
            "by_channel": self.by_channel,
            "definitions": SURVEY_DEFINITIONS,
        }


def local_bounds(
    jurisdiction: Jurisdiction, start: dt.date, end: dt.date
) -> tuple[dt.datetime, dt.datetime]:
    """UTC instants of local midnight at ``start`` and after ``end`` (inclusive days)."""
    zone = ZoneInfo(jurisdiction.timezone)
    begin = dt.datetime.combine(start, dt.time(), zone).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), zone).astimezone(dt.UTC)
    return begin, after


def survey_figures(
    session: Session, jurisdiction: Jurisdiction, *, start: dt.date, end: dt.date
) -> SurveyFigures:
    """The surveys sent from local day ``start`` to ``end`` (inclusive), in one query.

    :raises Invalid: ``end`` before ``start``.
    """
    (figures,) = survey_figures_of_periods(session, jurisdiction, [(start, end)])
    return figures


def survey_figures_of_periods(
    session: Session, jurisdiction: Jurisdiction, periods: Sequence[tuple[dt.date, dt.date]]
) -> list[SurveyFigures]:
    """:func:`survey_figures` of each period (start, end), in one query (a dashboard's period
    and the one before it).

    :raises Invalid: a period's end before its start.
    """
    if any(end < start for start, end in periods):
        raise Invalid("The period ends before it starts.", code="invalid_period")
    spans = [local_bounds(jurisdiction, start, end) for start, end in periods]
    now = utcnow()
    kind = sa.case(
        (Survey.state == SurveyState.SUPPRESSED, "suppressed"),
        (Survey.state == SurveyState.ANSWERED, "answered"),
        (Survey.state == SurveyState.EXPIRED, "expired"),
        (Survey.expires_at <= now, "expired"),
        else_="open",
    ).label("kind")
    which = sa.case(
        *[
            (sa.and_(Survey.sent_at >= begin, Survey.sent_at < after), index)
            for index, (begin, after) in enumerate(spans)
        ],
        else_=-1,
    ).label("period")
    rows = session.execute(
        sa.select(which, Survey.channel, kind, Survey.score, sa.func.count(Survey.id))
        .where(
            Survey.jurisdiction_id == jurisdiction.id,
            Survey.sent_at >= min(begin for begin, _after in spans),
            Survey.sent_at < max(after for _begin, after in spans),
        )
        .group_by(which, Survey.channel, kind, Survey.score)
    ).all()
    found = [SurveyFigures(start=start, end=end) for start, end in periods]
    channels: list[dict[str, SurveyCounts]] = [{} for _ in periods]
    for index, channel, row_kind, score, count in rows:
        if index < 0:
            continue  # between two periods that are not next to each other
        found[index].add(row_kind, score, count)
        channels[index].setdefault(str(channel), SurveyCounts()).add(row_kind, score, count)
    for figures, by_channel in zip(found, channels, strict=True):
        figures.by_channel = {name: counts.as_dict() for name, counts in sorted(by_channel.items())}
    return found
