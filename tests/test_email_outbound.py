"""Outbound email: replies rendered with the right threading headers and sent over real SMTP
sessions to a local server (``smtp_sink``), refusals sorted into "retry" and "give up", header
injection refused, and the development outbox that logs instead of sending."""

from __future__ import annotations

import logging
import shutil
import smtplib
import socket
import ssl
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from channels.email import sender
from channels.email.sender import EmailAdapter, SmtpServer
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.db import get_db
from contactcenter.inbox import accept_and_commit, process_inbound
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import (
    Channel,
    DeliveryError,
    Direction,
    InboundMessage,
    OutboundMessage,
)
from contactcenter.outbound import queue_message, reply_to_resident
from tests import factories
from tests.conftest import SmtpSink, free_port, make_settings, running_smtp_sink

CITY = "311@springfield.example"
RESIDENT = "marge@example.org"
BODY = "Bonjour Marge,\n\nUne équipe répare le nid-de-poule demain. Merci ! 🚧👷\n"
SUBJECT = "Re: Nid-de-poule devant l'école 🚧 [311 #SPR-2026-000042]"
REFS = (
    "first.message@mail.example.org",
    "CAF=ack-1234@springfield.example",
    "second.reply@mail.example.org",
)


def outbound(**fields: Any) -> OutboundMessage:
    values: dict[str, Any] = {
        "interaction_id": 7,
        "channel": Channel.EMAIL,
        "to_address": RESIDENT,
        "from_address": f"Springfield 3-1-1 <{CITY}>",
        "body": BODY,
        "subject": SUBJECT,
        "message_id": "0b7d2a4e-3c1f-4a51-9d5e-123456789abc@springfield.example",
        "thread_refs": REFS,
    }
    values.update(fields)
    return OutboundMessage(**values)


def adapter_for(url: str, **options: Any) -> EmailAdapter:
    return EmailAdapter(make_settings("sqlite://", smtp_url=url), **options)


def text_of(mail: Any) -> str:
    """The decoded text body with the wire's CRLF line ends as ``\\n``."""
    content: str = mail.get_content()
    return content.replace("\r\n", "\n")


