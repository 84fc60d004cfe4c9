"""The performance screens in a real browser (Debian's Chromium): the charts draw, a new period
or filter reloads the figures in place, and a figure opens the list of what it counts.

Skipped, with the reason, where Chromium is not installed (the ``chromium`` fixture).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from contactcenter import realtime
from contactcenter.agents.models import Role
from contactcenter.cases.models import Case
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.contacts import refresh_contact_rollups
from tests import factories
from tests.test_console_browser import PASSWORD, _shot, _sign_in
from tests.test_console_performance import contact


@pytest.fixture(autouse=True)
def _sockets_of_this_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    # One SocketIO object serves the newest app in a process; the suite builds several.
    monkeypatch.setattr(realtime.socketio, "server", app.extensions["realtime"])


def tile(page: Any, key: str) -> str:
    return str(page.locator(f'#figures [data-figure="{key}"] .tile-value').inner_text().strip())


def chart_points(page: Any, canvas_id: str) -> Any:
    """The first dataset of the Chart.js chart drawn on ``canvas_id`` (None: no chart)."""
    return page.evaluate(
        """id => {
            const chart = window.Chart && window.Chart.getChart(document.getElementById(id));
            return chart ? chart.data.datasets[0].data : null;
        }""",
        canvas_id,
    )


def test_a_supervisor_reads_the_dashboard_changes_it_and_drills_down(
    browser_page: Any, session: Session, city: Jurisdiction
) -> None:
    general = factories.make_queue(session, city, "general", name="General", is_default=True)
    roads = factories.make_queue(session, city, "roads", name="Roads")
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR, password=PASSWORD)
    now = utcnow()
    today_general = [
        contact(session, city, general, created_at=now, answered_after=10) for _ in range(3)
    ]
    today_roads = [
        contact(session, city, roads, created_at=now, channel=Channel.EMAIL) for _ in range(2)
    ]
    contact(session, city, general, created_at=now - dt.timedelta(days=1), answered_after=5)
    session.commit()
    refresh_contact_rollups(session, utcnow())
    session.commit()

    def numbers(items: list[Any]) -> set[str]:
        return {session.get_one(Case, item.case_id).tracking_number for item in items}

    page = browser_page
    _sign_in(page, boss.email)
    page.goto("/console/performance")
    page.wait_for_selector("#main[data-charts=drawn]")
    assert page.locator("canvas#chart-intervals").count() == 1
    assert chart_points(page, "chart-intervals") is not None  # a Chart.js instance drew it
    assert tile(page, "offered") == "5"
    _shot(page, "console-performance")

    page.get_by_label("Period", exact=True).select_option("yesterday")
    page.wait_for_url(re.compile(r"range=yesterday"))
    page.wait_for_function(
        "() => document.querySelector('#figures [data-figure=offered] .tile-value')"
        ".textContent.trim() === '1'"
    )
    assert "Today" not in page.locator(".period-line").inner_text()
    assert sum(chart_points(page, "chart-intervals")) == 1  # the chart was redrawn too

    page.get_by_label("Period", exact=True).select_option("today")
    page.get_by_label("Queue", exact=True).select_option(label="Roads")
    page.wait_for_url(re.compile(rf"queue={roads.id}"))
    page.wait_for_function(
        "() => document.querySelector('#figures [data-figure=offered] .tile-value')"
        ".textContent.trim() === '2'"
    )
    assert page.locator("#main[data-charts=drawn]").count() == 1

    page.locator('#figures [data-figure="offered"] .tile-value a').click()
    page.wait_for_url(re.compile(r"/console/performance/cases\?"))
    listed = set(page.locator("#drilldown tbody th a").all_inner_texts())
    assert listed == numbers(today_roads)
    assert page.locator("#total").inner_text() == "2"
    _shot(page, "console-performance-cases")

    page.locator("#drilldown tbody th a").first.click()
    page.wait_for_url(re.compile(r"/console/cases/\d+$"))
    opened = int(page.url.rsplit("/", 1)[1])
    assert opened in {item.case_id for item in today_roads}
    assert not numbers(today_general) & numbers(today_roads)


def test_the_scorecard_draws_its_charts_and_changes_its_breakdown(
    browser_page: Any, session: Session, city: Jurisdiction
) -> None:
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR, password=PASSWORD)
    for _ in range(3):
        factories.make_case(session, city)
    session.commit()
    page = browser_page
    _sign_in(page, boss.email)
    page.goto("/console/scorecard")
    page.wait_for_selector("#main[data-charts=drawn]")
    for canvas in ("chart-rows", "chart-trend", "chart-backlog"):
        assert chart_points(page, canvas) is not None, canvas
    page.get_by_label("Break down by").select_option("district")
    page.wait_for_url(re.compile(r"dimension=district"))
    page.wait_for_selector("#main[data-charts=drawn]")
    assert "by district" in page.locator("#table-rows caption").inner_text()
    _shot(page, "console-scorecard")
    page.locator('#figures [data-figure="opened"] .tile-value a').click()
    page.wait_for_url(re.compile(r"/console/performance/cases\?"))
    assert page.locator("#total").inner_text() == "3"

    page.go_back()
    page.wait_for_selector("#main[data-charts=drawn]")
    page.locator("#chart-rows").scroll_into_view_if_needed()
    bar = page.evaluate(
        """() => {
            const canvas = document.getElementById("chart-rows");
            const bar = window.Chart.getChart(canvas).getDatasetMeta(0).data[0];
            const box = canvas.getBoundingClientRect();
            return { x: box.left + bar.x, y: box.top + (bar.y + bar.base) / 2 };
        }"""
    )
    page.mouse.click(bar["x"], bar["y"])  # a bar of the chart opens its cases too
    page.wait_for_url(re.compile(r"/console/performance/cases\?.*figure=opened"))
    assert page.locator("#total").inner_text() == "3"


def test_the_performance_pages_read_at_200_percent_zoom(
    chromium: Any, live_server: str, session: Session, city: Jurisdiction
) -> None:
    boss, _ = factories.make_agent(session, [city], role=Role.SUPERVISOR, password=PASSWORD)
    factories.make_case(session, city)
    session.commit()
    context = chromium.new_context(
        base_url=live_server, viewport={"width": 640, "height": 800}, device_scale_factor=2
    )
    page = context.new_page()
    _sign_in(page, boss.email)
    for path in (
        "/console/performance",
        "/console/scorecard",
        "/console/performance/cases?figure=opened",
    ):
        page.goto(path)
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 1, f"{path} scrolls sideways by {overflow}px at 200% zoom"
    context.close()
