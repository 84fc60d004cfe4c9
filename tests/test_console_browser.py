"""The console in a real browser (Debian's Chromium): an agent answers a resident's text.

Skipped, with the reason, where Chromium is not installed. Set ``CONSOLE_SCREENSHOTS`` to a
folder (``make screenshots`` uses docs/screenshots) to keep pictures of the main screens.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Presence, Role
from contactcenter.cases.canned import add_canned
from contactcenter.cases.models import Case
from contactcenter.jurisdictions.models import Jurisdiction
from tests import factories
from tests.twilio_http import CapturingHttpClient

PASSWORD = "correct horse battery"
HOSTILE = "Pothole <script>alert(1)</script><b>huge</b> at 12 Main St"


@pytest.fixture(autouse=True)
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


def _shot(page: Any, name: str) -> None:
    folder = os.environ.get("CONSOLE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _sign_in(page: Any, email: str) -> None:
    page.goto("/console/login")
    _shot(page, "console-sign-in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/console/$"))


def _go_available(page: Any) -> None:
    page.get_by_label("You are").select_option("available")
    page.get_by_role("button", name="Change").click()
    page.wait_for_load_state()


def test_an_agent_answers_a_text_live_and_another_city_sees_nothing(
    browser_page: Any,
    chromium: Any,
    live_server: str,
    session: Session,
    jurisdiction: Jurisdiction,
    send_sms: Callable[..., Any],
    twilio_http: CapturingHttpClient,
    run_jobs: Callable[[], None],
) -> None:
    queue = factories.make_queue(session, jurisdiction, is_default=True)
    agent, _ = factories.make_available_agent(
        session, jurisdiction, [queue], presence=Presence.OFFLINE
    )
    add_canned(
        session,
        jurisdiction.id,
        title="Crew dispatched",
        body="A crew is on its way to {tracking_number}.",
        language="en",
    )
    elsewhere = factories.make_jurisdiction(session, slug="shelbyville")
    outsider, _ = factories.make_agent(session, [elsewhere])
    session.commit()
    page = browser_page

    _sign_in(page, agent.email)
    _go_available(page)
    page.wait_for_timeout(300)  # the socket connects after the page loads
    send_sms(HOSTILE, from_="+16135550142")

    offer = page.locator("#offers li.offer")
    offer.wait_for()  # arrived over the socket: no reload
    _shot(page, "console-work-offer")
    case = session.scalars(sa.select(Case)).one()
    assert case.tracking_number in offer.inner_text()

    offer.get_by_role("button", name=re.compile("^Accept")).click()
    page.wait_for_url(re.compile(rf"/console/cases/{case.id}$"))
    timeline = page.locator("#timeline")
    assert "<script>alert(1)</script><b>huge</b>" in timeline.inner_text()
    assert timeline.locator("script, b").count() == 0
    _shot(page, "console-case")

    twilio_http.reset()
    page.get_by_label("Canned response").select_option(label="Crew dispatched (en)")
    page.get_by_role("button", name="Insert").click()
    reply = f"A crew is on its way to {case.tracking_number}."
    assert page.get_by_label("Message").input_value() == reply  # filled in place
    page.get_by_role("button", name="Send").click()
    page.wait_for_load_state()
    run_jobs()  # with Redis, the reply leaves through an rq worker
    assert reply in page.locator("#timeline").inner_text()
    assert [m["Body"] for m in twilio_http.messages] == [reply]
    assert twilio_http.messages[0]["To"] == "+16135550142"

    page.get_by_label("New status").select_option("closed")
    page.get_by_role("button", name="Change status").click()
    page.wait_for_load_state()
    run_jobs()
    assert page.locator("#case-status").inner_text().lower() == "closed"
    assert "is now closed" in twilio_http.messages[-2]["Body"]
    assert "How did we do" in twilio_http.messages[-1]["Body"]  # the survey's question follows

    other = chromium.new_context(base_url=live_server).new_page()
    _sign_in(other, outsider.email)
    assert other.locator("#offers li").count() == 0
    response = other.goto(f"/console/cases/{case.id}")
    assert response is not None and response.status == 404
    assert case.tracking_number not in other.content()
    other.context.close()


def test_a_supervisor_sees_the_wallboard_change_without_a_reload(
    browser_page: Any,
    session: Session,
    jurisdiction: Jurisdiction,
    send_sms: Callable[..., Any],
) -> None:
    queue = factories.make_queue(session, jurisdiction, is_default=True)
    supervisor, _ = factories.make_agent(session, [jurisdiction], role=Role.SUPERVISOR)
    session.commit()
    page = browser_page
    _sign_in(page, supervisor.email)
    page.goto(f"/console/wallboard?jurisdiction={jurisdiction.slug}")
    waiting = page.locator(f"#queue-{queue.id} [data-figure=waiting]")
    assert waiting.inner_text() == "0"
    page.wait_for_timeout(300)  # the socket connects after the page loads

    send_sms("Streetlight out on Elm Street", from_="+16135550143")

    page.wait_for_function(
        "sel => document.querySelector(sel).textContent.trim() === '1'",
        arg=f"#queue-{queue.id} [data-figure=waiting]",
    )
    _shot(page, "console-wallboard")


def test_the_console_reads_at_200_percent_zoom_and_starts_with_a_skip_link(
    chromium: Any,
    live_server: str,
    session: Session,
    jurisdiction: Jurisdiction,
    send_sms: Callable[..., Any],
) -> None:
    """200 % zoom of a 1280-pixel screen is a 640-pixel layout: nothing may need sideways
    scrolling. The first Tab reaches the skip link, which leads to the main content."""
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    send_sms(HOSTILE, from_="+16135550144")
    case = session.scalars(sa.select(Case)).one()
    context = chromium.new_context(
        base_url=live_server, viewport={"width": 640, "height": 800}, device_scale_factor=2
    )
    page = context.new_page()
    _sign_in(page, agent.email)
    for path in ("/console/", f"/console/cases/{case.id}", "/console/search?q=pothole"):
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 200% zoom"
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim().toLowerCase()")
    assert "skip" in focused
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    context.close()
