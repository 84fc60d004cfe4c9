"""One resident's SMS conversation, end to end, through the real webhook, jobs and API."""

import secrets

import sqlalchemy as sa

from contactcenter.cases.models import Case, CaseStatus, DeliveryStatus, Interaction
from contactcenter.messages import Direction
from tests.conftest import ACCOUNT_SID, PUBLIC_BASE_URL
from tests.factories import make_agent

RESIDENT = "+16135550100"
CITY = "+16135550311"


def _case(session) -> Case:
    return session.scalars(sa.select(Case)).one()


def test_resident_texts_agent_replies_and_resolves_and_resident_is_told(
    jurisdiction, session, send_sms, signed_post, client, twilio_http, run_jobs
):
    # 1. The first text has no location: the city acknowledges with a tracking number and asks.
    assert (
        send_sms("There is a huge pothole in front of the school", from_=RESIDENT).status_code
        == 200
    )
    case = _case(session)
    assert case.status == CaseStatus.NEW
    assert case.service_type.code == "pothole"
    assert case.department.code == "PW"
    assert case.due_at is not None
    ack = twilio_http.messages[-1]
    assert ack["To"] == RESIDENT and ack["From"] == CITY
    assert case.tracking_number in ack["Body"]
    assert "Where is it?" in ack["Body"]

    # 2. The answer completes the case.
    send_sms("Corner of Bank St and Somerset St", from_=RESIDENT)
    session.expire_all()
    case = _case(session)
    assert case.address_text == "Corner of Bank St and Somerset St"
    assert case.awaiting is None
    assert "Location noted" in twilio_http.messages[-1]["Body"]

    # 3. An agent finds it through the API and replies on the resident's channel.
    _agent, token = make_agent(session, [jurisdiction])
    session.commit()
    auth = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/v1/cases", headers=auth).json["data"]
    assert [c["tracking_number"] for c in listed] == [case.tracking_number]
    reply = client.post(
        f"/api/v1/cases/{case.id}/replies", json={"body": "A crew is on the way."}, headers=auth
    )
    assert reply.status_code == 201
    run_jobs()
    sent = twilio_http.messages[-1]
    assert sent == {
        "To": RESIDENT,
        "From": CITY,
        "Body": "A crew is on the way.",
        "StatusCallback": f"{PUBLIC_BASE_URL}/sms/status?interaction={reply.json['data']['id']}",
    }
    assert twilio_http.requests[-1].auth == (ACCOUNT_SID, "test-twilio-auth-token")

    # 4. Twilio reports delivery.
    outbound = session.get(Interaction, reply.json["data"]["id"])
    session.refresh(outbound)
    assert outbound.delivery_status == DeliveryStatus.QUEUED or outbound.provider_id
    status = signed_post(
        "/sms/status",
        {
            "MessageSid": outbound.provider_id,
            "MessageStatus": "delivered",
            "AccountSid": ACCOUNT_SID,
        },
        query=f"interaction={outbound.id}",
    )
    assert status.status_code == 200
    session.refresh(outbound)
    assert outbound.delivery_status == DeliveryStatus.DELIVERED

    # 5. Resolving the case tells the resident, in the channel they used.
    resolved = client.post(
        f"/api/v1/cases/{case.id}/status", json={"status": "resolved"}, headers=auth
    )
    assert resolved.status_code == 200
    run_jobs()
    assert twilio_http.messages[-2]["To"] == RESIDENT
    assert "has been resolved" in twilio_http.messages[-2]["Body"]
    # ...then asks how it went (tests/test_surveys.py follows the answer).
    assert "How did we do" in twilio_http.messages[-1]["Body"]

    # 6. STATUS answers with the current status.
    send_sms(f"STATUS {case.tracking_number}", from_=RESIDENT)
    assert twilio_http.messages[-1]["Body"] == (
        f"Request {case.tracking_number} (Pothole): resolved."
    )

    # The case page holds the whole conversation, in order.
    detail = client.get(f"/api/v1/cases/{case.id}", headers=auth).json["data"]
    directions = [i["direction"] for i in detail["interactions"]]
    assert directions == [
        "inbound",
        "outbound",
        "inbound",
        "outbound",
        "outbound",
        "outbound",
        "outbound",
    ]
    assert [e["kind"] for e in detail["events"]][:3] == ["created", "routed", "location_set"]


def test_text_with_an_address_is_complete_at_once(jurisdiction, session, send_sms, twilio_http):
    send_sms("Garbage was not picked up at 221 Baker Street", from_=RESIDENT)
    case = _case(session)
    assert case.address_text == "221 Baker Street"
    assert case.awaiting is None
    assert case.service_type.code == "missed-pickup"
    assert "Where is it?" not in twilio_http.messages[-1]["Body"]