def raw_header_lines(data: bytes, name: str) -> list[str]:
    """A header exactly as it went over the wire, one physical line per item."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines, inside = [], False
    for line in head.split("\r\n"):
        if line.lower().startswith(name.lower() + ":"):
            inside = True
        elif not line.startswith((" ", "\t")):
            inside = False
        if inside:
            lines.append(line)
    return lines


# --- Rendering and sending ------------------------------------------------------------------


def test_an_agents_reply_threads_under_the_residents_message(smtp_sink: SmtpSink) -> None:
    receipt = adapter_for(smtp_sink.url).send(outbound())

    assert receipt.provider_id == "0b7d2a4e-3c1f-4a51-9d5e-123456789abc@springfield.example"
    assert receipt.status == "sent"
    [sent] = smtp_sink.messages
    assert sent.mail_from == CITY
    assert sent.rcpt_tos == [RESIDENT]
    mail = sent.message
    assert mail["Message-ID"] == "<0b7d2a4e-3c1f-4a51-9d5e-123456789abc@springfield.example>"
    assert mail["In-Reply-To"] == "<second.reply@mail.example.org>"
    assert mail["References"].split() == [f"<{ref}>" for ref in REFS]
    assert mail["Subject"] == SUBJECT
    assert mail["From"] == f"Springfield 3-1-1 <{CITY}>"
    assert mail["To"] == RESIDENT
    assert mail["Date"].datetime is not None
    assert mail["MIME-Version"] == "1.0"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content_charset() == "utf-8"
    assert mail["Content-Transfer-Encoding"] in {"quoted-printable", "base64"}
    assert text_of(mail) == BODY
    assert "Auto-Submitted" not in mail
    assert "X-Auto-Response-Suppress" not in mail


def test_a_system_message_says_it_is_automatic_so_robots_do_not_answer_it(
    smtp_sink: SmtpSink,
) -> None:
    adapter_for(smtp_sink.url).send(outbound(automated=True, thread_refs=()))

    mail = smtp_sink.messages[0].message
    assert mail["Auto-Submitted"] == "auto-replied"
    assert mail["X-Auto-Response-Suppress"] == "All"
    assert "In-Reply-To" not in mail
    assert "References" not in mail


def test_the_wire_is_seven_bit_and_lines_are_short(smtp_sink: SmtpSink) -> None:
    adapter_for(smtp_sink.url).send(outbound())

    data = smtp_sink.messages[0].data
    assert data.isascii()
    assert all(len(line) <= 78 for line in data.split(b"\r\n"))


def test_a_long_references_header_is_folded_between_ids_and_never_encoded(
    smtp_sink: SmtpSink,
) -> None:
    short = [f"{n:02d}.{'x' * 40}@mail.example.org" for n in range(12)]
    refs = (*short, "y" * 120 + "@very-long.example")
    adapter_for(smtp_sink.url).send(outbound(thread_refs=refs))

    sent = smtp_sink.messages[0]
    lines = raw_header_lines(sent.data, "References")
    assert len(lines) > 1
    assert not any("=?" in line for line in lines)
    assert all(len(line) <= 78 for line in lines if "very-long" not in line)
    assert sent.message["References"].split() == [f"<{ref}>" for ref in refs]
    assert raw_header_lines(sent.data, "In-Reply-To") == [f"In-Reply-To: <{refs[-1]}>"]


def test_a_long_thread_keeps_its_first_message_and_the_newest_references(
    smtp_sink: SmtpSink,
) -> None:
    refs = tuple(f"m{n}@mail.example.org" for n in range(30))
    adapter_for(smtp_sink.url).send(outbound(thread_refs=refs))

    kept = smtp_sink.messages[0].message["References"].split()
    assert kept == [f"<{ref}>" for ref in (refs[0], *refs[-19:])]


def test_malformed_stored_references_are_left_out_not_copied(smtp_sink: SmtpSink) -> None:
    refs = ("good.one@mail.example.org", "has space@x.example", "", "no-at-sign-is-fine", "é@x.y")
    adapter_for(smtp_sink.url).send(outbound(thread_refs=refs))

    mail = smtp_sink.messages[0].message
    assert mail["References"].split() == ["<good.one@mail.example.org>", "<no-at-sign-is-fine>"]


def test_without_a_message_id_one_is_made_on_the_senders_domain(smtp_sink: SmtpSink) -> None:
    receipt = adapter_for(smtp_sink.url).send(outbound(message_id=""))

    local, _, domain = receipt.provider_id.partition("@")
    assert domain == "springfield.example" and len(local) == 36
    assert smtp_sink.messages[0].message["Message-ID"] == f"<{receipt.provider_id}>"


def test_credentials_in_the_url_are_percent_decoded(smtp_sink: SmtpSink) -> None:
    url = f"smtp://relay%40springfield.example:p%3Ass%20w0rd@{smtp_sink.host}:{smtp_sink.port}"
    adapter_for(url).send(outbound())

    assert smtp_sink.logins == [("relay@springfield.example", "p:ss w0rd")]
    assert len(smtp_sink.messages) == 1


def test_smtp_urls_name_the_port_and_the_kind_of_tls() -> None:
    assert SmtpServer.from_url("smtps://mail.example.org") == SmtpServer(
        "mail.example.org", 465, True, "", ""
    )
    assert SmtpServer.from_url("smtp://u:p@mail.example.org:587") == SmtpServer(
        "mail.example.org", 587, False, "u", "p"
    )


def test_an_internationalized_address_goes_out_with_smtputf8(smtp_sink: SmtpSink) -> None:
    adapter_for(smtp_sink.url).send(outbound(to_address="josé@exemple.example"))

    [sent] = smtp_sink.messages
    assert sent.rcpt_tos == ["josé@exemple.example"]
    assert sent.message["To"] == "josé@exemple.example"
    assert text_of(sent.message) == BODY


@dataclass(frozen=True)
class Certificate:
    server: ssl.SSLContext
    client: ssl.SSLContext
    """Trusts only this certificate, as ``create_default_context`` trusts the system's CAs."""


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """A self-signed certificate for 127.0.0.1, made with the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("the TLS tests make their certificate with the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    request = ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
    names = ["-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"]
    subprocess.run(  # noqa: S603 - fixed arguments, no shell
        [*request, "-keyout", str(key), "-out", str(cert), *names],
        check=True,
        capture_output=True,
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    return Certificate(server, ssl.create_default_context(cafile=str(cert)))


def test_starttls_is_used_when_offered_and_the_password_only_crosses_it(
    certificate: Certificate,
) -> None:
    with running_smtp_sink(
        tls_context=certificate.server, require_starttls=True, auth_require_tls=True
    ) as sink:
        url = f"smtp://relay:secret@{sink.host}:{sink.port}"
        adapter_for(url, tls_context=certificate.client).send(outbound())

    assert sink.logins == [("relay", "secret")]
    assert len(sink.messages) == 1


def test_smtps_is_tls_from_the_first_byte(certificate: Certificate) -> None:
    with running_smtp_sink(ssl_context=certificate.server) as sink:
        url = f"smtps://relay:secret@{sink.host}:{sink.port}"
        adapter_for(url, tls_context=certificate.client).send(outbound())

    assert sink.logins == [("relay", "secret")]
    assert len(sink.messages) == 1


def test_an_untrusted_certificate_is_not_accepted_and_the_message_waits(
    certificate: Certificate,
) -> None:
    with (
        running_smtp_sink(tls_context=certificate.server) as sink,
        pytest.raises(DeliveryError) as refused,
    ):
        adapter_for(f"smtp://relay:secret@{sink.host}:{sink.port}").send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_unreachable", False)
    assert sink.logins == [] and sink.messages == []


def test_no_password_in_clear_to_a_remote_server_that_offers_no_tls(
    smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sink is on 127.0.0.1; the adapter is told it is a remote host.
    monkeypatch.setattr(sender, "_is_loopback", lambda host: False)

    with pytest.raises(DeliveryError) as refused:
        adapter_for(f"smtp://relay:secret@{smtp_sink.host}:{smtp_sink.port}").send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_no_tls", False)
    assert smtp_sink.logins == [] and smtp_sink.messages == []


# --- Refusals ---------------------------------------------------------------------------------


def test_a_refused_recipient_is_a_permanent_failure(smtp_sink: SmtpSink) -> None:
    smtp_sink.rcpt_reply = "550 5.1.1 No such user here"

    with pytest.raises(DeliveryError) as refused:
        adapter_for(smtp_sink.url).send(outbound())

    assert refused.value.code == "smtp_5xx"
    assert refused.value.permanent
    assert "No such user" in str(refused.value)


def test_refused_data_is_a_permanent_failure(smtp_sink: SmtpSink) -> None:
    smtp_sink.data_reply = "554 5.7.1 Message rejected as spam"

    with pytest.raises(DeliveryError) as refused:
        adapter_for(smtp_sink.url).send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_5xx", True)


@pytest.mark.parametrize("where", ["rcpt_reply", "data_reply"])
def test_a_temporary_refusal_is_retried(smtp_sink: SmtpSink, where: str) -> None:
    setattr(smtp_sink, where, "451 4.7.1 Greylisted, try again later")

    with pytest.raises(DeliveryError) as refused:
        adapter_for(smtp_sink.url).send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_4xx", False)


def test_an_unreachable_server_is_retried() -> None:
    with pytest.raises(DeliveryError) as refused:
        adapter_for(f"smtp://127.0.0.1:{free_port()}").send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_unreachable", False)


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


def test_a_server_that_never_answers_times_out_and_is_retried(silent_server: int) -> None:
    adapter = adapter_for(f"smtp://127.0.0.1:{silent_server}", timeout=0.3)

    with pytest.raises(DeliveryError) as refused:
        adapter.send(outbound())

    assert (refused.value.code, refused.value.permanent) == ("smtp_unreachable", False)


# --- Header injection -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fields",
    [
        {"subject": "Hello\r\nBcc: victim@example.net"},
        {"subject": "Hello\nBcc: victim@example.net"},
        {"to_address": f"{RESIDENT}\r\nBcc: victim@example.net"},
        {"to_address": f"{RESIDENT}, victim@example.net"},
        {"to_address": "Marge <marge@example.org>, victim@example.net"},
        {"to_address": "not an address"},
        {"to_address": ""},
        {"from_address": f"{CITY}\nBcc: victim@example.net"},
        {"from_address": f"Springfield\r\nBcc: victim@example.net <{CITY}>"},
        {"message_id": "abc@x.example\r\nBcc: victim@example.net"},
        {"message_id": "two words@x.example"},
    ],
    ids=lambda fields: next(iter(fields)),
)
def test_a_line_break_or_a_second_address_never_becomes_a_header(
    smtp_sink: SmtpSink, fields: dict[str, str]
) -> None:
    with pytest.raises(DeliveryError) as refused:
        adapter_for(smtp_sink.url).send(outbound(**fields))

    assert (refused.value.code, refused.value.permanent) == ("bad_header", True)
    assert smtp_sink.connections == 0
    assert smtp_sink.messages == []


# --- Development outbox -----------------------------------------------------------------------


def test_without_smtp_url_the_message_is_logged_and_nothing_connects(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_smtp(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the development outbox must not connect")

    monkeypatch.setattr(smtplib, "SMTP", no_smtp)
    monkeypatch.setattr(smtplib, "SMTP_SSL", no_smtp)
    adapter = EmailAdapter(make_settings("sqlite://"))

    with caplog.at_level(logging.INFO, logger="contactcenter.dev_outbox"):
        receipt = adapter.send(outbound())

    assert receipt.provider_id == "0b7d2a4e-3c1f-4a51-9d5e-123456789abc@springfield.example"
    assert receipt.status == "sent"
    assert f"DEV OUTBOX (not sent) email to={RESIDENT}" in caplog.text
    assert "subject=" in caplog.text and "SPR-2026-000042" in caplog.text


def test_the_development_outbox_refuses_what_the_real_one_would() -> None:
    with pytest.raises(DeliveryError) as refused:
        EmailAdapter(make_settings("sqlite://")).send(outbound(subject="x\r\nBcc: y@z.example"))

    assert refused.value.code == "bad_header"


# --- Through the outbound job -----------------------------------------------------------------


@pytest.fixture
def smtp_app(app: Flask, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """The suite's app with its email adapter sending to ``smtp_sink`` (SMTP_URL set)."""
    monkeypatch.setitem(app.extensions["channels"], Channel.EMAIL, adapter_for(smtp_sink.url))
    return app


