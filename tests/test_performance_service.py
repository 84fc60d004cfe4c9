"""Service delivery figures for staff, on a small hand-built history whose every figure is
known: opened and closed on local days (across midnight and a DST change), on time, time to
close, backlog and its age, SLA breaches, a reopened case closed again, a duplicate,
satisfaction answers, an empty period, and a case moved to another department afterwards."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus, DuplicateStatus
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel
from contactcenter.performance.service_figures import ServiceReport, service_figures
from contactcenter.routing.models import District
from tests import factories
from tests.test_performance_service_rollup import assert_all_match_rebuild

UTC = dt.UTC
START, END = dt.date(2026, 3, 2), dt.date(2026, 3, 15)
NOW = dt.datetime(2026, 3, 15, 17, tzinfo=UTC)  # 13:00 in Toronto (EDT)


def utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


class History:
    """The cases of the hand-built history, by letter, with the city's catalog."""

    def __init__(self, session: Session, city: Jurisdiction) -> None:
        self.city = city
        types = {
            t.code: t
            for t in session.scalars(
                sa.select(ServiceType).where(ServiceType.jurisdiction_id == city.id)
            )
        }
        self.pothole, self.pickup = types["pothole"], types["missed-pickup"]
        departments = {
            d.code: d
            for d in session.scalars(
                sa.select(Department).where(Department.jurisdiction_id == city.id)
            )
        }
        self.pw, self.san = departments["PW"], departments["SAN"]
        self.cases: dict[str, Case] = {}

    def case(
        self,
        session: Session,
        name: str,
        *,
        created: str,
        service_type: ServiceType | None,
        department: Department | None,
        district: str | None = None,
        channel: Channel = Channel.SMS,
        due_days: float | None = None,
        **fields: Any,
    ) -> Case:
        created_at = utc(created)
        case = factories.make_case(session, self.city, channel=channel, created_at=created_at)
        case.service_type_id = None if service_type is None else service_type.id
        case.department_id = None if department is None else department.id
        case.district = district
        case.due_at = None if due_days is None else created_at + dt.timedelta(days=due_days)
        case.status = CaseStatus.OPEN
        for key, value in fields.items():
            setattr(case, key, value)
        self.cases[name] = case
        return case


