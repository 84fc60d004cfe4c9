"""Inbound email end to end: real SMTP sessions (the standard library's smtplib) to the running
listener, the raw message stored, then parsed and filed by the processing job (inline without
Redis; a real rq worker in burst mode with it)."""

from __future__ import annotations

import datetime as dt
import os
import smtplib
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask import Flask
from flask.cli import ScriptInfo
from sqlalchemy.orm import Session

import channels.email.ingest as ingest
from channels.email.listener import RunningListener, start_listener
from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.cli import cli
from contactcenter.db import get_db, utcnow
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.mail.models import Attachment, RawEmail, RawEmailState
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests import factories
from tests.conftest import CITY_MAILBOX, TESTDATA

RESIDENT = "jane.resident@example.org"
CORPUS_ROOT = TESTDATA / "email" / "eml"
CORPUS = sorted(CORPUS_ROOT.rglob("*.eml"))


@pytest.fixture
def listener(app: Flask) -> Iterator[RunningListener]:
    running = start_listener(app)
    yield running
    running.stop()


Send = Callable[..., None]


@pytest.fixture
def send(listener: RunningListener, run_jobs: Callable[[], None]) -> Send:
    """Deliver ``data`` over a fresh SMTP connection, then let the jobs run."""

    def deliver(data: bytes, *, to: tuple[str, ...] = (CITY_MAILBOX,), sender: str = RESIDENT):
        with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
            smtp.sendmail(sender, list(to), data)
        run_jobs()

    return deliver