def test_unclassified_text_goes_to_the_default_department(jurisdiction, session, send_sms):
    send_sms("Who do I call about a barking dog at 10 Elm St?", from_=RESIDENT)
    case = _case(session)
    assert case.service_type is None
    assert case.department.code == "311"


def test_follow_up_text_joins_the_open_case(jurisdiction, session, send_sms, twilio_http):
    send_sms("Pothole at 12 Main St", from_=RESIDENT)
    send_sms("It is getting bigger, two cars got flat tires", from_=RESIDENT)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1
    case = _case(session)
    inbound = session.scalars(
        sa.select(Interaction).where(
            Interaction.case_id == case.id, Interaction.direction == Direction.INBOUND
        )
    ).all()
    assert len(inbound) == 2
    assert (
        f"added your message to request {case.tracking_number}" in twilio_http.messages[-1]["Body"]
    )


def test_text_after_the_conversation_window_opens_a_new_case(jurisdiction, session, send_sms):
    send_sms("Pothole at 12 Main St", from_=RESIDENT)
    first = _case(session)
    first.updated_at = first.updated_at.replace(year=first.updated_at.year - 1)
    session.commit()
    send_sms("Trash not collected at 5 Oak Ave", from_=RESIDENT)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 2


def test_quoting_a_tracking_number_continues_that_case_even_later(jurisdiction, session, send_sms):
    send_sms("Pothole at 12 Main St", from_=RESIDENT)
    first = _case(session)
    first.updated_at = first.updated_at.replace(year=first.updated_at.year - 1)
    session.commit()
    send_sms(f"About {first.tracking_number}: still not fixed", from_=RESIDENT)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 1


def test_french_resident_is_answered_in_french(jurisdiction, session, send_sms, twilio_http):
    send_sms("Bonjour, il y a un nid de poule devant le 45, rue Principale", from_=RESIDENT)
    case = _case(session)
    assert case.language == "fr"
    assert case.resident.preferred_language == "fr"
    assert case.service_type.code == "pothole"
    assert "numéro de suivi" in twilio_http.messages[-1]["Body"]


def test_language_keyword_switches_the_conversation(jurisdiction, session, send_sms, twilio_http):
    send_sms("ESPAÑOL", from_=RESIDENT)
    assert "español" in twilio_http.messages[-1]["Body"]
    send_sms("Pothole at 12 Main St", from_=RESIDENT)
    assert "número de seguimiento" in twilio_http.messages[-1]["Body"].lower()


def test_emoji_and_any_unicode_are_kept_intact(jurisdiction, session, send_sms):
    text = "Nid-de-poule 🕳️🚗 près du 12 rue Saint-Denis — très dangereux ‼️ 道路"
    send_sms(text, from_=RESIDENT)
    case = _case(session)
    assert case.description == text
    inbound = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.INBOUND)
    ).one()
    assert inbound.body == text


def test_photo_urls_are_stored_on_the_interaction(jurisdiction, session, send_sms):
    media = [
        f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME{i}"
        for i in range(2)
    ]
    send_sms("Graffiti on the library wall at 100 King St", from_=RESIDENT, media=media)
    inbound = session.scalars(
        sa.select(Interaction).where(Interaction.direction == Direction.INBOUND)
    ).one()
    assert inbound.media_urls == media


def test_photo_without_text_opens_a_case_and_asks_where(
    jurisdiction, session, send_sms, twilio_http
):
    send_sms("", from_=RESIDENT, media=["https://api.twilio.com/media/ME1"])
    case = _case(session)
    assert case.awaiting is not None
    assert "Where is it?" in twilio_http.messages[-1]["Body"]


def test_two_jurisdictions_share_a_deployment_without_sharing_residents(session, send_sms):
    from contactcenter.residents.models import Resident
    from tests.factories import make_jurisdiction

    make_jurisdiction(session, slug="east", sms_number="+16135550401")
    make_jurisdiction(session, slug="west", sms_number="+16135550402")
    session.commit()
    send_sms("Pothole at 1 Main St", from_=RESIDENT, to="+16135550401")
    send_sms("Pothole at 1 Main St", from_=RESIDENT, to="+16135550402")
    residents = session.scalars(sa.select(Resident)).all()
    assert len(residents) == 2
    assert len({r.jurisdiction_id for r in residents}) == 2


def test_each_case_gets_its_own_valid_tracking_number(jurisdiction, session, send_sms):
    from contactcenter import tracking

    for n in range(5):
        send_sms(
            "Pothole at 12 Main St", from_=f"+1613555{n:04d}", sid="SM" + secrets.token_hex(16)
        )
    numbers = session.scalars(sa.select(Case.tracking_number)).all()
    assert len(set(numbers)) == 5
    assert all(tracking.is_valid(n.replace("-", "")) for n in numbers)
