"""The floor for a durable SMS webhook: parse the form, one INSERT, one COMMIT, empty TwiML.

It is the reference the real intake is compared with in ``run.py``: it runs under the same
gunicorn settings, on the same PostgreSQL server (its own database), and answers the same
requests. No signature check, no ORM, no lookups: nothing a webhook could leave out.

Each gunicorn worker thread keeps one psycopg connection (a thread-local "pool" of one),
so there is no connect cost per request. ``BARE_DATABASE_URL`` is a libpq URL
(``postgresql://postgres@127.0.0.1:5432/db``).

Run: ``gunicorn 'bench.sms_webhook.bare_app:create_app()'`` with BARE_DATABASE_URL set;
``create_table(url)`` makes the table in a fresh database first.
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, Response, request

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'

DDL = """
CREATE TABLE IF NOT EXISTS inbound_sms (
    id bigserial PRIMARY KEY,
    message_sid varchar(64) NOT NULL UNIQUE,
    from_number varchar(32) NOT NULL,
    body text NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
)
"""

INSERT = "INSERT INTO inbound_sms (message_sid, from_number, body) VALUES (%s, %s, %s)"


def create_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DDL)


def create_app(url: str | None = None) -> Flask:
    url = url or os.environ["BARE_DATABASE_URL"]
    app = Flask(__name__)
    local = threading.local()

    def connection() -> psycopg.Connection:
        conn: psycopg.Connection | None = getattr(local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(url)
            local.conn = conn
        return conn

    @app.post("/sms/inbound")
    def inbound() -> Response:
        form = request.form
        conn = connection()
        try:
            conn.execute(INSERT, (form["MessageSid"], form["From"], form["Body"]))
            conn.commit()
        except Exception:
            conn.rollback()
            raise
        return Response(EMPTY_TWIML, mimetype="text/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
