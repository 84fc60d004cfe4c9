"""The console's browser softphone: its token route (the console session, not a bearer token)
and the phone panel, which shows the agent's accepted call even where Twilio cannot be reached.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Agent
from contactcenter.auth import hash_password
from contactcenter.config import Settings
from contactcenter.jurisdictions.models import Jurisdiction
from tests import factories
from tests.conftest import ACCOUNT_SID, VoiceCity
from tests.test_console_browser import _shot

PASSWORD = "correct horse battery"
API_KEY = "SK" + "2" * 32
API_SECRET = "voice-api-secret-at-least-32-bytes-long"
APP_SID = "AP" + "3" * 32
SDK = "/console/static/vendor/twilio-voice-2.18.5.min.js"


@pytest.fixture
def voice_configured(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Settings:
    settings = replace(
        app.config["SETTINGS"],
        twilio_api_key=API_KEY,
        twilio_api_secret=API_SECRET,
        twilio_twiml_app_sid=APP_SID,
    )
    monkeypatch.setitem(app.config, "SETTINGS", settings)
    return settings


def _sign_in(client: FlaskClient, agent: Agent) -> None:
    """Through the sign-in form, with the CSRF token its page carries."""
    page = client.get("/console/login").text
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert match, page
    response = client.post(
        "/console/login",
        data={"csrf_token": match.group(1), "email": agent.email, "password": PASSWORD},
    )
    assert response.status_code == 302, response.text


def test_a_signed_in_agent_gets_a_token_that_rings_their_browser(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction, voice_configured: Settings
) -> None:
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    _sign_in(client, agent)

    response = client.get("/console/voice/token")

    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body is not None
    assert body["identity"] == f"agent-{agent.id}"
    claims = jwt.decode(body["token"], API_SECRET, algorithms=["HS256"])
    assert claims["iss"] == API_KEY and claims["sub"] == ACCOUNT_SID
    assert claims["grants"]["identity"] == f"agent-{agent.id}"
    assert claims["grants"]["voice"]["incoming"] == {"allow": True}
    assert 3590 <= claims["exp"] - time.time() <= 3600


def test_each_agents_session_gets_its_own_identity(
    app: Flask, session: Session, jurisdiction: Jurisdiction, voice_configured: Settings
) -> None:
    first, _ = factories.make_agent(session, [jurisdiction])
    second, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    identities = []
    for agent in (first, second):
        browser = app.test_client()
        _sign_in(browser, agent)
        body = browser.get("/console/voice/token").json
        assert body is not None
        identities.append(body["identity"])
    assert identities == [f"agent-{first.id}", f"agent-{second.id}"]


def test_without_voice_settings_the_console_token_says_browser_calling_is_not_configured(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction
) -> None:
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    _sign_in(client, agent)

    response = client.get("/console/voice/token")

    assert response.status_code == 503
    assert response.json is not None
    error = response.json["error"]
    assert error["code"] == "voice_not_configured"
    assert error["message"].startswith("Browser calling is not configured")
    assert "TWILIO_API_KEY" in error["message"]


def test_signed_out_the_console_token_is_refused_without_a_token(
    client: FlaskClient, voice_configured: Settings
) -> None:
    response = client.get("/console/voice/token")
    assert response.status_code == 401
    assert response.json is not None
    assert response.json["error"]["code"] == "not_signed_in"
    assert "token" not in response.json


def test_a_bearer_api_token_is_not_a_console_session(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction, voice_configured: Settings
) -> None:
    _agent, token = factories.make_agent(session, [jurisdiction])
    session.commit()
    response = client.get("/console/voice/token", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401


def test_the_phone_panel_is_on_signed_in_pages_only(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction
) -> None:
    assert 'id="phone"' not in client.get("/console/login").text
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    _sign_in(client, agent)
    page = client.get("/console/").text
    assert '<section id="phone" class="phone" aria-label="Phone"' in page
    assert 'data-token-url="/console/voice/token"' in page
    assert "data-call-id" not in page  # no call accepted: buttons disabled
    assert re.search(r'id="phone-answer"[^>]*disabled', page)


def test_the_vendored_voice_sdk_is_served_from_the_console(client: FlaskClient) -> None:
    with client.get(SDK) as response:
        assert response.status_code == 200
        assert b"Twilio" in response.data[:2000]
    with client.get("/console/static/vendor/twilio-voice-2.18.5.LICENSE") as license_text:
        assert license_text.status_code == 200
        assert b"Apache License" in license_text.data


# --- In a browser ------------------------------------------------------------------------------


@pytest.fixture
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


@pytest.mark.usefixtures("_sockets_of_this_app")
def test_an_agent_who_accepted_a_call_sees_it_and_its_controls_while_the_phone_is_offline(
    browser_page: Any,
    live_server: str,
    session: Session,
    dial: Callable[..., Any],
    voice_city: VoiceCity,
) -> None:
    walker = dial("1", "0", from_="+16135550177")
    walker.call()
    assert walker.state == "in_queue"
    offer = voice_city.available_agent_takes_offer()
    assert offer["work"]["kind"] == "call"
    agent = session.get_one(Agent, voice_city.agent_id)
    agent.password_hash = hash_password(PASSWORD)
    session.commit()
    page = browser_page

    page.goto("/console/login")
    page.get_by_label("Email").fill(agent.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))

    phone = page.get_by_role("region", name="Phone")
    assert "+16135550177" in phone.locator("#phone-caller").inner_text()
    assert "Waited" in phone.inner_text()
    answer = phone.get_by_role("button", name="Answer")
    hang_up = phone.get_by_role("button", name="Hang up")
    assert answer.is_visible() and answer.is_enabled()
    assert hang_up.is_visible() and hang_up.is_enabled()
    status = phone.get_by_role("status")
    # No voice settings in the tests: the token route answers 503, and the panel says so.
    page.wait_for_function(
        "document.getElementById('phone-status').textContent.startsWith('Phone offline')"
    )
    assert status.inner_text() == "Phone offline: calls are not connected in this environment."
    assert status.get_attribute("aria-live") == "polite"
    _shot(page, "console-phone-offline")

    answer.focus()
    page.keyboard.press("Enter")  # keyboard-usable; says why nothing connects
    assert status.inner_text().startswith("Phone offline")

    sdk = page.request.get(SDK)
    assert sdk.status == 200 and "Twilio" in sdk.text()[:2000]


def test_an_agent_without_a_call_sees_a_quiet_phone(
    client: FlaskClient, session: Session, dial: Callable[..., Any], voice_city: VoiceCity
) -> None:
    dial("1", "0").call()  # waiting in the queue, not offered to this agent
    agent = session.get_one(Agent, voice_city.agent_id)
    agent.password_hash = hash_password(PASSWORD)
    session.commit()
    _sign_in(client, agent)
    page = client.get("/console/").text
    assert re.search(r'<dl id="phone-call"[^>]* hidden', page)
    assert "+16135550100" not in page.split('id="phone"')[1].split("</section>")[0]
