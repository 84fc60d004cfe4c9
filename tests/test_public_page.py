"""The public performance page, its JSON and its CSV: the same figures, no login, no personal
data, escaped, cached briefly, and clear 4xx answers for bad requests."""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Any

import lxml.html
import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel, ContactKind
from contactcenter.residents.models import ContactPoint, Resident
from tests import factories

HOSTILE = "<script>alert('x')</script> & \"Potholes\""
FORMULA = '=HYPERLINK("http://evil.example","Click")'
SECRET_NAME = "Philomena Q. Resident"
SECRET_PHONE = "+16135550199"
SECRET_EMAIL = "philomena@example.org"
SECRET_TEXT = "my neighbour Bartholomew"


@pytest.fixture
def city(session: Session) -> Jurisdiction:
    """A city with history in the current period: closed, late, open, and a hostile name."""
    city = factories.make_jurisdiction(session, slug="open-city", name="Open City")
    hostile = ServiceType(jurisdiction_id=city.id, code="hostile", name=HOSTILE, target_days=3)
    formula = ServiceType(jurisdiction_id=city.id, code="formula", name=FORMULA)
    session.add_all([hostile, formula])
    resident = Resident(jurisdiction_id=city.id, display_name=SECRET_NAME)
    session.add(resident)
    session.flush()
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=city.id,
                resident_id=resident.id,
                kind=ContactKind.PHONE,
                address=SECRET_PHONE,
            ),
            ContactPoint(
                jurisdiction_id=city.id,
                resident_id=resident.id,
                kind=ContactKind.EMAIL,
                address=SECRET_EMAIL,
            ),
        ]
    )
    now = utcnow()
    pothole = session.scalars(
        sa.select(ServiceType).where(
            ServiceType.jurisdiction_id == city.id, ServiceType.code == "pothole"
        )
    ).one()
    for n, (service, status, took) in enumerate(
        [
            (pothole, CaseStatus.RESOLVED, dt.timedelta(hours=5)),
            (pothole, CaseStatus.RESOLVED, dt.timedelta(days=8)),
            (hostile, CaseStatus.CLOSED, dt.timedelta(days=2)),
            (formula, CaseStatus.RESOLVED, dt.timedelta(days=1)),
            (pothole, CaseStatus.OPEN, None),
            (hostile, CaseStatus.NEW, None),
        ]
    ):
        created = now - dt.timedelta(days=20 - n)
        case = factories.make_case(
            session,
            city,
            service_type=service,
            resident=resident,
            description=f"Call {SECRET_PHONE} or {SECRET_EMAIL}, {SECRET_TEXT}",
            channel=[Channel.SMS, Channel.VOICE, Channel.EMAIL][n % 3],
            district=["Ward <1>", None][n % 2],
            created_at=created,
            due_at=created + dt.timedelta(days=service.target_days or 0)
            if service.target_days
            else None,
            status=status,
        )
        if took is not None:
            case.resolved_at = created + took
    session.commit()
    return city


def shown(row: dict[str, Any], name: str) -> str:
    """How the page shows one figure of a JSON row."""
    if name in row.get("suppressed", ()):
        return "not shown" if name == "on_time_percent" else "fewer than 5"
    if name == "on_time_percent":
        return "—" if row[name] is None else f"{row[name]:.1f} %"
    return f"{row[name]:,}"


def get_json(client: FlaskClient, query: str = "") -> dict[str, Any]:
    response = client.get(f"/public/open-city/performance.json{query}")
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def page_tables(html: str) -> dict[str, list[list[str]]]:
    """Every table of the page by id: its body rows as lists of cell texts."""
    doc = lxml.html.fromstring(html)
    return {
        table.get("id"): [
            [" ".join(cell.text_content().split()) for cell in row.xpath("./th|./td")]
            for row in table.xpath("./tbody/tr")
        ]
        for table in doc.xpath("//table")
    }


def test_the_page_shows_accessible_tables_charts_and_definitions(client, city):
    response = client.get("/public/open-city/performance")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    doc = lxml.html.fromstring(html)
    for table in doc.xpath("//table"):
        assert table.xpath("./caption"), lxml.html.tostring(table)[:200]
    ids = {t.get("id") for t in doc.xpath("//table")}
    assert {"summary", "by-service-type", "by-channel", "by-district", "backlog"} <= ids
    assert {"trend-monthly", "trend-weekly"} <= ids
    canvases = doc.xpath("//canvas")
    assert len(canvases) == 5 and all(
        c.get("role") == "img" and c.get("aria-label") for c in canvases
    )
    scripts = doc.xpath("//script")
    assert [s.get("src") for s in scripts] == [
        "/public/static/vendor/chart-4.6.1.umd.min.js",
        "/public/static/performance.js",
    ]
    assert all(not (s.text or "").strip() for s in scripts)  # no inline script
    assert doc.xpath("//h2[@id='definitions-h']")[0].text == "Indicator definitions"
    assert "nearest rank" in html and "due date" in html
    assert (
        doc.xpath("//main")[0]
        .get("data-figures-url")
        .startswith("/public/open-city/performance.json?from=")
    )
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy
    assert response.headers["Cache-Control"] == "public, max-age=300"


