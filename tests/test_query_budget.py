"""What a resident's text costs in SQL statements stays fixed and small.

The webhook itself only stores the message; processing (the intake) and delivering the
acknowledgement are jobs. ``send_sms`` runs all three, so the counts cover the whole path.
"""

import secrets

import sqlalchemy as sa

from contactcenter.cases.models import Interaction
from contactcenter.inbox import process_inbound

# A new case also looks for a likely duplicate (one SELECT), whose autoflush splits the
# intake's writes in two batches. The commit adds the case to the public figures (one upsert).
PROCESSING_NEW_CASE = 16
PROCESSING_FOLLOW_UP = 8
DELIVERY = 4


def test_webhook_stores_the_message_with_one_statement(
    app, jurisdiction, signed_post, send_sms, count_queries
):
    if app.extensions["jobs"].queue is None:
        import pytest

        pytest.skip("inline mode processes the message inside the webhook")
    send_sms("Pothole at 12 Main St", from_="+16135550111")  # warm the address directory
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "From": "+16135550122",
        "To": "+16135550311",
        "Body": "Garbage not picked up at 4 Elm St",
        "NumMedia": "0",
    }
    with count_queries() as counter:
        assert signed_post("/sms/inbound", form).status_code == 200
    assert counter.count == 1, counter.statements  # INSERT, then COMMIT (not a statement)


def test_first_text_from_a_new_resident_costs_a_fixed_number_of_statements(
    jurisdiction, send_sms, count_queries
):
    send_sms("Pothole at 12 Main St", from_="+16135550111")
    with count_queries() as counter:
        send_sms("Garbage not picked up at 4 Elm St", from_="+16135550122")
    assert counter.count <= 1 + PROCESSING_NEW_CASE + DELIVERY, counter.statements


def test_follow_up_text_costs_a_fixed_number_of_statements(jurisdiction, send_sms, count_queries):
    send_sms("Pothole at 12 Main St", from_="+16135550111")
    with count_queries() as counter:
        send_sms("It is getting bigger", from_="+16135550111")
    assert counter.count <= 1 + PROCESSING_FOLLOW_UP + DELIVERY, counter.statements


def test_processing_twice_does_nothing_the_second_time(app, jurisdiction, session, send_sms):
    send_sms("Pothole at 12 Main St")
    interaction_id = session.scalars(sa.select(Interaction.id).order_by(Interaction.id)).first()
    before = session.scalar(sa.select(sa.func.count()).select_from(Interaction))
    with app.app_context():
        process_inbound(interaction_id)
    assert session.scalar(sa.select(sa.func.count()).select_from(Interaction)) == before
