"""The SMTP listener (``contactcenter mail listen``): mail for the jurisdictions' addresses.

An aiosmtpd server. It answers at RCPT whether an address is one of ours (550 otherwise, so
nobody can relay through it and senders learn of a typo at once), refuses oversized mail
(552) and, at the end of DATA, stores the message with :func:`channels.email.ingest.accept`
and answers 250 only once the raw message is committed. A database failure answers 451: the
sending server keeps the message and tries again later, so nothing is lost.

The database is only ever touched in a thread pool, inside an application context, so one
slow query or a huge message being stored never stalls the event loop that serves every
other connection. Processing (parsing, intake) runs in rq workers; without Redis it runs
inline in the pool thread, after the commit, before the 250.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from flask import Flask

from channels.email.ingest import accept
from contactcenter.config import Settings
from contactcenter.db import get_db
from contactcenter.errors import NotFound
from contactcenter.jurisdictions.directory import AddressDirectory
from contactcenter.messages import Channel

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 20
POOL_THREADS = 16
SOURCE = "smtp"

NO_SUCH_MAILBOX = "550 5.1.1 No such mailbox here"
TOO_MANY_RECIPIENTS = "452 4.5.3 Too many recipients"
TRY_LATER = "451 4.3.0 Temporary failure, please try again later"
ACCEPTED = "250 2.0.0 Message accepted"


class MailHandler:
    """aiosmtpd hooks: which recipients we take, and what happens to a message's bytes."""

    def __init__(self, app: Flask, executor: ThreadPoolExecutor) -> None:
        self.app = app
        self.executor = executor

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return TOO_MANY_RECIPIENTS
        try:
            owned = await self._in_pool(self._owns, address)
        except Exception:
            log.exception("smtp: could not look up %r", address)
            return TRY_LATER
        if not owned:
            return NO_SUCH_MAILBOX
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content or b""
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogateescape")
        mail_from = envelope.mail_from or ""
        try:
            ids = await self._in_pool(self._accept, data, list(envelope.rcpt_tos), mail_from)
        except NotFound:
            return NO_SUCH_MAILBOX  # every address was taken away since RCPT
        except Exception:
            log.exception("smtp: could not store a message of %d bytes", len(data))
            return TRY_LATER
        log.info("smtp: %d bytes stored as raw email %s", len(data), ids)
        return ACCEPTED

    async def _in_pool(self, func: Any, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self.executor, func, *args)

    def _owns(self, address: str) -> bool:
        with self.app.app_context():
            directory: AddressDirectory = self.app.extensions["directory"]
            with get_db().session() as db:
                try:
                    directory.jurisdiction_id(db, Channel.EMAIL, address)
                except NotFound:
                    return False
        return True

    def _accept(self, data: bytes, recipients: list[str], mail_from: str) -> list[int]:
        with self.app.app_context(), get_db().session() as db:
            stored = accept(
                db, data=data, recipients=recipients, envelope_from=mail_from, source=SOURCE
            )
            return [raw.id for raw in stored]


class _LenientSMTP(SMTP):
    # RFC 5321 caps lines at 1000 octets, but real (broken) senders write longer ones: take
    # them rather than bounce a resident's mail. The size limit still bounds the message.
    line_length_limit = 1024 * 1024


class _Controller(Controller):
    def factory(self) -> SMTP:
        return _LenientSMTP(self.handler, **self.SMTP_kwargs)


@dataclass
class RunningListener:
    """A listener serving on ``host:port`` until :meth:`stop`."""

    host: str
    port: int
    controller: Controller
    executor: ThreadPoolExecutor

    def stop(self) -> None:
        self.controller.stop()
        self.executor.shutdown(wait=True, cancel_futures=True)


def free_port(host: str) -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


def start_listener(
    app: Flask, host: str = "127.0.0.1", port: int = 0, *, data_size_limit: int | None = None
) -> RunningListener:
    """Serve SMTP for ``app`` in a background thread (``port=0``: a free port); returns once
    it accepts connections. ``data_size_limit`` defaults to ``EMAIL_MAX_BYTES``."""
    settings: Settings = app.config["SETTINGS"]
    # aiosmtpd logs every command with its addresses at INFO: residents' addresses do not
    # belong in the logs; ours says what happened to each message.
    logging.getLogger("mail.log").setLevel(logging.WARNING)
    port = port or free_port(host)
    executor = ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="smtp-db")
    controller = _Controller(
        MailHandler(app, executor),
        hostname=host,
        port=port,
        data_size_limit=data_size_limit or settings.email_max_bytes,
        enable_SMTPUTF8=True,
        decode_data=False,
        ident="3-1-1 contact center",
    )
    controller.start()
    return RunningListener(host, port, controller, executor)


def parse_listen(value: str) -> tuple[str, int]:
    """``SMTP_LISTEN`` (``host:port``) as a pair."""
    host, _, port = value.rpartition(":")
    return host, int(port)