@pytest.fixture
def email_in(
    smtp_app: Flask, session: Session, city: Jurisdiction, run_jobs: Callable[[], None]
) -> Callable[..., Interaction]:
    """A resident's email handed to the inbox and intake, as the email channel does after
    parsing; the acknowledgement it causes is delivered before this returns."""
    session.add(ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address=CITY))
    session.commit()

    def send(body: str, *, subject: str, message_id: str, refs: tuple[str, ...] = ()) -> Any:
        message = InboundMessage(
            channel=Channel.EMAIL,
            provider_id=message_id,
            from_address=RESIDENT,
            to_address=CITY,
            body=body,
            subject=subject,
            thread_refs=refs,
        )
        with smtp_app.app_context(), get_db().session() as own:
            accepted = accept_and_commit(own, message)
            process_inbound(accepted.interaction_id)
        run_jobs()
        session.expire_all()
        return session.get_one(Interaction, accepted.interaction_id)

    return send


def outbound_of(session: Session, case_id: int | None) -> list[Interaction]:
    session.expire_all()
    return list(
        session.scalars(
            sa.select(Interaction)
            .where(Interaction.case_id == case_id, Interaction.direction == Direction.OUTBOUND)
            .order_by(Interaction.id)
        )
    )


def agent_reply(
    app: Flask, session: Session, case_id: int | None, body: str, run_jobs: Callable[[], None]
) -> Interaction:
    """An agent's reply on the case's channel, queued and committed as the console does."""
    with app.app_context():
        case = session.get_one(Case, case_id)
        agent, _token = factories.make_agent(session, [case.jurisdiction])
        interaction = reply_to_resident(session, case, agent=agent, body=body)
        session.commit()
    run_jobs()
    session.expire_all()
    return session.get_one(Interaction, interaction.id)


