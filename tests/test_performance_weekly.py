"""The weekly summary: each department head gets last week's figures by email (text and HTML),
on Monday from 07:00 local time, once per week, from rq's scheduler or the command."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from flask import Flask
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from sqlalchemy.orm import Session

from channels.email.sender import EmailAdapter
from contactcenter.messages import Channel
from contactcenter.performance import weekly
from contactcenter.performance.contacts import rebuild_contact_rollups
from contactcenter.performance.period import Period
from contactcenter.performance.weekly import schedule_weekly, send_weekly_summaries, week_due
from tests.conftest import SmtpSink, make_settings
from tests.test_cli import _invoke
from tests.test_performance_api_drilldown import History, build_history, local

MONDAY_7AM = local(9, 7)  # Monday 9 November 2026, 07:00 in Toronto: the week of the 2nd is due


@pytest.fixture
def history(session: Session) -> History:
    found = build_history(session)
    rebuild_contact_rollups(session, found.city.id)
    found.departments["PW"].head_email = "works.head@springfield.example"
    found.departments["SAN"].head_email = "sanitation.head@springfield.example"
    session.commit()
    return found


@pytest.fixture
def mailbox(app: Flask, smtp_sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> SmtpSink:
    """The app's email adapter pointed at the local SMTP sink."""
    adapter = EmailAdapter(make_settings("sqlite://", smtp_url=smtp_sink.url))
    monkeypatch.setitem(app.extensions["channels"], Channel.EMAIL, adapter)
    return smtp_sink


def _send(app: Flask, session: Session, now: dt.datetime) -> int:
    with app.app_context():
        return send_weekly_summaries(session, now)


def test_the_week_reported_is_monday_to_sunday_before_this_monday(history: History) -> None:
    send_at, period = week_due(history.city, local(11, 15))  # a Wednesday
    assert send_at == MONDAY_7AM
    assert period == Period(dt.date(2026, 11, 2), dt.date(2026, 11, 8))
    assert week_due(history.city, local(9, 6, 59))[0] == MONDAY_7AM


def test_each_head_gets_the_departments_week_in_text_and_html(
    app: Flask, session: Session, history: History, mailbox: SmtpSink
) -> None:
    assert _send(app, session, MONDAY_7AM) == 2
    by_recipient = {m.rcpt_tos[0]: m.message for m in mailbox.messages}
    works = by_recipient["works.head@springfield.example"]
    assert works["Subject"] == "Weekly performance: Public Works, 02 Nov to 08 Nov 2026"
    assert works["Auto-Submitted"] == "auto-replied"
    text = works.get_body(("plain",)).get_content()
    html = works.get_body(("html",)).get_content()
    lines = {line.split("  ")[0].strip(): line for line in text.splitlines()}
    assert "Cases opened" in lines and " 2  (week before: 0)" in lines["Cases opened"]
    assert " 2  (week before: 0)" in lines["Cases closed"]
    assert "50 %" in lines["Reopen rate"]
    assert "3.5 / 5" in lines["Average satisfaction"]
    assert "goal 80 %" in lines["Closed within target"]
    assert " 6  (week before: 0)" in lines["Contacts offered"]
    assert "<table" in html and "Public Works" in html and "3.5 / 5" in html
    sanitation = by_recipient["sanitation.head@springfield.example"]
    assert "Sanitation" in sanitation["Subject"]


def test_it_is_sent_once_a_week_and_not_before_monday_seven(
    app: Flask, session: Session, history: History, mailbox: SmtpSink
) -> None:
    assert _send(app, session, MONDAY_7AM - dt.timedelta(minutes=1)) == 0
    assert _send(app, session, MONDAY_7AM) == 2
    assert _send(app, session, MONDAY_7AM + dt.timedelta(hours=3)) == 0
    assert _send(app, session, local(13, 17)) == 0  # later that week
    assert _send(app, session, local(16, 7)) == 2  # the next Monday: the week of the 9th
    assert len(mailbox.messages) == 4


def test_a_department_without_a_head_gets_nothing(
    app: Flask, session: Session, history: History, mailbox: SmtpSink
) -> None:
    history.departments["SAN"].head_email = ""
    session.commit()
    assert _send(app, session, MONDAY_7AM) == 1
    assert [m.rcpt_tos for m in mailbox.messages] == [["works.head@springfield.example"]]


