"""The web chat widget in a real browser (Debian's Chromium), embedded in a city's page that is
served from another origin than the contact center, as in production.

A resident chats with an agent who works in the console in a second browser context; the
resident reloads and the conversation continues. A page from an origin the city did not allow
cannot show the chat (the browser enforces the frame's ``frame-ancestors``). On a phone-sized
screen the panel fills the screen and everything works with the keyboard alone.

Skipped, with the reason, where Chromium is not installed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Presence
from contactcenter.cases.models import Case, Interaction
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.db import get_session
from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
from contactcenter.messages import Channel
from tests import factories
from tests.conftest import CitySite
from tests.test_console_browser import _go_available, _shot, _sign_in

KEY = "springfield-chat-7f3a"
HOSTILE = "Pothole <img src=x onerror=alert(1)><b>deep</b> at 12 Main St"
FRAME = "iframe[title='3-1-1 chat']"
MAILBOX = "311@chat.springfield.example"


@pytest.fixture(autouse=True)
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


def _offer_chat(session: Session, city: Jurisdiction, allowed_origins: list[str]) -> None:
    """Give the city a public chat key, usable from ``allowed_origins``, and a mailbox."""
    session.add(ChannelAddress(jurisdiction_id=city.id, channel=Channel.WEBCHAT, address=KEY))
    # A mailbox of its own, so transcripts can be emailed from it.
    session.add(ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address=MAILBOX))
    settings = city.settings if isinstance(city.settings, dict) else {}
    city.settings = {**settings, "chat": {"allowed_origins": allowed_origins}}
    session.commit()


def _city_page(app: Flask, site: CitySite, live_server: str, path: str) -> str:
    """The demo city page (one script tag: the widget), published on the city's site."""
    html = app.jinja_env.get_template("webchat/demo_page.html").render(
        base_url=live_server, key=KEY, language="en"
    )
    return site.publish(path, html)


def _open_widget(page: Any) -> Any:
    page.get_by_role("button", name=re.compile("^Chat with 3-1-1")).click()
    chat = page.frame_locator(FRAME)
    chat.locator("#cc-panel").wait_for()
    return chat


def _focused_id(page: Any) -> str:
    """The id of the element focused inside the chat frame ("" when focus is elsewhere)."""
    frame = page.frame_locator(FRAME).locator(":root")
    return str(frame.evaluate("() => document.hasFocus() ? document.activeElement.id : ''"))