def test_a_conversation_threads_in_the_residents_mail_client(
    smtp_app: Flask,
    email_in: Callable[..., Interaction],
    smtp_sink: SmtpSink,
    session: Session,
    run_jobs: Callable[[], None],
) -> None:
    first = email_in(
        "Il y a un énorme nid-de-poule devant l'école.",
        subject="Nid-de-poule 🚧 devant l'école",
        message_id="first.message@mail.example.org",
    )
    case = session.get_one(Case, first.case_id)
    tag = f"[311 #{case.tracking_number}]"

    # The acknowledgement: automatic, in the resident's thread, with the tracking number.
    [ack_mail] = [m.message for m in smtp_sink.messages]
    [ack] = outbound_of(session, case.id)
    assert ack.delivery_status == DeliveryStatus.SENT
    assert ack_mail["Message-ID"] == f"<{ack.provider_id}>"
    assert ack_mail["In-Reply-To"] == "<first.message@mail.example.org>"
    assert ack_mail["References"] == "<first.message@mail.example.org>"
    assert ack_mail["Subject"] == f"Re: Nid-de-poule 🚧 devant l'école {tag}"
    assert ack_mail["Auto-Submitted"] == "auto-replied"
    assert ack_mail["X-Auto-Response-Suppress"] == "All"
    assert ack_mail["To"] == RESIDENT and ack_mail["From"] == CITY

    # The resident answers the acknowledgement; an agent answers them.
    second = email_in(
        "Toujours là ce matin !",
        subject=f"Re: Nid-de-poule 🚧 devant l'école {tag}",
        message_id="second.message@mail.example.org",
        refs=(ack.provider_id, "first.message@mail.example.org"),
    )
    assert second.case_id == case.id
    reply = agent_reply(smtp_app, session, case.id, BODY.strip(), run_jobs)

    reply_mail = smtp_sink.messages[-1].message
    assert reply.delivery_status == DeliveryStatus.SENT
    assert reply_mail["Message-ID"] == f"<{reply.provider_id}>"
    # References: the conversation oldest first, up to the resident's newest message, which
    # is what the agent answers (In-Reply-To), not our acknowledgement of it.
    refs = reply_mail["References"].split()
    expected = ["first.message@mail.example.org", ack.provider_id, second.provider_id]
    assert refs == [f"<{ref}>" for ref in expected]
    assert reply_mail["In-Reply-To"] == f"<{second.provider_id}>"
    assert reply_mail["Subject"] == f"Re: Nid-de-poule 🚧 devant l'école {tag}"
    assert "Auto-Submitted" not in reply_mail
    assert "X-Auto-Response-Suppress" not in reply_mail
    assert text_of(reply_mail).strip() == BODY.strip()


