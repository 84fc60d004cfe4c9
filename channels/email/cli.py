"""``contactcenter mail ...``: run the SMTP listener, and look after quarantined mail."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import click
import sqlalchemy as sa
from flask import current_app
from flask.cli import with_appcontext


@click.group("mail")
def mail_cli() -> None:
    """Inbound email: the SMTP listener and quarantined messages."""


@mail_cli.command("listen")
@with_appcontext
@click.option("--host", default="", help="Interface to listen on (default: from SMTP_LISTEN).")
@click.option("--port", default=0, type=int, help="Port (default: from SMTP_LISTEN).")
def listen(host: str, port: int) -> None:
    """Accept mail for the jurisdictions' addresses over SMTP until stopped (SIGTERM, ^C)."""
    from channels.email.listener import parse_listen, start_listener

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    default_host, default_port = parse_listen(app.config["SETTINGS"].smtp_listen)
    running = start_listener(app, host or default_host, port or default_port)
    click.echo(f"SMTP listener on {running.host}:{running.port}")
    stop = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    stop.wait()
    running.stop()
    click.echo("SMTP listener stopped")


@mail_cli.command("quarantine")
@with_appcontext
@click.option("--limit", default=50, show_default=True)
def quarantine_list(limit: int) -> None:
    """List quarantined messages, newest first, with why each could not be processed."""
    from contactcenter.db import get_db
    from contactcenter.jurisdictions.models import Jurisdiction
    from contactcenter.mail.service import quarantined

    with get_db().session() as session:
        ids = list(session.scalars(sa.select(Jurisdiction.id)))
        rows = quarantined(session, ids, limit=limit)
        if not rows:
            click.echo("no quarantined mail")
        for raw in rows:
            click.echo(
                f"{raw.id}\t{raw.received_at:%Y-%m-%d %H:%M}\t{raw.recipient}\t"
                f"from {raw.envelope_from or '<>'}\t{raw.size} bytes\t{raw.error}"
            )


@mail_cli.command("show")
@with_appcontext
@click.argument("raw_id", type=int)
def show(raw_id: int) -> None:
    """Write message RAW_ID exactly as received (an .eml) to standard output."""
    from contactcenter.db import get_db
    from contactcenter.mail.models import RawEmail

    with get_db().session() as session:
        data = session.scalar(sa.select(RawEmail.data).where(RawEmail.id == raw_id))
    if data is None:
        raise click.UsageError(f"no message {raw_id}")
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()


@mail_cli.command("retry")
@with_appcontext
@click.argument("raw_id", type=int)
def retry(raw_id: int) -> None:
    """Process quarantined message RAW_ID again (after fixing what made it fail)."""
    from channels.email.ingest import queue_processing
    from contactcenter.db import get_db
    from contactcenter.errors import Conflict
    from contactcenter.mail.models import RawEmail
    from contactcenter.mail.service import release_for_retry

    with get_db().session() as session:
        raw = session.get(RawEmail, raw_id)
        if raw is None:
            raise click.UsageError(f"no message {raw_id}")
        try:
            release_for_retry(session, raw)
        except Conflict as exc:
            raise click.UsageError(exc.message) from None
        queue_processing(session, raw.id)
        session.commit()
        session.refresh(raw)
        click.echo(f"message {raw.id}: {raw.state}")
