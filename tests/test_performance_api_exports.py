"""The performance exports: one CSV row per case, per contact and per interaction of the
period, the documented columns, nothing personal, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

import pytest
from sqlalchemy.orm import Session

from contactcenter.performance.exports import (
    CASE_COLUMNS,
    CONTACT_COLUMNS,
    INTERACTION_COLUMNS,
    cases_csv,
    contacts_csv,
    interactions_csv,
)
from tests.test_performance_api_drilldown import (
    EXPECTED,
    WEEK_END,
    WEEK_START,
    History,
    build_history,
)


@pytest.fixture
def history(session: Session) -> History:
    return build_history(session)


def _rows(chunks: Iterable[str]) -> list[dict[str, str]]:
    text = "".join(chunks)
    return list(csv.DictReader(io.StringIO(text)))


def test_cases_csv_has_a_row_per_case_created_in_the_period(
    session: Session, history: History
) -> None:
    text = "".join(cases_csv(session, history.city, WEEK_START, WEEK_END, page_size=2))
    header = text.splitlines()[0].split(",")
    assert tuple(header) == CASE_COLUMNS
    rows = _rows([text])
    wanted = ("on_time", "closed_after", "breached_duplicate", "sunday_night")
    numbers = [history.cases[k].tracking_number for k in wanted]
    assert [r["tracking_number"] for r in rows] == numbers  # oldest first, across pages
    on_time = rows[0]
    assert on_time["created_at"] == "2026-11-03T10:00:00-05:00"
    assert (on_time["department_code"], on_time["service_type_code"]) == ("PW", "pothole")
    assert (on_time["hours_to_close"], on_time["closed_on_time"]) == ("23.0", "true")
    assert (on_time["satisfaction"], on_time["assigned_agent"]) == ("5", "Alex Agent")
    assert rows[2]["sla_breached"] == "true" and rows[2]["duplicate_status"] == "confirmed"
    assert rows[3]["closed_on_time"] == "" and rows[3]["hours_to_close"] == ""
    assert "613-555-0100" not in text and "Main St" not in text


def test_contacts_csv_has_a_row_per_counted_contact_with_its_target(
    session: Session, history: History
) -> None:
    rows = _rows(contacts_csv(session, history.city, WEEK_START, WEEK_END, page_size=3))
    assert tuple(rows[0]) == CONTACT_COLUMNS
    by_id = {int(r["contact_id"]): r for r in rows}
    # The rows "offered" counts: no escalation, no first response parked for its chat.
    assert set(by_id) == {history.work[k].id for k in EXPECTED["offered"]}
    late = by_id[history.work["sms_late_for_its_queue"].id]
    assert (late["queue_code"], late["target_seconds"], late["answered_in_target"]) == (
        "texts",
        "60",
        "false",
    )
    assert (late["wait_seconds"], late["handle_seconds"]) == ("90", "60")
    abandoned = by_id[history.work["chat_abandoned"].id]
    assert (abandoned["abandoned"], abandoned["answered_in_target"]) == ("true", "")
    assert by_id[history.work["sms_cancelled"].id]["abandoned"] == "false"  # not a call/chat


def test_interactions_csv_has_a_row_per_interaction_and_no_bodies_or_addresses(
    session: Session, history: History
) -> None:
    text = "".join(interactions_csv(session, history.city, WEEK_START, WEEK_END))
    rows = _rows([text])
    assert tuple(rows[0]) == INTERACTION_COLUMNS
    calls = {history.calls[k].interaction_id for k in ("self_served", "callback", "called_back")}
    assert {int(r["interaction_id"]) for r in rows} == calls
    outcomes = sorted(r["call_outcome"] for r in rows)
    assert outcomes == ["answered", "answered", "self_served"]
    callback = next(r for r in rows if r["callback_requested"] == "true")
    assert (callback["callback_requested"], callback["call_queue"]) == ("true", "phones")
    assert "+1613" not in text


def test_cells_that_look_like_formulas_are_defused(session: Session, history: History) -> None:
    department = history.departments["PW"]
    department.name = '=HYPERLINK("http://evil.example","click")'
    department.code = "+PW"
    session.commit()
    rows = _rows(cases_csv(session, history.city, WEEK_START, WEEK_END))
    on_time = rows[0]
    assert on_time["department"].startswith("'=HYPERLINK")
    assert on_time["department_code"] == "'+PW"


def test_an_empty_period_is_a_header_alone(session: Session, history: History) -> None:
    for writer, columns in (
        (cases_csv, CASE_COLUMNS),
        (contacts_csv, CONTACT_COLUMNS),
        (interactions_csv, INTERACTION_COLUMNS),
    ):
        text = "".join(
            writer(
                session, history.city, WEEK_START.replace(year=2020), WEEK_END.replace(year=2020)
            )
        )
        assert text == ",".join(columns) + "\r\n"