@pytest.fixture
def history(app: Flask, session: Session) -> History:
    """Toronto; the period is 2 to 15 March 2026, DST starting on Sunday 8 March."""
    city = factories.make_jurisdiction(session, slug="service-city")
    session.commit()
    h = History(session, city)
    resolved = CaseStatus.RESOLVED
    # A: opened 22:00 on 3 March, resolved 01:30 on 4 March (local): across midnight, 3.5 h.
    h.case(
        session,
        "A",
        created="2026-03-04T03:00",
        service_type=h.pothole,
        department=h.pw,
        district="Ward 1",
        due_days=5,
        status=resolved,
        resolved_at=utc("2026-03-04T06:30"),
    )
    # B: opened 23:30 on 7 March (EST), resolved 23:30 on 8 March (EDT): 23 hours, not 24.
    h.case(
        session,
        "B",
        created="2026-03-08T04:30",
        service_type=h.pothole,
        department=h.pw,
        district="Ward 1",
        channel=Channel.VOICE,
        due_days=5,
        status=resolved,
        resolved_at=utc("2026-03-09T03:30"),
    )
    # C: resolved on 6 March, reopened, resolved again on 10 March (late), answered 2.
    c = h.case(
        session,
        "C",
        created="2026-03-05T15:00",
        service_type=h.pickup,
        department=h.san,
        district="Ward 2",
        channel=Channel.VOICE,
        due_days=2,
        status=resolved,
        resolved_at=utc("2026-03-06T15:00"),
    )
    session.commit()
    c.status, c.resolved_at, c.reopened_count = CaseStatus.OPEN, None, 1
    session.commit()
    c.status, c.resolved_at, c.satisfaction = resolved, utc("2026-03-10T15:00"), 2
    # D: a confirmed duplicate, closed two hours after it came in.
    h.case(
        session,
        "D",
        created="2026-03-09T14:00",
        service_type=h.pothole,
        department=h.pw,
        district="Ward 1",
        due_days=5,
        status=CaseStatus.CLOSED,
        closed_at=utc("2026-03-09T16:00"),
        duplicate_status=DuplicateStatus.CONFIRMED,
    )
    # E: open, its SLA breached.
    h.case(
        session,
        "E",
        created="2026-03-10T13:00",
        service_type=h.pickup,
        department=h.san,
        district="Ward 2",
        due_days=2,
        sla_breached=True,
    )
    # F: no target, closed after 24 hours, answered 5.
    h.case(
        session,
        "F",
        created="2026-03-11T12:00",
        service_type=h.pothole,
        department=h.pw,
        district="Ward 1",
        status=resolved,
        resolved_at=utc("2026-03-12T12:00"),
        satisfaction=5,
    )
    # G: no service type, department or district; 48 hours, late, answered 4.
    h.case(
        session,
        "G",
        created="2026-03-12T12:00",
        service_type=None,
        department=None,
        due_days=1,
        status=resolved,
        resolved_at=utc("2026-03-14T12:00"),
        satisfaction=4,
    )
    # H: open since January (the backlog's age); I: opened and closed in February.
    h.case(session, "H", created="2026-01-10T15:00", service_type=h.pothole, department=h.pw)
    h.case(
        session,
        "I",
        created="2026-02-20T15:00",
        service_type=h.pickup,
        department=h.san,
        status=resolved,
        resolved_at=utc("2026-02-27T15:00"),
        satisfaction=1,
    )
    session.commit()
    assert_all_match_rebuild(app, city.id)
    return h


def figures(session: Session, h: History, **kwargs: Any) -> ServiceReport:
    kwargs.setdefault("start", START)
    kwargs.setdefault("end", END)
    return service_figures(session, h.city, now=NOW, **kwargs)


def test_every_total_of_the_period(session: Session, history: History):
    report = figures(session, history)
    t = report.totals
    assert (t.opened, t.closed, t.closed_with_target, t.closed_on_time) == (7, 6, 5, 3)
    assert t.within_target_rate == pytest.approx(0.6)
    assert (t.sla_breached, t.reopened, t.duplicates) == (1, 1, 1)
    assert t.reopen_rate == pytest.approx(1 / 6)
    assert t.sla_breach_rate == pytest.approx(1 / 7)
    assert t.duplicate_rate == pytest.approx(1 / 7)
    assert (t.sat_responses, t.sat_score_sum, t.sat_satisfied) == (3, 11, 2)
    assert t.sat_average == pytest.approx(11 / 3)
    assert t.sat_satisfied_rate == pytest.approx(2 / 3)
    # Buckets of the six closed in March: 2 h, 3 h, 23 h, 24 h, 48 h, 5 days. Nearest rank:
    # the median is the third (23 h: under a day), the 90th percentile the sixth (5 to 6 days).
    assert t.median_days == pytest.approx(1.0)
    assert t.p90_days == pytest.approx(6.0)
    assert t.backlog == 2
    assert report.rows == []
    data = report.as_dict()
    assert data["totals"]["within_target_rate"] == 0.6
    assert data["totals"]["median_over_a_year"] is False
    assert set(data["definitions"]) >= {"opened", "closed", "backlog", "satisfaction"}


