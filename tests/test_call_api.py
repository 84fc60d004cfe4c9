"""The calls API (``/api/v1/calls``): supervisors list a jurisdiction's calls and read its
figures, any staff member of the call's jurisdiction reads one call, and a case shows its calls.

The calls are real: each is walked through the demo city's IVR by the ``dial`` fixture. Only
volume (the query-count and page-size tests) is recorded with the call service directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from contactcenter.agents.models import Role
from contactcenter.calls.models import Call, CallOutcome
from contactcenter.calls.service import start_call
from contactcenter.cases.models import Case, Incident, IncidentStatus
from contactcenter.jurisdictions.models import Jurisdiction
from ivr.simulator import CallWalker
from tests import factories
from tests.conftest import VoiceCity
from tests.twilio_http import CapturingHttpClient

API = "/api/v1"
Dial = Callable[..., CallWalker]
Calls = dict[str, int]
"""Call ids by what happened on the call."""

# Each caller has their own number: a number that called before is greeted in its language
# and skips the language menu, which would shift every key after it.
CALLERS = {
    "answered": "+16135550101",
    "abandoned": "+16135550102",
    "self_served": "+16135550103",
    "case_opened": "+16135550104",
    "voicemail": "+16135550105",
    "callback": "+16135550106",
}
REPORT_A_POTHOLE = ("1", "1", "1", "deep pothole by the school", "12 Main Street", "")
"""English, report a problem, a pothole, what it is, where it is, then silence."""
_numbers = itertools.count(200)


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(response: TestResponse, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    error: dict[str, Any] = response.get_json()["error"]
    assert error["code"] == code, error
    assert error["message"]
    return error


def new_number() -> str:
    return f"+1613555{next(_numbers):04d}"


def call_id(session: Session, walker: CallWalker) -> int:
    session.expire_all()
    found = session.scalar(sa.select(Call.id).where(Call.call_sid == walker.call_sid))
    assert found is not None
    return found


def answered_call(dial: Dial, voice_city: VoiceCity, twilio_http: CapturingHttpClient) -> str:
    """A caller asks for an agent, waits three rounds (90 s), the agent talks with them 60 s."""
    walker = dial("1", "0", from_=CALLERS["answered"])
    walker.call()
    voice_city.available_agent_takes_offer()
    voice_city.run_jobs()
    [(_sid, update)] = twilio_http.call_updates
    walker.resume(update["Url"])
    return walker.call_sid


def get(client: FlaskClient, path: str, token: str) -> dict[str, Any]:
    response = client.get(f"{API}{path}", headers=auth(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    body: dict[str, Any] = response.get_json()
    return body


def listed(client: FlaskClient, token: str, query: str = "") -> list[int]:
    return [c["id"] for c in get(client, f"/calls{query}", token)["data"]]


def move(session: Session, ids: dict[int, dt.datetime]) -> None:
    """Set when calls were made: walked calls are all made within the same second."""
    for id_, at in ids.items():
        session.get_one(Call, id_).created_at = at
    session.commit()


def record_call(
    session: Session, city_id: int, *, queue_id: int | None = None, case: Case | None = None
) -> Call:
    """A finished call recorded through the call service, without walking the menu."""
    call = start_call(
        session,
        jurisdiction_id=city_id,
        call_sid=f"CA{next(_numbers):032d}",
        from_number=new_number(),
        to_number="+16135550311",
        menu_id=None,
    ).call
    call.queue_id = queue_id
    call.outcome = CallOutcome.ABANDONED if queue_id else CallOutcome.HUNG_UP
    call.interaction.case = case
    session.flush()
    return call


@pytest.fixture
def calls(
    dial: Dial, session: Session, voice_city: VoiceCity, twilio_http: CapturingHttpClient
) -> Calls:
    """One call of each kind, in this order (the agent answers first: once it is available,
    it would otherwise be offered the cases the later calls open)."""
    sids = {"answered": answered_call(dial, voice_city, twilio_http)}
    walkers = {
        "abandoned": dial("1", "0", "!hangup", from_=CALLERS["abandoned"]),
        "self_served": dial("1", "3", "1", "!hangup", from_=CALLERS["self_served"]),
        "case_opened": dial(*REPORT_A_POTHOLE, from_=CALLERS["case_opened"]),
        "voicemail": dial("1", "4", "the streetlight on Elm is out", from_=CALLERS["voicemail"]),
        "callback": dial("1", "0", "1", queue_wait_rounds=6, from_=CALLERS["callback"]),
    }
    for name, walker in walkers.items():
        walker.call()
        sids[name] = walker.call_sid
    walkers["voicemail"].deliver_transcriptions()
    session.expire_all()
    ids = {sid: id_ for id_, sid in session.execute(sa.select(Call.id, Call.call_sid))}
    return {name: ids[sid] for name, sid in sids.items()}


@pytest.fixture
def agent_token(session: Session, voice_city: VoiceCity) -> str:
    """A plain agent of the demo city (the demo city's own agent is a supervisor)."""
    city = session.get_one(Jurisdiction, voice_city.id)
    _agent, token = factories.make_agent(session, [city])
    session.commit()
    return token


@pytest.fixture
def other_city(session: Session, voice_city: VoiceCity) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="shelbyville", name="Shelbyville")
    session.commit()
    return city


