"""The SMS webhook's edges: signatures, bad input, retries, keywords and opt-out."""

import json
import secrets

import pytest
import sqlalchemy as sa

from contactcenter.cases.models import Case, CaseEvent, DeliveryStatus, Interaction
from contactcenter.messages import Direction
from contactcenter.residents.models import ContactPoint, Resident
from tests.conftest import ACCOUNT_SID, AUTH_TOKEN, TESTDATA

RESIDENT = "+16135550100"
CITY = "+16135550311"


def _form(**overrides):
    form = {
        "MessageSid": "SM" + secrets.token_hex(16),
        "AccountSid": ACCOUNT_SID,
        "From": RESIDENT,
        "To": CITY,
        "Body": "Pothole at 12 Main St",
        "NumMedia": "0",
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def _count(session, model):
    return session.scalar(sa.select(sa.func.count()).select_from(model))


def test_missing_signature_is_refused_with_403(jurisdiction, client, session):
    response = client.post("/sms/inbound", data=_form())
    assert response.status_code == 403
    assert response.json["error"]["code"] == "bad_signature"
    assert _count(session, Case) == 0


def test_signature_with_the_wrong_token_is_refused(jurisdiction, signed_post, session):
    response = signed_post("/sms/inbound", _form(), token="not-the-token")
    assert response.status_code == 403
    assert _count(session, Interaction) == 0


def test_tampered_body_is_refused(jurisdiction, signed_post, session):
    form = _form()
    from twilio.request_validator import RequestValidator

    from tests.conftest import PUBLIC_BASE_URL

    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/sms/inbound", form
    )
    form["Body"] = "Something else"
    assert signed_post("/sms/inbound", form, signature=signature).status_code == 403


def test_sha256_signature_from_webhook_signature_settings_is_accepted(jurisdiction, signed_post):
    from twilio.request_validator import RequestValidator

    from tests.conftest import PUBLIC_BASE_URL

    form = _form()
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        PUBLIC_BASE_URL + "/sms/inbound", form, algorithm="HMAC_SHA256"
    )
    response = signed_post(
        "/sms/inbound",
        form,
        signature=signature,
        headers={"X-Twilio-Webhooks-Signature-Settings": "key=k1,algorithm=HMAC_SHA256"},
    )
    assert response.status_code == 200


def test_signature_is_checked_against_the_public_url_not_the_internal_one(jurisdiction, client):
    """Behind a proxy we are reached at http://localhost but Twilio signed the public URL."""
    from twilio.request_validator import RequestValidator

    form = _form()
    internal = RequestValidator(AUTH_TOKEN).compute_signature("http://localhost/sms/inbound", form)
    response = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": internal})
    assert response.status_code == 403


@pytest.mark.parametrize("missing", ["MessageSid", "From", "To", "Body"])
def test_missing_field_is_a_400_naming_it(jurisdiction, signed_post, session, missing):
    response = signed_post("/sms/inbound", _form(**{missing: None}))
    assert response.status_code == 400
    assert missing in response.json["error"]["fields"]
    assert _count(session, Interaction) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [("NumMedia", "many"), ("NumMedia", "-1"), ("NumMedia", "11"), ("MessageSid", "SM<script>")],
)
def test_malformed_field_is_a_400(jurisdiction, signed_post, field, value):
    response = signed_post("/sms/inbound", _form(**{field: value}))
    assert response.status_code == 400
    assert response.json["error"]["message"]


def test_unknown_destination_number_is_a_404(jurisdiction, signed_post, session, caplog):
    response = signed_post("/sms/inbound", _form(To="+15005550006"))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "unknown_destination"
    assert _count(session, Resident) == 0


def test_oversized_body_is_a_413(jurisdiction, signed_post, session):
    response = signed_post("/sms/inbound", _form(Body="x" * 70_000))
    assert response.status_code == 413
    assert response.json["error"]["code"]
    assert _count(session, Interaction) == 0