def mail(
    body: str = "There is a pothole at 12 Main St.",
    *,
    subject: str = "Pothole",
    sender: str = RESIDENT,
    message_id: str | None = "<first-1@example.org>",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = f"Jane Resident <{sender}>"
    message["To"] = CITY_MAILBOX
    message["Subject"] = subject
    if message_id:
        message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes().replace(b"\n", b"\r\n")


def crlf(data: bytes) -> bytes:
    """Line ends as an SMTP client sends them (which ends the last line too)."""
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def raws(session: Session) -> list[RawEmail]:
    session.expire_all()
    return list(session.scalars(sa.select(RawEmail).order_by(RawEmail.id)))


def inbound_emails(session: Session) -> list[Interaction]:
    return list(
        session.scalars(
            sa.select(Interaction)
            .where(Interaction.channel == Channel.EMAIL, Interaction.direction == Direction.INBOUND)
            .order_by(Interaction.id)
        )
    )


def test_a_residents_mail_opens_a_case_and_queues_an_acknowledgement(session, mail_city, send):
    send(mail(subject="Pothole on Main", message_id="<pothole-1@example.org>"))

    [raw] = raws(session)
    assert raw.state == RawEmailState.FILED, raw.error
    assert (raw.source, raw.recipient, raw.envelope_from) == ("smtp", CITY_MAILBOX, RESIDENT)
    [message] = inbound_emails(session)
    assert raw.interaction_id == message.id
    assert message.provider_id == "pothole-1@example.org"
    assert message.subject == "Pothole on Main"
    assert message.from_address == RESIDENT
    assert "pothole at 12 Main St" in message.body
    assert message.case_id is not None
    assert not message.automated
    answers = session.scalars(
        sa.select(Interaction).where(
            Interaction.direction == Direction.OUTBOUND, Interaction.to_address == RESIDENT
        )
    ).all()
    assert len(answers) == 1 and answers[0].case_id == message.case_id
    assert answers[0].channel == Channel.EMAIL


def test_an_address_no_jurisdiction_owns_is_refused_at_rcpt(session, mail_city, listener):
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            smtp.sendmail(RESIDENT, ["nobody@springfield.example"], mail())
        # One of ours among strangers: only ours gets the message.
        rejected = smtp.sendmail(RESIDENT, ["relay@elsewhere.example", CITY_MAILBOX], mail())
    [(code, reply)] = refused.value.recipients.values()
    assert code == 550 and b"No such mailbox" in reply
    assert list(rejected) == ["relay@elsewhere.example"]
    assert [raw.recipient for raw in raws(session)] == [CITY_MAILBOX]


def test_mail_to_two_jurisdictions_is_filed_by_each(session, mail_city, other_city, send):
    session.add(
        ChannelAddress(
            jurisdiction_id=other_city.id, channel=Channel.EMAIL, address="311@shelbyville.example"
        )
    )
    session.commit()

    send(mail(), to=(CITY_MAILBOX, "311@shelbyville.example"))

    assert {raw.state for raw in raws(session)} == {RawEmailState.FILED}
    assert {m.jurisdiction_id for m in inbound_emails(session)} == {mail_city.id, other_city.id}


def test_oversized_mail_is_refused(app, session, mail_city):
    running = start_listener(app, data_size_limit=10_000)
    try:
        big = mail("x" * 20_000 + "\n")
        with smtplib.SMTP(running.host, running.port, timeout=10) as smtp:
            # smtplib announces the size (SIZE=): refused before any byte is sent...
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.sendmail(RESIDENT, [CITY_MAILBOX], big)
            assert refused.value.smtp_code == 552
            smtp.rset()
            # ...and a client that does not is refused at the end of the data.
            smtp.mail(RESIDENT)
            smtp.rcpt(CITY_MAILBOX)
            code, _ = smtp.data(big)
            assert code == 552
            assert smtp.sendmail(RESIDENT, [CITY_MAILBOX], mail()) == {}
    finally:
        running.stop()
    assert len(raws(session)) == 1


def test_the_same_message_id_twice_is_filed_once(session, mail_city, send):
    send(mail(message_id="<retry-1@example.org>"))
    send(mail(message_id="<retry-1@example.org>"))

    first, second = raws(session)
    assert (first.state, second.state) == (RawEmailState.FILED, RawEmailState.DUPLICATE)
    [message] = inbound_emails(session)
    assert second.interaction_id == message.id


def test_mail_without_message_id_is_keyed_by_its_bytes(session, mail_city, send):
    send(mail(message_id=None))
    send(mail(message_id=None))

    assert [raw.state for raw in raws(session)] == [RawEmailState.FILED, RawEmailState.DUPLICATE]
    [message] = inbound_emails(session)
    assert message.provider_id.startswith("sha256:")


def test_attachments_are_stored_with_sniffed_types_and_oversized_ones_dropped(
    app, session, mail_city, send, monkeypatch
):
    from dataclasses import replace

    monkeypatch.setitem(
        app.config, "SETTINGS", replace(app.config["SETTINGS"], email_attachment_max_bytes=5000)
    )
    message = EmailMessage()
    message["From"] = RESIDENT
    message["To"] = CITY_MAILBOX
    message["Subject"] = "Photos"
    message["Message-ID"] = "<photos-1@example.org>"
    message.set_content("Two files.")
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    message.add_attachment(png, maintype="application", subtype="pdf", filename="photo.pdf")
    message.add_attachment(b"A" * 6000, maintype="text", subtype="plain", filename="big.txt")
    send(message.as_bytes())

    files = {a.filename: a for a in session.scalars(sa.select(Attachment))}
    assert files["photo.pdf"].content_type == "image/png"
    assert files["photo.pdf"].declared_type == "application/pdf"
    assert files["photo.pdf"].data == png and files["photo.pdf"].size == len(png)
    assert files["big.txt"].data is None and files["big.txt"].size == 6000
    assert "limit" in files["big.txt"].dropped_reason
    [interaction] = inbound_emails(session)
    assert {a.interaction_id for a in files.values()} == {interaction.id}


def test_every_corpus_message_is_filed_reported_or_quarantined_never_lost(session, mail_city, send):
    if not CORPUS:
        pytest.skip(f"shared test data not found at {CORPUS_ROOT}")
    assert len(CORPUS) >= 40
    sent: dict[str, bytes] = {}
    for path in CORPUS:
        data = crlf(path.read_bytes())
        send(data)
        sent[str(path.relative_to(CORPUS_ROOT))] = data

    stored = raws(session)
    assert len(stored) == len(CORPUS)
    assert [raw.data for raw in stored] == list(sent.values())  # kept byte for byte
    assert all(raw.state != RawEmailState.PENDING for raw in stored)
    by_state: dict[RawEmailState, list[str]] = {}
    for raw, name in zip(stored, sent, strict=True):
        by_state.setdefault(raw.state, []).append(name)
        if raw.state == RawEmailState.QUARANTINED:
            assert raw.error
    assert by_state[RawEmailState.FILED]
    # A report about mail we never sent (as all of the corpus is) is recorded, nothing more.
    assert "flanker/bounce_gmail-invalid-address.eml" in by_state[RawEmailState.IGNORED]
    assert "flanker/complaints_aol.eml" in by_state[RawEmailState.IGNORED]
    assert "flanker/disposition-notification.eml" in by_state[RawEmailState.IGNORED]
    # Reports never become interactions, so never cases nor acknowledgements.
    filed = [r for r in stored if r.state in (RawEmailState.FILED, RawEmailState.DUPLICATE)]
    assert {m.id for m in inbound_emails(session)} == {r.interaction_id for r in filed}
    for raw in stored:
        if raw.state in (RawEmailState.BOUNCE, RawEmailState.IGNORED):
            assert raw.interaction_id is None
    # The listener survived all of it.
    send(mail(message_id="<after-corpus@example.org>"))
    assert raws(session)[-1].state == RawEmailState.FILED


def _bounce(original_id: str, failed: str) -> bytes:
    return crlf(
        f"""From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.org>
To: {CITY_MAILBOX}
Subject: Undelivered Mail Returned to Sender
Message-ID: <bounce-{original_id}>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="b1"

--b1
Content-Type: text/plain

Your message could not be delivered to {failed}.

--b1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.org

Final-Recipient: rfc822; {failed}
Action: failed
Status: 5.1.1
Diagnostic-Code: smtp; 550 5.1.1 user unknown

--b1
Content-Type: text/rfc822-headers

From: {CITY_MAILBOX}
To: {failed}
Subject: Re: Pothole
Message-ID: <{original_id}>

--b1--
""".encode()
    )


def _resident_with_reply(session: Session, city: Jurisdiction) -> Interaction:
    """A resident known by email, and our reply to them (Message-ID reply-7@...)."""
    resident = Resident(jurisdiction_id=city.id)
    session.add(resident)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=city.id,
            resident_id=resident.id,
            kind=ContactKind.EMAIL,
            address=RESIDENT,
        )
    )
    reply = Interaction(
        jurisdiction_id=city.id,
        resident_id=resident.id,
        channel=Channel.EMAIL,
        direction=Direction.OUTBOUND,
        provider_id="reply-7@springfield.example",
        from_address=CITY_MAILBOX,
        to_address=RESIDENT,
        body="We are on it.",
        delivery_status=DeliveryStatus.SENT,
    )
    session.add(reply)
    session.commit()
    return reply