# ---------------------------------------------------------------------------------------------
# The list


def test_supervisor_lists_the_calls_newest_first_with_what_happened_on_each(
    client: FlaskClient, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    body = get(client, "/calls", voice_city.token)
    rows = {row["id"]: row for row in body["data"]}
    assert list(rows) == [calls[name] for name in reversed(list(calls))]
    assert (body["limit"], body["next_cursor"]) == (50, None)
    assert {row["from"] for row in rows.values()} == set(CALLERS.values())
    assert all(
        (r["direction"], r["status"], r["language"], r["jurisdiction"], r["to"])
        == ("inbound", "completed", "en", "demo", voice_city.number)
        for r in rows.values()
    )
    assert all(r["duration_seconds"] > 0 and r["ended_at"] for r in rows.values())
    assert all("transcription" not in r for r in rows.values())

    answered = rows[calls["answered"]]
    assert answered["outcome"] == "answered"
    assert (answered["queue"], answered["agent_id"]) == ("general", voice_city.agent_id)
    assert (answered["wait_seconds"], answered["talk_seconds"]) == (90, 60)
    assert answered["queued_at"] and answered["answered_at"]
    assert answered["menu_path"] == ["welcome", "main", "agent"]

    abandoned = rows[calls["abandoned"]]
    assert (abandoned["outcome"], abandoned["queue"], abandoned["wait_seconds"]) == (
        "abandoned",
        "general",
        30,
    )
    assert (abandoned["agent_id"], abandoned["answered_at"], abandoned["talk_seconds"]) == (
        None,
        None,
        None,
    )

    self_served = rows[calls["self_served"]]
    assert self_served["outcome"] == "self_served"
    assert self_served["menu_path"][:4] == ["welcome", "main", "info", "collection"]
    assert (self_served["queue"], self_served["case"], self_served["callback"]) == (
        None,
        None,
        None,
    )

    case = session.scalars(sa.select(Case).where(Case.description.like("deep pothole%"))).one()
    case_opened = rows[calls["case_opened"]]
    assert case_opened["outcome"] == "case_opened"
    assert case_opened["case"] == {"id": case.id, "tracking_number": case.tracking_number}
    assert case_opened["resident_id"] == case.resident_id is not None

    voicemail = rows[calls["voicemail"]]
    assert voicemail["outcome"] == "voicemail"
    assert voicemail["recording_url"].startswith("https://api.twilio.com/")
    assert voicemail["recording_seconds"] > 0
    assert voicemail["transcription_status"] == "completed"
    assert voicemail["case"]["tracking_number"]

    callback = rows[calls["callback"]]
    assert callback["outcome"] == "callback"
    assert callback["callback"]["number"] == CALLERS["callback"]
    assert callback["callback"]["attempts"] == 0
    assert callback["callback"]["requested_at"] >= callback["queued_at"]
    assert callback["parent_call_id"] is None


def test_an_admin_lists_the_calls_too(
    client: FlaskClient, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    city = session.get_one(Jurisdiction, voice_city.id)
    _admin, token = factories.make_agent(session, [city], role=Role.ADMIN)
    session.commit()
    assert len(listed(client, token)) == len(calls)
    assert get(client, "/calls/summary", token)["data"]["total"] == len(calls)


def test_list_filters_by_outcome_and_queue(
    client: FlaskClient, voice_city: VoiceCity, calls: Calls
) -> None:
    token = voice_city.token
    assert listed(client, token, "?outcome=abandoned") == [calls["abandoned"]]
    assert listed(client, token, "?outcome=voicemail") == [calls["voicemail"]]
    assert listed(client, token, "?outcome=in_queue") == []
    assert listed(client, token, "?queue=general") == [
        calls["callback"],
        calls["abandoned"],
        calls["answered"],
    ]
    assert listed(client, token, "?queue=general&outcome=answered") == [calls["answered"]]
    assert listed(client, token, "?queue=streets") == []
    assert listed(client, token, "?jurisdiction=demo&outcome=self_served") == [calls["self_served"]]


def test_list_filters_by_period_since_inclusive_until_exclusive(
    client: FlaskClient, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    noon = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)  # 12:00 in Toronto
    minute = dt.timedelta(minutes=1)
    order = list(calls.values())
    move(session, {id_: noon + n * minute for n, id_ in enumerate(order)})
    token = voice_city.token

    expected = [order[3], order[2]]
    assert listed(client, token, "?since=2026-11-02T17:02:00Z&until=2026-11-02T17:04:00Z") == (
        expected
    )
    # The same instants, in other spellings.
    assert listed(client, token, "?since=2026-11-02T12:02:00-05:00&until=2026-11-02T17:04Z") == (
        expected
    )
    assert listed(client, token, "?since=2026-11-02T18:02:00%2B01:00&until=2026-11-02T17:04Z") == (
        expected
    )
    # "+01:00" not URL-encoded arrives as " 01:00"; it still means +01:00.
    assert listed(client, token, "?since=2026-11-02T18:02:00+01:00&until=2026-11-02T17:04Z") == (
        expected
    )
    # Without a zone: the city's wall clock (Toronto, UTC-5 in November).
    assert listed(client, token, "?since=2026-11-02T12:02&until=2026-11-02T12:04") == expected
    assert listed(client, token, "?since=2026-11-02T12:05") == [order[5]]
    assert listed(client, token, "?until=2026-11-02T12:01") == [order[0]]
    assert listed(client, token, "?since=2026-11-03") == []
    assert len(listed(client, token, "?since=2026-11-02")) == len(calls)


def test_cursor_pages_through_every_call_once_even_when_calls_arrive_between_pages(
    client: FlaskClient, dial: Dial, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    # Three calls at the same instant: the order among them is by id.
    same = dt.datetime(2026, 11, 2, 17, 0, tzinfo=dt.UTC)
    order = list(calls.values())
    move(session, {id_: same + dt.timedelta(seconds=n // 3) for n, id_ in enumerate(order)})
    newest_first = order[5:2:-1] + order[2::-1]
    token = voice_city.token

    first = get(client, "/calls?limit=2", token)
    dial("1", "3", "1", "!hangup", from_=new_number()).call()  # newer than every page
    pages = [[c["id"] for c in first["data"]]]
    cursor = first["next_cursor"]
    while cursor is not None:
        body = get(client, f"/calls?limit=2&cursor={cursor}", token)
        assert body["limit"] == 2
        pages.append([c["id"] for c in body["data"]])
        cursor = body["next_cursor"]
    assert pages == [newest_first[0:2], newest_first[2:4], newest_first[4:6]]

    # A filtered list pages the same way.
    first = get(client, "/calls?queue=general&limit=1", token)
    second = get(client, f"/calls?queue=general&limit=1&cursor={first['next_cursor']}", token)
    assert [first["data"][0]["id"], second["data"][0]["id"]] == [
        calls["callback"],
        calls["abandoned"],
    ]


def test_list_pages_are_50_calls_by_default_and_at_most_200(
    client: FlaskClient, session: Session, voice_city: VoiceCity
) -> None:
    for _ in range(201):
        record_call(session, voice_city.id)
    session.commit()
    token = voice_city.token
    body = get(client, "/calls", token)
    assert (body["limit"], len(body["data"])) == (50, 50)
    assert body["next_cursor"]
    for limit in (200, 201, 5000):
        body = get(client, f"/calls?limit={limit}", token)
        assert (body["limit"], len(body["data"])) == (200, 200)
    rest = get(client, f"/calls?limit=200&cursor={body['next_cursor']}", token)
    assert (len(rest["data"]), rest["next_cursor"]) == (1, None)


def test_listing_30_calls_costs_the_same_number_of_queries_as_listing_3(
    client: FlaskClient,
    session: Session,
    voice_city: VoiceCity,
    count_queries: Callable[[], Any],
) -> None:
    city = session.get_one(Jurisdiction, voice_city.id)
    serial = itertools.count(1)

    def add_calls(count: int) -> None:
        # Every call has its own queue, case and resident, so anything loaded per row would
        # show up as extra queries.
        for _ in range(count):
            n = next(serial)
            queue = factories.make_queue(session, city, code=f"q{n}")
            case = factories.make_case(session, city)
            record_call(session, city.id, queue_id=queue.id, case=case)
        session.commit()

    def queries_to_list(expected: int) -> int:
        with count_queries() as counter:
            body = get(client, "/calls?limit=200", voice_city.token)
        assert len(body["data"]) == expected
        assert all(row["queue"] and row["case"]["tracking_number"] for row in body["data"])
        count: int = counter.count
        return count

    add_calls(3)
    small = queries_to_list(3)
    add_calls(27)
    large = queries_to_list(30)
    assert large == small, f"{small} queries for 3 calls but {large} for 30"


# ---------------------------------------------------------------------------------------------
# Who sees what


def test_an_agent_may_not_list_calls_or_read_the_summary(
    client: FlaskClient, voice_city: VoiceCity, calls: Calls, agent_token: str
) -> None:
    for path in ("/calls", "/calls?jurisdiction=demo", "/calls/summary"):
        assert_error(client.get(f"{API}{path}", headers=auth(agent_token)), 403, "role_required")


def test_an_agent_reads_a_call_of_their_jurisdiction(
    client: FlaskClient, voice_city: VoiceCity, calls: Calls, agent_token: str
) -> None:
    data = get(client, f"/calls/{calls['case_opened']}", agent_token)["data"]
    assert (data["id"], data["outcome"]) == (calls["case_opened"], "case_opened")
    assert data["from"] == CALLERS["case_opened"]
    assert data["transcription"] == "deep pothole by the school"


def test_another_jurisdictions_staff_get_404_for_its_calls_and_see_none_of_them(
    client: FlaskClient,
    session: Session,
    voice_city: VoiceCity,
    calls: Calls,
    other_city: Jurisdiction,
) -> None:
    _agent, agent = factories.make_agent(session, [other_city])
    _supervisor, supervisor = factories.make_agent(session, [other_city], role=Role.SUPERVISOR)
    session.commit()
    missing = max(calls.values()) + 1000
    for token in (agent, supervisor):
        for id_ in (*calls.values(), missing):
            error = assert_error(
                client.get(f"{API}/calls/{id_}", headers=auth(token)), 404, "call_not_found"
            )
            assert error["message"] == f"No call {id_}."
    for path in ("/calls?jurisdiction=demo", "/calls/summary?jurisdiction=demo"):
        response = client.get(f"{API}{path}", headers=auth(supervisor))
        assert_error(response, 404, "jurisdiction_not_found")
        assert CALLERS["answered"] not in response.get_data(as_text=True)
        assert_error(client.get(f"{API}{path}", headers=auth(agent)), 403, "role_required")
    # Their own jurisdiction's list and figures hold none of the demo city's calls.
    assert listed(client, supervisor) == []
    assert get(client, "/calls/summary", supervisor)["data"]["total"] == 0


def test_a_supervisor_of_two_jurisdictions_names_the_one_to_list(
    client: FlaskClient,
    session: Session,
    voice_city: VoiceCity,
    calls: Calls,
    other_city: Jurisdiction,
) -> None:
    city = session.get_one(Jurisdiction, voice_city.id)
    _supervisor, token = factories.make_agent(session, [city, other_city], role=Role.SUPERVISOR)
    session.commit()
    error = assert_error(
        client.get(f"{API}/calls", headers=auth(token)), 400, "jurisdiction_required"
    )
    assert "jurisdiction" in error["fields"]
    assert len(listed(client, token, "?jurisdiction=demo")) == len(calls)
    assert listed(client, token, "?jurisdiction=shelbyville") == []
    assert get(client, f"/calls/{calls['abandoned']}", token)["data"]["outcome"] == "abandoned"


# ---------------------------------------------------------------------------------------------
# One call


def test_call_detail_has_the_list_fields_and_the_voicemails_transcription(
    client: FlaskClient, voice_city: VoiceCity, calls: Calls
) -> None:
    token = voice_city.token
    listed_row = next(
        row for row in get(client, "/calls", token)["data"] if row["id"] == calls["voicemail"]
    )
    data = get(client, f"/calls/{calls['voicemail']}", token)["data"]
    assert data == {**listed_row, "transcription": "the streetlight on Elm is out"}
    assert get(client, f"/calls/{calls['abandoned']}", token)["data"]["transcription"] is None


@pytest.mark.parametrize("id_", ["0", "2147483648", "99999999999999999999"])
def test_call_id_out_of_range_is_404_not_500(
    client: FlaskClient, voice_city: VoiceCity, id_: str
) -> None:
    assert_error(
        client.get(f"{API}/calls/{id_}", headers=voice_city.headers), 404, "call_not_found"
    )


def test_a_case_shows_the_call_on_each_voice_interaction(
    client: FlaskClient, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    token = voice_city.token
    call = get(client, f"/calls/{calls['voicemail']}", token)["data"]
    case = get(client, f"/cases/{call['case']['id']}", token)["data"]
    [interaction] = case["interactions"]
    assert interaction["id"] == call["interaction_id"]
    assert interaction["call"] == {
        "id": call["id"],
        "outcome": "voicemail",
        "duration_seconds": call["duration_seconds"],
        "wait_seconds": None,
        "recording_url": call["recording_url"],
    }


def test_a_case_reads_all_its_calls_in_one_query(
    client: FlaskClient,
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    open_case: Callable[..., Case],
    count_queries: Callable[[], Any],
) -> None:
    case = open_case()
    incident = Incident(
        jurisdiction_id=voice_city.id,
        status=IncidentStatus.ACTIVE,
        announcement="We know about the water main break on Main Street.",
        latitude=45.0,
        longitude=-75.0,
        radius_m=250,
    )
    session.add(incident)
    session.flush()
    case.incident_id = incident.id
    session.commit()

    def callers_join(count: int) -> list[int]:
        walkers = [dial("1", "9", from_=new_number()) for _ in range(count)]
        for walker in walkers:
            walker.call()
        return [call_id(session, walker) for walker in walkers]

    def queries_to_show(expected: list[int]) -> int:
        with count_queries() as counter:
            data = get(client, f"/cases/{case.id}", voice_city.token)["data"]
        shown = [i["call"]["id"] for i in data["interactions"] if i["call"] is not None]
        assert shown == expected
        assert {i["call"]["outcome"] for i in data["interactions"]} == {"incident_joined"}
        count: int = counter.count
        return count

    first = callers_join(1)
    one = queries_to_show(first)
    three = queries_to_show(first + callers_join(2))
    assert one == three, f"{one} queries for a case with 1 call but {three} with 3"


# ---------------------------------------------------------------------------------------------
# The summary


def test_summary_counts_the_last_24_hours_by_outcome_with_abandoned_rate_and_waits(
    client: FlaskClient, dial: Dial, session: Session, voice_city: VoiceCity, calls: Calls
) -> None:
    # A second abandoned call, after two rounds (60 s) in line; and one two days ago.
    second = dial("1", "0", "!wait", "!hangup", from_=new_number())
    second.call()
    old = dial("1", "0", "!hangup", from_=new_number())
    old.call()
    two_days_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    move(session, {call_id(session, old): two_days_ago})

    before = dt.datetime.now(dt.UTC)
    data = get(client, "/calls/summary", voice_city.token)["data"]
    until = dt.datetime.fromisoformat(data.pop("until"))
    since = dt.datetime.fromisoformat(data.pop("since"))
    assert before <= until <= dt.datetime.now(dt.UTC)
    assert until - since == dt.timedelta(hours=24)
    assert data == {
        "jurisdiction": "demo",
        "total": 7,
        "outbound": 0,
        "by_outcome": {
            "in_progress": 0,
            "self_served": 1,
            "case_opened": 1,
            "incident_joined": 0,
            "voicemail": 1,
            "in_queue": 0,
            "answered": 1,
            "abandoned": 2,
            "callback": 1,
            "hung_up": 0,
            "failed": 0,
        },
        "answered": 1,
        "abandoned": 2,
        "abandoned_rate": 0.6667,
        "average_wait_seconds": 90.0,
        "max_wait_seconds": 90,
        "average_talk_seconds": 60.0,
        "callbacks_requested": 1,
    }

    # A window around the old call, and one from it until now.
    def zulu(at: dt.datetime) -> str:
        return at.strftime("%Y-%m-%dT%H:%M:%SZ")

    hour = dt.timedelta(hours=1)
    window = f"?since={zulu(two_days_ago - hour)}&until={zulu(two_days_ago + hour)}"
    only_old = get(client, f"/calls/summary{window}", voice_city.token)["data"]
    assert (only_old["total"], only_old["abandoned"], only_old["abandoned_rate"]) == (1, 1, 1.0)
    assert (only_old["answered"], only_old["average_wait_seconds"]) == (0, None)
    since_then = get(client, f"/calls/summary?since={zulu(two_days_ago - hour)}", voice_city.token)
    assert since_then["data"]["total"] == 8


def test_summary_counts_a_returned_call_once_and_its_callback_leg_as_outbound(
    client: FlaskClient,
    dial: Dial,
    session: Session,
    voice_city: VoiceCity,
    twilio_http: CapturingHttpClient,
    office: Callable[[bool], None],
) -> None:
    office(False)
    dial("1", "0", "5").call()  # closed: the caller asks to be called back
    office(True)
    voice_city.available_agent_takes_offer()
    voice_city.run_jobs()
    [created] = twilio_http.calls
    session.expire_all()
    child = session.scalars(sa.select(Call).where(Call.parent_call_id.is_not(None))).one()
    leg = dial(call_sid=child.call_sid, to=created["To"], from_=voice_city.number)
    leg.resume(created["Url"])

    data = get(client, "/calls/summary", voice_city.token)["data"]
    assert (data["total"], data["outbound"]) == (2, 1)
    assert data["by_outcome"]["answered"] == 2  # the call and the leg that returned it
    assert (data["answered"], data["abandoned"], data["abandoned_rate"]) == (1, 0, 0.0)
    assert data["callbacks_requested"] == 1
    assert data["average_talk_seconds"] == 60.0

    rows = get(client, "/calls", voice_city.token)["data"]
    leg_row, parent_row = rows
    assert (leg_row["direction"], leg_row["parent_call_id"]) == ("outbound", parent_row["id"])
    assert parent_row["callback"]["attempts"] == 1
    assert parent_row["outcome"] == "answered"


def test_summary_of_a_quiet_period_has_no_rate_and_no_averages(
    client: FlaskClient, voice_city: VoiceCity
) -> None:
    data = get(client, "/calls/summary", voice_city.token)["data"]
    assert (data["total"], data["answered"], data["abandoned"]) == (0, 0, 0)
    assert data["abandoned_rate"] is None
    assert data["average_wait_seconds"] is data["max_wait_seconds"] is None
    assert data["average_talk_seconds"] is None
    assert set(data["by_outcome"]) == {str(outcome) for outcome in CallOutcome}


# ---------------------------------------------------------------------------------------------
# Bad parameters


def _cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("outcome=bogus", "outcome"),
        ("outcome=ANSWERED", "outcome"),
        ("queue=nope", "queue"),
        ("queue=not%20a%20code", "queue"),
        ("queue=" + "q" * 33, "queue"),
        ("limit=0", "limit"),
        ("limit=-1", "limit"),
        ("limit=ten", "limit"),
        ("limit=1.5", "limit"),
        ("since=yesterday", "since"),
        ("until=2026-13-01", "until"),
        ("since=2026-11-02T25:00", "since"),
        ("since=9999-12-31T23:00", "since"),
        ("since=2026-11-03&until=2026-11-02", "until"),
        ("since=2026-11-02&until=2026-11-02", "until"),
        ("cursor=garbage", "cursor"),
        ("cursor=" + _cursor("2026-11-02T17:00:00|7"), "cursor"),
        ("cursor=" + _cursor("2026-11-02T17:00:00+00:00|x"), "cursor"),
        ("cursor=" + _cursor("2026-11-02T17:00:00+00:00|0"), "cursor"),
        ("cursor=%FF%FE", "cursor"),
        ("sort=created_at", "sort"),
        ("jurisdiction_id=1", "jurisdiction_id"),
    ],
)
def test_bad_list_parameter_gets_400_naming_it(
    client: FlaskClient, voice_city: VoiceCity, query: str, field: str
) -> None:
    response = client.get(f"{API}/calls?{query}", headers=voice_city.headers)
    error = assert_error(response, 400, "invalid_fields")
    assert field in error["fields"]
    assert field in error["message"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=last%20week", "since"),
        ("until=2026-11-02T17:00:00%2B25:00", "until"),
        ("since=2026-11-03T00:00Z&until=2026-11-02T00:00Z", "until"),
        ("outcome=answered", "outcome"),
    ],
)
def test_bad_summary_parameter_gets_400_naming_it(
    client: FlaskClient, voice_city: VoiceCity, query: str, field: str
) -> None:
    response = client.get(f"{API}/calls/summary?{query}", headers=voice_city.headers)
    error = assert_error(response, 400, "invalid_fields")
    assert field in error["fields"]
    assert field in error["message"]
