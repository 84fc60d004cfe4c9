"""The agent web console (``/console``): sign-in and its lock-out, CSRF, the work page (presence,
offers, assigned work), the offer fragment the realtime layer fetches, and the case page with
its timeline, replies, notes and status changes — all through the test client, as a browser
would use them, with CSRF protection on exactly as in production.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden
from werkzeug.test import TestResponse

from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.auth import hash_password
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import Case, CaseEvent, CaseStatus, DeliveryStatus, Interaction
from contactcenter.console.auth import SIGN_IN_REFUSED, login_required, safe_next
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, ContactKind, Direction
from contactcenter.residents.models import ContactPoint, Resident
from contactcenter.routing.models import Offer, OfferState, WorkItem, WorkState
from contactcenter.routing.work import dispatch
from tests import factories

PASSWORD = "correct horse battery"
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')
HOSTILE = "<script>alert(1)</script><b>x</b>"
REFUSED = html.escape(SIGN_IN_REFUSED)


# ---------------------------------------------------------------------------------------------
# Helpers


def fresh(session: Session) -> Session:
    """``session``, forgetting what it cached: requests wrote in their own sessions."""
    session.commit()
    session.expire_all()
    return session


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def csrf_token(client: FlaskClient) -> str:
    """The token this browser's pages carry (the sign-in page, or the work page if signed in)."""
    page = client.get("/console/login", follow_redirects=True)
    match = CSRF_META.search(text(page))
    assert match, text(page)
    return match.group(1)


def post_form(client: FlaskClient, path: str, data: dict[str, str] | None = None) -> TestResponse:
    return client.post(path, data={"csrf_token": csrf_token(client), **(data or {})})


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, next_path: str | None = None
) -> TestResponse:
    data = {"email": email, "password": password}
    if next_path is not None:
        data["next"] = next_path
    return post_form(client, "/console/login", data)


def location(response: TestResponse) -> str:
    """The redirect's target as a path with its query (the test client makes it relative)."""
    parts = urlsplit(response.headers["Location"])
    return parts.path + (f"?{parts.query}" if parts.query else "")


def flashes(page: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(r'<p class="flash[^"]*"[^>]*>(.*?)</p>', page)]


def offer_on(city: Jurisdiction, session: Session, agent: Agent, **work: Any) -> Offer:
    """A waiting case offered to ``agent`` (who must be available in ``work['queue']``)."""
    factories.make_work(session, city, work.pop("queue"), **work)
    session.flush()
    offers = dispatch(session, city.id)
    session.commit()
    mine = [o for o in offers if o.agent_id == agent.id]
    assert mine, "the work was not offered to the agent"
    return mine[0]


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def queue(session: Session, city: Jurisdiction) -> Any:
    queue = factories.make_queue(session, city, "general", is_default=True)
    session.commit()
    return queue


@pytest.fixture
def agent(session: Session, city: Jurisdiction, queue: Any) -> Agent:
    """Dana, available in the general queue, with the password PASSWORD."""
    dana, _token = factories.make_available_agent(
        session, city, [queue], email="dana@city.example", name="Dana Scully"
    )
    dana.password_hash = hash_password(PASSWORD)
    session.commit()
    return dana


@pytest.fixture
def signed_in(client: FlaskClient, agent: Agent) -> FlaskClient:
    response = sign_in(client, agent.email)
    assert response.status_code == 302, text(response)
    return client


@pytest.fixture
def resident(session: Session, city: Jurisdiction) -> Resident:
    person = Resident(jurisdiction_id=city.id, display_name="Marge")
    session.add(person)
    session.flush()
    session.add(
        ContactPoint(
            jurisdiction_id=city.id, resident=person, kind=ContactKind.PHONE, address="+16135550100"
        )
    )
    session.commit()
    return person


# ---------------------------------------------------------------------------------------------
# Signing in


def test_the_right_password_signs_in_with_a_protected_session_cookie(
    client: FlaskClient, agent: Agent
) -> None:
    response = sign_in(client, "  Dana@City.example ")
    assert response.status_code == 302
    assert location(response) == "/console/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # a permanent session: it lasts PERMANENT_SESSION_LIFETIME
    page = client.get("/console/")
    assert page.status_code == 200
    assert "Dana Scully" in text(page)


