"""Shared fixtures. The suite runs on two stacks, chosen by the environment:

- embedded (default): a SQLite file and inline jobs;
- servers: ``TEST_DATABASE_URL`` (PostgreSQL) and ``TEST_REDIS_URL`` (rq on Redis, jobs run by
  a real rq worker in burst mode).

The schema is built once per run by the Alembic migrations, never by ``create_all``. Each test
commits for real (the code under test owns its transactions) and the tables are emptied after
it, so after-commit hooks, constraints and concurrency behave as in production.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from redis import Redis
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session
from twilio.request_validator import RequestValidator
from werkzeug.test import TestResponse

from contactcenter import migrate
from contactcenter.app import create_app
from contactcenter.config import Settings
from contactcenter.db import Base, get_db
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.context import forget_contexts
from tests import factories
from tests.twilio_http import CapturingHttpClient

AUTH_TOKEN = "test-twilio-auth-token"
ACCOUNT_SID = "AC" + "1" * 32
PUBLIC_BASE_URL = "https://311.city.example"
TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


def _create_postgres_database(server_url: str) -> str:
    url = make_url(server_url)
    name = f"cc_test_{secrets.token_hex(4)}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(server_url: str, test_url: str) -> None:
    name = make_url(test_url).database
    admin = sa.create_engine(
        make_url(server_url), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool
    )
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server_url = os.environ.get("TEST_DATABASE_URL", "")
    if server_url:
        url = _create_postgres_database(server_url)
        migrate.upgrade(url)
        yield url
        _drop_postgres_database(server_url, url)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.db'}"
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def redis_url() -> str:
    return os.environ.get("TEST_REDIS_URL", "")


@pytest.fixture(scope="session")
def twilio_http() -> CapturingHttpClient:
    return CapturingHttpClient()


def make_settings(database_url: str, redis_url: str = "", **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "test",
        "database_url": database_url,
        "redis_url": redis_url,
        "secret_key": "test-secret",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "public_base_url": PUBLIC_BASE_URL,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture(scope="session")
def app(database_url: str, redis_url: str, twilio_http: CapturingHttpClient) -> Iterator[Flask]:
    application = create_app(make_settings(database_url, redis_url), twilio_http_client=twilio_http)
    yield application
    get_db(application).engine.dispose()
    runner = application.extensions["jobs"]
    if runner.redis is not None:
        runner.redis.close()


@pytest.fixture(autouse=True)
def _clean_state(request: pytest.FixtureRequest) -> Iterator[None]:
    """Empty every table and queue after each test that used the app."""
    yield
    if "app" not in request.fixturenames:
        return
    app: Flask = request.getfixturevalue("app")
    twilio_http: CapturingHttpClient = request.getfixturevalue("twilio_http")
    twilio_http.reset()
    app.extensions["directory"].clear()
    app.extensions["ivr"].clear()
    # Ids restart after the tables are emptied: a compiled routing context cached for
    # "jurisdiction 1, version 1" would otherwise be served to the next test's jurisdiction 1.
    forget_contexts()
    engine = get_db(app).engine
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            truncate = f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
            conn.execute(sa.text(truncate))
        else:
            for table in tables:
                conn.execute(sa.text(f"DELETE FROM {table}"))
    runner = app.extensions["jobs"]
    if runner.redis is not None:
        runner.redis.flushdb()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that leaves this machine: Twilio must only be reached through the
    capturing transport, and tests must never depend on the internet."""
    real_connect = socket.socket.connect

    def guarded_connect(sock: socket.socket, address: Any) -> Any:
        host = address[0] if isinstance(address, tuple) else address
        if (
            isinstance(host, str)
            and host not in {"127.0.0.1", "::1", "localhost"}
            and not (host.startswith("/") or sock.family == socket.AF_UNIX)
        ):
            raise RuntimeError(f"test tried to reach the network: {address!r}")
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """The test's own session. It holds no application context on purpose: each request of the
    test client then gets its own context and session, exactly as in production (a held
    context would be reused by every request, sharing one ``g`` and one session)."""
    db_session = get_db(app).session()
    yield db_session
    db_session.close()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def run_jobs(app: Flask) -> Callable[[], None]:
    """Deliver queued jobs: a real rq worker in burst mode on Redis, a no-op when inline."""

    def run() -> None:
        runner = app.extensions["jobs"]
        if runner.queue is None:
            return
        from rq import SimpleWorker

        with app.app_context():
            SimpleWorker(list(runner.queues.values()), connection=runner.redis).work(burst=True)

    return run


