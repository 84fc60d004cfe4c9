"""Accepted means kept: a stored message is processed even if its job was lost."""

import datetime as dt
import secrets

import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.cli import cli
from contactcenter.db import utcnow
from contactcenter.messages import Direction
from contactcenter.outbound import deliver_interaction
from tests.conftest import ACCOUNT_SID


def _form(body="Pothole at 12 Main St"):
    return {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": "+16135550100",
        "To": "+16135550311",
        "Body": body,
        "NumMedia": "0",
    }


def _age_everything(session):
    """Make every message an hour old, as if its job had been lost an hour ago."""
    cutoff = utcnow() - dt.timedelta(hours=1)
    session.execute(sa.update(Interaction).values(created_at=cutoff, updated_at=cutoff))
    session.commit()


def test_lost_queue_does_not_lose_the_message_and_requeue_recovers_it(
    app, jurisdiction, session, signed_post, run_jobs, twilio_http, monkeypatch
):
    runner = app.extensions["jobs"]

    def queue_down(jobs):
        raise ConnectionError("queue unreachable")

    monkeypatch.setattr(runner, "submit", queue_down)
    response = signed_post("/sms/inbound", _form())
    assert response.status_code == 200  # the message is stored: Twilio must not retry
    stored = session.scalars(sa.select(Interaction)).one()
    assert stored.processed_at is None
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 0

    monkeypatch.undo()
    _age_everything(session)
    result = CliRunner().invoke(
        cli, ["requeue", "--older-than", "60"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert "requeued 1 inbound" in result.output, result.output
    run_jobs()
    session.expire_all()
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    assert "tracking number" in twilio_http.messages[-1]["Body"]


def test_requeue_resends_a_reply_whose_job_was_lost(
    app, jurisdiction, session, signed_post, run_jobs, twilio_http, monkeypatch
):
    runner = app.extensions["jobs"]
    real_submit = runner.submit

    def lose_deliveries(jobs):
        if any(job.func is deliver_interaction for job in jobs):
            raise ConnectionError("queue unreachable")
        real_submit(jobs)

    monkeypatch.setattr(runner, "submit", lose_deliveries)
    assert signed_post("/sms/inbound", _form()).status_code == 200
    run_jobs()
    monkeypatch.undo()
    assert twilio_http.messages == []
    reply = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.OUTBOUND)
    ).one()
    assert reply.delivery_status == DeliveryStatus.QUEUED

    _age_everything(session)
    result = CliRunner().invoke(
        cli, ["requeue", "--older-than", "60"], obj=ScriptInfo(create_app=lambda: app)
    )
    assert "requeued 0 inbound and 1 outbound" in result.output, result.output
    run_jobs()
    assert len(twilio_http.messages) == 1
    assert "tracking number" in twilio_http.messages[0]["Body"]