def test_session_cookie_settings_last_twelve_hours_and_are_https_only_outside_development(
    app: Flask,
) -> None:
    assert app.permanent_session_lifetime == dt.timedelta(hours=12)
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    assert app.config["SESSION_COOKIE_SECURE"] is False  # app_env is "test"


@pytest.mark.parametrize(
    ("email", "password"),
    [("dana@city.example", "wrong password"), ("nobody@city.example", PASSWORD)],
)
def test_a_wrong_password_and_an_unknown_email_get_the_same_message(
    client: FlaskClient, agent: Agent, email: str, password: str
) -> None:
    response = sign_in(client, email, password)
    assert response.status_code == 200
    assert REFUSED in text(response)
    assert client.get("/console/").status_code == 302  # still signed out


def test_five_failures_in_a_row_lock_the_account_even_against_the_right_password(
    client: FlaskClient, session: Session, agent: Agent
) -> None:
    for _ in range(5):
        assert REFUSED in text(sign_in(client, agent.email, "guess"))
    locked = fresh(session).get_one(Agent, agent.id)
    assert locked.locked_until is not None
    remaining = locked.locked_until - utcnow()
    assert dt.timedelta(minutes=14) < remaining <= dt.timedelta(minutes=15)

    response = sign_in(client, agent.email, PASSWORD)
    assert REFUSED in text(response)  # the same words: a locked account is not revealed
    assert client.get("/console/").status_code == 302


def test_the_lock_lifts_once_its_time_has_passed(
    client: FlaskClient, session: Session, agent: Agent
) -> None:
    agent.locked_until = utcnow() - dt.timedelta(seconds=1)
    session.commit()
    assert sign_in(client, agent.email).status_code == 302
    assert fresh(session).get_one(Agent, agent.id).locked_until is None


def test_a_successful_sign_in_resets_the_count_of_failures(
    client: FlaskClient, session: Session, agent: Agent
) -> None:
    for _ in range(4):
        sign_in(client, agent.email, "guess")
    assert sign_in(client, agent.email).status_code == 302
    client.post("/console/logout", data={"csrf_token": csrf_token(client)})
    for _ in range(4):
        sign_in(client, agent.email, "guess")
    assert sign_in(client, agent.email).status_code == 302
    assert fresh(session).get_one(Agent, agent.id).failed_logins == 0


def test_an_inactive_agent_cannot_sign_in_and_a_deactivated_one_is_signed_out(
    client: FlaskClient, session: Session, agent: Agent
) -> None:
    assert sign_in(client, agent.email).status_code == 302
    agent.active = False
    session.commit()
    assert client.get("/console/").status_code == 302
    assert REFUSED in text(sign_in(client, agent.email))


def test_a_password_change_signs_other_sessions_out(
    app: Flask, session: Session, agent: Agent
) -> None:
    laptop, phone = app.test_client(), app.test_client()
    assert sign_in(laptop, agent.email).status_code == 302
    assert sign_in(phone, agent.email).status_code == 302
    agent.password_hash = hash_password("a brand new passphrase")
    session.commit()
    assert phone.get("/console/").status_code == 302
    assert laptop.get("/console/").status_code == 302
    assert sign_in(phone, agent.email, "a brand new passphrase").status_code == 302
    assert phone.get("/console/").status_code == 200


def test_signing_out_ends_the_session(signed_in: FlaskClient) -> None:
    response = post_form(signed_in, "/console/logout")
    assert location(response) == "/console/login"
    assert signed_in.get("/console/").status_code == 302


def test_pages_redirect_to_sign_in_and_come_back_to_the_page_asked_for(
    client: FlaskClient, agent: Agent
) -> None:
    response = client.get("/console/cases/42?tab=timeline")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert target.path == "/console/login"
    assert parse_qs(target.query)["next"] == ["/console/cases/42?tab=timeline"]
    login_page = client.get(location(response))
    assert 'name="next" value="/console/cases/42?tab=timeline"' in text(login_page)
    signed = sign_in(client, agent.email, next_path="/console/cases/42?tab=timeline")
    assert location(signed) == "/console/cases/42?tab=timeline"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "//evil.example/console/",
        "/\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
    ],
)
def test_a_next_that_leaves_the_site_is_ignored(
    client: FlaskClient, agent: Agent, target: str
) -> None:
    assert safe_next(target) is None
    response = sign_in(client, agent.email, next_path=target)
    assert response.status_code == 302
    assert location(response) == "/console/"
    assert "evil" not in response.headers["Location"]