def test_a_resident_chats_with_an_agent_reloads_and_the_conversation_continues(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
    run_jobs: Callable[[], None],
) -> None:
    queue = factories.make_queue(session, jurisdiction, is_default=True)
    agent, _ = factories.make_available_agent(
        session, jurisdiction, [queue], presence=Presence.OFFLINE, name="Alex Agent"
    )
    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/roads")

    console_context = chromium.new_context(base_url=live_server)
    console = console_context.new_page()
    console.set_default_timeout(10_000)
    _sign_in(console, agent.email)
    _go_available(console)

    resident_context = chromium.new_context()
    resident = resident_context.new_page()
    resident.set_default_timeout(10_000)
    resident.goto(url)
    chat = _open_widget(resident)
    resident.wait_for_function(  # focus moved into the panel, on its first field
        "() => document.activeElement && document.activeElement.tagName === 'IFRAME'"
    )
    chat.get_by_label("Topic").wait_for()
    assert _focused_id(resident) == "cc-service"

    chat.get_by_label("Topic").select_option("pothole")
    chat.get_by_label("Describe the problem").fill(HOSTILE)
    chat.get_by_label("Address or place (optional)").fill("12 Main St")
    chat.get_by_label("Email (optional)").fill("resident@example.org")
    chat.get_by_label("Your name (optional)").fill("Pat")
    _shot(resident, "chat-intake")
    chat.get_by_role("button", name="Start chat").click()

    log = chat.get_by_role("log")
    composer = chat.get_by_label("Your message")
    composer.wait_for()
    case = session.scalars(sa.select(Case)).one()
    tracking = chat.locator("#cc-tracking")
    tracking.wait_for()
    assert case.tracking_number in tracking.inner_text()
    run_jobs()  # with Redis, routing offers the chat from an rq worker

    offer = console.locator("#offers li.offer")
    offer.wait_for()  # offered over the socket, like any other work
    offer.get_by_role("button", name=re.compile("^Accept")).click()
    console.wait_for_url(re.compile(rf"/console/cases/{case.id}$"))
    timeline = console.locator("#timeline")
    assert "<img src=x onerror=alert(1)><b>deep</b>" in timeline.inner_text()
    assert timeline.locator("img, b").count() == 0
    chat.locator("#cc-notice", has_text="You are chatting with Alex Agent.").wait_for()

    console.get_by_label("Message").press_sequentially("On it")
    chat.get_by_text("Alex Agent is typing…").wait_for()
    console.get_by_label("Message").fill("A crew is on its way to 12 Main St.")
    console.get_by_role("button", name="Send").click()
    console.wait_for_load_state()
    run_jobs()  # with Redis, the reply leaves through an rq worker
    log.get_by_text("A crew is on its way to 12 Main St.").wait_for()
    assert log.locator("img, b").count() == 0
    _shot(resident, "chat-conversation")

    resident.reload()
    chat = _open_widget(resident)
    log = chat.get_by_role("log")
    log.get_by_text("A crew is on its way to 12 Main St.").wait_for()
    assert HOSTILE in log.inner_text()  # the intake's words, as text
    composer = chat.get_by_label("Your message")
    composer.press_sequentially("Thanks")
    console.get_by_text("Resident is typing…").wait_for()
    composer.press_sequentially(", it is next to the school.")
    composer.press("Enter")
    log.locator(".msg-resident:not([data-pending])", has_text="next to the school").wait_for()
    console.locator("#timeline", has_text="Thanks, it is next to the school.").wait_for()
    _shot(console, "console-chat-case")

    chat.get_by_role("button", name="Email me the transcript").click()
    chat.get_by_text(re.compile(r"The transcript was sent to r\S*@example\.org")).wait_for()
    run_jobs()
    chat.get_by_role("button", name="End chat").click()
    chat.get_by_role("button", name="Start a new chat").wait_for()
    _shot(resident, "chat-ended")
    # Over: nothing of the chat is kept any more, in the frame's storage (where the browser
    # grants it one) or in the page's.
    kept = chat.locator(":root").evaluate(
        "() => { try { return Object.keys(sessionStorage); } catch (blocked) { return []; } }"
    )
    assert not [key for key in kept if key.startswith("cc-chat-")]
    resident.wait_for_function(
        "() => !Object.keys(sessionStorage).some((k) => k.startsWith('cc-chat-frame:'))"
    )
    assert chat.get_by_label("Your message").count() == 0 or not composer.is_visible()

    resident_context.close()
    console_context.close()


def test_a_page_of_an_origin_the_city_did_not_allow_cannot_show_the_chat(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
) -> None:
    _offer_chat(session, jurisdiction, ["https://www.springfield.example"])
    url = _city_page(app, city_site, live_server, "/elsewhere")
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)

    with (
        page.expect_console_message(lambda m: "frame-ancestors" in m.text) as refused,
        page.expect_response(lambda r: "/chat/frame?" in r.url) as served,
    ):
        page.get_by_role("button", name=re.compile("^Chat with 3-1-1")).click()
    # The server did answer; the browser refused to show its page inside this one.
    assert served.value.status == 200
    assert "frame-ancestors https://www.springfield.example" in (
        served.value.headers.get("content-security-policy", "")
    )
    assert "springfield.example" in refused.value.text
    frame = page.frame_locator(FRAME)
    assert frame.locator("#cc-panel").count() == 0
    assert frame.locator("#chat-config").count() == 0
    context.close()


