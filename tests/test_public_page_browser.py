"""The public performance page in a real browser (Debian's Chromium): the charts are drawn by
the vendored Chart.js from the page's own JSON, under the page's Content-Security-Policy, and
nothing is fetched from anywhere but the app. Skipped, with the reason, without Chromium."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from contactcenter.cases.models import CaseStatus
from contactcenter.db import utcnow
from tests import factories


def test_the_page_draws_its_charts_with_the_vendored_library_only(
    browser_page: Any, live_server: str, session: Session
):
    city = factories.make_jurisdiction(session, slug="chart-city")
    now = utcnow()
    for n in range(12):
        case = factories.make_case(
            session, city, created_at=now - dt.timedelta(days=3 * n + 1), district=f"Ward {n % 3}"
        )
        if n % 2:
            case.status = CaseStatus.RESOLVED
            case.resolved_at = case.created_at + dt.timedelta(hours=5 * n)
    session.commit()
    requests: list[str] = []
    problems: list[str] = []
    browser_page.on("request", lambda request: requests.append(request.url))
    browser_page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    browser_page.on("pageerror", lambda error: problems.append(str(error)))

    browser_page.goto("/public/chart-city/performance")
    browser_page.wait_for_selector("main[data-charts='drawn']")

    drawn = browser_page.evaluate(
        """() => Array.from(document.querySelectorAll('canvas')).map(canvas => {
             const chart = window.Chart.getChart(canvas);
             return [canvas.id, chart ? chart.data.datasets.length : 0, canvas.width > 0];
           })"""
    )
    assert drawn and all(datasets > 0 and wide for _id, datasets, wide in drawn), drawn
    assert browser_page.evaluate("() => window.Chart.version") == "4.6.1"
    assert not problems, problems  # no CSP violation, no script error
    assert requests and all(url.startswith(live_server + "/") for url in requests), requests
    assert any(url.endswith("/public/static/vendor/chart-4.6.1.umd.min.js") for url in requests)
    assert any("/public/chart-city/performance.json?from=" in url for url in requests)