def test_a_page_for_a_role_the_agent_lacks_answers_403(app: Flask, signed_in: FlaskClient) -> None:
    @login_required(Role.SUPERVISOR)
    def wallboard() -> str:
        return "wallboard"

    cookie = signed_in.get_cookie("session")
    assert cookie is not None
    headers = {"Cookie": f"session={cookie.value}"}
    with app.test_request_context("/console/", headers=headers), pytest.raises(Forbidden):
        wallboard()


# ---------------------------------------------------------------------------------------------
# CSRF


def test_a_form_without_its_csrf_token_is_refused(
    app: Flask, client: FlaskClient, session: Session, agent: Agent
) -> None:
    assert app.config["WTF_CSRF_ENABLED"] is True
    response = client.post("/console/login", data={"email": agent.email, "password": PASSWORD})
    assert response.status_code == 400
    assert "expired" in text(response)
    assert client.get("/console/").status_code == 302  # not signed in

    assert sign_in(client, agent.email).status_code == 302
    refused = client.post("/console/presence", data={"presence": "away"})
    assert refused.status_code == 400
    forged = client.post("/console/presence", data={"presence": "away", "csrf_token": "forged"})
    assert forged.status_code == 400
    assert fresh(session).get_one(Agent, agent.id).presence == Presence.AVAILABLE


def test_the_api_and_the_twilio_webhooks_need_no_csrf_token(
    client: FlaskClient, agent: Agent, send_sms: Any
) -> None:
    token = client.post("/api/v1/tokens", json={"email": agent.email, "password": PASSWORD})
    assert token.status_code == 201
    assert send_sms("Pothole on Main Street").status_code == 200


# ---------------------------------------------------------------------------------------------
# The work page


def test_the_work_page_lists_offers_and_assigned_work_most_urgent_first(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Any, agent: Agent
) -> None:
    pothole = factories.service_type(session, city)
    offered_case = factories.make_case(session, city, service_type=pothole)
    offer = offer_on(city, session, agent, queue=queue, case=offered_case, priority=2)
    now = utcnow()
    held = []
    for priority, due_in_hours in [(1, 5), (3, 48), (1, 2)]:
        case = factories.make_case(session, city, due_at=now + dt.timedelta(hours=due_in_hours))
        item = factories.make_work(session, city, queue, case=case, priority=priority)
        item.state, item.agent_id, item.assigned_at = WorkState.ASSIGNED, agent.id, now
        held.append(case)
    session.commit()

    page = text(signed_in.get("/console/"))
    offers = page[page.index('<ul id="offers"') : page.index("</ul>", page.index('id="offers"'))]
    assert 'aria-live="polite"' in offers
    assert f'<li id="offer-{offer.id}"' in offers
    assert offered_case.tracking_number in offers
    assert "Pothole" in offers and "sms" in offers
    assert f'action="/console/offers/{offer.id}/accept"' in offers
    assert f'action="/console/offers/{offer.id}/decline"' in offers
    work = page[page.index('<ol id="work"') :]
    order = [work.index(c.tracking_number) for c in held]
    assert order[1] < order[2] < order[0]  # urgent first, then the nearest deadline
    assert f'href="/console/cases/{held[0].id}"' in work


def test_accepting_an_offer_by_form_assigns_the_case_and_opens_it(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Any, agent: Agent
) -> None:
    offer = offer_on(city, session, agent, queue=queue)
    response = post_form(signed_in, f"/console/offers/{offer.id}/accept")
    item = fresh(session).get_one(WorkItem, offer.work_item_id)
    assert location(response) == f"/console/cases/{item.case_id}"
    assert item.state == WorkState.ASSIGNED and item.agent_id == agent.id
    assert session.get_one(Case, item.case_id).assigned_agent_id == agent.id
    case_page = text(signed_in.get(location(response)))
    assert "Dana Scully" in case_page