def test_on_a_phone_the_panel_fills_the_screen_and_works_with_the_keyboard_alone(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
) -> None:
    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/phone")
    context = chromium.new_context(viewport={"width": 360, "height": 640}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)

    launcher = page.get_by_role("button", name=re.compile("^Chat with 3-1-1"))
    launcher.focus()
    page.keyboard.press("Enter")
    chat = page.frame_locator(FRAME)
    chat.get_by_label("Topic").wait_for()
    box = page.locator(FRAME).bounding_box()
    assert box == {"x": 0, "y": 0, "width": 360, "height": 640}
    page.wait_for_function("() => document.activeElement.tagName === 'IFRAME'")
    page.frame_locator(FRAME).locator("#cc-service:focus").wait_for()

    # Every field has a label (a name for screen readers), and nothing scrolls sideways.
    root = chat.locator(":root")
    unlabelled = root.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea, button')]
            .filter(el => el.type !== 'hidden' && !el.closest('[hidden]'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !el.textContent.trim())
            .map(el => el.id || el.outerHTML)"""
    )
    assert unlabelled == []
    for name in ("Language", "Topic", "Describe the problem", "Phone (optional)"):
        assert chat.get_by_label(name, exact=True).count() == 1
    assert root.evaluate("() => document.documentElement.scrollWidth <= innerWidth")

    # The keyboard alone: topic, description, address, a wrong phone number, "Start chat"...
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Tab")
    page.keyboard.type("Streetlight out on Elm Street")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.type("12")
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    # ...which is refused: the field says why (in its description) and has the focus.
    phone = chat.get_by_label("Phone (optional)")
    chat.locator("#cc-phone:focus").wait_for()
    expect(phone).to_have_attribute("aria-invalid", "true")
    expect(phone).to_have_accessible_description("Enter a valid phone number.")
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    for _ in range(3):
        page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    composer = chat.get_by_label("Your message")
    composer.wait_for()
    chat.locator("#cc-message:focus").wait_for()
    # Nobody is signed in: the resident is told at once.
    chat.get_by_role("log").get_by_text(re.compile("^No agent is free right now")).wait_for()
    assert chat.get_by_role("log").get_attribute("aria-live") == "polite"
    page.keyboard.type("Is anyone there?")
    page.keyboard.press("Enter")
    chat.get_by_role("log").locator(
        ".msg-resident:not([data-pending])", has_text="Is anyone there?"
    ).wait_for()
    _shot(page, "chat-phone")
    composer_box = composer.bounding_box()
    assert composer_box is not None and composer_box["y"] + composer_box["height"] <= 640

    page.keyboard.press("Escape")
    page.locator(FRAME).wait_for(state="hidden")
    launcher.wait_for()
    page.wait_for_function("() => document.activeElement.id === 'cc-chat-launcher'")
    context.close()


def test_the_language_picker_translates_the_panel_and_keeps_what_was_typed(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
) -> None:
    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/languages")
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)
    chat = _open_widget(page)
    chat.get_by_label("Describe the problem").fill("Nid-de-poule <b>énorme</b>")

    chat.get_by_label("Language").select_option("fr")
    chat.get_by_label("Décrivez le problème").wait_for()
    assert chat.get_by_label("Décrivez le problème").input_value() == "Nid-de-poule <b>énorme</b>"
    assert chat.locator("html").get_attribute("lang") == "fr"
    chat.locator("#cc-language:focus").wait_for()
    chat.get_by_role("button", name="Commencer le clavardage").click()

    log = chat.get_by_role("log", name="Conversation")
    log.get_by_text("Nid-de-poule <b>énorme</b>").wait_for()  # the resident's words, untranslated
    assert log.locator("b").count() == 0
    chat.get_by_label("Langue").select_option("es")  # in the chat: no reload, nothing lost
    chat.get_by_label("Su mensaje").wait_for()
    log = chat.get_by_role("log", name="Conversación")
    assert log.get_by_text("Nid-de-poule <b>énorme</b>").count() == 1
    context.close()


def test_replies_are_counted_on_the_closed_launcher_and_messages_typed_offline_are_sent_later(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
    run_jobs: Callable[[], None],
) -> None:
    from contactcenter.outbound import reply_to_resident

    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/later")
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)
    chat = _open_widget(page)
    chat.get_by_label("Describe the problem").fill("Graffiti on the library wall")
    chat.get_by_role("button", name="Start chat").click()
    chat.get_by_label("Your message").wait_for()
    page.keyboard.press("Escape")
    page.locator(FRAME).wait_for(state="hidden")

    with app.app_context():  # as the console's reply does
        db = get_session()
        case = db.scalars(sa.select(Case)).one()
        reply_to_resident(db, case, agent=None, body="We will clean it this week.")
        db.commit()
    run_jobs()
    page.get_by_role("button", name="Chat with 3-1-1 (1 new)").wait_for()
    expect(page.get_by_role("status")).to_have_text("New message in the 3-1-1 chat.")

    chat = _open_widget(page)
    chat.get_by_role("log").get_by_text("We will clean it this week.").wait_for()
    assert page.locator("#cc-chat-launcher").inner_text() == "Chat with 3-1-1"  # all read
    context.set_offline(True)
    chat.get_by_text("Connection lost").wait_for()
    chat.get_by_label("Your message").fill("Thank you!")
    chat.get_by_label("Your message").press("Enter")
    chat.locator(".msg[data-pending]", has_text="Thank you!").wait_for()
    context.set_offline(False)
    chat.locator(".msg-resident:not([data-pending])", has_text="Thank you!").wait_for()
    assert chat.get_by_text("Connection lost").count() == 0
    stored = session.scalars(sa.select(Interaction.body).where(Interaction.body == "Thank you!"))
    assert len(stored.all()) == 1
    context.close()


# The frame's own storage refused, as browsers that block third-party storage do; the city's
# page records what it is asked to keep.
BLOCKED_FRAME_STORAGE = """
(() => {
  if (window.top !== window && location.pathname.endsWith("/chat/frame")) {
    Object.defineProperty(window, "sessionStorage", {
      configurable: true,
      get() {
        throw new DOMException("Access is denied for this document.", "SecurityError");
      },
    });
  } else if (window.top === window) {
    window.__kept = [];
    const setItem = Storage.prototype.setItem;
    Storage.prototype.setItem = function (key, value) {
      window.__kept.push(String(key) + "=" + String(value));
      return setItem.call(this, key, value);
    };
  }
})();
"""
CONTACTS = {"cc-address": "44 Elm St", "cc-phone": "613-555-0142", "cc-email": "pat@example.org"}


def _page_keeps(page: Any) -> dict[str, str]:
    """What the city's page holds for the chat in its own sessionStorage."""
    return dict(
        page.evaluate(
            "() => Object.keys(sessionStorage).filter((k) => k.startsWith('cc-chat-frame:'))"
            ".map((k) => [k.slice(14), sessionStorage.getItem(k)])"
        )
    )


def _fill_contacts(chat: Any) -> None:
    for field, value in CONTACTS.items():
        chat.locator("#" + field).fill(value)
    chat.locator("#cc-name").fill("Pat Resident")


def test_with_the_frames_storage_blocked_the_page_keeps_no_contact_details_and_nothing_once_ended(
    app: Flask,
    chromium: Any,
    live_server: str,
    city_site: CitySite,
    session: Session,
    jurisdiction: Jurisdiction,
) -> None:
    _offer_chat(session, jurisdiction, [city_site.origin])
    url = _city_page(app, city_site, live_server, "/blocked")
    context = chromium.new_context()
    context.add_init_script(BLOCKED_FRAME_STORAGE)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.goto(url)
    chat = _open_widget(page)
    chat.get_by_label("Describe the problem").fill("Streetlight out on Elm")
    _fill_contacts(chat)

    chat.get_by_label("Language").select_option("fr")  # the frame reloads, from the page's keeping
    chat.get_by_label("Décrivez le problème").wait_for()
    assert chat.get_by_label("Décrivez le problème").input_value() == "Streetlight out on Elm"
    assert chat.locator("#cc-email").input_value() == ""  # contact details were not kept
    kept = page.evaluate("() => window.__kept")
    assert any(entry.startswith("cc-chat-frame:cc-chat-draft=") for entry in kept)
    _fill_contacts(chat)
    chat.get_by_role("button", name="Commencer le clavardage").click()
    chat.locator("#cc-message").wait_for()
    chat.locator("#cc-tracking").wait_for()
    session.expire_all()  # nobody is signed in: handed off at once
    assert session.scalars(sa.select(ChatSession.state)).one() == ChatState.HANDED_OFF
    assert "cc-chat-token" in _page_keeps(page)
    kept = "\n".join(page.evaluate("() => window.__kept"))
    for secret in [*CONTACTS.values(), "Pat Resident"]:
        assert secret not in kept

    page.reload()  # handed off, not over: the notice is still there to read
    chat = _open_widget(page)
    chat.get_by_role("log").get_by_text("Streetlight out on Elm").wait_for()
    chat.locator("#cc-end").click()
    chat.locator("#cc-new").wait_for()
    page.wait_for_function(
        "() => !Object.keys(sessionStorage).some((k) => k.startsWith('cc-chat-frame:'))"
    )
    assert chat.get_by_role("log").get_by_text("Streetlight out on Elm").is_visible()

    page.reload()  # nothing was kept: a new chat
    chat = _open_widget(page)
    chat.locator("#cc-intake").wait_for()
    assert _page_keeps(page) == {}
    context.close()
