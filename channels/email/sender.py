"""Sending one email reply over SMTP.

The core decides everything a reply says (subject, Message-ID, the thread it continues, whether
a person or the system wrote it); this module only renders that as an RFC 5322 message with the
standard library's ``email`` package and hands it to ``smtplib``. Without ``SMTP_URL`` (the
embedded demo) the message is rendered the same way and logged instead of sent.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.errors import NonASCIILocalPartDefect
from email.headerregistry import Address, BaseHeader, HeaderRegistry, UnstructuredHeader
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy, Policy
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from contactcenter.config import Settings
from contactcenter.messages import Channel, DeliveryError, OutboundMessage, ProviderReceipt

log = logging.getLogger(__name__)
dev_log = logging.getLogger("contactcenter.dev_outbox")

TIMEOUT_SECONDS = 30.0
MAX_REFERENCES = 20
"""References kept in a reply: the first message of the thread and the newest ones, as
RFC 5322 suggests when a thread grows long (some servers refuse huge headers)."""

MSG_ID = re.compile(r"[!-;=?-~]{1,250}")
"""A message id without its angle brackets: printable ASCII, no space, ``<`` or ``>``. Anything
else in a stored reference (from a resident's odd mail) is dropped, never copied into a header."""

_UNSAFE = re.compile(r"[\r\n\x00]")


class MessageIdsHeader(UnstructuredHeader, BaseHeader):
    """Message-ID, In-Reply-To and References: ``<id>`` tokens folded between ids, never
    RFC 2047-encoded (the default folding encodes a long id, and mail clients then cannot
    thread on it)."""

    max_count = 1

    def fold(self, *, policy: Policy) -> str:
        limit = policy.max_line_length or 998
        lines = [f"{self.name}:"]
        for token in str(self).split():
            if len(lines[-1]) + 1 + len(token) > limit and lines[-1] != f"{self.name}:":
                lines.append("")
            lines[-1] += f" {token}"
        return policy.linesep.join(lines) + policy.linesep


def _policy(*, utf8: bool) -> EmailPolicy[EmailMessage]:
    registry = HeaderRegistry()
    for name in ("message-id", "in-reply-to", "references"):
        registry.map_to_type(name, MessageIdsHeader)
    # 7bit: every server takes the body (quoted-printable or base64), no 8BITMIME needed.
    policy = SMTP.clone(header_factory=registry, cte_type="7bit")
    return policy.clone(utf8=True, cte_type="8bit") if utf8 else policy


ASCII_POLICY = _policy(utf8=False)
UTF8_POLICY = _policy(utf8=True)
"""For the rare internationalized address (a non-ASCII mailbox name): needs SMTPUTF8."""


@dataclass(frozen=True)
class Rendered:
    mail: EmailMessage
    message_id: str
    sender: str
    recipient: str


def render(message: OutboundMessage, *, now: dt.datetime | None = None) -> Rendered:
    """The reply as an ``EmailMessage``; its Message-ID (generated if the core gave none).

    :raises DeliveryError: (permanent, ``bad_header``) a CR, LF or NUL in the subject or an
        address, an address that is not exactly one mailbox, or a malformed Message-ID.
    """
    try:
        return _render(message, now or dt.datetime.now(dt.UTC))
    except DeliveryError:
        raise
    except (ValueError, TypeError, IndexError) as exc:  # the email package's refusals
        raise DeliveryError(
            f"cannot build the email: {exc}", code="bad_header", permanent=True
        ) from exc


def _render(message: OutboundMessage, now: dt.datetime) -> Rendered:
    for value in (message.subject, message.to_address, message.from_address, message.message_id):
        if _UNSAFE.search(value):
            raise DeliveryError(
                "a header value has a line break", code="bad_header", permanent=True
            )
    sender = _mailbox(message.from_address)
    recipient = _mailbox(message.to_address)
    message_id = message.message_id.strip().strip("<>") or f"{uuid.uuid4()}@{sender.domain}"
    if not MSG_ID.fullmatch(message_id) or "@" not in message_id:
        raise DeliveryError("malformed Message-ID", code="bad_header", permanent=True)
    utf8 = not (sender.addr_spec.isascii() and recipient.addr_spec.isascii())
    mail = EmailMessage(policy=UTF8_POLICY if utf8 else ASCII_POLICY)
    mail["From"] = sender
    mail["To"] = recipient
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(now.astimezone(dt.UTC))
    mail["Message-ID"] = f"<{message_id}>"
    refs = thread_refs(message.thread_refs)
    if refs:
        mail["In-Reply-To"] = f"<{refs[-1]}>"
        mail["References"] = " ".join(f"<{ref}>" for ref in refs)
    if message.automated:
        mail["Auto-Submitted"] = "auto-replied"  # RFC 3834: robots must not answer it
        mail["X-Auto-Response-Suppress"] = "All"  # the same, for Exchange
    mail.set_content(message.body, charset="utf-8")
    if message.html:
        mail.add_alternative(message.html, subtype="html", charset="utf-8")
    return Rendered(mail, message_id, sender.addr_spec, recipient.addr_spec)


def _mailbox(value: str) -> Address:
    """Exactly one mailbox (``a@b.example`` or ``Name <a@b.example>``); a list is refused, so
    one address can never turn into several recipients."""
    header = ASCII_POLICY.header_factory("to", value)
    defects = [d for d in header.defects if not isinstance(d, NonASCIILocalPartDefect)]
    groups = header.groups
    if (
        defects
        or len(groups) != 1
        or groups[0].display_name is not None
        or len(groups[0].addresses) != 1
        or not groups[0].addresses[0].domain
    ):
        raise DeliveryError(f"not one email address: {value!r}", code="bad_header", permanent=True)
    found: Address = groups[0].addresses[0]
    return found


def thread_refs(refs: tuple[str, ...]) -> list[str]:
    """The well-formed references, oldest first, shortened to the first and the newest ones."""
    clean = [ref.strip().strip("<>") for ref in refs]
    clean = [ref for ref in clean if MSG_ID.fullmatch(ref)]
    if len(clean) > MAX_REFERENCES:
        clean = clean[:1] + clean[-(MAX_REFERENCES - 1) :]
    return clean


@dataclass(frozen=True)
class SmtpServer:
    """Where ``SMTP_URL`` points: ``smtp://`` upgrades with STARTTLS when offered, ``smtps://``
    is TLS from the start; the user and password are percent-decoded."""

    host: str
    port: int
    implicit_tls: bool
    username: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        implicit_tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit_tls else 25),
            implicit_tls=implicit_tls,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


