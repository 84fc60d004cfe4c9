"""``contactcenter performance ...``: look after the pre-aggregated public figures."""

from __future__ import annotations

import time

import click
import sqlalchemy as sa
from flask.cli import with_appcontext

from contactcenter.db import get_db


@click.group("performance")
def performance_cli() -> None:
    """The public performance figures (rollups of the cases)."""


@performance_cli.command("rebuild")
@with_appcontext
@click.option("--jurisdiction", "slug", default="", help="Only this jurisdiction (its slug).")
def rebuild_command(slug: str) -> None:
    """Recompute the figures from the cases and the contacts, e.g. after a bulk import or a
    time zone change.

    Each jurisdiction's case figures, then its contact-center figures, are rebuilt and
    committed on their own (never both locks at once); writes to the figures being rebuilt
    wait meanwhile (on PostgreSQL), reads go on.
    """
    from contactcenter.jurisdictions.models import Jurisdiction
    from contactcenter.performance.contacts import rebuild_contact_rollups
    from contactcenter.performance.rollup import rebuild

    with get_db().session() as session:
        query = sa.select(Jurisdiction.id, Jurisdiction.slug).order_by(Jurisdiction.id)
        if slug:
            query = query.where(Jurisdiction.slug == slug)
        targets = session.execute(query).all()
        if slug and not targets:
            raise click.UsageError(f"no jurisdiction with slug {slug!r}")
        for jurisdiction_id, name in targets:
            started = time.perf_counter()
            rebuild(session, jurisdiction_id)
            session.commit()
            rebuild_contact_rollups(session, jurisdiction_id)
            session.commit()
            click.echo(f"{name}: rebuilt in {time.perf_counter() - started:.1f} s")


@performance_cli.command("weekly")
@with_appcontext
@click.option("--send", is_flag=True, help="Send what is due instead of printing it.")
@click.option("--jurisdiction", "slug", default="", help="Only this jurisdiction (its slug).")
def weekly_command(send: bool, slug: str) -> None:
    """Print last week's summary of each department, or (--send) email the ones due.

    Sending is what the workers do every Monday from 07:00 local time: each department head
    gets the summary once per week, however often this runs. Printing shows every department,
    with or without a head's email.
    """
    from contactcenter.db import utcnow
    from contactcenter.jurisdictions.models import Jurisdiction
    from contactcenter.performance.weekly import send_weekly_summaries, week_due, weekly_summaries

    with get_db().session() as session:
        query = sa.select(Jurisdiction).order_by(Jurisdiction.id)
        if slug:
            query = query.where(Jurisdiction.slug == slug)
        cities = session.scalars(query).all()
        if slug and not cities:
            raise click.UsageError(f"no jurisdiction with slug {slug!r}")
        now = utcnow()
        if send:
            ids = [city.id for city in cities] if slug else None
            sent = send_weekly_summaries(session, now, jurisdiction_ids=ids)
            click.echo(f"sent {sent} weekly summary(ies)")
            return
        for city in cities:
            _send_at, period = week_due(city, now)
            for summary in weekly_summaries(session, city, period, all_departments=True):
                to = summary.recipient or "(no head_email: not sent)"
                click.echo(f"To: {to}\nSubject: {summary.subject}\n\n{summary.text}")