def test_a_bounce_marks_the_address_undeliverable_and_the_reply_failed(session, mail_city, send):
    reply = _resident_with_reply(session, mail_city)
    cases_before = session.scalar(sa.select(sa.func.count()).select_from(Case))

    send(_bounce("reply-7@springfield.example", RESIDENT), sender="")

    [raw] = raws(session)
    assert raw.state == RawEmailState.BOUNCE and raw.interaction_id is None
    contact = session.scalars(sa.select(ContactPoint)).one()
    assert contact.undeliverable_at is not None
    assert "user unknown" in contact.undeliverable_reason
    session.refresh(reply)
    assert (reply.delivery_status, reply.error_code) == (DeliveryStatus.FAILED, "bounced")
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == cases_before
    assert inbound_emails(session) == []


def test_a_spam_complaint_stops_mail_to_the_address_and_opens_nothing(session, mail_city, send):
    reply = _resident_with_reply(session, mail_city)
    complaint = crlf(
        f"""From: scomp@aol.net
To: {CITY_MAILBOX}
Subject: Email Feedback Report
Message-ID: <arf-1@aol.net>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="b2"

--b2
Content-Type: text/plain

This is an email abuse report.

--b2
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: AOL SComp
Version: 1

--b2
Content-Type: message/rfc822

From: {CITY_MAILBOX}
To: {RESIDENT}
Subject: Re: Pothole
Message-ID: <reply-7@springfield.example>

We are on it.

--b2--
""".encode()
    )
    send(complaint, sender="")

    [raw] = raws(session)
    assert raw.state == RawEmailState.IGNORED and raw.interaction_id is None
    contact = session.scalars(sa.select(ContactPoint)).one()
    assert contact.undeliverable_at is not None
    assert contact.undeliverable_reason == "complaint"
    session.refresh(reply)
    assert reply.delivery_status == DeliveryStatus.SENT  # it was delivered: they complained
    assert inbound_emails(session) == []


