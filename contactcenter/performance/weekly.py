"""The weekly summary each department head receives by email on Monday morning.

Last week's figures for the department, beside the week before's: the director's scorecard
row of that department (:func:`contactcenter.performance.dashboard.scorecard_figures`, so the
email and the console never disagree), with the goals, and the city's contact-centre headline.
Plain text and the same as an HTML table, to ``departments.head_email``.

When: from 07:00 local time on Monday (:data:`SEND_AT`), once per department per week. A
periodic job (:func:`weekly_job`, every :data:`CHECK_SECONDS` on rq's scheduler, or the serve
command's timer thread without Redis) sends whatever is due. "Once" is a row per department in
``performance_watermarks`` naming the Monday it was sent for, claimed by a conditional write and
committed before the mail leaves, so two workers never both send it; a mail that fails gives
the claim back, and the next check tries again.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from markupsafe import escape
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from contactcenter.db import get_db, utcnow
from contactcenter.jobs import JobRunner
from contactcenter.jurisdictions.models import Department, Jurisdiction
from contactcenter.jurisdictions.service import owned_address
from contactcenter.messages import Channel, DeliveryError, OutboundMessage
from contactcenter.performance.dashboard import (
    SATISFIED_GOAL,
    WITHIN_TARGET_GOAL,
    Scorecard,
    scorecard_figures,
)
from contactcenter.performance.models import RollupWatermark
from contactcenter.performance.period import Period, close_time_caveats
from contactcenter.performance.rollup import zone_of
from contactcenter.performance.service_figures import ServiceTotals

log = logging.getLogger(__name__)

SEND_AT = dt.time(7, 0)
"""Local time on Monday from which last week's summary is sent."""
CHECK_SECONDS = 900
"""How often the job looks for summaries due: every time zone's offset is a multiple of
15 minutes, so each city's Monday 07:00 is met within the quarter hour."""
WATERMARK_PREFIX = "weekly-summary:"


@dataclass(frozen=True)
class Summary:
    department_id: int
    department: str
    recipient: str
    period: Period
    subject: str
    text: str
    html: str


def week_due(jurisdiction: Jurisdiction, now: dt.datetime) -> tuple[dt.datetime, Period]:
    """This week's sending time (Monday :data:`SEND_AT`, local, as UTC) and the week it
    reports: the seven local days, Monday to Sunday, before that Monday."""
    zone = zone_of(jurisdiction.timezone)
    today = now.astimezone(zone).date()
    monday = today - dt.timedelta(days=today.weekday())
    send_at = dt.datetime.combine(monday, SEND_AT, zone).astimezone(dt.UTC)
    return send_at, Period(monday - dt.timedelta(days=7), monday - dt.timedelta(days=1))


# --- Rendering ----------------------------------------------------------------------------


def _count(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


def _days(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} days"


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} / 5"


def _seconds(value: float | None) -> str:
    return "—" if value is None else f"{value:.0f} s"


Line = tuple[str, str, str, str]
"""A figure's name, last week, the week before, and the goal ("" for none)."""


def _lines(card: Scorecard, department_id: int) -> tuple[list[Line], list[Line]]:
    value = str(department_id)
    # A department with nothing in a week has no row: all its counts are zero.
    now = next((r.totals for r in card.service.rows if r.value == value), ServiceTotals())
    before = next(
        (r.totals for r in card.previous_service.rows if r.value == value), ServiceTotals()
    )

    def row(
        name: str, attribute: str, show: Callable[[Any], str], goal: str = "", *, then: bool = True
    ) -> Line:
        earlier = show(getattr(before, attribute)) if then else "—"
        return (name, show(getattr(now, attribute)), earlier, goal)

    # The medians come from monthly histograms: a week's are its months', the same numbers as
    # the week before's when both weeks fall in the same months (not shown then). The backlog
    # is the cases open now: the week before has none of its own.
    note, comparable = close_time_caveats(card.period, card.previous_period)
    over = f" ({note})" if note else ""
    service = [
        row("Cases opened", "opened", _count),
        row("Cases closed", "closed", _count),
        row("Closed within target", "within_target_rate", _rate, _rate(WITHIN_TARGET_GOAL)),
        row(f"Median time to close{over}", "median_days", _days, then=comparable),
        row(f"90th percentile time to close{over}", "p90_days", _days, then=comparable),
        row("Backlog (open cases now)", "backlog", _count, then=False),
        row("SLA breaches", "sla_breached", _count),
        row("Reopen rate", "reopen_rate", _rate),
        row("Duplicates", "duplicates", _count),
        row("Survey answers", "sat_responses", _count),
        row("Average satisfaction", "sat_average", _score),
        row("Satisfied (4 or 5)", "sat_satisfied_rate", _rate, _rate(SATISFIED_GOAL)),
    ]
    c, p = card.contacts, card.previous_contacts
    contacts = [
        ("Contacts offered", _count(c.offered), _count(p.offered), ""),
        ("Answered", _count(c.answered), _count(p.answered), ""),
        ("Service level", _rate(c.service_level), _rate(p.service_level), ""),
        ("Abandonment rate", _rate(c.abandonment_rate), _rate(p.abandonment_rate), ""),
        ("Average speed of answer", _seconds(c.asa_seconds), _seconds(p.asa_seconds), ""),
        ("First-contact resolution", _rate(c.fcr_rate), _rate(p.fcr_rate), ""),
    ]
    return service, contacts


