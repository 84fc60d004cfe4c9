"""The hosted mail service's inbound webhook (Mailgun's raw-MIME route form)."""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets
import time
from dataclasses import replace
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from contactcenter.cases.models import Interaction
from contactcenter.mail.models import RawEmail, RawEmailState
from contactcenter.messages import Channel, Direction
from tests.conftest import CITY_MAILBOX

KEY = "test-mailgun-signing-key"
URL = "/email/inbound/mime"
RESIDENT = "sam.resident@example.org"


@pytest.fixture
def signing_key(app: Flask, monkeypatch: pytest.MonkeyPatch) -> str:
    settings = replace(app.config["SETTINGS"], inbound_email_signing_key=KEY)
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    return KEY


def mime(
    body: str = "The streetlight on Elm St is out.", message_id: str = "<elm-1@ex.org>"
) -> str:
    message = EmailMessage()
    message["From"] = f"Sam <{RESIDENT}>"
    message["To"] = CITY_MAILBOX
    message["Subject"] = "Streetlight"
    message["Message-ID"] = message_id
    message.set_content(body)
    return message.as_string()


def signed(key: str = KEY, **fields: Any) -> dict[str, Any]:
    timestamp, token = str(int(time.time())), secrets.token_hex(25)
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    form: dict[str, Any] = {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "recipient": CITY_MAILBOX,
        "sender": RESIDENT,
        "body-mime": mime(),
    }
    form.update(fields)
    return {name: value for name, value in form.items() if value is not None}


def post(client: FlaskClient, form: dict[str, Any], **kwargs: Any) -> TestResponse:
    return client.post(URL, data=form, **kwargs)


def inbound(session: Any) -> list[Interaction]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Interaction).where(
                Interaction.channel == Channel.EMAIL, Interaction.direction == Direction.INBOUND
            )
        )
    )


def raws(session: Any) -> list[RawEmail]:
    session.expire_all()
    return list(session.scalars(sa.select(RawEmail).order_by(RawEmail.id)))


def test_a_signed_post_is_stored_and_filed(client, session, mail_city, signing_key, run_jobs):
    response = post(client, signed())
    run_jobs()

    assert response.status_code == 200, response.get_json()
    [raw] = raws(session)
    assert response.get_json() == {"data": {"stored": [raw.id]}}
    assert (raw.source, raw.recipient, raw.envelope_from) == ("webhook", CITY_MAILBOX, RESIDENT)
    assert raw.state == RawEmailState.FILED, raw.error
    [message] = inbound(session)
    assert message.subject == "Streetlight" and message.case_id is not None
    assert "streetlight on Elm St" in message.body


def test_the_message_may_come_as_a_file_part(client, session, mail_city, signing_key, run_jobs):
    form = signed()
    form["body-mime"] = (io.BytesIO(form["body-mime"].encode()), "message.mime")
    response = post(client, form, content_type="multipart/form-data")
    run_jobs()

    assert response.status_code == 200, response.get_json()
    assert [raw.state for raw in raws(session)] == [RawEmailState.FILED]


def test_a_retried_post_files_nothing_twice(client, session, mail_city, signing_key, run_jobs):
    form = signed()
    assert post(client, form).status_code == 200
    assert post(client, form).status_code == 200
    run_jobs()

    assert [raw.state for raw in raws(session)] == [RawEmailState.FILED, RawEmailState.DUPLICATE]
    assert len(inbound(session)) == 1


@pytest.mark.parametrize(
    "fields",
    [
        {"signature": "0" * 64},
        {"signature": None},
        {"token": None},
        {"timestamp": "1"},  # signed for another timestamp
    ],
    ids=["wrong", "missing", "no-token", "tampered"],
)
def test_a_bad_or_missing_signature_is_refused(client, session, mail_city, signing_key, fields):
    form = signed(**fields)
    response = post(client, form)

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "bad_signature"
    assert raws(session) == []


def test_a_post_signed_with_another_key_is_refused(client, session, mail_city, signing_key):
    assert post(client, signed(key="someone-elses-key")).status_code == 403


def test_without_a_signing_key_every_post_is_refused(client, session, mail_city):
    response = post(client, signed(key=""))

    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "webhook_not_configured"
    assert raws(session) == []


@pytest.mark.parametrize("missing", ["recipient", "body-mime"])
def test_missing_fields_are_a_bad_request(client, session, mail_city, signing_key, missing):
    response = post(client, signed(**{missing: None}))

    assert response.status_code == 400
    assert missing in response.get_json()["error"]["fields"]
    assert raws(session) == []


def test_an_unknown_recipient_is_rejected_for_good(client, session, mail_city, signing_key):
    response = post(client, signed(recipient="nobody@elsewhere.example"))

    # Mailgun's "rejected: do not retry".
    assert response.status_code == 406
    assert response.get_json()["error"]["code"] == "unknown_recipient"
    assert raws(session) == []


def test_large_messages_are_taken_here_and_only_here(
    app, client, session, mail_city, signing_key, run_jobs, monkeypatch
):
    big = mime("A long letter.\n" + ("x" * 70 + "\n") * 30_000)  # ~2 MB
    assert len(big) > 30 * app.config["MAX_CONTENT_LENGTH"]

    accepted = post(client, signed(**{"body-mime": big}))
    run_jobs()
    assert accepted.status_code == 200, accepted.get_json()
    assert raws(session)[0].state == RawEmailState.FILED

    # Other routes keep the app's small limit.
    elsewhere = client.post("/sms/inbound", data={"Body": big})
    assert elsewhere.status_code == 413

    # And this one stops at EMAIL_MAX_BYTES.
    small = replace(app.config["SETTINGS"], email_max_bytes=100_000)
    monkeypatch.setitem(app.config, "SETTINGS", small)
    medium = mime(("x" * 70 + "\n") * 4000)  # ~290 kB: inside the form's allowance, over the limit
    refused = post(client, signed(**{"body-mime": medium}))
    assert refused.status_code == 413
    assert len(raws(session)) == 1