SignedPost = Callable[..., TestResponse]


@pytest.fixture
def signed_post(client: FlaskClient) -> SignedPost:
    """POST a form signed the way Twilio signs it (twilio's own RequestValidator)."""

    def post(
        path: str,
        params: dict[str, str],
        *,
        token: str = AUTH_TOKEN,
        query: str = "",
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> TestResponse:
        url = PUBLIC_BASE_URL + path + (f"?{query}" if query else "")
        if signature is None:
            signature = RequestValidator(token).compute_signature(url, params)
        return client.post(
            path + (f"?{query}" if query else ""),
            data=params,
            headers={"X-Twilio-Signature": signature, **(headers or {})},
        )

    return post


@pytest.fixture
def jurisdiction(session: Session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="springfield", sms_number="+16135550311")
    session.commit()
    return city


SendSms = Callable[..., TestResponse]


@pytest.fixture
def send_sms(signed_post: SignedPost, run_jobs: Callable[[], None]) -> SendSms:
    """Text the city as a resident would; queued replies are delivered before it returns."""

    def send(
        body: str,
        *,
        from_: str = "+16135550100",
        to: str = "+16135550311",
        sid: str | None = None,
        media: list[str] | None = None,
    ) -> TestResponse:
        params = {
            "MessageSid": sid or "SM" + secrets.token_hex(16),
            "AccountSid": ACCOUNT_SID,
            "From": from_,
            "To": to,
            "Body": body,
            "NumMedia": str(len(media or [])),
        }
        for index, url in enumerate(media or []):
            params[f"MediaUrl{index}"] = url
            params[f"MediaContentType{index}"] = "image/jpeg"
        response = signed_post("/sms/inbound", params)
        run_jobs()
        return response

    return send


@dataclass
class QueryCounter:
    statements: list[str] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app: Flask) -> Callable[[], Any]:
    """``with count_queries() as counter: ...; counter.count`` — SQL statements executed."""
    from contextlib import contextmanager

    @contextmanager
    def counting() -> Iterator[Any]:
        counter = QueryCounter()

        def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counter.statements.append(statement)

        engine = get_db(app).engine
        sa.event.listen(engine, "before_cursor_execute", before)
        try:
            yield counter
        finally:
            sa.event.remove(engine, "before_cursor_execute", before)

    return counting


@pytest.fixture
def redis_client(redis_url: str) -> Redis:
    if not redis_url:
        pytest.skip("TEST_REDIS_URL is not set: this test needs a real Redis")
    return Redis.from_url(redis_url)


# --- Voice -------------------------------------------------------------------------------

OPEN_HOURS = dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC)
"""A Monday, 10:00 in Toronto: the demo city's office is open."""
CLOSED_HOURS = dt.datetime(2026, 11, 29, 15, 0, tzinfo=dt.UTC)
"""A Sunday: closed."""


@dataclass
class VoiceCity:
    """The demo city with its IVR menu, its 3-1-1 number and its (supervisor) agent."""

    id: int
    number: str
    agent_id: int
    token: str
    client: FlaskClient
    run_jobs: Callable[[], None]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def available_agent_takes_offer(self) -> dict[str, Any]:
        """The agent goes available, is offered the waiting call and accepts it."""
        self.client.put(
            f"/api/v1/agents/{self.agent_id}/presence",
            json={"presence": "available"},
            headers=self.headers,
        )
        self.run_jobs()  # the dispatch that follows a presence change
        offers = self.client.get("/api/v1/work/offers", headers=self.headers).get_json()["data"]
        assert offers, "the waiting call was not offered to the available agent"
        accepted = self.client.post(
            f"/api/v1/work/offers/{offers[0]['id']}/accept", headers=self.headers
        )
        assert accepted.status_code == 200, accepted.get_json()
        offer: dict[str, Any] = offers[0]
        return offer