def test_get_on_the_webhook_is_a_405_not_a_500(client):
    response = client.get("/sms/inbound")
    assert response.status_code == 405
    assert response.json["error"]["code"] == "method_not_allowed"


def test_twilio_retry_with_the_same_message_sid_creates_nothing_new(
    jurisdiction, signed_post, session, twilio_http, run_jobs
):
    form = _form()
    first = signed_post("/sms/inbound", form)
    run_jobs()
    counts = (_count(session, Case), _count(session, Interaction), _count(session, CaseEvent))
    sent = len(twilio_http.messages)
    again = signed_post("/sms/inbound", form)
    run_jobs()
    assert first.status_code == again.status_code == 200
    assert again.data == first.data
    assert (
        _count(session, Case),
        _count(session, Interaction),
        _count(session, CaseEvent),
    ) == counts
    assert len(twilio_http.messages) == sent


def test_response_is_empty_twiml(jurisdiction, signed_post):
    response = signed_post("/sms/inbound", _form())
    assert response.mimetype == "text/xml"
    assert response.data.decode().endswith("<Response />")


def test_unparsable_sender_is_stored_as_given_and_flagged(jurisdiction, send_sms, session):
    assert send_sms("Pothole at 12 Main St", from_="CITYALERT").status_code == 200
    contact = session.scalars(sa.select(ContactPoint)).one()
    assert contact.address == "CITYALERT"
    assert contact.is_valid is False
    assert _count(session, Case) == 1


def test_national_and_international_formats_find_the_same_resident(jurisdiction, send_sms, session):
    send_sms("Pothole at 12 Main St", from_="+16135550100")
    send_sms("STATUS", from_="+1 (613) 555-0100")
    assert _count(session, Resident) == 1
    assert session.scalars(sa.select(ContactPoint.address)).one() == "+16135550100"


def test_stop_opts_out_and_nothing_is_sent_afterwards(
    jurisdiction, send_sms, session, twilio_http, client
):
    send_sms("Pothole at 12 Main St")
    sent_before = len(twilio_http.messages)
    send_sms("Stop")
    resident = session.scalars(sa.select(Resident)).one()
    assert resident.sms_opted_out is True
    assert resident.sms_opted_out_at is not None
    send_sms("HELP")
    assert len(twilio_http.messages) == sent_before
    suppressed = session.scalars(
        sa.select(Interaction).where(Interaction.delivery_status == DeliveryStatus.SUPPRESSED)
    ).all()
    assert suppressed and all(i.error_code == "opted_out" for i in suppressed)


@pytest.mark.parametrize(
    "word", ["STOP", "stopall", "Unsubscribe", "CANCEL", "end", "QUIT", "ARRÊT"]
)
def test_carrier_opt_out_synonyms_are_honoured(jurisdiction, send_sms, session, word):
    send_sms(word)
    assert session.scalars(sa.select(Resident.sms_opted_out)).one() is True
    assert _count(session, Case) == 0


def test_stop_inside_a_report_is_not_an_opt_out(jurisdiction, send_sms, session):
    send_sms("Stop sign knocked down at Main St and 2nd Ave")
    assert session.scalars(sa.select(Resident.sms_opted_out)).one() is False
    assert _count(session, Case) == 1


def test_start_opts_back_in_and_confirms(jurisdiction, send_sms, session, twilio_http):
    send_sms("STOP")
    send_sms("START")
    assert session.scalars(sa.select(Resident.sms_opted_out)).one() is False
    assert "again" in twilio_http.messages[-1]["Body"]


def test_help_replies_with_instructions(jurisdiction, send_sms, twilio_http, session):
    send_sms("help")
    body = twilio_http.messages[-1]["Body"]
    assert "STOP" in body and "9-1-1" in body
    assert _count(session, Case) == 0


def test_status_of_an_unknown_number_says_so(jurisdiction, send_sms, twilio_http):
    send_sms("STATUS 1234-5678")
    assert "could not find request 1234-5678" in twilio_http.messages[-1]["Body"]


