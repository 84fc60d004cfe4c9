"""Every text residents receive exists in every language, with the same placeholders."""

import re

import pytest
import sqlalchemy as sa

from contactcenter import i18n, texts
from contactcenter.cases.models import Case

PLACEHOLDER = re.compile(r"{(\w+)}")
MESSAGES = [v for k, v in vars(texts).items() if k.isupper() and isinstance(v, str)]
MESSAGES += list(texts.STATUS_LABELS.values())


def test_french_and_spanish_are_available():
    assert {"en", "fr", "es"} <= set(i18n.available_languages())


@pytest.mark.parametrize("language", ["fr", "es"])
def test_every_message_is_translated_with_the_same_placeholders(language):
    for message in MESSAGES:
        translated = i18n.translate(language, message)
        assert translated != message or not message.strip(), (language, message)
        assert set(PLACEHOLDER.findall(translated)) == set(PLACEHOLDER.findall(message)), message


def test_unknown_language_falls_back_to_english():
    assert i18n.translate("xx", texts.GENERAL_SERVICE) == "general inquiry"


def test_french_resident_is_told_of_resolution_in_french(
    jurisdiction, session, send_sms, client, twilio_http, run_jobs
):
    from tests.factories import make_agent

    send_sms("Bonjour, il y a un nid de poule devant le 45, rue Principale")
    case = session.scalars(sa.select(Case)).one()
    _agent, token = make_agent(session, [jurisdiction])
    session.commit()
    response = client.post(
        f"/api/v1/cases/{case.id}/status",
        json={"status": "resolved"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    run_jobs()
    assert twilio_http.messages[-2]["Body"] == i18n.translate(  # the survey's question follows
        "fr",
        texts.CASE_RESOLVED,
        city="Springfield",
        tracking=case.tracking_number,
        service="Pothole",
    )


def test_service_names_reach_residents_in_their_language(
    jurisdiction, session, send_sms, twilio_http
):
    from contactcenter.jurisdictions.models import ServiceType

    pothole = session.scalars(sa.select(ServiceType).where(ServiceType.code == "pothole")).one()
    pothole.name_translations = {"fr": "Nid-de-poule"}
    session.commit()
    send_sms("Bonjour, il y a un nid de poule devant le 45, rue Principale")
    case = session.scalars(sa.select(Case)).one()
    send_sms(f"STATUT {case.tracking_number}")
    assert "(Nid-de-poule)" in twilio_http.messages[-1]["Body"]
