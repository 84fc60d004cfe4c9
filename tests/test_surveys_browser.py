"""The chat's rating in a real browser (Debian's Chromium): a resident who chatted with an agent
ends the chat, the window offers five labelled buttons, one click rates the chat, and the
answer is the case's satisfaction. Also the survey page an email links to, by keyboard alone.

Skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Presence
from contactcenter.cases.models import Case
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.models import Offer, OfferState
from contactcenter.surveys.models import Survey, SurveyState
from tests import factories
from tests.conftest import CitySite
from tests.test_console_browser import _shot
from tests.test_webchat_browser import _city_page, _offer_chat, _open_widget


@pytest.fixture(autouse=True)
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


def _accept_offer(client: FlaskClient, session: Session, token: str) -> None:
    session.expire_all()
    offer = session.scalars(sa.select(Offer).where(Offer.state == OfferState.PENDING)).one()
    accepted = client.post(
        f"/api/v1/work/offers/{offer.id}/accept", headers={"Authorization": f"Bearer {token}"}
    )
    assert accepted.status_code == 200, accepted.get_json()


def test_a_resident_rates_the_chat_when_it_ends(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    client: FlaskClient,
    jurisdiction: Jurisdiction,
    run_jobs: Callable[[], None],
) -> None:
    queue = factories.make_queue(session, jurisdiction, is_default=True)
    _agent, token = factories.make_available_agent(
        session, jurisdiction, [queue], presence=Presence.AVAILABLE, name="Alex Agent"
    )
    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/rate")

    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)
    chat = _open_widget(page)
    chat.get_by_label("Topic").select_option("pothole")
    chat.get_by_label("Describe the problem").fill("Pothole at 12 Main St")
    chat.get_by_role("button", name="Start chat").click()
    chat.get_by_label("Your message").wait_for()
    run_jobs()
    _accept_offer(client, session, token)
    chat.locator("#cc-notice", has_text="You are chatting with Alex Agent.").wait_for()
    rating = chat.get_by_role("group", name=re.compile("^How did we do"))
    assert rating.count() == 0 or not rating.is_visible()

    chat.get_by_role("button", name="End chat").click()

    rating.wait_for()
    buttons = rating.get_by_role("button")
    labels = ["Poor", "Fair", "Okay", "Good", "Great"]
    assert buttons.all_inner_texts() == [f"{n} \u2013 {w}" for n, w in enumerate(labels, 1)]
    _shot(page, "chat-rating")
    rating.get_by_role("button", name="5 \u2013 Great").click()
    chat.get_by_role("status").filter(has_text="Thank you for your rating (5 out of 5).").wait_for()
    assert not rating.is_visible()
    session.expire_all()
    survey = session.scalars(sa.select(Survey)).one()
    assert (survey.channel, survey.state, survey.score) == ("webchat", SurveyState.ANSWERED, 5)
    assert session.scalars(sa.select(Case)).one().satisfaction == 5
    context.close()


def test_the_survey_page_works_with_the_keyboard_alone(
    app: Flask,
    chromium: Any,
    live_server: str,
    session: Session,
    jurisdiction: Jurisdiction,
) -> None:
    import datetime as dt
    import secrets

    from contactcenter.db import utcnow
    from contactcenter.messages import Channel

    case = factories.make_case(session, jurisdiction, channel=Channel.EMAIL)
    token = secrets.token_urlsafe(24)
    session.add(
        Survey(
            jurisdiction_id=jurisdiction.id,
            case=case,
            channel=Channel.EMAIL,
            address="lisa@example.org",
            token=token,
            sent_at=utcnow(),
            expires_at=utcnow() + dt.timedelta(days=7),
        )
    )
    session.commit()
    context = chromium.new_context(base_url=live_server, viewport={"width": 360, "height": 640})
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(f"/survey/{token}")

    assert page.get_by_role("radio").count() == 5
    assert page.get_by_role("group", name="Your rating").count() == 1
    assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
    page.get_by_role("radio", name="4 Good").focus()
    page.keyboard.press("Space")
    page.keyboard.press("Tab")
    page.keyboard.type("Fast and friendly")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")

    page.get_by_text("Thank you! Your answer was recorded.").wait_for()
    _shot(page, "survey-page-answered")
    session.expire_all()
    survey = session.scalars(sa.select(Survey)).one()
    assert (survey.state, survey.score, survey.comment) == ("answered", 4, "Fast and friendly")
    context.close()
