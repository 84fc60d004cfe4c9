"""Twilio retries and simultaneous first texts race each other; nothing is duplicated or lost."""

import secrets
from concurrent.futures import ThreadPoolExecutor

import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from contactcenter.cases.models import Case, Interaction
from contactcenter.inbox import process_inbound
from contactcenter.messages import Direction
from contactcenter.residents.models import ContactPoint
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, PUBLIC_BASE_URL


def _signed(form):
    url = PUBLIC_BASE_URL + "/sms/inbound"
    return {"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, form)}


def _post_all(app, forms):
    def post(form):
        return app.test_client().post("/sms/inbound", data=form, headers=_signed(form)).status_code

    with ThreadPoolExecutor(max_workers=len(forms)) as pool:
        return list(pool.map(post, forms))


def test_simultaneous_retries_of_one_message_make_one_case(app, jurisdiction, session, run_jobs):
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": "+16135550100",
        "To": "+16135550311",
        "Body": "Pothole at 12 Main St",
        "NumMedia": "0",
    }
    statuses = _post_all(app, [form] * 8)
    run_jobs()
    assert statuses == [200] * 8
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    inbound = session.scalar(
        sa.select(sa.func.count())
        .select_from(Interaction)
        .where(Interaction.direction == Direction.INBOUND)
    )
    outbound = session.scalar(
        sa.select(sa.func.count())
        .select_from(Interaction)
        .where(Interaction.direction == Direction.OUTBOUND)
    )
    assert (inbound, outbound) == (1, 1)


def test_simultaneous_first_texts_from_a_new_resident_make_one_resident(
    app, jurisdiction, session, run_jobs
):
    """Several workers process one new resident's first texts at the same moment."""
    forms = [
        {
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": ACCOUNT_SID,
            "From": "+16135550177",
            "To": "+16135550311",
            "Body": f"Graffiti number {n} at 1 King St",
            "NumMedia": "0",
        }
        for n in range(6)
    ]
    assert _post_all(app, forms) == [200] * 6
    ids = session.scalars(
        sa.select(Interaction.id).where(Interaction.direction == Direction.INBOUND)
    ).all()

    def process(interaction_id):
        with app.app_context():
            process_inbound(interaction_id)

    # With Redis the texts wait in the inbox: race the processing itself. (Inline, each
    # webhook already processed its own text, concurrently, and this finds nothing to do.)
    with ThreadPoolExecutor(max_workers=len(ids)) as pool:
        list(pool.map(process, ids))
    run_jobs()
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactPoint)) == 1
    processed = session.scalars(
        sa.select(Interaction.provider_id).where(
            Interaction.direction == Direction.INBOUND, Interaction.processed_at.is_not(None)
        )
    ).all()
    assert sorted(processed) == sorted(f["MessageSid"] for f in forms)  # none lost