def test_declining_an_offer_by_form_puts_the_work_back(
    signed_in: FlaskClient, session: Session, city: Jurisdiction, queue: Any, agent: Agent
) -> None:
    offer = offer_on(city, session, agent, queue=queue)
    response = post_form(signed_in, f"/console/offers/{offer.id}/decline")
    assert location(response) == "/console/"
    assert fresh(session).get_one(Offer, offer.id).state == OfferState.DECLINED
    page = text(signed_in.get("/console/"))
    assert f'id="offer-{offer.id}"' not in page
    assert any("Declined" in message for message in flashes(page))


@pytest.mark.parametrize(
    ("action", "gone"), [("accept", "expired"), ("accept", "timed_out"), ("decline", "timed_out")]
)
def test_answering_an_offer_that_is_gone_shows_a_message_not_an_error(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    queue: Any,
    agent: Agent,
    action: str,
    gone: str,
) -> None:
    offer = offer_on(city, session, agent, queue=queue)
    offer.expires_at = utcnow() - dt.timedelta(seconds=1)
    if gone == "timed_out":  # what the routing tick does to an expired offer
        offer.state = OfferState.TIMED_OUT
    session.commit()
    response = post_form(signed_in, f"/console/offers/{offer.id}/{action}")
    assert response.status_code == 302 and location(response) == "/console/"
    messages = flashes(text(signed_in.get("/console/")))
    assert messages and ("expired" in messages[0] or "no longer" in messages[0])

    unknown = post_form(signed_in, f"/console/offers/{offer.id + 1000}/{action}")
    assert location(unknown) == "/console/"
    assert "No such offer." in flashes(text(signed_in.get("/console/")))


def test_the_offer_fragment_is_the_offers_li_alone_until_it_is_gone(
    app: Flask,
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    queue: Any,
    agent: Agent,
) -> None:
    offer = offer_on(city, session, agent, queue=queue)
    fragment = signed_in.get(f"/console/offers/{offer.id}")
    assert fragment.status_code == 200
    body = text(fragment).strip()
    assert body.startswith(f'<li id="offer-{offer.id}"') and body.endswith("</li>")
    assert "<html" not in body
    assert fragment.headers["Cache-Control"] == "no-store"

    assert app.test_client().get(f"/console/offers/{offer.id}").status_code == 401
    post_form(signed_in, f"/console/offers/{offer.id}/decline")
    assert signed_in.get(f"/console/offers/{offer.id}").status_code == 404
    assert signed_in.get("/console/offers/999999").status_code == 404


def test_the_presence_form_changes_presence_and_work_is_offered_on_becoming_available(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    queue: Any,
    agent: Agent,
    run_jobs: Callable[[], None],
) -> None:
    response = post_form(signed_in, "/console/presence", {"presence": "away"})
    assert location(response) == "/console/"
    assert fresh(session).get_one(Agent, agent.id).presence == Presence.AWAY
    factories.make_work(session, city, queue)
    session.commit()

    post_form(signed_in, "/console/presence", {"presence": "available"})
    run_jobs()
    assert fresh(session).get_one(Agent, agent.id).presence == Presence.AVAILABLE
    page = text(signed_in.get("/console/"))
    assert '<option value="available" selected>' in page
    assert re.search(r'<li id="offer-\d+"', page)

    bad = post_form(signed_in, "/console/presence", {"presence": "asleep"})
    assert location(bad) == "/console/"
    assert fresh(session).get_one(Agent, agent.id).presence == Presence.AVAILABLE


# ---------------------------------------------------------------------------------------------
# The case page


