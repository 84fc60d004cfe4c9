"""The `contactcenter` command as a newcomer and an operator use it."""

import re
import threading
import time

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo
from werkzeug.serving import make_server

from contactcenter.cases.models import Case, Interaction
from contactcenter.cli import cli
from contactcenter.demo import DEMO_SMS_NUMBER
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Direction
from tests.factories import queue_sms


def _invoke(app, *args):
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def test_demo_seeds_once_and_prints_working_credentials(app, client, session):
    first = _invoke(app, "demo")
    second = _invoke(app, "demo")
    assert session.scalar(sa.select(sa.func.count()).select_from(Jurisdiction)) == 1
    token = re.search(r"Staff API token:\s+(\S+)", second).group(1)
    email, password = re.search(r"Agent login:\s+(\S+) / (\S+)", second).groups()
    assert DEMO_SMS_NUMBER in first
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    login = client.post("/api/v1/tokens", json={"email": email, "password": password})
    assert login.status_code == 201


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()


def test_simulate_sms_sends_a_signed_text_and_prints_the_reply(app, session, live_server, run_jobs):
    _invoke(app, "demo")
    args = (
        "simulate",
        "sms",
        "--url",
        live_server,
        "--from",
        "+16135550100",
        "Pothole at 12 Main St",
    )
    queue = app.extensions["jobs"].queue
    if queue is None:
        output = _invoke(app, *args)
    else:
        # With Redis the reply waits for a worker: run one (on this, the main, thread) as soon
        # as the text is in, while the command waits for the reply.
        outputs = []
        command = threading.Thread(target=lambda: outputs.append(_invoke(app, *args)))
        command.start()
        deadline = time.monotonic() + 5
        while queue.count == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        run_jobs()
        command.join(timeout=10)
        output = outputs[0]
    case = session.scalars(sa.select(Case)).one()
    assert "HTTP 200" in output
    expected = (
        f"Demo City 3-1-1: we got your request. Your tracking number is {case.tracking_number}."
    )
    assert f"reply: {expected}" in output


def test_simulate_sms_explains_when_no_server_runs(app):
    result = CliRunner().invoke(
        cli,
        ["simulate", "sms", "--url", "http://127.0.0.1:9", "--from", "+16135550100", "hi"],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert result.exit_code == 1
    assert "Is `contactcenter serve` running?" in result.output


@pytest.mark.parametrize("flags", [[], ["--fork"]], ids=["in-process", "forking"])
def test_worker_delivers_queued_messages(app, jurisdiction, session, redis_client, flags):
    with app.app_context():
        interaction = queue_sms(session, jurisdiction, body="hello from the worker")
        session.commit()
    _invoke(app, "worker", "--burst", *flags)
    session.expire_all()
    delivered = session.get(Interaction, interaction.id)
    assert delivered.provider_id and delivered.provider_id.startswith("SM")
    assert delivered.direction == Direction.OUTBOUND


def test_worker_refuses_to_start_without_redis(app):
    if app.extensions["jobs"].queue is not None:
        pytest.skip("this app has Redis")
    result = CliRunner().invoke(cli, ["worker", "--burst"], obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code != 0
    assert "REDIS_URL is not set" in result.output


def test_token_create_prints_a_working_token(app, client, jurisdiction, session):
    from tests.factories import make_agent

    agent, _ = make_agent(session, [jurisdiction])
    session.commit()
    token = _invoke(app, "token", "create", "--email", agent.email).strip()
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_db_upgrade_builds_a_fresh_database(tmp_path):
    from contactcenter.app import create_app
    from contactcenter.db import get_db
    from tests.conftest import make_settings

    fresh = create_app(make_settings(f"sqlite:///{tmp_path / 'fresh.db'}"))
    output = _invoke(fresh, "db", "upgrade")
    assert "database is at head" in output
    with get_db(fresh).engine.connect() as conn:
        assert "cases" in sa.inspect(conn).get_table_names()
    get_db(fresh).engine.dispose()


def test_simulate_email_mails_the_listener_and_prints_the_reply(app, session, run_jobs):
    import dataclasses

    from channels.email.listener import start_listener
    from contactcenter.messages import Channel

    _invoke(app, "demo")
    listener = start_listener(app)
    settings = app.config["SETTINGS"]
    app.config["SETTINGS"] = dataclasses.replace(
        settings, smtp_listen=f"{listener.host}:{listener.port}"
    )
    inline = app.extensions["jobs"].queue is None
    try:
        output = _invoke(
            app,
            "simulate",
            "email",
            "--from",
            "jane@example.org",
            "--wait",
            "5" if inline else "0",
            "Pothole at 12 Main St",
        )
        run_jobs()
    finally:
        app.config["SETTINGS"] = settings
        listener.stop()
    assert "sent <" in output
    case = session.scalars(sa.select(Case)).one()
    assert case.origin_channel == Channel.EMAIL
    if inline:
        assert f"reply: Re: Pothole at 12 Main St [311 #{case.tracking_number}]" in output


def test_the_demo_prints_where_to_mail_and_chat(app):
    from contactcenter.demo import DEMO_CHAT_KEY, DEMO_EMAIL

    output = _invoke(app, "demo")
    assert DEMO_EMAIL in output
    assert DEMO_CHAT_KEY in output


def test_the_demo_city_has_a_year_of_history_for_its_public_page(app, client, session):
    output = _invoke(app, "demo", "--history")
    _invoke(app, "demo", "--history")

    history = session.scalar(
        sa.select(sa.func.count()).select_from(Case).where(Case.source_key.like("demo-%"))
    )
    assert history == 1500
    assert "/public/demo/performance" in output
    figures = client.get("/public/demo/performance.json").get_json()
    assert figures["totals"]["opened"] > 1000