def test_days_are_local_across_midnight_and_the_dst_change(session: Session, history: History):
    trend = {day: (opened, closed) for day, opened, closed in figures(session, history).trend}
    assert len(trend) == 14 and min(trend) == START and max(trend) == END
    assert trend[dt.date(2026, 3, 3)] == (1, 0)  # A opened at 22:00 local (03:00 UTC on the 4th)
    assert trend[dt.date(2026, 3, 4)] == (0, 1)  # and resolved at 01:30 local
    assert trend[dt.date(2026, 3, 7)] == (1, 0)  # B: 23:30 EST
    assert trend[dt.date(2026, 3, 8)] == (0, 1)  # B: 23:30 EDT (03:30 UTC on the 9th)
    assert trend[dt.date(2026, 3, 9)] == (1, 1)  # D in and out
    assert sum(o for o, _ in trend.values()) == 7 and sum(c for _, c in trend.values()) == 6
    # Only B closed on the 8th; 23 hours is the first day's last hourly step (upper end: 1 day).
    one_day = figures(session, history, start=dt.date(2026, 3, 8), end=dt.date(2026, 3, 8))
    assert one_day.totals.closed == 1 and one_day.totals.opened == 0


def test_backlog_now_and_by_age(session: Session, history: History):
    report = figures(session, history)
    assert dict(report.backlog_by_age) == {
        "0-2 days": 0,
        "3-7 days": 1,  # E, opened on 10 March
        "8-30 days": 0,
        "31-90 days": 1,  # H, opened on 10 January
        "over 90 days": 0,
    }
    later = service_figures(
        session, history.city, start=START, end=END, now=dt.datetime(2026, 4, 20, tzinfo=UTC)
    )
    assert dict(later.backlog_by_age)["31-90 days"] == 1  # E, 41 days
    assert dict(later.backlog_by_age)["over 90 days"] == 1  # H, 100 days


def test_by_department(session: Session, history: History):
    report = figures(session, history, dimension="department")
    rows = {row.label: row.totals for row in report.rows}
    assert [row.label for row in report.rows] == ["Public Works", "Sanitation", "No department"]
    pw, san, none = rows["Public Works"], rows["Sanitation"], rows["No department"]
    assert (pw.opened, pw.closed, pw.closed_with_target, pw.closed_on_time) == (4, 4, 3, 3)
    assert (pw.backlog, pw.duplicates, pw.sat_responses, pw.sat_average) == (1, 1, 1, 5)
    assert pw.median_days == pytest.approx(4 / 24)  # 2 h, 3 h, 23 h, 24 h: the second
    assert pw.p90_days == pytest.approx(25 / 24)
    assert (san.opened, san.closed, san.closed_on_time, san.backlog) == (2, 1, 0, 1)
    assert (san.sla_breached, san.reopened, san.reopen_rate, san.sat_average) == (1, 1, 1, 2)
    assert san.within_target_rate == 0
    assert san.median_days == san.p90_days == pytest.approx(6.0)
    assert (none.opened, none.closed, none.sat_satisfied_rate, none.median_days) == (1, 1, 1, 3)
    assert report.rows[0].value == str(history.pw.id) and report.rows[2].value == ""
    assert report.totals.opened == 7  # the totals do not depend on the breakdown


def test_by_service_type_district_and_channel(session: Session, history: History):
    by_type = {r.label: r.totals for r in figures(session, history, dimension="service_type").rows}
    assert set(by_type) == {"Pothole", "Missed pickup", "Not classified"}
    assert (by_type["Pothole"].opened, by_type["Pothole"].median_days) == (4, pytest.approx(4 / 24))
    assert by_type["Not classified"].p90_days == 3
    session.add(  # Ward 2 is a district of the routing map (its label is its name); Ward 1 not
        District(
            jurisdiction_id=history.city.id,
            code="Ward 2",
            name="Rideau-Vanier",
            geometry={},
            min_lon=0,
            min_lat=0,
            max_lon=0,
            max_lat=0,
        )
    )
    session.commit()
    report = figures(session, history, dimension="district")
    by_district = {r.label: r.totals for r in report.rows}
    assert {k: v.opened for k, v in by_district.items()} == {
        "Ward 1": 4,
        "Rideau-Vanier": 2,
        "Unknown": 1,
    }
    assert by_district["Rideau-Vanier"].p90_days == 6 and by_district["Unknown"].median_days == 3
    assert {r.value for r in report.rows} == {"Ward 1", "Ward 2", ""}
    by_channel = {r.label: r.totals for r in figures(session, history, dimension="channel").rows}
    assert {k: v.opened for k, v in by_channel.items()} == {"Text message": 5, "Phone": 2}
    assert by_channel["Phone"].median_days is None  # no histogram by channel
    assert by_channel["Phone"].reopened == 1