def test_status_without_a_number_answers_for_the_residents_latest_case(
    jurisdiction, send_sms, session, twilio_http
):
    send_sms("Pothole at 12 Main St")
    tracking = session.scalars(sa.select(Case.tracking_number)).one()
    send_sms("status")
    assert tracking in twilio_http.messages[-1]["Body"]


def test_just_the_tracking_number_asks_for_status(jurisdiction, send_sms, session, twilio_http):
    send_sms("Pothole at 12 Main St")
    tracking = session.scalars(sa.select(Case.tracking_number)).one()
    send_sms(tracking.replace("-", ""), from_="+16135550199")
    assert twilio_http.messages[-1]["Body"].startswith(f"Request {tracking} (Pothole)")
    assert _count(session, Case) == 1


def test_empty_text_gets_help_and_no_case(jurisdiction, send_sms, session, twilio_http):
    send_sms("   ")
    assert _count(session, Case) == 0
    assert "STOP" in twilio_http.messages[-1]["Body"]


def test_keyword_replies_can_be_left_to_twilio(database_url, redis_url, twilio_http):
    """With Twilio's own opt-out handling on, HELP/START replies would come twice."""
    from contactcenter.app import create_app
    from contactcenter.db import get_db
    from tests.conftest import make_settings
    from tests.factories import make_jurisdiction

    app = create_app(
        make_settings(database_url, sms_keyword_replies=False), twilio_http_client=twilio_http
    )
    with app.app_context():
        session = get_db(app).session()
        make_jurisdiction(session, sms_number=CITY)
        session.commit()
        from twilio.request_validator import RequestValidator

        from tests.conftest import PUBLIC_BASE_URL

        form = _form(Body="HELP")
        signature = RequestValidator(AUTH_TOKEN).compute_signature(
            PUBLIC_BASE_URL + "/sms/inbound", form
        )
        response = app.test_client().post(
            "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
        )
        assert response.status_code == 200
        assert twilio_http.messages == []
        assert _count(session, Interaction) == 1
        session.close()
    get_db(app).engine.dispose()
    # This app is not the fixture app: empty its tables here.
    from contactcenter.db import Base

    with get_db(app).engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    get_db(app).engine.dispose()


def test_delivery_callbacks_out_of_order_never_move_status_back(
    jurisdiction, send_sms, signed_post, session
):
    send_sms("Pothole at 12 Main St")
    outbound = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.OUTBOUND)
    ).one()
    for status in ("delivered", "sent", "queued"):
        response = signed_post(
            "/sms/status",
            {"MessageSid": outbound.provider_id, "MessageStatus": status},
            query=f"interaction={outbound.id}",
        )
        assert response.status_code == 200
    session.refresh(outbound)
    assert outbound.delivery_status == DeliveryStatus.DELIVERED


def test_failed_delivery_records_the_error_code(jurisdiction, send_sms, signed_post, session):
    send_sms("Pothole at 12 Main St")
    outbound = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.OUTBOUND)
    ).one()
    signed_post(
        "/sms/status",
        {"MessageSid": outbound.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"},
    )
    session.refresh(outbound)
    assert outbound.delivery_status == DeliveryStatus.UNDELIVERED
    assert outbound.error_code == "30003"


def test_status_callback_for_an_unknown_message_is_a_404(jurisdiction, signed_post):
    response = signed_post("/sms/status", {"MessageSid": "SMnope", "MessageStatus": "sent"})
    assert response.status_code == 404


def test_status_callback_without_fields_is_a_400(jurisdiction, signed_post):
    assert signed_post("/sms/status", {"MessageSid": "SM1"}).status_code == 400
    bad_id = signed_post(
        "/sms/status", {"MessageSid": "SM1", "MessageStatus": "sent"}, query="interaction=abc"
    )
    assert bad_id.status_code == 400


def test_twilio_statuses_we_do_not_track_are_acknowledged(jurisdiction, signed_post):
    response = signed_post("/sms/status", {"MessageSid": "SM1", "MessageStatus": "receiving"})
    assert response.status_code == 200


def test_twilio_refusal_for_an_opted_out_number_fails_the_message_for_good(
    jurisdiction, send_sms, session, twilio_http, run_jobs
):
    twilio_http.fail_next(400, 21610, "Attempt to send to unsubscribed recipient")
    send_sms("Pothole at 12 Main St")
    run_jobs()
    outbound = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.OUTBOUND)
    ).one()
    assert outbound.delivery_status == DeliveryStatus.FAILED
    assert outbound.error_code == "21610"
    assert _count(session, Case) == 1  # the case itself is never lost


