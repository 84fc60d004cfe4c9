"""Side effects leave only after commit, exactly once, and survive provider hiccups."""

import pytest
import sqlalchemy as sa

from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.jobs import enqueue_after_commit
from contactcenter.outbound import deliver_interaction
from tests.factories import queue_sms


def _queue_text(session, jurisdiction, body="hello"):
    return queue_sms(session, jurisdiction, body=body)


def test_nothing_is_sent_for_a_rolled_back_transaction(
    app, jurisdiction, session, twilio_http, run_jobs
):
    with app.app_context():
        _queue_text(session, jurisdiction)
        session.rollback()
        session.commit()
        run_jobs()
    assert twilio_http.messages == []
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction)) == 0


def test_committed_message_is_sent_once_even_if_the_job_runs_twice(
    app, jurisdiction, session, twilio_http, run_jobs
):
    with app.app_context():
        interaction = _queue_text(session, jurisdiction)
        session.commit()
        run_jobs()
        deliver_interaction(interaction.id)
    assert len(twilio_http.messages) == 1
    session.refresh(interaction)
    assert interaction.delivery_status == DeliveryStatus.QUEUED or interaction.provider_id
    assert interaction.provider_id.startswith("SM")


def test_with_redis_the_reply_waits_in_the_queue_for_a_worker(
    app, jurisdiction, session, twilio_http, run_jobs, redis_client
):
    with app.app_context():
        _queue_text(session, jurisdiction)
        session.commit()
    queue = app.extensions["jobs"].queues["outbound"]
    assert queue.count == 1
    assert queue.jobs[0].func_name == "contactcenter.outbound.deliver_interaction"
    assert twilio_http.messages == []
    run_jobs()
    assert len(twilio_http.messages) == 1
    assert queue.count == 0


def test_transient_twilio_error_keeps_the_message_queued_for_a_retry(
    app, jurisdiction, session, twilio_http, run_jobs, redis_client
):
    twilio_http.fail_next(503, 20500, "Service unavailable")
    with app.app_context():
        interaction = _queue_text(session, jurisdiction)
        session.commit()
        run_jobs()
    session.refresh(interaction)
    assert interaction.delivery_status == DeliveryStatus.QUEUED
    assert interaction.error_code == "20500"
    queue = app.extensions["jobs"].queues["outbound"]
    assert len(queue.scheduled_job_registry) == 1  # rq retries it after the back-off


def test_inline_job_failure_does_not_break_the_request(app, jurisdiction, session, caplog):
    if app.extensions["jobs"].queue is not None:
        pytest.skip("inline mode only")

    def explode() -> None:
        raise RuntimeError("boom")

    with app.app_context():
        enqueue_after_commit(session, explode)
        session.commit()
    assert "inline job explode failed" in caplog.text


def test_message_queued_before_an_opt_out_is_not_sent_after_it(
    app, jurisdiction, session, twilio_http, run_jobs, redis_client
):
    from contactcenter.residents.models import Resident

    resident = Resident(jurisdiction_id=jurisdiction.id)
    session.add(resident)
    session.flush()
    with app.app_context():
        interaction = queue_sms(
            session, jurisdiction, body="Your request was resolved", resident=resident
        )
        session.commit()
        resident.sms_opted_out = True  # the resident texts STOP while the job waits
        session.commit()
        run_jobs()
    session.refresh(interaction)
    assert twilio_http.messages == []
    assert interaction.delivery_status == DeliveryStatus.SUPPRESSED


def test_replies_are_taken_before_a_backlog_of_incoming_texts(
    app, jurisdiction, session, signed_post, twilio_http, redis_client
):
    import secrets

    from rq import SimpleWorker

    from contactcenter.jobs import QUEUES

    for n in range(3):
        form = {
            "MessageSid": "SM" + secrets.token_hex(16),
            "From": f"+161355502{n:02d}",
            "To": "+16135550311",
            "Body": "Pothole at 12 Main St",
            "NumMedia": "0",
        }
        assert signed_post("/sms/inbound", form).status_code == 200
    with app.app_context():
        _queue_text(session, jurisdiction, body="A crew is on the way.")
        session.commit()
    runner = app.extensions["jobs"]
    with app.app_context():
        worker = SimpleWorker([runner.queues[name] for name in QUEUES], connection=runner.redis)
        worker.work(burst=True, max_jobs=1)
    assert [m["Body"] for m in twilio_http.messages] == ["A crew is on the way."]
    assert runner.queues["default"].count == 3