def _text(title: str, intro: str, sections: list[tuple[str, list[Line]]]) -> str:
    out = [title, "", intro, ""]
    for heading, lines in sections:
        out += [heading, "-" * len(heading)]
        width = max(len(line[0]) for line in lines)
        for name, now, before, goal in lines:
            text = f"{name.ljust(width)}  {now}  (week before: {before})"
            out.append(text + (f"  goal {goal}" if goal else ""))
        out.append("")
    out.append("Definitions: the Scorecard page of the console, and the README.")
    return "\n".join(out) + "\n"


def _html(title: str, intro: str, sections: list[tuple[str, list[Line]]]) -> str:
    parts = [
        '<!DOCTYPE html><html><body style="font-family:sans-serif">',
        f'<h1 style="font-size:1.3em">{escape(title)}</h1><p>{escape(intro)}</p>',
    ]
    for heading, lines in sections:
        parts.append(f'<h2 style="font-size:1.1em">{escape(heading)}</h2>')
        parts.append(
            '<table cellpadding="4" style="border-collapse:collapse"><thead><tr>'
            '<th align="left">Figure</th><th align="right">Last week</th>'
            '<th align="right">Week before</th><th align="right">Goal</th></tr></thead><tbody>'
        )
        for name, now, before, goal in lines:
            parts.append(
                f'<tr><td>{escape(name)}</td><td align="right">{escape(now)}</td>'
                f'<td align="right">{escape(before)}</td>'
                f'<td align="right">{escape(goal)}</td></tr>'
            )
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def department_summary(
    card: Scorecard, jurisdiction: Jurisdiction, department: Department
) -> Summary:
    """The summary of ``department`` from the scorecard of the week (``card``)."""
    period = card.period
    week = f"{period.start:%d %b} to {period.end:%d %b %Y}"
    title = f"{department.name}: the week of {week}"
    intro = (
        f"{jurisdiction.name} 3-1-1, weekly performance summary for {department.name}, "
        f"{week} (Monday to Sunday, local time), beside the week before."
    )
    service, contacts = _lines(card, department.id)
    sections = [
        (f"Service delivery: {department.name}", service),
        (f"{jurisdiction.name} 3-1-1 contact centre (all departments)", contacts),
    ]
    return Summary(
        department_id=department.id,
        department=department.name,
        recipient=department.head_email,
        period=period,
        subject=f"Weekly performance: {department.name}, {week}",
        text=_text(title, intro, sections),
        html=_html(title, intro, sections),
    )


def weekly_summaries(
    session: Session,
    jurisdiction: Jurisdiction,
    period: Period,
    *,
    all_departments: bool = False,
    skip: Collection[int] = (),
) -> list[Summary]:
    """``period``'s summary of each department with a head's email (each one's, with
    ``all_departments``) but those in ``skip``, from one scorecard (none read when no
    department is left)."""
    query = sa.select(Department).where(Department.jurisdiction_id == jurisdiction.id)
    if not all_departments:
        query = query.where(Department.head_email != "")
    found = session.scalars(query.order_by(Department.code)).all()
    departments = [d for d in found if d.id not in skip]
    if not departments:
        return []
    card = scorecard_figures(session, jurisdiction, period, "department")
    return [department_summary(card, jurisdiction, d) for d in departments]


# --- Sending, once a week -------------------------------------------------------------------


_MARKS = cast(sa.Table, RollupWatermark.__table__)