def _supervisor(session: Session, city: Jurisdiction) -> dict[str, str]:
    _agent, token = factories.make_agent(session, [city], role=Role.SUPERVISOR)
    session.commit()
    return {"Authorization": f"Bearer {token}"}


def test_mail_the_parser_chokes_on_is_quarantined_listed_and_retried_after_the_fix(
    session, mail_city, other_city, send, client, monkeypatch, run_jobs
):
    real_parse = ingest.parse_email

    def choke(raw: bytes, **kwargs: object) -> object:
        raise RuntimeError("parser bug")

    monkeypatch.setattr(ingest, "parse_email", choke)
    data = mail(message_id="<choke-1@example.org>")
    send(data)

    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED
    assert raw.error == "RuntimeError: parser bug"
    assert raw.attempts == 1 and raw.data == data
    assert inbound_emails(session) == []

    headers = _supervisor(session, mail_city)
    listed = client.get("/api/v1/mail/quarantine", headers=headers)
    assert listed.status_code == 200, listed.get_json()
    [row] = listed.get_json()["data"]
    assert (row["id"], row["jurisdiction"], row["error"]) == (
        raw.id,
        "springfield",
        "RuntimeError: parser bug",
    )
    download = client.get(f"/api/v1/mail/quarantine/{raw.id}/raw", headers=headers)
    assert download.status_code == 200
    assert download.mimetype == "message/rfc822"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.data == data

    # Another city's supervisor sees none of it.
    theirs = _supervisor(session, other_city)
    assert client.get("/api/v1/mail/quarantine", headers=theirs).get_json()["data"] == []
    assert client.get(f"/api/v1/mail/quarantine/{raw.id}/raw", headers=theirs).status_code == 404
    assert client.post(f"/api/v1/mail/quarantine/{raw.id}/retry", headers=theirs).status_code == 404
    # Agents are not administrators.
    _agent, agent_token = factories.make_agent(session, [mail_city])
    session.commit()
    agent = {"Authorization": f"Bearer {agent_token}"}
    assert client.get("/api/v1/mail/quarantine", headers=agent).status_code == 403

    monkeypatch.setattr(ingest, "parse_email", real_parse)
    retried = client.post(f"/api/v1/mail/quarantine/{raw.id}/retry", headers=headers)
    assert retried.status_code == 200, retried.get_json()
    run_jobs()
    [raw] = raws(session)
    # The retry counts its attempts afresh.
    assert raw.state == RawEmailState.FILED and raw.error == "" and raw.attempts == 1
    [message] = inbound_emails(session)
    assert message.case_id is not None
    again = client.post(f"/api/v1/mail/quarantine/{raw.id}/retry", headers=headers)
    assert again.status_code == 409


def test_the_quarantine_list_pages_newest_first(session, mail_city, send, client, monkeypatch):
    monkeypatch.setattr(ingest, "parse_email", lambda raw, **kw: 1 / 0)
    for n in range(3):
        send(mail(message_id=f"<page-{n}@example.org>"))
    headers = _supervisor(session, mail_city)
    first = client.get("/api/v1/mail/quarantine?limit=2", headers=headers).get_json()
    ids = [row["id"] for row in first["data"]]
    assert ids == sorted(ids, reverse=True) and len(ids) == 2
    rest = client.get(
        f"/api/v1/mail/quarantine?limit=2&cursor={first['next_cursor']}", headers=headers
    ).get_json()
    assert len(rest["data"]) == 1 and rest["next_cursor"] is None
    assert rest["data"][0]["error"].startswith("ZeroDivisionError")
    bad = client.get("/api/v1/mail/quarantine?cursor=abc", headers=headers)
    assert bad.status_code == 400