def test_the_case_page_shows_the_timeline_oldest_first_and_resident_text_as_text(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    resident: Resident,
    agent: Agent,
) -> None:
    resident.display_name = HOSTILE
    case = factories.make_case(session, city, description=HOSTILE, resident=resident)
    t0 = utcnow() - dt.timedelta(hours=1)
    first = Interaction(
        jurisdiction_id=city.id,
        case=case,
        resident=resident,
        channel=Channel.SMS,
        direction=Direction.INBOUND,
        from_address="+16135550100",
        to_address="+16135550311",
        body=HOSTILE,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=t0,
    )
    call_leg = Interaction(
        jurisdiction_id=city.id,
        case=case,
        resident=resident,
        channel=Channel.VOICE,
        direction=Direction.INBOUND,
        provider_id="CA" + "1" * 32,
        from_address="+16135550100",
        to_address="+16135550311",
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=t0 + dt.timedelta(minutes=10),
    )
    session.add_all([first, call_leg])
    session.flush()
    session.add(
        Call(
            jurisdiction_id=city.id,
            interaction_id=call_leg.id,
            call_sid="CA" + "1" * 32,
            direction=Direction.INBOUND,
            outcome=CallOutcome.ANSWERED,
            duration_seconds=95,
            recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        )
    )
    session.commit()

    response = signed_in.get(f"/console/cases/{case.id}")
    assert response.status_code == 200
    page = text(response)
    assert "<script>alert" not in page and "<b>x</b>" not in page
    assert html.escape(HOSTILE) in page
    assert page.count(html.escape(HOSTILE)) >= 3  # description, the text, the resident's name
    assert case.tracking_number in page
    assert "12 Main St" in page and "Not classified" in page
    # Oldest first: the case was created now, after the text and the call it followed.
    text_at, call_at = page.index(f'id="interaction-{first.id}"'), page.index("Call answered")
    created_at = page.index(">Created<")
    assert text_at < call_at < created_at
    assert "95 s" in page
    assert 'href="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"' in page


def test_a_recording_link_that_is_not_https_is_not_linked(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    case = factories.make_case(session, city, channel=Channel.VOICE)
    leg = Interaction(
        jurisdiction_id=city.id,
        case=case,
        channel=Channel.VOICE,
        direction=Direction.INBOUND,
        provider_id="CA" + "2" * 32,
        delivery_status=DeliveryStatus.RECEIVED,
    )
    session.add(leg)
    session.flush()
    session.add(
        Call(
            jurisdiction_id=city.id,
            interaction_id=leg.id,
            call_sid="CA" + "2" * 32,
            direction=Direction.INBOUND,
            recording_url="javascript:alert(1)",
        )
    )
    session.commit()
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert "javascript:" not in page


def test_the_resident_panel_lists_contact_points_and_other_cases_without_n_plus_one(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    resident: Resident,
    count_queries: Callable[[], Any],
) -> None:
    pothole = factories.service_type(session, city)
    case = factories.make_case(session, city, resident=resident)
    old = factories.make_case(
        session, city, resident=resident, status=CaseStatus.CLOSED, service_type=pothole
    )
    session.commit()
    with count_queries() as few:
        page = text(signed_in.get(f"/console/cases/{case.id}"))
    panel = page[page.index('<aside class="case-side"') :]
    assert "+16135550100" in panel
    assert old.tracking_number in panel and "closed" in panel and "Pothole" in panel
    assert case.tracking_number not in panel

    for _ in range(5):
        factories.make_case(session, city, resident=resident, service_type=pothole)
    session.commit()
    with count_queries() as many:
        signed_in.get(f"/console/cases/{case.id}")
    assert many.count == few.count


def test_a_reply_by_form_is_texted_to_the_resident(
    signed_in: FlaskClient,
    session: Session,
    send_sms: Any,
    twilio_http: Any,
    run_jobs: Callable[[], None],
) -> None:
    assert send_sms("Pothole at 742 Evergreen Terrace").status_code == 200
    case = fresh(session).scalars(sa.select(Case)).one()
    before = len(twilio_http.messages)
    response = post_form(
        signed_in, f"/console/cases/{case.id}/reply", {"body": "A crew is on the way."}
    )
    assert location(response) == f"/console/cases/{case.id}"
    run_jobs()
    assert len(twilio_http.messages) == before + 1
    assert twilio_http.messages[-1]["Body"] == "A crew is on the way."
    assert twilio_http.messages[-1]["To"] == "+16135550100"
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert "Reply sent to the resident." in flashes(page)
    assert "A crew is on the way." in page


def test_an_internal_note_is_recorded_and_never_sent(
    signed_in: FlaskClient,
    session: Session,
    send_sms: Any,
    twilio_http: Any,
    run_jobs: Callable[[], None],
) -> None:
    send_sms("Pothole at 742 Evergreen Terrace")
    case = fresh(session).scalars(sa.select(Case)).one()
    before = len(twilio_http.messages)
    post_form(
        signed_in,
        f"/console/cases/{case.id}/reply",
        {"body": "Resident sounds upset; <i>call</i> back", "internal": "yes"},
    )
    run_jobs()
    assert len(twilio_http.messages) == before
    notes = fresh(session).scalars(
        sa.select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.kind == "note")
    )
    assert [n.data["body"] for n in notes] == ["Resident sounds upset; <i>call</i> back"]
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert "Internal note added." in flashes(page)
    assert "Resident sounds upset; &lt;i&gt;call&lt;/i&gt; back" in page


