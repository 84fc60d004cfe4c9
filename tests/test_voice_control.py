"""The voice channel's side of the core: steering live calls through Twilio's REST API, the
agents' browser-phone tokens, and where an agent's calls ring.

Twilio is reached through the capturing transport, so the real REST client builds every request.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace

import jwt
import pytest

import channels
from contactcenter.agents.models import Agent, Role
from contactcenter.calls.control import CallControl, CallControlError
from contactcenter.config import ConfigError, Settings
from tests import factories
from tests.conftest import ACCOUNT_SID, PUBLIC_BASE_URL

CALL_SID = "CA" + "a" * 32
RESIDENT = "+16135550100"
CITY_NUMBER = "+16135550311"
API_KEY = "SK" + "2" * 32
API_SECRET = "voice-api-secret-at-least-32-bytes-long"
APP_SID = "AP" + "3" * 32


def control(app, twilio_http, **overrides) -> CallControl:
    settings: Settings = replace(app.config["SETTINGS"], **overrides)
    return channels.build_call_control(settings, twilio_http)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def voice_configured(app, monkeypatch) -> Settings:
    settings = replace(
        app.config["SETTINGS"],
        twilio_api_key=API_KEY,
        twilio_api_secret=API_SECRET,
        twilio_twiml_app_sid=APP_SID,
    )
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    return settings


# ---------------------------------------------------------------------------------------------
# Call control


def test_connect_to_agent_redirects_the_queued_call_to_the_connect_twiml(app, twilio_http):
    control(app, twilio_http).connect_to_agent(CALL_SID, call_id=7, agent_id=3)

    assert twilio_http.call_updates == [
        (CALL_SID, {"Url": f"{PUBLIC_BASE_URL}/voice/connect?call=7&agent=3", "Method": "POST"})
    ]
    assert twilio_http.requests[0].url.endswith(f"/Accounts/{ACCOUNT_SID}/Calls/{CALL_SID}.json")
    assert twilio_http.calls == [] and twilio_http.messages == []


@pytest.mark.parametrize(
    ("status", "code"),
    [(400, 21220), (404, 20404)],
    ids=["caller-hung-up", "no-such-call"],
)
def test_a_call_that_has_ended_is_reported_gone(app, twilio_http, status, code):
    twilio_http.fail_next(status, code, "Call is not in-progress. Cannot redirect.")
    with pytest.raises(CallControlError) as raised:
        control(app, twilio_http).connect_to_agent(CALL_SID, call_id=7, agent_id=3)
    assert raised.value.gone is True


def test_other_refusals_are_errors_but_not_gone(app, twilio_http):
    twilio_http.fail_next(429, 20429, "Too many requests")
    with pytest.raises(CallControlError, match="20429") as raised:
        control(app, twilio_http).connect_to_agent(CALL_SID, call_id=7, agent_id=3)
    assert raised.value.gone is False


def test_call_back_places_a_call_that_answers_on_the_callback_twiml(app, twilio_http):
    sid = control(app, twilio_http).call_back(to=RESIDENT, from_=CITY_NUMBER, call_id=7, agent_id=3)

    assert sid.startswith("CA") and len(sid) == 34
    assert twilio_http.calls == [
        {
            "To": RESIDENT,
            "From": CITY_NUMBER,
            "Url": f"{PUBLIC_BASE_URL}/voice/callback?call=7&agent=3",
            "Method": "POST",
            "StatusCallback": f"{PUBLIC_BASE_URL}/voice/status",
            "StatusCallbackMethod": "POST",
        }
    ]


def test_a_refused_call_back_is_an_error(app, twilio_http):
    twilio_http.fail_next(400, 21215, "Geo permission not enabled")
    with pytest.raises(CallControlError) as raised:
        control(app, twilio_http).call_back(to=RESIDENT, from_=CITY_NUMBER, call_id=7, agent_id=3)
    assert raised.value.gone is False


def test_without_a_public_url_the_urls_point_at_the_local_dev_server(app, twilio_http):
    dev = control(app, twilio_http, public_base_url="")
    dev.connect_to_agent(CALL_SID, call_id=1, agent_id=2)
    dev.call_back(to=RESIDENT, from_=CITY_NUMBER, call_id=1, agent_id=2)
    assert (
        twilio_http.call_updates[0][1]["Url"]
        == "http://127.0.0.1:5000/voice/connect?call=1&agent=2"
    )
    assert twilio_http.calls[0]["StatusCallback"] == "http://127.0.0.1:5000/voice/status"


def test_without_a_twilio_account_calls_go_to_the_dev_outbox(caplog):
    dev = channels.build_call_control(Settings(app_env="test"))
    with caplog.at_level(logging.INFO, logger="contactcenter.dev_outbox"):
        sid = dev.call_back(to=RESIDENT, from_=CITY_NUMBER, call_id=1, agent_id=2)
        dev.connect_to_agent(sid, call_id=1, agent_id=2)
    assert sid.startswith("CA") and len(sid) == 34
    assert "DEV OUTBOX call (not placed)" in caplog.text
    assert f"DEV OUTBOX call {sid} (not redirected)" in caplog.text


# ---------------------------------------------------------------------------------------------
# Browser-phone tokens


def test_the_token_lets_the_agents_browser_take_calls(
    client, session, jurisdiction, voice_configured
):
    agent, token = factories.make_agent(session, [jurisdiction])
    session.commit()
    response = client.get("/api/v1/voice/token", headers=auth(token))

    assert response.status_code == 200, response.json
    body = response.json
    assert body["identity"] == f"agent-{agent.id}"
    assert body["expires_in"] == 3600
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == API_KEY and claims["sub"] == ACCOUNT_SID
    assert claims["grants"]["identity"] == f"agent-{agent.id}"
    assert claims["grants"]["voice"] == {
        "incoming": {"allow": True},
        "outgoing": {"application_sid": APP_SID},
    }
    assert 3590 <= claims["exp"] - time.time() <= 3600


def test_without_voice_settings_the_token_route_tells_city_it_what_to_set(
    client, session, jurisdiction
):
    _agent, token = factories.make_agent(session, [jurisdiction])
    session.commit()
    response = client.get("/api/v1/voice/token", headers=auth(token))
    assert response.status_code == 503
    error = response.json["error"]
    assert error["code"] == "voice_not_configured"
    for name in ("TWILIO_API_KEY", "TWILIO_API_SECRET", "TWILIO_TWIML_APP_SID"):
        assert name in error["message"] and name in error["fields"]
    assert "TWILIO_ACCOUNT_SID" not in error["message"]


def test_the_token_route_needs_a_staff_token(client, voice_configured):
    response = client.get("/api/v1/voice/token")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "missing_token"
    bad = client.get("/api/v1/voice/token", headers=auth("cc_" + "x" * 43))
    assert bad.status_code == 401 and "token" not in bad.json


# ---------------------------------------------------------------------------------------------
# Where an agent's calls ring


@pytest.fixture
def supervisor_and_agent(session, jurisdiction) -> tuple[dict[str, str], Agent]:
    _supervisor, token = factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    return auth(token), agent


def patch_routing(client, headers, agent, body):
    return client.patch(f"/api/v1/agents/{agent.id}/routing", json=body, headers=headers)


def test_a_new_agent_rings_in_the_browser(client, supervisor_and_agent):
    headers, agent = supervisor_and_agent
    listed = client.get("/api/v1/agents", headers=headers).json["data"]
    mine = next(a for a in listed if a["id"] == agent.id)
    assert mine["voice_device"] == "browser" and mine["phone"] == ""


def test_supervisor_sets_the_agents_phone_in_e164_and_rings_it(client, supervisor_and_agent):
    headers, agent = supervisor_and_agent
    response = patch_routing(
        client, headers, agent, {"phone": "+1 (613) 555-0199", "voice_device": "phone"}
    )
    assert response.status_code == 200, response.json
    assert response.json["data"]["phone"] == "+16135550199"
    assert response.json["data"]["voice_device"] == "phone"

    back = patch_routing(client, headers, agent, {"voice_device": "browser"})
    assert back.json["data"] == {**response.json["data"], "voice_device": "browser"}


@pytest.mark.parametrize("phone", ["12345", "613-555-0199", "+1613555", "call me"])
def test_a_phone_that_is_not_a_valid_e164_number_is_refused(client, supervisor_and_agent, phone):
    headers, agent = supervisor_and_agent
    response = patch_routing(client, headers, agent, {"phone": phone})
    assert response.status_code == 400
    assert "phone" in response.json["error"]["fields"]


def test_voice_device_is_browser_or_phone(client, supervisor_and_agent):
    headers, agent = supervisor_and_agent
    response = patch_routing(client, headers, agent, {"voice_device": "desk"})
    assert response.status_code == 400
    assert "voice_device" in response.json["error"]["fields"]


def test_ringing_the_phone_needs_a_phone(client, session, supervisor_and_agent):
    headers, agent = supervisor_and_agent
    refused = patch_routing(client, headers, agent, {"voice_device": "phone"})
    assert refused.status_code == 400
    assert refused.json["error"]["fields"] == {"voice_device": "needs a phone"}

    patch_routing(client, headers, agent, {"phone": "+16135550199", "voice_device": "phone"})
    cleared = patch_routing(client, headers, agent, {"phone": ""})
    assert cleared.status_code == 400
    session.expire_all()
    kept = session.get_one(Agent, agent.id)
    assert (kept.phone, kept.voice_device) == ("+16135550199", "phone")


# ---------------------------------------------------------------------------------------------
# Settings


@pytest.mark.parametrize(
    "environ",
    [
        {"TWILIO_API_KEY": ACCOUNT_SID},
        {"TWILIO_TWIML_APP_SID": "PN" + "1" * 32},
        {"VOICE_FALLBACK_NUMBER": "613-555-0311"},
        {"VOICE_CALLBACK_OFFER_SECONDS": "-1"},
        {"VOICE_CALLBACK_OFFER_SECONDS": "soon"},
    ],
)
def test_bad_voice_settings_stop_the_start(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)


def test_voice_settings_are_read_from_the_environment():
    settings = Settings.from_env(
        {
            "TWILIO_API_KEY": API_KEY,
            "TWILIO_API_SECRET": API_SECRET,
            "TWILIO_TWIML_APP_SID": APP_SID,
            "VOICE_FALLBACK_NUMBER": "+16135550311",
            "VOICE_CALLBACK_OFFER_SECONDS": "45",
        }
    )
    assert (settings.twilio_api_key, settings.twilio_twiml_app_sid) == (API_KEY, APP_SID)
    assert settings.voice_fallback_number == "+16135550311"
    assert settings.voice_callback_offer_seconds == 45
    assert Settings().voice_callback_offer_seconds == 90