def test_mail_without_a_usable_sender_is_quarantined(session, mail_city, send):
    data = crlf(
        b"To: 311@springfield.example\nSubject: who am I\nMessage-ID: <anon@x.example>\n\nhello\n"
    )
    send(data, sender="someone@example.org")

    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED
    assert raw.error.startswith("no sender")
    assert inbound_emails(session) == []


def _cli(app: Flask, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_cli_lists_shows_and_retries_quarantined_mail(
    app, session, mail_city, send, monkeypatch, run_jobs
):
    real_parse = ingest.parse_email
    monkeypatch.setattr(ingest, "parse_email", lambda raw, **kw: 1 / 0)
    data = mail(message_id="<cli-1@example.org>")
    send(data)
    [raw] = raws(session)

    listing = _cli(app, "mail", "quarantine")
    assert f"{raw.id}\t" in listing and "ZeroDivisionError" in listing
    shown = CliRunner().invoke(
        cli, ["mail", "show", str(raw.id)], obj=ScriptInfo(create_app=lambda: app)
    )
    assert shown.exit_code == 0 and shown.stdout_bytes == data

    monkeypatch.setattr(ingest, "parse_email", real_parse)
    _cli(app, "mail", "retry", str(raw.id))
    run_jobs()
    assert raws(session)[0].state == RawEmailState.FILED
    assert "no quarantined mail" in _cli(app, "mail", "quarantine")


def test_mail_whose_job_was_lost_is_requeued(app, session, mail_city, run_jobs):
    with app.app_context():
        db = get_db().session()
        raw = ingest.store_raw_email(
            db, data=mail(), recipient=CITY_MAILBOX, envelope_from=RESIDENT, source="smtp"
        )
        raw.received_at = utcnow() - dt.timedelta(minutes=10)
        db.commit()  # stored, but no job was queued (Redis was down)
        db.close()

    assert "1 raw emails" in _cli(app, "requeue")
    run_jobs()
    assert raws(session)[0].state == RawEmailState.FILED


def test_a_huge_message_does_not_hold_up_a_small_one(session, mail_city, listener, run_jobs):
    message = EmailMessage()
    message["From"] = RESIDENT
    message["To"] = CITY_MAILBOX
    message["Subject"] = "All the photos"
    message["Message-ID"] = "<huge@example.org>"
    message.set_content("See the attached video of the flooding, and the long note.")
    message.add_attachment(b"v" * 22_000_000, maintype="video", subtype="mp4", filename="f.mp4")
    huge = crlf(message.as_bytes())  # ~30 MB on the wire
    long_text = mail("Flooding. " * 20_000, message_id="<long@example.org>")
    done = threading.Event()

    def send_huge() -> None:
        with smtplib.SMTP(listener.host, listener.port, timeout=120) as smtp:
            smtp.sendmail(RESIDENT, [CITY_MAILBOX], huge)
        done.set()

    sender = threading.Thread(target=send_huge)
    sender.start()
    time.sleep(0.2)  # the huge one is on the wire
    started = time.monotonic()
    with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
        smtp.sendmail(RESIDENT, [CITY_MAILBOX], mail(message_id="<small@example.org>"))
    small_took = time.monotonic() - started
    sender.join(timeout=120)
    assert done.is_set()
    with smtplib.SMTP(listener.host, listener.port, timeout=30) as smtp:
        smtp.sendmail(RESIDENT, [CITY_MAILBOX], long_text)
    run_jobs()

    assert small_took < 3.0, f"the small message waited {small_took:.1f} s"
    assert [raw.state for raw in raws(session)] == [RawEmailState.FILED] * 3
    video = session.scalars(sa.select(Attachment)).one()
    assert video.size == 22_000_000 and video.data is not None
    # What agents see of a very long text is bounded; the raw mail keeps it all.
    longest = max(inbound_emails(session), key=lambda m: len(m.body))
    assert len(longest.body) == ingest.MAX_BODY_CHARS
    assert len(raws(session)[-1].text) > 190_000


def test_a_message_over_the_processing_time_limit_is_quarantined(
    app, session, mail_city, send, monkeypatch, redis_client
):
    """rq stops a job at its time limit (only workers can: inline jobs run to the end)."""
    from dataclasses import replace

    monkeypatch.setitem(
        app.config, "SETTINGS", replace(app.config["SETTINGS"], email_process_seconds=1)
    )

    def slow(raw: bytes, **kwargs: object) -> object:
        time.sleep(5)
        raise AssertionError("not stopped")

    monkeypatch.setattr(ingest, "parse_email", slow)
    send(mail(message_id="<slow@example.org>"))

    [raw] = raws(session)
    assert raw.state == RawEmailState.QUARANTINED
    assert raw.error.startswith("JobTimeoutException")


def test_a_database_failure_asks_the_sender_to_try_again_later(
    session, mail_city, listener, monkeypatch
):
    import channels.email.listener as smtp_listener

    real_accept = smtp_listener.accept

    def broken(*args: object, **kwargs: object) -> object:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is down"))

    monkeypatch.setattr(smtp_listener, "accept", broken)
    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        with pytest.raises(smtplib.SMTPDataError) as refused:
            smtp.sendmail(RESIDENT, [CITY_MAILBOX], mail())
        assert refused.value.smtp_code == 451
        monkeypatch.setattr(smtp_listener, "accept", real_accept)
        assert smtp.sendmail(RESIDENT, [CITY_MAILBOX], mail()) == {}  # the retry gets through
    assert len(raws(session)) == 1


def test_recipients_per_message_are_limited(session, mail_city, listener):
    from channels.email.listener import MAX_RECIPIENTS

    with smtplib.SMTP(listener.host, listener.port, timeout=10) as smtp:
        refused = smtp.sendmail(RESIDENT, [CITY_MAILBOX] * (MAX_RECIPIENTS + 3), mail())
    assert refused == {CITY_MAILBOX: (452, b"4.5.3 Too many recipients")}
    assert len(raws(session)) == 1  # one copy per address, however often it was named


@pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL"),
    reason="needs TEST_DATABASE_URL (PostgreSQL): concurrent sessions only race on a real server",
)
def test_two_workers_filing_the_same_message_id_at_once_file_it_once(app, session, mail_city):
    from contactcenter.mail.service import file_email, store_raw_email
    from contactcenter.messages import InboundMessage

    data = mail(message_id="<race@example.org>")
    with app.app_context():
        setup = get_db().session()
        ids = [
            store_raw_email(
                setup, data=data, recipient=CITY_MAILBOX, envelope_from=RESIDENT, source="smtp"
            ).id
            for _ in range(2)
        ]
        setup.commit()
        setup.close()
    message = InboundMessage(
        channel=Channel.EMAIL,
        provider_id="race@example.org",
        from_address=RESIDENT,
        to_address=CITY_MAILBOX,
        body="There is a pothole at 12 Main St.",
        subject="Pothole",
    )
    outcome: dict[str, object] = {}

    def second_worker() -> None:
        with app.app_context():
            db = get_db().session()
            raw = db.get_one(RawEmail, ids[1])
            outcome["result"] = file_email(db, raw, message, [], text="")
            db.commit()
            db.close()

    with app.app_context():
        first = get_db().session()
        assert file_email(first, first.get_one(RawEmail, ids[0]), message, [], text="")
        racer = threading.Thread(target=second_worker)
        racer.start()
        time.sleep(0.5)
        assert racer.is_alive()  # waiting on the first worker's uncommitted row
        first.commit()
        first.close()
    racer.join(timeout=10)

    assert outcome == {"result": None}
    winner, loser = raws(session)
    assert (winner.state, loser.state) == (RawEmailState.FILED, RawEmailState.DUPLICATE)
    assert loser.interaction_id == winner.interaction_id
    assert len(inbound_emails(session)) == 1