@pytest.fixture
def office(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Callable[[bool], None]:
    """``office(False)``: it is Sunday for the IVR (open hours are otherwise a weekday)."""
    import ivr.runtime

    def set_open(is_open: bool) -> None:
        now = OPEN_HOURS if is_open else CLOSED_HOURS
        monkeypatch.setattr(ivr.runtime, "utcnow", lambda: now)
        app.extensions["ivr"].clear()

    set_open(True)
    return set_open


@pytest.fixture
def voice_city(
    session: Session,
    client: FlaskClient,
    office: Callable[[bool], None],
    run_jobs: Callable[[], None],
) -> VoiceCity:
    from contactcenter.demo import DEMO_VOICE_NUMBER, seed_demo
    from ivr.menu_store import demo_menu_source, install_menu

    credentials = seed_demo(session)
    city = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == "demo")).one()
    install_menu(session, city, demo_menu_source())
    session.commit()
    return VoiceCity(
        city.id, DEMO_VOICE_NUMBER, credentials.agent_id, credentials.api_token, client, run_jobs
    )


@pytest.fixture
def dial(
    client: FlaskClient, voice_city: VoiceCity, run_jobs: Callable[[], None]
) -> Callable[..., Any]:
    """``dial("1", "0", ...)``: a caller with these keys and words ready; ``.call()`` walks it."""
    from ivr.simulator import CallWalker, FlaskTransport
    from tests.twiml_check import assert_valid_twiml

    def make(
        *inputs: str, to: str | None = None, from_: str = "+16135550100", **options: Any
    ) -> Any:
        def check(url: str, body: str) -> None:
            assert_valid_twiml(body)
            run_jobs()

        return CallWalker(
            transport=FlaskTransport(client),
            auth_token=AUTH_TOKEN,
            base_url=PUBLIC_BASE_URL,
            to=to or voice_city.number,
            from_=from_,
            inputs=list(inputs),
            on_twiml=check,
            **options,
        )

    return make


@pytest.fixture
def open_case(session: Session, voice_city: VoiceCity) -> Callable[..., Any]:
    """A case in the demo city (opened by text, say), with a status of the test's choice."""

    def make(**fields: Any) -> Any:
        city = session.get_one(Jurisdiction, voice_city.id)
        case = factories.make_case(session, city, **fields)
        session.commit()
        return case

    return make


@pytest.fixture
def app_without_database(tmp_path: Path) -> FlaskClient:
    """An app whose database cannot be reached: what the fallback URL must survive."""
    settings = make_settings("postgresql+psycopg://nobody@127.0.0.1:1/none")
    return create_app(settings).test_client()


# --- Browser ------------------------------------------------------------------------------

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The test app served over real HTTP (and WebSocket) on a free port, for the browser."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium driven by Playwright; the test is skipped, saying why, without it."""
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("browser tests need the playwright package (make .venv/bin/.installed)")
    with sync_playwright() as driver:
        browser = driver.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS
        )
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Any, live_server: str) -> Iterator[Any]:
    """A fresh browser context (its own cookies) with a page on the live server."""
    context = chromium.new_context(base_url=live_server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


# --- Sockets ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _embedded_app(
    app: Flask, database_url: str, twilio_http: CapturingHttpClient
) -> Iterator[Flask]:
    """An app without a message queue on the suite's database (the suite's own, if it has none):
    Flask-SocketIO's test client refuses a server with one."""
    if app.extensions["jobs"].redis is None:
        yield app
        return
    embedded = create_app(make_settings(database_url), twilio_http_client=twilio_http)
    yield embedded
    get_db(embedded).engine.dispose()


