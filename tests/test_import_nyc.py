"""Importing New York's 311 open data: the real sample, every reject reason, reruns, resumes."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from flask.cli import ScriptInfo

from contactcenter.cases.models import Case, CaseEvent, CaseStatus, Interaction
from contactcenter.cli import cli
from contactcenter.imports import service as import_service
from contactcenter.imports.mapping import Mapping, parse_mapping
from contactcenter.imports.models import ImportRun, ImportState
from contactcenter.imports.nyc import COLUMNS
from contactcenter.imports.service import ImportInProgress, ImportOptions, import_nyc
from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
from contactcenter.routing.models import Offer, WorkItem
from contactcenter.routing.tick import run_tick
from contactcenter.routing.work import dispatch
from contactcenter.sla.models import CaseClock
from tests import factories
from tests.conftest import TESTDATA

SAMPLE = TESTDATA / "311" / "nyc" / "nyc311_2011-03_2000rows_41cols.csv"
NEW_YORK = dt.timezone(dt.timedelta(hours=-5))
NEW_YORK_DST = dt.timezone(dt.timedelta(hours=-4))


def utc(year: int, month: int, day: int, *hms: int, zone: dt.tzinfo = NEW_YORK) -> dt.datetime:
    return dt.datetime(year, month, day, *hms, tzinfo=zone).astimezone(dt.UTC)


def needs_sample() -> None:
    if not SAMPLE.exists():
        pytest.skip(f"shared test data absent: {SAMPLE}")


@pytest.fixture
def nyc(session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="nyc", name="New York", country="US")
    city.timezone = "America/New_York"
    city.languages = ["en", "es"]
    session.commit()
    return city


@pytest.fixture
def other_nyc(session) -> Jurisdiction:
    city = factories.make_jurisdiction(session, slug="nyc-copy", name="Copy", country="US")
    city.timezone = "America/New_York"
    session.commit()
    return city


def write_nyc(path: Path, rows: list[dict[str, str]]) -> Path:
    """A file in the 41-column layout; fields not given are blank."""
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
    return path


def nyc_row(key: str, **fields: str) -> dict[str, str]:
    row = {
        "Unique Key": key,
        "Created Date": "03/01/2011 02:27:57 PM",
        "Closed Date": "03/02/2011 09:00:00 AM",
        "Agency": "DOT",
        "Agency Name": "Department of Transportation",
        "Complaint Type": "Street Condition",
        "Descriptor": "Pothole",
        "Incident Zip": "11232",
        "Incident Address": "186 25 STREET",
        "City": "BROOKLYN",
        "Status": "Closed",
        "Borough": "BROOKLYN",
        "Open Data Channel Type": "PHONE",
        "Latitude": "40.66",
        "Longitude": "-73.99",
    }
    row.update({k.replace("_", " "): v for k, v in fields.items()})
    return row


def cases_by_key(session, jurisdiction: Jurisdiction) -> dict[str, Case]:
    session.expire_all()
    found = session.scalars(sa.select(Case).where(Case.jurisdiction_id == jurisdiction.id))
    return {c.source_key: c for c in found}


def options(tmp_path: Path, **fields: Any) -> ImportOptions:
    fields.setdefault("rejects_path", tmp_path / "rejects.csv")
    return ImportOptions(**fields)


def read_rejects(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["row", "unique_key", "reason"]
    return rows[1:]


# --- The real sample ------------------------------------------------------------------------


def test_the_shared_sample_imports_every_row_with_its_fields(session, nyc, tmp_path):
    needs_sample()
    result = import_nyc(session, nyc, SAMPLE, options(tmp_path, batch_size=700))

    # Checked by hand: 2,000 rows, each with a key, a readable Created Date and no closing
    # date before it (the one 01/01/1900 closing date is on an "Assigned" request).
    assert (result.rows_read, result.imported, result.rejected) == (2000, 2000, 0)
    assert read_rejects(tmp_path / "rejects.csv") == []
    cases = cases_by_key(session, nyc)
    assert len(cases) == 2000

    payment = cases["19937896"]  # created in EST, closed after the switch to EDT
    assert payment.tracking_number == "19937896"
    assert payment.created_at == utc(2011, 3, 1, 14, 27, 57)
    assert (
        payment.closed_at == payment.resolved_at == utc(2011, 3, 14, 15, 59, 20, zone=NEW_YORK_DST)
    )
    assert payment.due_at == utc(2011, 3, 22, 14, 27, 57, zone=NEW_YORK_DST)
    assert payment.status == CaseStatus.CLOSED
    assert payment.description == "Misapplied Payment"
    assert payment.address_text == "NEW YORK 10027"
    assert (payment.latitude, payment.longitude) == (None, None)
    assert payment.district == "MANHATTAN"
    assert payment.origin_channel == "voice"
    assert payment.language == "en" and payment.priority == "normal"
    assert payment.resident_id is None
    department = session.get(Department, payment.department_id)
    assert (department.code, department.name) == ("DOF", "Refunds and Adjustments")
    service = session.get(ServiceType, payment.service_type_id)
    assert (service.name, service.code, service.active) == (
        "DOF Property - Payment Issue",
        "dof-property-payment-issue",
        False,
    )
    assert service.department_id == department.id

    sign = cases["19937901"]
    assert (sign.latitude, sign.longitude) == (40.660811976282695, -73.99859430999363)
    assert sign.address_text == "186 25 STREET, BROOKLYN 11232"

    aging = cases["19937942"]  # "requested.Â\xa0 No further" in the file
    assert aging.attributes["_resolution_description"].startswith(
        "The Department for the Aging contacted you and provided the assistance requested.\xa0 No"
    )

    assigned = cases["19944912"]  # Assigned, Closed Date 01/01/1900
    assert assigned.status == CaseStatus.IN_PROGRESS
    assert assigned.closed_at is None and assigned.resolved_at is None

    assert cases["19938465"].origin_channel == "open311"  # ONLINE
    assert cases["19938386"].origin_channel == "other"  # UNKNOWN
    assert cases["19938386"].status == CaseStatus.OPEN  # Pending
    assert cases["19938018"].district is None  # Unspecified
    assert cases["19943964"].address_text == ""  # N/A N/A, N/A, N/A

    counts = dict(
        session.execute(
            sa.select(Case.status, sa.func.count())
            .where(Case.jurisdiction_id == nyc.id)
            .group_by(Case.status)
        ).all()
    )
    assert counts == {"closed": 1956, "open": 24, "in_progress": 20}
    assert session.scalar(sa.select(sa.func.count()).select_from(CaseEvent)) == 0


def test_rerunning_the_same_file_finds_everything_already_present(session, nyc, tmp_path):
    needs_sample()
    import_nyc(session, nyc, SAMPLE, options(tmp_path))

    again = import_nyc(session, nyc, SAMPLE, options(tmp_path))
    assert again.already_imported
    assert "already imported" in again.summary()

    forced = import_nyc(session, nyc, SAMPLE, options(tmp_path, again=True))
    assert (forced.imported, forced.already_present, forced.rejected) == (0, 2000, 0)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == 2000
    assert session.scalar(sa.select(sa.func.count()).select_from(ServiceType)) == 2 + 90
    runs = session.scalars(sa.select(ImportRun).order_by(ImportRun.id)).all()
    assert [r.state for r in runs] == [ImportState.DONE, ImportState.DONE]


def test_a_file_overlapping_an_earlier_one_adds_only_the_new_keys(session, nyc, tmp_path):
    first = write_nyc(tmp_path / "first.csv", [nyc_row(str(n)) for n in range(1, 6)])
    second = write_nyc(
        tmp_path / "second.csv",
        [nyc_row(str(n)) for n in (3, 4, 5, 6, 7, 8)] + [nyc_row("8", Descriptor="again")],
    )
    import_nyc(session, nyc, first, options(tmp_path))

    result = import_nyc(session, nyc, second, options(tmp_path))

    assert (result.imported, result.already_present, result.rejected) == (3, 4, 0)
    cases = cases_by_key(session, nyc)
    assert sorted(cases, key=int) == [str(n) for n in range(1, 9)]


# --- Rejects --------------------------------------------------------------------------------


def test_every_reject_reason_is_written_with_its_row_and_key(session, nyc, tmp_path):
    native = factories.make_case(session, nyc)
    session.commit()
    path = write_nyc(
        tmp_path / "dirty.csv",
        [
            nyc_row("1001"),
            nyc_row(""),
            nyc_row("12345678901234567"),
            nyc_row("1004", Created_Date="yesterday"),
            nyc_row("1005", Created_Date=""),
            nyc_row("1006", Created_Date="01/01/1900 12:00:00 AM"),
            nyc_row("1007", Closed_Date="02/28/2011 09:00:00 AM"),
            nyc_row(native.tracking_number),
            nyc_row("1009", Latitude="140.5", Longitude="-73.9"),
            nyc_row("1010", Latitude="", Longitude="", Location="(40.7, -73.9)"),
            nyc_row("1011", Status="Pending", Closed_Date="02/28/2011 09:00:00 AM"),
            nyc_row("1012", Created_Date="13/45/2011 02:27:57 PM"),
            # Daylight saving ends: closed in the second 01:00-01:59, after the first one.
            nyc_row(
                "1013",
                Created_Date="11/07/2010 01:31:55 AM",
                Closed_Date="11/07/2010 01:00:31 AM",
            ),
        ],
    )
    result = import_nyc(session, nyc, path, options(tmp_path))

    assert (result.rows_read, result.imported, result.rejected) == (13, 5, 8)
    assert result.coordinates_dropped == 1
    assert read_rejects(tmp_path / "rejects.csv") == [
        ["2", "", "missing Unique Key"],
        ["3", "12345678901234567", "Unique Key longer than 16 characters"],
        ["4", "1004", "unreadable Created Date"],
        ["5", "1005", "missing Created Date"],
        ["6", "1006", "missing Created Date"],
        ["7", "1007", "Closed Date before Created Date"],
        ["8", native.tracking_number, "Unique Key is already another case's tracking number"],
        ["12", "1012", "unreadable Created Date"],
    ]
    cases = cases_by_key(session, nyc)
    assert set(cases) == {"1001", "1009", "1010", "1011", "1013", None}
    assert cases["1013"].created_at == utc(2010, 11, 7, 1, 31, 55, zone=NEW_YORK_DST)
    assert cases["1013"].closed_at == utc(2010, 11, 7, 1, 0, 31)
    assert (cases["1009"].latitude, cases["1009"].longitude) == (None, None)
    assert (cases["1010"].latitude, cases["1010"].longitude) == (40.7, -73.9)
    assert cases["1011"].status == CaseStatus.OPEN and cases["1011"].closed_at is None
    run = session.scalars(sa.select(ImportRun)).one()
    assert (run.rows_read, run.rows_imported, run.rows_rejected) == (13, 5, 8)


def test_without_create_missing_unknown_agencies_and_complaint_types_are_rejected(
    session, nyc, tmp_path
):
    path = write_nyc(
        tmp_path / "unknown.csv",
        [
            nyc_row("2001", Agency="PW", Complaint_Type="Pothole"),
            nyc_row("2002", Agency="DOT", Complaint_Type="Pothole"),
            nyc_row("2003", Agency="PW", Complaint_Type="Street Condition"),
        ],
    )
    result = import_nyc(session, nyc, path, options(tmp_path, create_missing=False))

    assert (result.imported, result.rejected) == (1, 2)
    assert read_rejects(tmp_path / "rejects.csv") == [
        ["2", "2002", "unmapped agency 'DOT'"],
        ["3", "2003", "unmapped complaint type 'Street Condition'"],
    ]
    case = cases_by_key(session, nyc)["2001"]
    assert case.service_type_id == factories.service_type(session, nyc, "pothole").id
    assert session.scalar(sa.select(sa.func.count()).select_from(Department)) == 3


def test_a_mapping_file_sends_agencies_and_complaint_types_to_what_the_city_has(
    session, nyc, tmp_path
):
    mapping = parse_mapping(
        "agencies:\n  DOT: PW\n  DSNY: SAN\ncomplaint_types:\n"
        "  Street Condition: pothole\n  Missed Collection (All Materials): missed-pickup\n"
    )
    path = write_nyc(
        tmp_path / "mapped.csv",
        [
            nyc_row("3001"),
            nyc_row("3002", Agency="DSNY", Complaint_Type="Missed Collection (All Materials)"),
            nyc_row("3003", Agency="DSNY", Complaint_Type="Dirty Conditions"),
        ],
    )
    result = import_nyc(
        session, nyc, path, options(tmp_path, mapping=mapping, create_missing=False)
    )

    assert (result.imported, result.rejected) == (2, 1)
    cases = cases_by_key(session, nyc)
    public_works = session.scalars(sa.select(Department).where(Department.code == "PW")).one()
    assert cases["3001"].department_id == public_works.id
    assert cases["3001"].service_type_id == factories.service_type(session, nyc, "pothole").id
    missed = factories.service_type(session, nyc, "missed-pickup")
    assert cases["3002"].service_type_id == missed.id


def test_a_mapping_that_names_unknown_codes_is_refused_before_anything_is_read(
    session, nyc, tmp_path
):
    path = write_nyc(tmp_path / "one.csv", [nyc_row("4001")])
    with pytest.raises(ValueError, match="'streets'"):
        import_nyc(
            session,
            nyc,
            path,
            options(tmp_path, mapping=Mapping(complaint_types={"Street Condition": "streets"})),
        )
    assert session.scalar(sa.select(sa.func.count()).select_from(ImportRun)) == 0
    with pytest.raises(ValueError, match="unknown section"):
        parse_mapping("agency:\n  DOT: PW\n")


def test_created_service_types_are_inactive_and_never_offered_to_residents(
    session, nyc, tmp_path, client
):
    path = write_nyc(tmp_path / "new.csv", [nyc_row("5001", Complaint_Type="Rodent")])
    import_nyc(session, nyc, path, options(tmp_path))

    rodent = session.scalars(sa.select(ServiceType).where(ServiceType.name == "Rodent")).one()
    assert (rodent.code, rodent.active) == ("rodent", False)
    listed = client.get("/open311/v2/services.json?jurisdiction_id=nyc").get_json()
    assert "rodent" not in {s["service_code"] for s in listed}
    assert "pothole" in {s["service_code"] for s in listed}


# --- Imported cases are history -------------------------------------------------------------


def test_imported_open_cases_are_never_routed_offered_clocked_or_notified(
    app, session, nyc, tmp_path
):
    queue = factories.make_queue(session, nyc)
    factories.make_available_agent(session, nyc, [queue])
    session.commit()
    path = write_nyc(
        tmp_path / "open.csv",
        [
            nyc_row("6001", Status="Open", Closed_Date=""),
            nyc_row("6002", Status="Assigned", Closed_Date=""),
            nyc_row("6003", Status="Started", Closed_Date=""),
        ],
    )
    import_nyc(session, nyc, path, options(tmp_path))

    with app.app_context():  # as the worker runs the tick: it may queue jobs
        run_tick(session, dt.datetime.now(dt.UTC) + dt.timedelta(days=30))
        offers = dispatch(session, nyc.id)
        session.commit()

    assert offers == []
    for model in (WorkItem, Offer, CaseClock, Interaction, CaseEvent):
        assert session.scalar(sa.select(sa.func.count()).select_from(model)) == 0, model
    statuses = {k: c.status for k, c in cases_by_key(session, nyc).items()}
    assert statuses == {"6001": "open", "6002": "in_progress", "6003": "in_progress"}


# --- Interruptions --------------------------------------------------------------------------


class Stop(Exception):
    pass


def test_an_interrupted_import_resumes_after_its_last_committed_batch(session, nyc, tmp_path):
    rows = [nyc_row(str(7000 + n)) for n in range(1, 51)]
    rows[4]["Unique Key"] = ""  # row 5: rejected in the first batch
    rows[33]["Created Date"] = "nonsense"  # row 34: rejected in the fourth
    path = write_nyc(tmp_path / "fifty.csv", rows)
    batches = []

    def stop_after_two(run: ImportRun) -> None:
        batches.append(run.rows_read)
        if len(batches) == 2:
            raise Stop

    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=10), after_batch=stop_after_two)
    assert batches == [10, 20]
    run = session.scalars(sa.select(ImportRun)).one()
    assert (run.state, run.rows_read, run.rows_imported) == (ImportState.FAILED, 20, 19)
    assert len(cases_by_key(session, nyc)) == 19

    resumed = import_nyc(session, nyc, path, options(tmp_path, batch_size=10))

    assert resumed.resumed_at_row == 20
    assert (resumed.rows_read, resumed.imported, resumed.already_present) == (30, 29, 0)
    assert "resumed after row 20" in resumed.summary()
    cases = cases_by_key(session, nyc)
    assert sorted(cases) == sorted(str(7000 + n) for n in range(1, 51) if n not in (5, 34))
    session.refresh(run)
    assert (run.state, run.rows_read, run.rows_imported, run.rows_rejected) == (
        ImportState.DONE,
        50,
        48,
        2,
    )
    assert [r[0] for r in read_rejects(tmp_path / "rejects.csv")] == ["5", "34"]


def test_a_batch_that_never_committed_leaves_no_rejects_behind(session, nyc, tmp_path, monkeypatch):
    rows = [nyc_row(str(8000 + n)) for n in range(1, 21)]
    rows[12]["Unique Key"] = ""  # row 13, in the second batch
    path = write_nyc(tmp_path / "twenty.csv", rows)
    write = import_service._Rejects.write

    def write_then_crash(self: Any, rejected: list[Any]) -> None:
        write(self, rejected)
        if rejected:
            raise Stop  # the rejects are on disk, the batch is not committed

    monkeypatch.setattr(import_service._Rejects, "write", write_then_crash)
    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=10))
    assert [r[0] for r in read_rejects(tmp_path / "rejects.csv")] == ["13"]
    monkeypatch.setattr(import_service._Rejects, "write", write)

    resumed = import_nyc(session, nyc, path, options(tmp_path, batch_size=10))

    assert (resumed.resumed_at_row, resumed.imported, resumed.rejected) == (10, 9, 1)
    assert read_rejects(tmp_path / "rejects.csv") == [["13", "", "missing Unique Key"]]
    assert len(cases_by_key(session, nyc)) == 19


def test_a_run_another_process_is_still_committing_is_not_resumed(session, nyc, tmp_path):
    if session.get_bind().dialect.name == "postgresql":
        pytest.skip("PostgreSQL: an advisory lock, not the time (test_import_concurrency.py)")
    path = write_nyc(tmp_path / "busy.csv", [nyc_row("7501"), nyc_row("7502")])

    def stop(run: ImportRun) -> None:
        raise Stop

    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=1), after_batch=stop)
    run = session.scalars(sa.select(ImportRun)).one()
    run.state = ImportState.RUNNING  # as a killed process (or a live one) leaves it
    session.commit()

    with pytest.raises(ImportInProgress, match=f"run {run.id} is importing this file"):
        import_nyc(session, nyc, path, options(tmp_path))
    run.updated_at = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    session.commit()
    resumed = import_nyc(session, nyc, path, options(tmp_path))

    assert (resumed.resumed_at_row, resumed.imported) == (1, 1)


def test_quoted_fields_with_line_breaks_keep_the_resume_position_exact(session, nyc, tmp_path):
    rows = [
        nyc_row(str(9000 + n), Descriptor=f"line one\nline two {n}", Resolution_Description="ok")
        for n in range(1, 8)
    ]
    path = write_nyc(tmp_path / "multiline.csv", rows)

    def stop(run: ImportRun) -> None:
        raise Stop

    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=3), after_batch=stop)
    import_nyc(session, nyc, path, options(tmp_path, batch_size=3))

    cases = cases_by_key(session, nyc)
    assert {k: c.description for k, c in cases.items()} == {
        str(9000 + n): f"line one\nline two {n}" for n in range(1, 8)
    }


# --- The command ----------------------------------------------------------------------------


def _invoke(app, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), obj=ScriptInfo(create_app=lambda: app))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_import_command_prints_a_summary_and_then_already_imported(app, session, nyc, tmp_path):
    path = write_nyc(tmp_path / "cli.csv", [nyc_row("10001"), nyc_row("")])
    rejects = tmp_path / "cli-rejects.csv"
    args = ("import", "nyc", str(path), "--jurisdiction", "nyc", "--rejects", str(rejects))

    first = _invoke(app, *args, "--batch-size", "1")
    second = _invoke(app, *args, "--quiet")

    assert "read 2 / imported 1 / already present 0 / rejected 1 /" in first
    assert "rows/s" in first and f"rejected rows and why: {rejects}" in first
    assert "created departments: DOT" in first
    assert "already imported" in second
    assert read_rejects(rejects) == [["2", "", "missing Unique Key"]]


def test_the_command_takes_a_mapping_file_and_no_create_missing(app, session, nyc, tmp_path):
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("agencies:\n  DOT: PW\ncomplaint_types:\n  Street Condition: pothole\n")
    path = write_nyc(
        tmp_path / "flags.csv", [nyc_row("11001"), nyc_row("11002", Complaint_Type="Rodent")]
    )
    rejects = tmp_path / "flags-rejects.csv"

    output = _invoke(
        app,
        *("import", "nyc", str(path), "--jurisdiction", "nyc", "--rejects", str(rejects)),
        *("--mapping", str(mapping), "--no-create-missing"),
    )

    assert "imported 1 / already present 0 / rejected 1 /" in output
    assert read_rejects(rejects) == [["2", "11002", "unmapped complaint type 'Rodent'"]]
    bad = tmp_path / "bad.yaml"
    bad.write_text("complaint_types: [1, 2]\n")
    refused = CliRunner().invoke(
        cli,
        ["import", "nyc", str(path), "--jurisdiction", "nyc", "--mapping", str(bad)],
        obj=ScriptInfo(create_app=lambda: app),
    )
    assert refused.exit_code == 1 and "'complaint_types' must map names to codes" in refused.output


def test_progress_adds_up_to_the_file_size_even_when_resumed(session, nyc, tmp_path):
    path = write_nyc(tmp_path / "progress.csv", [nyc_row(str(12000 + n)) for n in range(25)])
    first: list[int] = []

    def stop(run: ImportRun) -> None:
        raise Stop

    with pytest.raises(Stop):
        import_nyc(
            session,
            nyc,
            path,
            options(tmp_path, batch_size=10),
            progress=first.append,
            after_batch=stop,
        )
    second: list[int] = []
    import_nyc(session, nyc, path, options(tmp_path, batch_size=10), progress=second.append)

    assert sum(first) < path.stat().st_size
    assert sum(second) == path.stat().st_size
    assert second[0] == sum(first)


def test_the_import_command_refuses_a_file_in_another_layout_and_an_unknown_city(
    app, session, nyc, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    other = tmp_path / "other.csv"
    other.write_text("SRNumber,CreatedDate\n1,2\n", encoding="utf-8")
    runner = CliRunner()
    info = ScriptInfo(create_app=lambda: app)

    wrong = runner.invoke(cli, ["import", "nyc", str(other), "--jurisdiction", "nyc"], obj=info)
    unknown = runner.invoke(cli, ["import", "nyc", str(other), "--jurisdiction", "x"], obj=info)

    assert wrong.exit_code == 1 and "not New York's 311 layout" in wrong.output
    assert session.scalar(sa.select(sa.func.count()).select_from(ImportRun)) == 0
    assert unknown.exit_code == 1 and "no jurisdiction 'x'" in unknown.output