def _claim(session: Session, name: str, slot: dt.datetime) -> bool:
    """Mark ``name`` as sent for ``slot`` unless it already is (or a later one); True if this
    call did. Committed at once: the mark must be seen by other workers before the mail goes."""
    marks = _MARKS
    updated = session.connection().execute(
        sa.update(marks).where(marks.c.name == name, marks.c.value < slot).values(value=slot)
    )
    claimed = updated.rowcount > 0
    if not claimed:
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert(marks) if dialect == "postgresql" else sqlite.insert(marks)
        # RETURNING says whether the row was written (psycopg's rowcount here is -1).
        inserted = session.connection().execute(
            insert.values(name=name, value=slot)
            .on_conflict_do_nothing(index_elements=["name"])
            .returning(marks.c.name)
        )
        claimed = inserted.first() is not None
    session.commit()
    return claimed


def _release(session: Session, name: str, slot: dt.datetime) -> None:
    session.connection().execute(
        sa.delete(_MARKS).where(_MARKS.c.name == name, _MARKS.c.value == slot)
    )
    session.commit()


def _sender(session: Session, jurisdiction: Jurisdiction) -> str:
    """The jurisdiction's own email address, else a no-reply one on the public host."""
    address = owned_address(session, jurisdiction.id, Channel.EMAIL)
    if address:
        return address
    host = urlsplit(current_app.config["SETTINGS"].public_base_url or "").hostname
    return f"no-reply@{host or 'localhost'}"


def send_summary(summary: Summary, sender: str) -> None:
    """Hand the summary to the email adapter (logged as DEV OUTBOX without ``SMTP_URL``).

    :raises DeliveryError: the server refused it.
    """
    from contactcenter.outbound import adapters

    adapters()[Channel.EMAIL].send(
        OutboundMessage(
            interaction_id=0,
            channel=Channel.EMAIL,
            to_address=summary.recipient,
            from_address=sender,
            body=summary.text,
            subject=summary.subject,
            automated=True,
            html=summary.html,
        )
    )


def send_weekly_summaries(
    session: Session, now: dt.datetime, *, jurisdiction_ids: Sequence[int] | None = None
) -> int:
    """Send each department head last week's summary if it is due (Monday from 07:00 local
    time) and not sent yet; returns how many were sent. Commits (see the module's docstring).
    ``jurisdiction_ids`` limits it to those jurisdictions."""
    sent = 0
    query = sa.select(Jurisdiction).order_by(Jurisdiction.id)
    if jurisdiction_ids is not None:
        query = query.where(Jurisdiction.id.in_(jurisdiction_ids))
    # What was sent when (a row per department): a check that finds this week's all sent
    # reads no figures, so checking every quarter hour all week costs two small statements.
    marks = session.execute(
        sa.select(_MARKS.c.name, _MARKS.c.value).where(
            _MARKS.c.name.startswith(WATERMARK_PREFIX, autoescape=True)
        )
    ).all()
    last_sent = {name.removeprefix(WATERMARK_PREFIX): value for name, value in marks}
    for jurisdiction in session.scalars(query).all():
        send_at, period = week_due(jurisdiction, now)
        if now < send_at:
            continue
        done = {int(d) for d, value in last_sent.items() if d.isdigit() and value >= send_at}
        summaries = weekly_summaries(session, jurisdiction, period, skip=done)
        if not summaries:
            continue
        sender = _sender(session, jurisdiction)
        session.commit()  # the figures were read; no transaction stays open while mail goes
        for summary in summaries:
            name = f"{WATERMARK_PREFIX}{summary.department_id}"
            if not _claim(session, name, send_at):
                continue
            try:
                send_summary(summary, sender)
            except DeliveryError as exc:
                log.warning(
                    "weekly summary of department %s not sent (%s); will retry",
                    summary.department_id,
                    exc.code,
                )
                if not exc.permanent:
                    _release(session, name, send_at)
                continue
            sent += 1
    return sent


def run_weekly() -> int:
    """Send what is due, in the job's own session."""
    with get_db().session() as session:
        return send_weekly_summaries(session, utcnow())


def weekly_job() -> None:
    """Job: send the summaries due, then schedule the next check (even if this one failed)."""
    try:
        run_weekly()
    finally:
        schedule_weekly(current_app.extensions["jobs"])


def schedule_weekly(runner: JobRunner, seconds: int = CHECK_SECONDS) -> None:
    """Put the next check on rq's scheduler; the job id names the slot, so any number of
    workers seeding it schedule one job (as :func:`contactcenter.routing.tick.schedule_tick`)."""
    queue = runner.queue
    if queue is None:
        return
    slot = int(time.time() // seconds) + 1
    queue.enqueue_at(
        dt.datetime.fromtimestamp(slot * seconds, dt.UTC),
        weekly_job,
        job_id=f"performance-weekly-{slot}",
        result_ttl=0,
        failure_ttl=7 * 86400,
    )
