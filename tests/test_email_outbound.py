"""Outbound email: replies rendered with the right threading headers and sent over real SMTP
sessions to a local server (``smtp_sink``), refusals sorted into "retry" and "give up", header
injection refused, and the development outbox that logs instead of sending."""

from __future__ import annotations

import logging
import smtplib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from channels.email.sender import EmailAdapter, SmtpServer
from contactcenter.messages import Channel, DeliveryError, OutboundMessage
from tests.conftest import SmtpSink, free_port, make_settings

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
