"""The ``contactcenter`` command: migrations, demo data, server, worker, simulators."""

from __future__ import annotations

import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import FlaskGroup

from channels.email.cli import mail_cli
from contactcenter import migrate
from contactcenter.config import Settings
from contactcenter.db import get_db
from contactcenter.imports.cli import export_cli, import_cli
from contactcenter.open311.cli import open311_cli
from contactcenter.performance.cli import performance_cli
from ivr.cli import ivr_cli


def _create_app():  # type: ignore[no-untyped-def]
    from contactcenter.app import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False)
def cli() -> None:
    """3-1-1 contact center: run `contactcenter --help` for the commands."""


def _settings() -> Settings:
    settings: Settings = current_app.config["SETTINGS"]
    return settings


@cli.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(_settings().database_url, revision)
    click.echo(f"database is at {revision}")


@db.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION (for example -1, or base)."""
    migrate.downgrade(_settings().database_url, revision)


@cli.command()
@click.option(
    "--history",
    is_flag=True,
    help="Also a year of sample requests and eight weeks of contact-center work (once).",
)
def demo(history: bool) -> None:
    """Create the demo jurisdiction and print how to try it."""
    from contactcenter.demo import seed_demo
    from contactcenter.jurisdictions.models import Jurisdiction
    from ivr.menu_store import demo_menu_source, install_menu, live_menu

    with get_db().session() as session:
        creds = seed_demo(session, history=history)
        jurisdiction = session.scalars(
            sa.select(Jurisdiction).where(Jurisdiction.slug == creds.jurisdiction)
        ).one()
        if live_menu(session, jurisdiction.id) is None:  # a city's own menu is never replaced
            install_menu(session, jurisdiction, demo_menu_source())
        session.commit()
    click.echo(
        f"""
Demo jurisdiction '{creds.jurisdiction}' is ready.
  3-1-1 number (call or text): {creds.sms_number}
  3-1-1 email address:         {creds.email}
  Web chat public key:         {creds.chat_key}
  Agent login:                 {creds.agent_email} / {creds.agent_password} (a supervisor)
  Supervisor dashboard:        http://127.0.0.1:5000/console/performance (also Scorecard,
                               Staffing; `contactcenter performance weekly` prints the
                               department heads' weekly email)
  Staff API token:             {creds.api_token}
  Take work (go available):    curl -X PUT -H "Authorization: Bearer {creds.api_token}" \\
      -H "Content-Type: application/json" -d '{{"presence": "available"}}' \\
      http://127.0.0.1:5000/api/v1/agents/{creds.agent_id}/presence
  Then texts and calls reach you as offers: GET /api/v1/work/offers
  Public performance page:     http://127.0.0.1:5000/public/{creds.jurisdiction}/performance
  Open311 API key:             {creds.open311_key}
  File a request (Open311):    curl -d api_key={creds.open311_key} \\
      -d jurisdiction_id={creds.jurisdiction} -d service_code=pothole -d lat=45.4215 \\
      -d long=-75.6972 -d 'attribute[size]=large' -d 'description=Deep pothole' \\
      http://127.0.0.1:5000/open311/v2/requests.json