def test_the_vendored_chart_library_is_served(client):
    response = client.get("/public/static/vendor/chart-4.6.1.umd.min.js")
    assert response.status_code == 200
    assert b"Chart.js v4.6.1" in response.data[:200]
    response.close()
    licence = client.get("/public/static/vendor/chart-4.6.1.LICENSE")
    assert licence.status_code == 200 and b"MIT" in licence.data
    licence.close()


def test_hostile_names_are_escaped_in_the_page_and_defused_in_the_csv(client, city):
    html = client.get("/public/open-city/performance").get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;Potholes&#34;" in html
    assert "Ward &lt;1&gt;" in html
    assert HOSTILE in [row["label"] for row in get_json(client)["by_service_type"]]
    text = client.get("/public/open-city/performance.csv").get_data(as_text=True)
    labels = {row["label"] for row in csv.DictReader(io.StringIO(text))}
    assert "'" + FORMULA in labels and FORMULA not in labels


def test_no_personal_data_is_published(client, session, city):
    tracking = session.scalars(sa.select(Case.tracking_number)).all()
    assert len(tracking) == 6
    bodies = [
        client.get(f"/public/open-city/performance{suffix}").get_data(as_text=True)
        for suffix in ("", ".json", ".csv")
    ]
    for body in bodies:
        for secret in (SECRET_NAME, SECRET_PHONE, SECRET_EMAIL, SECRET_TEXT, "6135550199"):
            assert secret not in body
        for number in tracking:  # not even which requests were counted
            assert number not in body