def test_a_reopened_case_leaves_the_closed_figures_until_it_closes_again(
    app: Flask, session: Session, history: History
):
    c = history.cases["C"]
    c.status, c.resolved_at, c.reopened_count = CaseStatus.OPEN, None, 2
    session.commit()
    t = figures(session, history).totals
    assert (t.closed, t.reopened, t.sat_responses, t.backlog) == (5, 0, 2, 3)
    assert t.reopen_rate == 0
    c.status, c.resolved_at = CaseStatus.RESOLVED, utc("2026-03-13T15:00")
    session.commit()
    t = figures(session, history).totals
    assert (t.closed, t.reopened, t.sat_responses, t.backlog) == (6, 1, 3, 2)
    assert_all_match_rebuild(app, history.city.id)


def test_a_case_moved_to_another_department_afterwards_moves_its_figures(
    app: Flask, session: Session, history: History
):
    history.cases["D"].department_id = history.san.id  # the duplicate, long closed
    history.cases["F"].satisfaction = 1  # an answer changed too
    session.commit()
    rows = {r.label: r.totals for r in figures(session, history, dimension="department").rows}
    pw, san = rows["Public Works"], rows["Sanitation"]
    assert (pw.opened, pw.closed, pw.duplicates, pw.sat_average) == (3, 3, 0, 1)
    assert (san.opened, san.closed, san.duplicates) == (3, 2, 1)
    assert pw.median_days == pytest.approx(1.0)  # 3 h, 23 h, 24 h
    assert san.median_days == pytest.approx(3 / 24)  # 2 h, 5 days: the first
    assert_all_match_rebuild(app, history.city.id)


def test_an_empty_period_has_zeros_and_no_rates(session: Session, history: History):
    report = figures(
        session,
        history,
        start=dt.date(2025, 6, 1),
        end=dt.date(2025, 6, 30),
        dimension="department",
    )
    t = report.totals
    assert (t.opened, t.closed, t.sla_breached, t.sat_responses) == (0, 0, 0, 0)
    assert t.within_target_rate is t.reopen_rate is t.sat_average is t.median_days is None
    assert t.sat_satisfied_rate is None and t.p90_days is None
    assert t.backlog == 2  # the backlog is now's, whatever the period
    assert len(report.trend) == 30 and all(o == c == 0 for _, o, c in report.trend)
    assert {r.label: r.totals.opened for r in report.rows} == {"Public Works": 0, "Sanitation": 0}
    data = report.as_dict()
    assert data["totals"]["reopen_rate"] is None and data["totals"]["median_days"] is None


def test_a_city_without_cases_has_zeros(session: Session, history: History):
    other = factories.make_jurisdiction(session, slug="service-other")
    session.commit()
    report = service_figures(session, other, start=START, end=END, dimension="department", now=NOW)
    assert report.totals.opened == 0 and report.rows == [] and report.totals.backlog == 0


@pytest.mark.parametrize("dimension", [None, "department", "service_type", "district", "channel"])
def test_a_constant_number_of_queries_whatever_the_period(
    session: Session, history: History, count_queries: Any, dimension: Any
):
    counts = []
    for start, end in ((END, END), (dt.date(2024, 3, 16), END)):
        with count_queries() as counter:
            service_figures(session, history.city, start=start, end=end, dimension=dimension)
        counts.append(counter.count)
    assert counts[0] == counts[1] <= 4


def test_bad_periods_and_breakdowns_are_refused(session: Session, history: History):
    with pytest.raises(Invalid):
        figures(session, history, start=END, end=START)
    with pytest.raises(Invalid):
        figures(session, history, start=dt.date(2020, 1, 1))
    with pytest.raises(Invalid):
        figures(session, history, dimension="agent")