def _vectors():
    path = TESTDATA / "twilio" / "signature_test_vectors.json"
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    return json.loads(path.read_text())["vectors"]


def test_signature_check_agrees_with_twilios_published_vectors():
    from werkzeug.datastructures import MultiDict

    from channels.twilio_client import signature_is_valid

    checked = 0
    for vector in _vectors():
        if "params" not in vector and "params_multi" not in vector:
            continue  # JSON-body vectors: our webhooks are form posts
        params = MultiDict(
            [(k, v) for k, vs in vector["params_multi"].items() for v in vs]
            if "params_multi" in vector
            else list(vector["params"].items())
        )
        signature = vector.get("expected_signature") or vector["signature_header"]
        header = f"algorithm={vector['algorithm']}" if vector.get("algorithm") else None
        assert (
            signature_is_valid(vector["auth_token"], vector["url"], params, signature, header)
            is vector["expect_valid"]
        ), vector["id"]
        checked += 1
    assert checked >= 5


def test_nul_characters_are_dropped_not_a_500(jurisdiction, send_sms, session):
    assert send_sms("Pothole\x00 at 12 Main St").status_code == 200
    assert session.scalars(sa.select(Case.description)).one() == "Pothole at 12 Main St"


@pytest.mark.parametrize(
    ("field", "value"),
    [("From", "+1" + "6" * 400), ("To", "x" * 100), ("MediaUrl0", "ftp://example.org/a.jpg")],
)
def test_oversized_or_strange_addresses_are_a_400(jurisdiction, signed_post, field, value):
    form = _form(**{field: value})
    if field == "MediaUrl0":
        form["NumMedia"] = "1"
    response = signed_post("/sms/inbound", form)
    assert response.status_code == 400


def test_a_stale_directory_entry_is_looked_up_afresh(app, jurisdiction, session, send_sms):
    """A cached owner that no longer exists (a jurisdiction removed) must not cost a message."""
    import time

    from contactcenter.messages import Channel

    directory = app.extensions["directory"]
    directory._entries[(Channel.SMS, CITY)] = (987654, time.monotonic() + 3600)
    assert send_sms("Pothole at 12 Main St").status_code == 200
    assert session.scalars(sa.select(Case.jurisdiction_id)).one() == jurisdiction.id


def test_behind_a_trusted_proxy_the_forwarded_url_is_what_twilio_signed(database_url, twilio_http):
    """Without PUBLIC_BASE_URL, X-Forwarded-Proto/Host from a trusted proxy rebuild the URL."""
    from twilio.request_validator import RequestValidator

    from contactcenter.app import create_app
    from contactcenter.db import get_db
    from tests.conftest import make_settings

    app = create_app(
        make_settings(database_url, public_base_url="", trusted_proxy_hops=1),
        twilio_http_client=twilio_http,
    )
    form = _form(To="+15005550006")  # nobody's number: the signature check comes first
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        "https://311.proxied.example/sms/inbound", form
    )
    client = app.test_client()
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "311.proxied.example"}
    response = client.post(
        "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature, **forwarded}
    )
    assert response.status_code == 404  # signature accepted; the number is unknown
    unproxied = client.post("/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})
    assert unproxied.status_code == 403
    get_db(app).engine.dispose()


def test_garbage_signature_header_is_a_403_not_a_500(jurisdiction, signed_post):
    response = signed_post("/sms/inbound", _form(), signature="sïgnature-ü")
    assert response.status_code == 403