def test_json_csv_and_page_show_the_same_figures(client, city):
    data = get_json(client)
    html = client.get("/public/open-city/performance").get_data(as_text=True)
    tables = page_tables(html)

    summary = dict(row for row in tables["summary"])
    assert summary["Requests opened"] == str(data["totals"]["opened"]) == "6"
    assert summary["Requests closed"] == str(data["totals"]["closed"]) == "4"
    assert summary["Open today (backlog)"] == str(data["backlog"]["open"]) == "2"
    assert summary["Closed on time"] == f"{data['totals']['on_time_percent']:.1f} %"

    page_types = {row[0]: row[1:] for row in tables["by-service-type"]}
    assert set(page_types) == {row["label"] for row in data["by_service_type"]}
    for row in data["by_service_type"]:
        cells = page_types[row["label"]]
        assert cells[0] == shown(row, "opened") and cells[1] == shown(row, "closed")
        assert cells[5] == shown(row, "on_time_percent")
    pothole = next(r for r in data["by_service_type"] if r["key"] == "pothole")
    # 5 hours and 8 days: nearest-rank median is the first, p90 the second.
    assert (pothole["median_days"], pothole["p90_days"]) == (round(6 / 24, 4), 9.0)
    assert page_types["Pothole"][2:5] == ["6 h", "9 days", "5 days"]

    for table, key in (("by-channel", "by_channel"), ("by-district", "by_district")):
        assert [(r[0], r[1], r[2]) for r in tables[table]] == [
            (r["label"], shown(r, "opened"), shown(r, "closed")) for r in data[key]
        ]
    assert [(r[0], r[1]) for r in tables["backlog"]] == [
        (b["label"], str(b["open"])) for b in data["backlog"]["by_age"]
    ]
    assert [r[1] for r in tables["trend-monthly"]] == [
        str(p["opened"]) for p in data["trends"]["monthly"]
    ]
    assert len(tables["trend-weekly"]) == len(data["trends"]["weekly"])

    text = client.get("/public/open-city/performance.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["figure", "dimension", "key", "label", "measure", "value"]
    found = {(r["figure"], r["dimension"], r["key"], r["measure"]): r["value"] for r in rows}
    assert found[("requests", "all", "all", "opened")] == "6"
    for row in data["by_service_type"]:
        for measure in ("opened", "closed", "on_time_percent"):
            expected = "" if row[measure] is None else str(row[measure])
            assert found[("requests", "service_type", row["key"], measure)] == expected
        assert found[("days_to_close", "service_type", row["key"], "median_days")] == (
            "" if row["median_days"] is None else str(row["median_days"])
        )
    for bucket in data["backlog"]["by_age"]:
        assert found[("backlog", "age", bucket["label"], "open")] == str(bucket["open"])
    for point in data["trends"]["monthly"]:
        assert found[("trend_monthly", "month", point["start"], "opened")] == str(point["opened"])
    assert found[("period", "", "", "from")] == data["period"]["from"]


def test_the_period_is_chosen_by_month(client, city):
    last_year = (utcnow() - dt.timedelta(days=400)).strftime("%Y-%m")
    data = get_json(client, f"?from={last_year}&to={last_year}")
    assert data["period"]["from"] == data["period"]["to"] == last_year
    assert data["totals"]["opened"] == 0 and len(data["trends"]["monthly"]) == 1
    response = client.get(f"/public/open-city/performance.csv?from={last_year}&to={last_year}")
    assert f"performance-{last_year}-to-{last_year}.csv" in response.headers["Content-Disposition"]
    html = client.get(f"/public/open-city/performance?from={last_year}").get_data(as_text=True)
    assert f'value="{last_year}"' in html


def test_responses_carry_an_etag_and_answer_304(client, city):
    for suffix in ("", ".json", ".csv"):
        first = client.get(f"/public/open-city/performance{suffix}")
        etag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "public, max-age=300"
        again = client.get(
            f"/public/open-city/performance{suffix}", headers={"If-None-Match": etag}
        )
        assert again.status_code == 304 and again.data == b""


def test_counts_under_five_by_service_type_and_district_are_not_published(client, session, city):
    """Five or more is shown; one to four is 'fewer than 5' (null and named in JSON, empty in
    the CSV, with a note); zero is shown; totals and channels are whole."""
    pothole = session.scalars(
        sa.select(ServiceType).where(
            ServiceType.jurisdiction_id == city.id, ServiceType.code == "pothole"
        )
    ).one()
    for n in range(2):  # five potholes opened in all (two closed); two in Ward 5
        factories.make_case(
            session,
            city,
            service_type=pothole,
            district="Ward 5",
            created_at=utcnow() - dt.timedelta(days=3 + n),
        )
    session.commit()
    data = get_json(client)
    types = {row["key"]: row for row in data["by_service_type"]}
    assert types["pothole"]["opened"] == 5 and types["pothole"]["closed"] is None
    assert {"closed", "closed_with_target", "on_time_percent"} <= set(
        types["pothole"]["suppressed"]
    )
    assert "opened" not in types["pothole"]["suppressed"]
    assert types["pothole"]["on_time_percent"] is None
    assert types["formula"]["opened"] is None and "opened" in types["formula"]["suppressed"]
    assert types["formula"]["closed_with_target"] == 0  # zero is published
    districts = {row["label"]: row for row in data["by_district"]}
    assert districts["Ward 5"]["opened"] is None and districts["Ward 5"]["closed"] == 0
    assert data["totals"]["opened"] == 8 and "suppressed" not in data["totals"]
    assert all("suppressed" not in row for row in data["by_channel"])
    assert any(d["name"] == "Small numbers" for d in data["definitions"])

    tables = page_tables(client.get("/public/open-city/performance").get_data(as_text=True))
    page_types = {row[0]: row[1:] for row in tables["by-service-type"]}
    assert page_types["Pothole"][:2] == ["5", "fewer than 5"]
    assert page_types["Pothole"][5:] == ["not shown", "fewer than 5"]
    assert dict((r[0], r[1]) for r in tables["by-district"])["Ward 5"] == "fewer than 5"

    text = client.get("/public/open-city/performance.csv").get_data(as_text=True)
    found = {
        (r["figure"], r["dimension"], r["key"], r["measure"]): r["value"]
        for r in csv.DictReader(io.StringIO(text))
    }
    assert found[("requests", "service_type", "pothole", "opened")] == "5"
    assert found[("requests", "service_type", "pothole", "closed")] == ""
    assert found[("requests", "district", "Ward 5", "opened")] == ""
    assert "left empty" in found[("note", "", "", "suppressed")]


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
def test_unknown_jurisdictions_are_404(client, city, suffix):
    response = client.get(f"/public/nowhere/performance{suffix}")
    assert response.status_code == 404
    assert "No such jurisdiction" in response.get_data(as_text=True)


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
@pytest.mark.parametrize("slug", ["a%00b", "a%0Ab", "x" * 65])
def test_slugs_no_jurisdiction_can_have_are_404_without_a_query(
    client, city, count_queries, suffix, slug
):
    """A NUL byte reached PostgreSQL, which refuses it in text (a 500)."""
    with count_queries() as counter:
        response = client.get(f"/public/{slug}/performance{suffix}")
    assert response.status_code == 404
    assert "No such jurisdiction" in response.get_data(as_text=True)
    assert counter.count == 0, counter.statements


@pytest.mark.parametrize("suffix", ["", ".json", ".csv"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?from=2026-13", "between"),
        ("?from=last+year", "YYYY-MM"),
        ("?from=2026-03&to=2026-01", "after"),
        ("?from=2001-01&to=2026-01", "at most 36 months"),
        ("?to=%3Cscript%3E", "YYYY-MM"),
    ],
)
def test_bad_periods_are_400_with_a_message(client, city, suffix, query, message):
    response = client.get(f"/public/open-city/performance{suffix}{query}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert message in body and "<script>" not in body


def test_the_page_needs_no_login_and_sets_no_cookie(client, city):
    response = client.get("/public/open-city/performance")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers


def test_the_json_route_costs_the_same_queries_for_a_month_or_three_years(
    client, city, count_queries
):
    month = utcnow().strftime("%Y-%m")
    with count_queries() as small:
        assert client.get(f"/public/open-city/performance.json?from={month}").status_code == 200
    first = (utcnow() - dt.timedelta(days=3 * 365 - 40)).strftime("%Y-%m")
    with count_queries() as large:
        assert client.get(f"/public/open-city/performance.json?from={first}").status_code == 200
    assert small.count == large.count == 6, large.statements  # the jurisdiction, then 5