def test_a_refusal_to_try_later_is_retried_at_the_next_check(
    app: Flask, session: Session, history: History, mailbox: SmtpSink
) -> None:
    mailbox.data_reply = "451 4.3.0 Try again later"
    assert _send(app, session, MONDAY_7AM) == 0
    mailbox.data_reply = None
    assert _send(app, session, MONDAY_7AM + dt.timedelta(minutes=15)) == 2


def test_without_smtp_it_goes_to_the_development_outbox(
    app: Flask, session: Session, history: History, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="contactcenter.dev_outbox"):
        assert _send(app, session, MONDAY_7AM) == 2
    assert "works.head@springfield.example" in caplog.text


def test_a_worker_runs_the_check_and_schedules_the_next(
    app: Flask,
    session: Session,
    history: History,
    mailbox: SmtpSink,
    redis_client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(weekly, "utcnow", lambda: MONDAY_7AM + dt.timedelta(minutes=5))
    runner = app.extensions["jobs"]
    runner.queue.enqueue(weekly.weekly_job)
    with app.app_context():
        SimpleWorker(list(runner.queues.values()), connection=runner.redis).work(burst=True)
    assert len(mailbox.messages) == 2
    scheduled = ScheduledJobRegistry(queue=runner.queue).get_job_ids()
    assert len(scheduled) == 1 and scheduled[0].startswith("performance-weekly-")


def test_many_workers_seeding_the_check_schedule_it_once(app: Flask, redis_client: Any) -> None:
    runner = app.extensions["jobs"]
    for _ in range(5):
        schedule_weekly(runner, seconds=600)
    assert len(ScheduledJobRegistry(queue=runner.queue).get_job_ids()) == 1


def test_the_command_prints_every_department_or_sends_what_is_due(
    app: Flask, session: Session, history: History, mailbox: SmtpSink, monkeypatch: Any
) -> None:
    monkeypatch.setattr("contactcenter.db.utcnow", lambda: MONDAY_7AM + dt.timedelta(hours=1))
    printed = _invoke(app, "performance", "weekly", "--jurisdiction", "springfield")
    assert "To: works.head@springfield.example" in printed
    assert "Subject: Weekly performance: 3-1-1, 02 Nov to 08 Nov 2026" in printed
    assert "(no head_email: not sent)" in printed
    assert mailbox.messages == []
    sent = _invoke(app, "performance", "weekly", "--send", "--jurisdiction", "springfield")
    assert "sent 2 weekly summary(ies)" in sent
    again = _invoke(app, "performance", "weekly", "--send")
    assert "sent 0 weekly summary(ies)" in again


def test_a_check_after_everything_was_sent_reads_no_figures(
    app: Flask, session: Session, history: History, mailbox: SmtpSink, count_queries: Any
) -> None:
    assert _send(app, session, MONDAY_7AM) == 2
    with count_queries() as counter:
        assert _send(app, session, MONDAY_7AM + dt.timedelta(minutes=15)) == 0
    # the marks, the jurisdictions, then each one's departments
    assert counter.count == 4, counter.statements


def test_the_medians_say_their_months_and_the_backlog_has_no_week_before(
    app: Flask, session: Session, history: History, mailbox: SmtpSink
) -> None:
    assert _send(app, session, MONDAY_7AM) == 2
    assert _send(app, session, local(16, 7)) == 2  # the week of the 9th beside the 2nd's
    works = [
        m.message for m in mailbox.messages if m.rcpt_tos == ["works.head@springfield.example"]
    ]
    first, second = (m.get_body(("plain",)).get_content() for m in works)
    for text in (first, second):
        lines = {line.split("  ")[0].strip(): line for line in text.splitlines()}
        assert "(week before: —)" in lines["Backlog (open cases now)"]
        assert "Median time to close (over November 2026)" in lines
    # 2-8 Nov beside 26 Oct-1 Nov: other months, so the week before's median is its own.
    # 9-15 Nov beside 2-8 Nov: both November's, the same number: not shown.
    median = "Median time to close (over November 2026)"
    second_lines = {line.split("  ")[0].strip(): line for line in second.splitlines()}
    assert "(week before: —)" in second_lines[median]
    assert "(week before: —)" in second_lines["90th percentile time to close (over November 2026)"]