class EmailAdapter:
    channel = Channel.EMAIL

    def __init__(
        self,
        settings: Settings,
        *,
        timeout: float = TIMEOUT_SECONDS,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        """``tls_context`` replaces the system's trusted certificates (tests, private CAs)."""
        self.server = SmtpServer.from_url(settings.smtp_url) if settings.smtp_url else None
        self.timeout = timeout
        self.tls_context = tls_context

    def send(self, message: OutboundMessage) -> ProviderReceipt:
        rendered = render(message)
        if self.server is None:
            dev_log.info(
                "DEV OUTBOX (not sent) email to=%s from=%s subject=%r message_id=%s body=%r",
                rendered.recipient,
                rendered.sender,
                message.subject,
                rendered.message_id,
                message.body,
            )
        else:
            self._transmit(rendered)
        return ProviderReceipt(provider_id=rendered.message_id, status="sent")

    def _transmit(self, rendered: Rendered) -> None:
        server = self.server
        assert server is not None
        try:
            with self._connect(server, rendered.sender) as smtp:
                smtp.ehlo()
                encrypted = server.implicit_tls
                if not encrypted and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._tls())
                    smtp.ehlo()
                    encrypted = True
                if server.username:
                    if not encrypted and not _is_loopback(server.host):
                        # Someone between us and the server may have removed STARTTLS from
                        # its answer; the password must not cross the network in clear.
                        raise DeliveryError(
                            f"{server.host} offers no TLS; not sending the password in clear",
                            code="smtp_no_tls",
                        )
                    smtp.login(server.username, server.password)
                smtp.send_message(
                    rendered.mail, from_addr=rendered.sender, to_addrs=[rendered.recipient]
                )
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b""))
            raise _refused(code, reply) from exc
        except smtplib.SMTPAuthenticationError as exc:
            # Our credentials, not this message: keep it queued until an administrator fixes them.
            raise DeliveryError(_text(exc.smtp_error), code="smtp_auth") from exc
        except smtplib.SMTPNotSupportedError as exc:
            raise DeliveryError(str(exc), code="smtp_no_utf8", permanent=True) from exc
        except (smtplib.SMTPConnectError, smtplib.SMTPHeloError) as exc:
            # The server turned the connection away, not this message: try again later.
            raise DeliveryError(
                f"{server.host}:{server.port} refused the session: {exc}", code="smtp_unreachable"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise _refused(exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:  # refused, timed out, TLS, hung up
            raise DeliveryError(
                f"cannot reach {server.host}:{server.port}: {exc}", code="smtp_unreachable"
            ) from exc

    def _connect(self, server: SmtpServer, sender: str) -> smtplib.SMTP:
        # EHLO with the mailbox's domain: the machine's own name may not resolve (or be slow to).
        local_hostname = sender.rpartition("@")[2] or "localhost"
        if server.implicit_tls:
            return smtplib.SMTP_SSL(
                server.host,
                server.port,
                local_hostname=local_hostname,
                timeout=self.timeout,
                context=self._tls(),
            )
        return smtplib.SMTP(
            server.host, server.port, local_hostname=local_hostname, timeout=self.timeout
        )

    def _tls(self) -> ssl.SSLContext:
        return self.tls_context or ssl.create_default_context()


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _refused(code: int, reply: Any) -> DeliveryError:
    """A 5xx reply is final (retrying gets the same answer); anything else may pass later."""
    text = f"{code} {_text(reply)}"
    if 500 <= code < 600:
        return DeliveryError(text, code="smtp_5xx", permanent=True)
    return DeliveryError(text, code="smtp_4xx")


def _text(reply: Any) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