def test_an_empty_reply_is_a_message_on_the_page(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    case = factories.make_case(session, city)
    session.commit()
    response = post_form(signed_in, f"/console/cases/{case.id}/reply", {"body": "   "})
    assert location(response) == f"/console/cases/{case.id}"
    assert "A reply needs some text." in flashes(text(signed_in.get(location(response))))


def test_the_status_form_changes_status_and_refuses_what_the_lifecycle_forbids(
    signed_in: FlaskClient, session: Session, city: Jurisdiction
) -> None:
    case = factories.make_case(session, city, channel=Channel.WALK_IN)
    session.commit()
    page = text(signed_in.get(f"/console/cases/{case.id}"))
    assert '<option value="in_progress">' in page and '<option value="new">' not in page

    post_form(signed_in, f"/console/cases/{case.id}/status", {"status": "closed", "note": "Done."})
    assert fresh(session).get_one(Case, case.id).status == CaseStatus.CLOSED
    assert "The case is now closed." in flashes(text(signed_in.get(f"/console/cases/{case.id}")))

    post_form(signed_in, f"/console/cases/{case.id}/status", {"status": "in_progress"})
    assert fresh(session).get_one(Case, case.id).status == CaseStatus.CLOSED
    messages = flashes(text(signed_in.get(f"/console/cases/{case.id}")))
    assert messages == ["A closed case cannot become in_progress."]


# ---------------------------------------------------------------------------------------------
# Jurisdictions stay apart


def test_another_jurisdictions_agent_gets_404_for_the_case_and_sees_none_of_its_offers(
    app: Flask,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    queue: Any,
    agent: Agent,
    twilio_http: Any,
) -> None:
    offer = offer_on(city, session, agent, queue=queue)
    case_id = fresh(session).get_one(WorkItem, offer.work_item_id).case_id
    outsider, _token = factories.make_agent(session, [other_city], email="bart@shelbyville.example")
    session.commit()
    stranger = app.test_client()
    assert sign_in(stranger, outsider.email).status_code == 302

    page = stranger.get(f"/console/cases/{case_id}")
    assert page.status_code == 404
    assert "<html" in text(page)  # the console's own page, not the API's JSON
    assert stranger.get("/console/cases/99999999999").status_code == 404
    assert f'id="offer-{offer.id}"' not in text(stranger.get("/console/"))
    assert stranger.get(f"/console/offers/{offer.id}").status_code == 404

    before = len(twilio_http.messages)
    for path, data in [
        (f"/console/cases/{case_id}/reply", {"body": "hello"}),
        (f"/console/cases/{case_id}/status", {"status": "closed"}),
    ]:
        assert post_form(stranger, path, data).status_code == 404
    accept = post_form(stranger, f"/console/offers/{offer.id}/accept")
    assert location(accept) == "/console/"
    fresh(session)
    assert session.get_one(Offer, offer.id).state == OfferState.PENDING
    assert session.get_one(Case, case_id).status == CaseStatus.NEW
    assert len(twilio_http.messages) == before


def test_the_index_lists_the_console(client: FlaskClient) -> None:
    assert client.get("/").get_json()["endpoints"]["console"] == "/console/"


def test_every_page_has_the_accessible_layout_the_stylesheet_and_the_script(
    client: FlaskClient, agent: Agent
) -> None:
    page = text(client.get("/console/login"))
    assert '<html lang="en">' in page
    assert 'href="#main"' in page and '<main id="main"' in page
    assert '<script src="/console/static/console.js" defer></script>' in page
    stylesheet = client.get("/console/static/console.css")
    assert stylesheet.status_code == 200 and stylesheet.mimetype == "text/css"
    stylesheet.close()