def test_a_refused_recipient_fails_the_reply_with_the_smtp_code(
    smtp_app: Flask,
    email_in: Callable[..., Interaction],
    smtp_sink: SmtpSink,
    session: Session,
    run_jobs: Callable[[], None],
) -> None:
    first = email_in("Pothole", subject="Pothole", message_id="p1@mail.example.org")
    smtp_sink.rcpt_reply = "550 5.1.1 No such user here"

    reply = agent_reply(smtp_app, session, first.case_id, "A crew is on the way.", run_jobs)

    assert reply.delivery_status == DeliveryStatus.FAILED
    assert reply.error_code == "smtp_5xx"


@pytest.mark.parametrize(
    ("trouble", "code"),
    [("greylisted", "smtp_4xx"), ("server down", "smtp_unreachable")],
)
def test_a_temporary_failure_leaves_the_reply_queued_for_a_retry(
    email_in: Callable[..., Interaction],
    smtp_sink: SmtpSink,
    smtp_app: Flask,
    session: Session,
    run_jobs: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
    trouble: str,
    code: str,
) -> None:
    first = email_in("Pothole", subject="Pothole", message_id="p2@mail.example.org")
    if trouble == "greylisted":
        smtp_sink.rcpt_reply = "451 4.7.1 Greylisted, try again later"
    else:
        down = adapter_for(f"smtp://127.0.0.1:{free_port()}")
        monkeypatch.setitem(smtp_app.extensions["channels"], Channel.EMAIL, down)

    reply = agent_reply(smtp_app, session, first.case_id, "A crew is on the way.", run_jobs)

    assert reply.delivery_status == DeliveryStatus.QUEUED
    assert reply.error_code == code
    runner = smtp_app.extensions["jobs"]
    if runner.queue is not None:  # rq holds the job for a later attempt
        from rq.registry import ScheduledJobRegistry

        registries = [ScheduledJobRegistry(queue=q) for q in runner.queues.values()]  # type: ignore[no-untyped-call]
        assert any(registry.get_job_ids() for registry in registries)