@pytest.fixture
def rt_app(app: Flask, _embedded_app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app the sockets connect to; ``app`` is required so the tables are emptied after."""
    from contactcenter import realtime

    server = _embedded_app.extensions["realtime"]
    # The test client drives the module's SocketIO object: point it at this app's server...
    monkeypatch.setattr(realtime.socketio, "server", server)
    handlers = (server.async_handlers, server.eio.async_handlers)
    yield _embedded_app
    _embedded_app.extensions["directory"].clear()
    # ...and patches that server to deliver to itself: give real sockets their server back.
    for patched in ("_send_packet", "_send_eio_packet"):
        vars(server).pop(patched, None)
    server.async_handlers, server.eio.async_handlers = handlers


# --- Console: two cities ------------------------------------------------------------------


@pytest.fixture
def city(jurisdiction: Jurisdiction) -> Jurisdiction:
    return jurisdiction


@pytest.fixture
def other_city(session: Session) -> Jurisdiction:
    town = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    session.commit()
    return town


# --- Email: a local SMTP server -----------------------------------------------------------


@dataclass
class CapturedMail:
    """One message the sink accepted: the envelope and the bytes exactly as received."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> Any:
        """The received bytes parsed by the standard library (an ``EmailMessage``), line ends
        turned from the wire's CRLF into ``\\n`` so bodies compare like Python strings."""
        from email import message_from_bytes
        from email.policy import default

        return message_from_bytes(self.data.replace(b"\r\n", b"\n"), policy=default)


@dataclass
class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it is sent.

    Set ``rcpt_reply`` or ``data_reply`` (e.g. ``"550 5.1.1 No such user"``, ``"451 4.3.0 Try
    later"``) to make it refuse recipients or the message; ``logins`` records AUTH attempts
    (any credentials are accepted)."""

    host: str
    port: int
    messages: list[CapturedMail] = field(default_factory=list)
    logins: list[tuple[str, str]] = field(default_factory=list)
    rcpt_reply: str | None = None
    data_reply: str | None = None
    connections: int = 0

    @property
    def url(self) -> str:
        return f"smtp://{self.host}:{self.port}"


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        self.sink.connections += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: list[str]
    ) -> str:
        if self.sink.rcpt_reply:
            return self.sink.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.data_reply:
            return self.sink.data_reply
        data = envelope.original_content or envelope.content
        self.sink.messages.append(
            CapturedMail(envelope.mail_from, list(envelope.rcpt_tos), bytes(data))
        )
        return "250 Message accepted for delivery"


def free_port() -> int:
    """A TCP port nobody listens on right now (aiosmtpd's controller cannot use port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_smtp_sink(**options: Any) -> Iterator[SmtpSink]:
    """An :class:`SmtpSink` served while the block runs; ``options`` go to aiosmtpd's
    ``Controller`` (``tls_context=`` offers STARTTLS, ``ssl_context=`` is TLS from the start,
    ``auth_require_tls=True`` hides AUTH until then)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    sink = SmtpSink("127.0.0.1", free_port())

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        if isinstance(data, LoginPassword):
            sink.logins.append((data.login.decode(), data.password.decode()))
        return AuthResult(success=True)

    settings: dict[str, Any] = {
        "authenticator": authenticate,
        "auth_require_tls": False,
        "enable_SMTPUTF8": True,
    }
    controller = Controller(
        _SinkHandler(sink), hostname=sink.host, port=sink.port, **(settings | options)
    )
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def smtp_sink() -> Iterator[SmtpSink]:
    """A local aiosmtpd server on a free port capturing every message (``.messages``);
    point ``Settings(smtp_url=smtp_sink.url)`` at it."""
    with running_smtp_sink() as sink:
        yield sink


# --- Email: inbound -------------------------------------------------------------------------

CITY_MAILBOX = "311@springfield.example"


@pytest.fixture
def mail_city(session: Session, jurisdiction: Jurisdiction) -> Jurisdiction:
    """The test city (``jurisdiction``) receiving mail at ``CITY_MAILBOX``."""
    from contactcenter.jurisdictions.models import ChannelAddress
    from contactcenter.messages import Channel

    session.add(
        ChannelAddress(jurisdiction_id=jurisdiction.id, channel=Channel.EMAIL, address=CITY_MAILBOX)
    )
    session.commit()
    return jurisdiction


# --- Web chat: a city's website on another origin -----------------------------------------


@dataclass
class CitySite:
    """A stand-in for a city's website, on an origin (and site) other than the app's: the chat
    widget is embedded from there, as it is in production."""

    origin: str
    pages: dict[str, str] = field(default_factory=dict)

    def publish(self, path: str, html: str) -> str:
        """Serve ``html`` at ``path``; returns the page's URL."""
        self.pages[path] = html
        return self.origin + path


@pytest.fixture(scope="session")
def city_site() -> Iterator[CitySite]:
    """Pages served over real HTTP at ``http://localhost:<port>`` (the app is on 127.0.0.1)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            html = pages.get(self.path.split("?", 1)[0])
            body = (html or "Not found").encode()
            self.send_response(200 if html is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="city-site", daemon=True)
    thread.start()
    yield CitySite(f"http://localhost:{server.server_port}", pages)
    server.shutdown()
    server.server_close()