"""
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """Run the web service (development server; production uses the Procfile's gunicorn)."""
    from werkzeug.serving import run_simple

    base = f"http://{host}:{port}"
    command = sys.argv[0] if sys.argv[0].endswith("contactcenter") else "contactcenter"
    click.echo(
        f"""
3-1-1 contact center listening on {base}
  Agent console: {base}/console/   (sign in with the agent login printed by `demo`)
  Health:        {base}/health
  Staff API:     curl -H "Authorization: Bearer <token>" {base}/api/v1/cases
  Text it:       {command} simulate sms --from +16135550100 "Pothole at 12 Main St"
  Check status:  {command} simulate sms --from +16135550100 "STATUS <tracking number>"
  Call it:       {command} ivr simulate --url {base}   (keys and words at each prompt)
  Chat:          {base}/chat/demo   (a sample city page with the chat button)
  Email it:      {command} simulate email --from you@example.org "Pothole at 12 Main St"
Outbound texts and mail are printed here as 'DEV OUTBOX' lines until Twilio and SMTP_URL are set.
"""
    )
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions["jobs"].redis is None:
        _start_tick_thread(app)
        _start_weekly_thread(app)
        _start_mail_listener(app)
    # The console's Socket.IO rides on this server: threaded Werkzeug with simple-websocket is
    # what socketio.run() would start, but app.run() (which it calls) is a no-op under a CLI.
    run_simple(host, port, app, threaded=True, use_reloader=False)


def _start_mail_listener(app: Flask) -> None:
    """Embedded mode runs everything in one command: the SMTP listener too (the Procfile's
    ``mail`` process in production)."""
    from channels.email.listener import parse_listen, start_listener

    host, port = parse_listen(app.config["SETTINGS"].smtp_listen)
    try:
        start_listener(app, host, port)
    except OSError as exc:
        click.echo(f"SMTP listener not started on {host}:{port}: {exc}")
        return
    click.echo(f"SMTP listener on {host}:{port} (mail for the jurisdictions' addresses)")


def _start_tick_thread(app: Flask) -> None:
    """Without Redis there is no rq scheduler: the periodic routing checks run on a timer."""
    import threading

    from contactcenter.routing.tick import TICK_SECONDS, tick_once

    def loop() -> None:
        while True:
            time.sleep(TICK_SECONDS)
            with app.app_context():
                try:
                    tick_once()
                except Exception:
                    app.logger.exception("routing tick failed")

    threading.Thread(target=loop, name="routing-tick", daemon=True).start()


def _start_weekly_thread(app: Flask) -> None:
    """Without Redis, the departments' weekly summaries are looked for on a timer too."""
    import threading

    from contactcenter.performance.weekly import CHECK_SECONDS, run_weekly

    def loop() -> None:
        while True:
            time.sleep(CHECK_SECONDS)
            with app.app_context():
                try:
                    run_weekly()
                except Exception:
                    app.logger.exception("weekly summaries failed")

    threading.Thread(target=loop, name="weekly-summaries", daemon=True).start()


@cli.command()
@click.option("--burst", is_flag=True, help="Stop when the queues are empty.")
@click.option(
    "--fork",
    is_flag=True,
    help="Run each job in a forked child (rq's default Worker): isolation at ~150 ms a job.",
)
def worker(burst: bool, fork: bool) -> None:
    """Run an rq worker for the background jobs (needs REDIS_URL).

    Jobs run in the worker process itself by default (rq's SimpleWorker): our jobs are short
    database work, and forking a child per job would cost far more than the job (a fork, a new
    database connection, a cold Twilio client). Run several worker processes to use more cores;
    the process manager restarts one that dies.
    """
    from rq import SimpleWorker, Worker

    from contactcenter.jobs import QUEUES
    from contactcenter.performance.weekly import schedule_weekly
    from contactcenter.routing.tick import schedule_tick

    runner = current_app.extensions["jobs"]
    if runner.redis is None:
        raise click.UsageError("REDIS_URL is not set: jobs run inline, no worker is needed.")
    worker_class = Worker if fork else SimpleWorker
    # Every worker seeds the periodic routing tick and the weekly summaries' check; their
    # slot-named job ids keep each single.
    schedule_tick(runner)
    schedule_weekly(runner)
    # The scheduler is what moves failed jobs waiting for a retry back onto their queue; each
    # worker offers to run it and rq keeps exactly one active.
    worker_class(list(QUEUES), connection=runner.redis).work(
        burst=burst, with_scheduler=True, logging_level=_settings().log_level
    )


@cli.command()
def tick() -> None:
    """Run the routing checks once: expired offers, target timeouts, SLA warnings, breaches.

    Workers run this every few seconds on their own; this is for cron or a manual nudge.
    """
    from contactcenter.routing.tick import tick_once

    touched = tick_once()
    click.echo(f"tick done; dispatched {len(touched)} jurisdiction(s)")


@cli.command()
@click.option("--older-than", default=120, show_default=True, help="Seconds.")
def requeue(older_than: int) -> None:
    """Queue again what waits too long: inbound messages not processed, replies not sent.

    Run it every few minutes (cron, or your platform's scheduler); it is safe to overlap.
    """
    import datetime as dt

    from channels.email.ingest import requeue_pending
    from contactcenter.inbox import requeue_unprocessed
    from contactcenter.open311.batch import requeue_pending as requeue_submissions
    from contactcenter.outbound import requeue_stuck_deliveries

    age = dt.timedelta(seconds=older_than)
    with get_db().session() as session:
        inbound = requeue_unprocessed(session, older_than=age)
        outbound = requeue_stuck_deliveries(session, older_than=age)
        mail = requeue_pending(session, older_than=age)
        submissions = requeue_submissions(session, older_than=age)
    click.echo(
        f"requeued {len(inbound)} inbound and {len(outbound)} outbound messages"
        f" and {len(mail)} raw emails and {len(submissions)} Open311 submissions"
    )


@cli.group()
def simulate() -> None:
    """Act as a resident: signed Twilio webhooks, or mail to the SMTP listener (no accounts)."""


@simulate.command("sms")
@click.option("--from", "from_", required=True, help="The resident's phone number.")
@click.option("--to", default="", help="The 3-1-1 number (default: the demo number).")
@click.option("--url", default="http://127.0.0.1:5000", show_default=True)
@click.option("--wait", default=5.0, show_default=True, help="Seconds to wait for the reply.")
@click.argument("text")
def simulate_sms(from_: str, to: str, url: str, wait: float, text: str) -> None:
    """Text TEXT to the 3-1-1 number as FROM would, and print the city's reply."""
    from channels.sms.simulator import signed_inbound_sms
    from contactcenter.cases.models import Interaction
    from contactcenter.demo import DEMO_SMS_NUMBER
    from contactcenter.messages import Channel, Direction

    endpoint, params, signature = signed_inbound_sms(
        _settings(), server_url=url, from_=from_, to=to or DEMO_SMS_NUMBER, body=text
    )
    with get_db().session() as session:
        last_id = session.scalar(sa.select(sa.func.max(Interaction.id))) or 0
    request = urllib.request.Request(  # noqa: S310 - the URL is the operator's own server
        endpoint,
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            click.echo(f"sent {params['MessageSid']}: HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        click.echo(f"server answered HTTP {exc.code}: {exc.read().decode(errors='replace')}")
        sys.exit(1)
    except urllib.error.URLError as exc:
        click.echo(f"cannot reach {endpoint}: {exc.reason}. Is `contactcenter serve` running?")
        sys.exit(1)
    replies_query = sa.select(Interaction.body).where(
        Interaction.id > last_id,
        Interaction.channel == Channel.SMS,
        Interaction.direction == Direction.OUTBOUND,
        Interaction.to_address.in_([from_, from_.replace(" ", "")]),
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with get_db().session() as session:
            replies = session.scalars(replies_query).all()
        if replies:
            for body in replies:
                click.echo(f"reply: {body}")
            return
        time.sleep(0.2)
    click.echo("no reply yet (with REDIS_URL set, is a worker running?)")


@simulate.command("email")
@click.option("--from", "from_", required=True, help="The resident's email address.")
@click.option("--to", default="", help="The 3-1-1 address (default: the demo city's).")
@click.option("--subject", default="", help="Subject (default: the text's first words).")
@click.option("--reply-to-last", is_flag=True, help="Answer the city's last mail to FROM.")
@click.option("--wait", default=5.0, show_default=True, help="Seconds to wait for the reply.")
@click.argument("text")
def simulate_email(
    from_: str, to: str, subject: str, reply_to_last: bool, wait: float, text: str
) -> None:
    """Mail TEXT to the SMTP listener (SMTP_LISTEN) as FROM would, and print the city's reply."""
    import smtplib
    from email.message import EmailMessage
    from email.utils import make_msgid

    from channels.email.listener import parse_listen
    from contactcenter.cases.models import Interaction
    from contactcenter.demo import DEMO_EMAIL
    from contactcenter.messages import Channel, Direction

    outbound = sa.select(Interaction).where(
        Interaction.channel == Channel.EMAIL,
        Interaction.direction == Direction.OUTBOUND,
        Interaction.to_address == from_.lower(),
    )
    message = EmailMessage()
    message["From"] = from_
    message["To"] = to or DEMO_EMAIL
    message["Subject"] = subject or " ".join(text.split()[:6])
    message["Message-ID"] = make_msgid(domain=from_.rpartition("@")[2] or None)
    with get_db().session() as session:
        last = session.scalars(outbound.order_by(Interaction.id.desc()).limit(1)).first()
        last_id = last.id if last is not None else 0
        if reply_to_last and last is not None:
            message.replace_header("Subject", f"Re: {last.subject}")
            message["In-Reply-To"] = f"<{last.provider_id}>"
            message["References"] = " ".join(
                f"<{ref}>" for ref in [*last.thread_refs, last.provider_id]
            )
    message.set_content(text)
    host, port = parse_listen(_settings().smtp_listen)
    try:
        with smtplib.SMTP(host, port, timeout=10) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        click.echo(f"cannot deliver to {host}:{port}: {exc}. Is `contactcenter serve` running?")
        sys.exit(1)
    click.echo(f"sent {message['Message-ID']} to {message['To']}")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with get_db().session() as session:
            replies = session.scalars(outbound.where(Interaction.id > last_id)).all()
            if replies:
                for reply in replies:
                    click.echo(f"reply: {reply.subject}\n{reply.body}")
                return
        time.sleep(0.2)
    click.echo("no reply yet (with REDIS_URL set, are a worker and the mail listener running?)")


@cli.group()
def token() -> None:
    """Staff API tokens."""


@token.command("create")
@click.option("--email", required=True)
@click.option("--name", default="cli")
def token_create(email: str, name: str) -> None:
    """Issue a staff API token for the agent with EMAIL."""
    from contactcenter.agents.models import Agent
    from contactcenter.auth import issue_token

    with get_db().session() as session:
        agent = session.scalars(sa.select(Agent).where(Agent.email == email.lower())).one_or_none()
        if agent is None:
            raise click.UsageError(f"no agent {email}")
        value = issue_token(session, agent, name=name)
        session.commit()
    click.echo(value)


cli.add_command(ivr_cli)
cli.add_command(mail_cli)
cli.add_command(open311_cli)
cli.add_command(performance_cli)
cli.add_command(import_cli)
cli.add_command(export_cli)