def test_a_line_break_in_a_stored_subject_fails_the_message_instead_of_sending_it(
    smtp_app: Flask,
    smtp_sink: SmtpSink,
    session: Session,
    city: Jurisdiction,
    run_jobs: Callable[[], None],
) -> None:
    with smtp_app.app_context():
        interaction = queue_message(
            session,
            jurisdiction_id=city.id,
            channel=Channel.EMAIL,
            to_address=RESIDENT,
            from_address=CITY,
            body="hello",
        )
        interaction.subject = "Hello\r\nBcc: victim@example.net"
        session.commit()
    run_jobs()
    session.expire_all()

    failed = session.get_one(Interaction, interaction.id)
    assert (failed.delivery_status, failed.error_code) == (DeliveryStatus.FAILED, "bad_header")
    assert smtp_sink.connections == 0


def test_without_smtp_url_the_job_logs_the_mail_and_marks_it_sent(
    app: Flask,
    session: Session,
    city: Jurisdiction,
    run_jobs: Callable[[], None],
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_smtp(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the development outbox must not connect")

    monkeypatch.setattr(smtplib, "SMTP", no_smtp)
    assert isinstance(app.extensions["channels"][Channel.EMAIL], EmailAdapter)
    with caplog.at_level(logging.INFO, logger="contactcenter.dev_outbox"), app.app_context():
        interaction = queue_message(
            session,
            jurisdiction_id=city.id,
            channel=Channel.EMAIL,
            to_address=RESIDENT,
            from_address=CITY,
            body="Votre demande est reçue ✅",
        )
        session.commit()
        run_jobs()
    session.expire_all()

    sent = session.get_one(Interaction, interaction.id)
    assert sent.delivery_status == DeliveryStatus.SENT
    assert f"DEV OUTBOX (not sent) email to={RESIDENT}" in caplog.text
    assert sent.provider_id is not None and sent.provider_id in caplog.text
