"""The supervisors' wallboard (``/console/wallboard``): exact figures on a hand-built floor,
who may see it, the live ``board_changed`` event, and the supervisor's actions (presence,
reassignment), each refused across jurisdictions.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_socketio import SocketIOTestClient
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Agent, Presence, Role
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.cases.models import CaseEvent, DeliveryStatus, Interaction
from contactcenter.console.auth import session_auth
from contactcenter.console.wallboard import local_day_start, wallboard
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.routing.models import Offer, OfferState, Queue, WorkItem, WorkState
from contactcenter.routing.presence import set_presence
from contactcenter.routing.work import dispatch
from contactcenter.sla.models import CaseClock, SlaPolicy
from tests import factories
from tests.test_console import post_form, sign_in, text

_sids = itertools.count(1)


# ---------------------------------------------------------------------------------------------
# Building a floor


def work(
    session: Session,
    city: Jurisdiction,
    queue: Queue,
    now: dt.datetime,
    *,
    age: int = 0,
    state: WorkState = WorkState.WAITING,
    agent: Agent | None = None,
    channel: Channel = Channel.SMS,
) -> WorkItem:
    item = factories.make_work(
        session, city, queue, channel=channel, created_at=now - dt.timedelta(seconds=age)
    )
    item.state = state
    if agent is not None:
        item.agent_id = agent.id
        item.assigned_at = now
    session.flush()
    return item


def offer(
    session: Session, item: WorkItem, agent: Agent, now: dt.datetime, expires_in: int
) -> Offer:
    item.state = WorkState.OFFERED
    made = Offer(
        jurisdiction_id=item.jurisdiction_id,
        work_item_id=item.id,
        agent_id=agent.id,
        state=OfferState.PENDING,
        created_at=now,
        expires_at=now + dt.timedelta(seconds=expires_in),
    )
    session.add(made)
    session.flush()
    return made


def clock(
    session: Session, item: WorkItem, policy: SlaPolicy, warn_at: dt.datetime, **fields: Any
) -> None:
    assert item.case_id is not None
    session.add(
        CaseClock(
            case_id=item.case_id,
            jurisdiction_id=item.jurisdiction_id,
            policy_id=policy.id,
            first_response_warn_at=warn_at,
            first_response_due_at=warn_at + dt.timedelta(hours=1),
            **fields,
        )
    )
    session.flush()


def call(
    session: Session,
    city: Jurisdiction,
    queue: Queue | None,
    outcome: CallOutcome,
    created_at: dt.datetime,
    wait: int | None = None,
) -> None:
    sid = f"CA{next(_sids):032d}"
    leg = Interaction(
        jurisdiction_id=city.id,
        channel=Channel.VOICE,
        direction=Direction.INBOUND,
        provider_id=sid,
        delivery_status=DeliveryStatus.RECEIVED,
        created_at=created_at,
    )
    session.add(leg)
    session.flush()
    session.add(
        Call(
            jurisdiction_id=city.id,
            interaction_id=leg.id,
            call_sid=sid,
            direction=Direction.INBOUND,
            outcome=outcome,
            queue_id=queue.id if queue else None,
            wait_seconds=wait,
            created_at=created_at,
        )
    )
    session.flush()


def agent_in(
    session: Session, city: Jurisdiction, queues: list[Queue], presence: Presence, name: str
) -> Agent:
    agent, _ = factories.make_available_agent(session, city, queues, presence=presence, name=name)
    return agent


def supervisor_of(session: Session, *cities: Jurisdiction, role: Role = Role.SUPERVISOR) -> Agent:
    boss, _ = factories.make_agent(session, list(cities), role=role, name="Walter Skinner")
    session.commit()
    return boss


def signed_in_as(client: FlaskClient, agent: Agent) -> FlaskClient:
    response = sign_in(client, agent.email)
    assert response.status_code == 302, text(response)
    return client


def figure(page: str, row: str, name: str) -> str:
    """The text of one ``data-figure`` cell of a row (by the row's id) on the page."""
    found = re.search(rf'<tr id="{row}">(.*?)</tr>', page, re.S)
    assert found, row
    cell = re.search(rf'data-figure="{name}">(.*?)</td>', found.group(1), re.S)
    assert cell, (row, name)
    return cell.group(1).strip()


@pytest.fixture
def floor(session: Session, city: Jurisdiction, other_city: Jurisdiction) -> dict[str, Any]:
    """Two queues in Springfield, work of known ages, offers, agents in every presence with
    loads, today's and yesterday's calls; and Shelbyville's own work, which must never show."""
    now = utcnow()
    general = factories.make_queue(session, city, "general", name="General")
    roads = factories.make_queue(session, city, "roads", name="Roads")
    policy = SlaPolicy(jurisdiction_id=city.id, code="std", name="Standard")
    session.add(policy)
    session.flush()
    ann = agent_in(session, city, [general], Presence.AVAILABLE, "Ann")
    bob = agent_in(session, city, [general, roads], Presence.BUSY, "Bob")
    cat = agent_in(session, city, [roads], Presence.AWAY, "Cat")
    dan = agent_in(session, city, [general], Presence.OFFLINE, "Dan")

    oldest = work(session, city, general, now, age=300)
    clock(session, oldest, policy, now - dt.timedelta(minutes=1))  # past its warning
    young = work(session, city, general, now, age=60)
    clock(session, young, policy, now + dt.timedelta(minutes=5))  # not yet
    paused = work(session, city, general, now, age=90)
    clock(session, paused, policy, now - dt.timedelta(minutes=1), paused_at=now)  # on hold
    work(session, city, roads, now, age=30)
    offer(session, work(session, city, general, now, age=10), ann, now, expires_in=10)
    offer(session, work(session, city, general, now, age=5), ann, now, expires_in=45)
    offer(session, work(session, city, roads, now, age=5), cat, now, expires_in=120)
    offer(session, work(session, city, roads, now, age=5), cat, now, expires_in=-5)  # lapsed
    for _ in range(2):
        work(session, city, general, now, state=WorkState.ASSIGNED, agent=bob)
    held = work(
        session, city, roads, now, state=WorkState.ASSIGNED, agent=bob, channel=Channel.WEBCHAT
    )
    work(session, city, general, now, state=WorkState.COMPLETED, agent=ann)

    _day, midnight = local_day_start(city, now)
    call(session, city, general, CallOutcome.ANSWERED, now, wait=12)
    call(session, city, general, CallOutcome.ANSWERED, now, wait=20)
    call(session, city, roads, CallOutcome.ANSWERED, now, wait=45)
    call(session, city, roads, CallOutcome.ABANDONED, now, wait=70)
    call(session, city, general, CallOutcome.ABANDONED, midnight - dt.timedelta(hours=1))
    call(session, city, None, CallOutcome.HUNG_UP, now)

    theirs = factories.make_queue(session, other_city, "general", name="Theirs")
    stranger = agent_in(session, other_city, [theirs], Presence.AVAILABLE, "Stranger")
    foreign = work(session, other_city, theirs, now, state=WorkState.ASSIGNED, agent=stranger)
    work(session, other_city, theirs, now, age=999)
    call(session, other_city, theirs, CallOutcome.ABANDONED, now)
    session.commit()
    return {
        "now": now,
        "general": general,
        "roads": roads,
        "agents": {"ann": ann, "bob": bob, "cat": cat, "dan": dan},
        "held": held,
        "stranger": stranger,
        "foreign": foreign,
    }


# ---------------------------------------------------------------------------------------------
# The figures


def test_the_board_counts_exactly_what_waits_is_offered_held_and_was_answered_today(
    session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    board = wallboard(session, city, floor["now"])

    by_name = {q.name: q for q in board.queues}
    assert list(by_name) == ["General", "Roads"]
    general, roads = by_name["General"], by_name["Roads"]
    assert (general.waiting, general.longest_wait_seconds) == (3, 300)
    assert (roads.waiting, roads.longest_wait_seconds) == (1, 30)
    assert (general.offers_pending, general.offers_expiring) == (2, 1)
    assert (roads.offers_pending, roads.offers_expiring) == (1, 0)  # the lapsed one is gone
    assert (general.sla_at_risk, roads.sla_at_risk) == (1, 0)
    assert general.presence == {
        Presence.AVAILABLE: 1,
        Presence.BUSY: 1,
        Presence.AWAY: 0,
        Presence.OFFLINE: 1,
    }
    assert roads.presence == {
        Presence.AVAILABLE: 0,
        Presence.BUSY: 1,
        Presence.AWAY: 1,
        Presence.OFFLINE: 0,
    }
    loads = {a.name: a.load for a in board.agents}
    assert loads == {"Ann": {}, "Bob": {"sms": 2, "webchat": 1}, "Cat": {}, "Dan": {}}
    assert {a.name: a.presence for a in board.agents}["Cat"] == Presence.AWAY
    assert len(board.assigned) == 3
    assert (general.answered, general.answered_in_target, general.abandoned) == (2, 2, 0)
    assert (roads.answered, roads.answered_in_target, roads.abandoned) == (1, 0, 1)
    assert (general.service_level, roads.service_level) == (100, 0)
    today = board.today
    assert (today.answered, today.answered_in_target, today.abandoned) == (3, 2, 1)
    assert today.service_level == 50  # 2 within 20 s of 4 answered or abandoned
    assert today.target_seconds == 20


def test_the_board_takes_the_same_few_queries_however_many_queues_agents_and_items(
    session: Session, city: Jurisdiction, floor: dict[str, Any], count_queries: Callable[[], Any]
) -> None:
    with count_queries() as small:
        wallboard(session, city, floor["now"])
    now = floor["now"]
    for n in range(5):
        queue = factories.make_queue(session, city, f"extra{n}")
        helper = agent_in(session, city, [queue], Presence.BUSY, f"Extra {n}")
        work(session, city, queue, now, age=n)
        work(session, city, queue, now, state=WorkState.ASSIGNED, agent=helper)
        call(session, city, queue, CallOutcome.ANSWERED, now, wait=n)
    session.commit()
    with count_queries() as large:
        wallboard(session, city, now)

    assert len(large.statements) == len(small.statements) <= 8


# ---------------------------------------------------------------------------------------------
# The page: who sees it


def test_a_supervisor_reads_the_figures_as_text_in_captioned_tables(
    client: FlaskClient, session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    boss = supervisor_of(session, city)
    page = text(signed_in_as(client, boss).get("/console/wallboard"))

    general = f"queue-{floor['general'].id}"
    assert figure(page, general, "waiting") == "3"
    assert figure(page, general, "longest-wait") == "5 min"
    assert figure(page, general, "offers-expiring") == "1"
    assert figure(page, general, "service-level") == "100 %"
    assert figure(page, "today", "service-level").startswith("50 %")
    assert "<caption>" in page and 'scope="col"' in page and 'scope="row"' in page
    assert "20 s is used for every queue" in page
    assert figure(page, f"agent-{floor['agents']['bob'].id}", "load") == "sms: 2, webchat: 1"
    assert "Theirs" not in page and "Stranger" not in page
    assert 'id="board"' in page and "wallboard.js" in page
    fragment = text(client.get("/console/wallboard/board"))
    assert 'id="board"' not in fragment and figure(fragment, general, "waiting") == "3"


def test_an_admin_sees_the_board_and_an_agent_is_refused(
    client: FlaskClient, app: Flask, session: Session, city: Jurisdiction
) -> None:
    admin = supervisor_of(session, city, role=Role.ADMIN)
    assert signed_in_as(client, admin).get("/console/wallboard").status_code == 200
    agent, _ = factories.make_agent(session, [city])
    session.commit()
    other = app.test_client()
    signed_in_as(other, agent)
    assert other.get("/console/wallboard").status_code == 403
    assert other.get("/console/wallboard/board").status_code == 403


def test_another_jurisdictions_supervisor_gets_not_found_and_sees_nothing(
    client: FlaskClient,
    session: Session,
    city: Jurisdiction,
    other_city: Jurisdiction,
    floor: dict[str, Any],
) -> None:
    theirs = supervisor_of(session, other_city)
    signed_in_as(client, theirs)

    assert client.get(f"/console/wallboard?jurisdiction={city.slug}").status_code == 404
    assert client.get(f"/console/wallboard/board?jurisdiction={city.slug}").status_code == 404
    page = text(client.get("/console/wallboard"))
    assert "Shelbyville" in page and "General" not in page and "Bob" not in page


def test_a_supervisor_of_several_jurisdictions_picks_one(
    client: FlaskClient, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    boss = supervisor_of(session, city, other_city)
    signed_in_as(client, boss)

    page = text(client.get("/console/wallboard"))
    assert "/console/wallboard?jurisdiction=shelbyville" in page
    chosen = text(client.get("/console/wallboard?jurisdiction=shelbyville"))
    assert "Wallboard: Shelbyville" in chosen


# ---------------------------------------------------------------------------------------------
# Actions


def test_a_supervisor_sets_an_agents_presence_and_it_is_recorded_as_theirs(
    client: FlaskClient, session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    boss = supervisor_of(session, city)
    dan = floor["agents"]["dan"]
    signed_in_as(client, boss)

    response = post_form(
        client,
        f"/console/wallboard/agents/{dan.id}/presence",
        {"presence": "away", "jurisdiction": city.slug},
    )

    assert response.status_code == 302
    session.expire_all()
    assert session.get_one(Agent, dan.id).presence == Presence.AWAY
    assert "Dan is now away." in text(client.get("/console/wallboard"))


def test_a_supervisor_cannot_set_presence_of_another_jurisdictions_agent(
    client: FlaskClient, session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    boss = supervisor_of(session, city)
    stranger = floor["stranger"]
    signed_in_as(client, boss)

    response = post_form(
        client,
        f"/console/wallboard/agents/{stranger.id}/presence",
        {"presence": "offline", "jurisdiction": city.slug},
    )

    assert response.status_code == 404
    session.expire_all()
    assert session.get_one(Agent, stranger.id).presence == Presence.AVAILABLE


def test_a_supervisor_reassigns_work_and_the_case_records_it(
    client: FlaskClient, session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    boss = supervisor_of(session, city)
    held, ann = floor["held"], floor["agents"]["ann"]
    signed_in_as(client, boss)

    response = post_form(
        client,
        f"/console/wallboard/work/{held.id}/reassign",
        {"agent_id": str(ann.id), "jurisdiction": city.slug},
    )

    assert response.status_code == 302
    session.expire_all()
    item = session.get_one(WorkItem, held.id)
    assert (item.agent_id, item.state) == (ann.id, WorkState.ASSIGNED)
    assert item.case is not None and item.case.assigned_agent_id == ann.id
    event = session.scalars(
        sa.select(CaseEvent).where(
            CaseEvent.case_id == item.case_id, CaseEvent.kind == "reassigned"
        )
    ).one()
    assert event.data["to_agent_id"] == ann.id
    assert event.data["from_agent_id"] == floor["agents"]["bob"].id


def test_reassigning_is_refused_to_an_agent_or_for_work_of_another_jurisdiction(
    client: FlaskClient, session: Session, city: Jurisdiction, floor: dict[str, Any]
) -> None:
    boss = supervisor_of(session, city)
    held, stranger, foreign = floor["held"], floor["stranger"], floor["foreign"]
    bob = floor["agents"]["bob"]
    signed_in_as(client, boss)

    refused = post_form(
        client,
        f"/console/wallboard/work/{held.id}/reassign",
        {"agent_id": str(stranger.id), "jurisdiction": city.slug},
    )
    assert refused.status_code == 302
    assert "Choose an agent of this jurisdiction." in text(client.get("/console/wallboard"))
    not_ours = post_form(
        client,
        f"/console/wallboard/work/{foreign.id}/reassign",
        {"agent_id": str(bob.id), "jurisdiction": city.slug},
    )
    assert not_ours.status_code == 404
    session.expire_all()
    assert session.get_one(WorkItem, held.id).agent_id == bob.id
    assert session.get_one(WorkItem, foreign.id).agent_id == stranger.id


# ---------------------------------------------------------------------------------------------
# Live: board_changed on the supervisors' sockets


def socket_of(rt_app: Flask, agent: Agent) -> SocketIOTestClient:
    browser = rt_app.test_client()
    with rt_app.app_context():
        auth = session_auth(agent)
    with browser.session_transaction() as cookie:
        cookie["agent_id"] = agent.id
        cookie["auth"] = auth
    socket = realtime.socketio.test_client(rt_app, flask_test_client=browser)
    assert socket.is_connected()
    return socket


def board_events(socket: SocketIOTestClient) -> list[Any]:
    return [m["args"][0] for m in socket.get_received() if m["name"] == "board_changed"]


def test_board_changed_reaches_only_this_jurisdictions_supervisors(
    rt_app: Flask, session: Session, city: Jurisdiction, other_city: Jurisdiction
) -> None:
    queue = factories.make_queue(session, city)
    ours = supervisor_of(session, city)
    theirs = supervisor_of(session, other_city)
    agent, _ = factories.make_available_agent(session, city, [queue], presence=Presence.AWAY)
    session.commit()
    our_socket, their_socket, agent_socket = (socket_of(rt_app, a) for a in (ours, theirs, agent))

    with rt_app.app_context():
        set_presence(session, agent, Presence.AVAILABLE)
        session.commit()
    assert board_events(our_socket) == [{"jurisdiction_id": city.id}]

    with rt_app.app_context():
        factories.make_work(session, city, queue)
        session.commit()
        board_events(our_socket)
        offers = dispatch(session, city.id)
        session.commit()
    assert offers
    assert board_events(our_socket) == [{"jurisdiction_id": city.id}]  # once per commit
    assert board_events(their_socket) == []
    assert board_events(agent_socket) == []


def test_nothing_is_announced_to_supervisors_for_a_change_rolled_back(
    rt_app: Flask, session: Session, city: Jurisdiction
) -> None:
    ours = supervisor_of(session, city)
    agent, _ = factories.make_agent(session, [city])
    session.commit()
    socket = socket_of(rt_app, ours)

    with rt_app.app_context():
        set_presence(session, agent, Presence.BUSY)
        session.rollback()

    assert board_events(socket) == []
