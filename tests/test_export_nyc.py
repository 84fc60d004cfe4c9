"""Exporting cases as open data: New York's layout (CSV) and Open311 JSON, command and API."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from contactcenter.agents.models import Role
from contactcenter.cases.models import Case, CaseStatus
from contactcenter.cli import cli
from contactcenter.imports.export import ExportWindow, nyc_csv, open311_json
from contactcenter.imports.nyc import COLUMNS
from contactcenter.imports.service import ImportOptions, import_nyc
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.messages import Channel, ContactKind
from contactcenter.open311.privacy import mask_personal_data
from contactcenter.residents.models import ContactPoint, Resident
from tests import factories
from tests.test_import_nyc import SAMPLE, needs_sample, nyc_row, write_nyc

COMPARED = (
    "tracking_number",
    "status",
    "created_at",
    "closed_at",
    "resolved_at",
    "due_at",
    "updated_at",
    "description",
    "address_text",
    "latitude",
    "longitude",
    "district",
    "origin_channel",
    "attributes",
    "language",
)


def _city(session, slug: str) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug=slug, name=slug.title(), country="US")
    city.timezone = "America/New_York"
    session.commit()
    return city


@pytest.fixture
def nyc(session) -> Jurisdiction:
    return _city(session, "nyc")


@pytest.fixture
def copy_city(session) -> Jurisdiction:
    return _city(session, "nyc-copy")


def _invoke(app, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def _snapshot(session, city: Jurisdiction) -> dict[str, dict[str, object]]:
    session.expire_all()
    departments = {d.id: d.code for d in session.scalars(sa.select(Department))}
    services = {s.id: s.name for s in session.scalars(sa.select(ServiceType))}
    cases = session.scalars(sa.select(Case).where(Case.jurisdiction_id == city.id))
    return {
        c.source_key: {
            **{name: getattr(c, name) for name in COMPARED},
            "department": departments.get(c.department_id),
            "service": services.get(c.service_type_id),
        }
        for c in cases
    }


def _resident_case(session, city: Jurisdiction) -> Case:
    person = Resident(jurisdiction_id=city.id, display_name="Marge Bouvier")
    session.add(person)
    session.flush()
    session.add_all(
        [
            ContactPoint(
                jurisdiction_id=city.id,
                resident=person,
                kind=ContactKind.PHONE,
                address="+12125550199",
            ),
            ContactPoint(
                jurisdiction_id=city.id,
                resident=person,
                kind=ContactKind.EMAIL,
                address="marge@example.org",
            ),
        ]
    )
    case = factories.make_case(
        session,
        city,
        resident=person,
        description="Pothole, call 555-123-4567 or write marge@example.org",
        address_text="742 Evergreen Terrace, Springfield 10027",
        service_type=factories.service_type(session, city),
        channel=Channel.OPEN311,  # filed from an app: its description is published, masked
    )
    session.commit()
    return case


# --- CSV ------------------------------------------------------------------------------------


def test_export_then_import_into_another_city_gives_the_same_cases(
    app, session, nyc, copy_city, tmp_path
):
    needs_sample()
    import_nyc(session, nyc, SAMPLE, ImportOptions(rejects_path=tmp_path / "r1.csv"))
    exported = tmp_path / "export.csv"
    _invoke(app, "export", "nyc", "--jurisdiction", "nyc", "--output", str(exported))

    again = import_nyc(
        session, copy_city, exported, ImportOptions(rejects_path=tmp_path / "r2.csv")
    )

    assert (again.rows_read, again.imported, again.rejected) == (2000, 2000, 0)
    original, copied = _snapshot(session, nyc), _snapshot(session, copy_city)
    assert len(copied) == 2000
    # Free text is masked on the way out: the agencies' own phone numbers in 7 resolution
    # notes too (the masker cannot tell them from a resident's).
    for fields in original.values():
        fields["attributes"] = {
            k: mask_personal_data(v, "US") for k, v in fields["attributes"].items()
        }
    differences = {
        key: {f: (v, copied[key][f]) for f, v in fields.items() if copied[key][f] != v}
        for key, fields in original.items()
        if copied[key] != fields
    }
    assert differences == {}


def test_the_csv_has_new_yorks_41_columns_in_order(session, nyc, tmp_path):
    import_nyc(
        session,
        nyc,
        write_nyc(tmp_path / "one.csv", [nyc_row("1001", Location="(40.66, -73.99)")]),
        ImportOptions(rejects_path=tmp_path / "r.csv"),
    )

    rows = list(csv.reader(io.StringIO("".join(nyc_csv(session, nyc)))))

    assert tuple(rows[0]) == COLUMNS and len(COLUMNS) == 41
    if SAMPLE.exists():
        with SAMPLE.open(encoding="utf-8") as f:
            assert tuple(next(csv.reader(f))) == COLUMNS
    row = dict(zip(COLUMNS, rows[1], strict=True))
    assert row["Unique Key"] == "1001"
    assert row["Created Date"] == "03/01/2011 02:27:57 PM"
    assert row["Closed Date"] == "03/02/2011 09:00:00 AM"
    assert (row["Agency"], row["Agency Name"]) == ("DOT", "Department of Transportation")
    assert (row["Complaint Type"], row["Descriptor"]) == ("Street Condition", "Pothole")
    assert (row["Incident Address"], row["Incident Zip"]) == (
        "186 25 STREET, BROOKLYN 11232",
        "11232",
    )
    assert (row["Status"], row["Borough"], row["Open Data Channel Type"]) == (
        "Closed",
        "BROOKLYN",
        "PHONE",
    )
    assert (row["Latitude"], row["Longitude"], row["Location"]) == (
        "40.66",
        "-73.99",
        "(40.66, -73.99)",
    )
    assert row["BBL"] == row["Community Board"] == ""


def test_native_cases_export_by_tracking_number_without_personal_data(session, nyc):
    case = _resident_case(session, nyc)
    texted = factories.make_case(
        session, nyc, description="Marge here, my cell is 212 555 0199", channel=Channel.SMS
    )
    long_case = factories.make_case(
        session, nyc, description="word " * 400, channel=Channel.OPEN311
    )
    session.commit()

    text = "".join(nyc_csv(session, nyc))
    rows = {r["Unique Key"]: r for r in csv.DictReader(io.StringIO(text))}

    row = rows[case.tracking_number]
    assert row["Descriptor"] == "Pothole, call [redacted] or write [redacted]"
    assert row["Open Data Channel Type"] == "ONLINE" and row["Status"] == "Open"
    assert row["Complaint Type"] == "Pothole" and row["Agency"] == ""
    # A text's words are the resident's own: never published (as in Open311).
    assert rows[texted.tracking_number]["Descriptor"] == ""
    assert rows[texted.tracking_number]["Open Data Channel Type"] == "MOBILE"
    # Tracking numbers are random digits: one may hold "555" without being a phone number.
    published = text.replace(case.tracking_number, "").replace(texted.tracking_number, "")
    for secret in ("555", "marge", "Marge", "2125550199", "Bouvier"):
        assert secret not in published
    descriptor = rows[long_case.tracking_number]["Descriptor"]
    assert len(descriptor) <= 500 and descriptor.endswith("word…")


def test_the_window_is_in_local_days_both_included(session, nyc, tmp_path):
    import_nyc(
        session,
        nyc,
        write_nyc(
            tmp_path / "days.csv",
            [
                nyc_row("1", Created_Date="02/28/2011 11:59:59 PM"),
                nyc_row("2", Created_Date="03/01/2011 12:00:00 AM"),
                nyc_row("3", Created_Date="03/02/2011 11:59:59 PM", Closed_Date=""),
                nyc_row("4", Created_Date="03/03/2011 12:00:00 AM", Closed_Date=""),
            ],
        ),
        ImportOptions(rejects_path=tmp_path / "r.csv"),
    )
    window = ExportWindow.of(nyc, dt.date(2011, 3, 1), dt.date(2011, 3, 2))

    rows = list(csv.DictReader(io.StringIO("".join(nyc_csv(session, nyc, window)))))

    assert [r["Unique Key"] for r in rows] == ["2", "3"]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_each_page_costs_the_same_queries_whatever_the_number_of_cases(
    session, nyc, count_queries, kind
):
    writer = nyc_csv if kind == "csv" else open311_json

    def queries_for(total: int) -> int:
        while session.scalar(sa.select(sa.func.count()).select_from(Case)) < total:
            factories.make_case(session, nyc, service_type=factories.service_type(session, nyc))
        session.commit()
        with count_queries() as counter:
            chunks = list(writer(session, nyc, page_size=3))
        assert len(chunks) >= 2
        return counter.count

    three_pages, six_pages = queries_for(7), queries_for(16)  # 3 and 6 pages (the last short)
    assert six_pages - three_pages == (6 - 3) * ((three_pages - 2) // 3)
    assert (three_pages - 2) // 3 <= 2


# --- Open311 JSON -----------------------------------------------------------------------------


def test_the_open311_export_is_a_json_array_with_no_personal_data(app, session, nyc, tmp_path):
    case = _resident_case(session, nyc)
    output = tmp_path / "open311.json"

    _invoke(
        app, "export", "open311", "--jurisdiction", "nyc", "--extensions", "--output", str(output)
    )

    text = output.read_text(encoding="utf-8")
    requests = json.loads(text)
    assert [r["service_request_id"] for r in requests] == [case.tracking_number]
    request = requests[0]
    assert request["description"] == "Pothole, call [redacted] or write [redacted]"
    assert request["service_code"] == "pothole" and request["status"] == "open"
    assert request["extended_attributes"]["channel"] == "open311"
    published = text.replace(case.tracking_number, "")  # random digits, maybe "555"
    for secret in ("555", "marge", "Marge", "2125550199", "Bouvier", "resident"):
        assert secret not in published


def test_an_empty_open311_export_is_an_empty_array(session, nyc):
    assert json.loads("".join(open311_json(session, nyc))) == []


# --- Staff API --------------------------------------------------------------------------------


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_supervisors_download_their_city_as_csv_and_open311_json(session, client, nyc, tmp_path):
    case = _resident_case(session, nyc)
    case.status = CaseStatus.CLOSED
    session.commit()
    _, token = factories.make_agent(session, [nyc], role=Role.SUPERVISOR)
    session.commit()

    as_csv = client.get("/api/v1/exports/cases.csv?jurisdiction=nyc", headers=_bearer(token))
    assert as_csv.is_streamed
    csv_text = as_csv.get_data(as_text=True)  # the stream ends before the next request
    as_json = client.get("/api/v1/exports/cases.json?jurisdiction=nyc", headers=_bearer(token))

    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    assert as_csv.headers["Content-Disposition"] == 'attachment; filename="nyc-cases.csv"'
    rows = list(csv.DictReader(io.StringIO(csv_text)))
    assert [(r["Unique Key"], r["Status"]) for r in rows] == [(case.tracking_number, "Closed")]
    assert as_json.status_code == 200 and as_json.mimetype == "application/json"
    assert as_json.headers["Content-Disposition"] == 'attachment; filename="nyc-cases.json"'
    assert [r["status"] for r in as_json.get_json()] == ["closed"]
    assert "555" not in csv_text + as_json.get_data(as_text=True)


def test_the_export_api_needs_a_supervisor_of_that_city_and_real_dates(session, client, nyc):
    other = _city(session, "elsewhere")
    _, agent_token = factories.make_agent(session, [nyc], role=Role.AGENT)
    _, outsider = factories.make_agent(session, [other], role=Role.SUPERVISOR)
    _, supervisor = factories.make_agent(session, [nyc], role=Role.SUPERVISOR)
    session.commit()
    url = "/api/v1/exports/cases.csv"

    assert client.get(f"{url}?jurisdiction=nyc").status_code == 401
    assert client.get(f"{url}?jurisdiction=nyc", headers=_bearer(agent_token)).status_code == 403
    assert client.get(f"{url}?jurisdiction=nyc", headers=_bearer(outsider)).status_code == 404
    json_url = "/api/v1/exports/cases.json?jurisdiction=nyc"
    assert client.get(json_url, headers=_bearer(outsider)).status_code == 404
    bad = client.get(f"{url}?jurisdiction=nyc&from=yesterday", headers=_bearer(supervisor))
    assert bad.status_code == 400 and bad.get_json()["error"]["fields"] == {"from": "not a date"}
    backwards = client.get(
        f"{url}?jurisdiction=nyc&from=2026-02-01&to=2026-01-01", headers=_bearer(supervisor)
    )
    assert backwards.status_code == 400
    extremes = client.get(f"{url}?from=0001-01-01&to=9999-12-31", headers=_bearer(supervisor))
    assert extremes.status_code == 200 and extremes.get_data(as_text=True)
    ok = client.get(f"{url}?from=2026-01-01&to=2026-12-31", headers=_bearer(supervisor))
    assert ok.status_code == 200 and ok.get_data(as_text=True).startswith("Unique Key")  # one city


def test_export_command_refuses_an_unknown_city_and_a_bad_date(app, nyc):
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: app)
    unknown = runner.invoke(cli, ["export", "nyc", "--jurisdiction", "x"], obj=info)
    bad = runner.invoke(
        cli, ["export", "open311", "--jurisdiction", "nyc", "--from", "x"], obj=info
    )
    assert unknown.exit_code == 1 and "no jurisdiction 'x'" in unknown.output
    assert bad.exit_code == 2 and "not a date" in bad.output


def test_exported_files_are_written_where_asked(app, session, nyc, tmp_path: Path):
    factories.make_case(session, nyc)
    session.commit()
    target = tmp_path / "out" / "cases.csv"
    target.parent.mkdir()
    _invoke(app, "export", "nyc", "--jurisdiction", "nyc", "--output", str(target))
    assert target.read_text(encoding="utf-8").startswith("Unique Key,Created Date,")
