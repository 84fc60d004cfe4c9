"""The staff CSV export never hands a spreadsheet a formula, and the importer reads the
quoted cells back as they were."""

from __future__ import annotations

import csv
import io

import pytest

from contactcenter.imports.csvsafe import FORMULA_STARTS, defuse, undefuse
from contactcenter.imports.export import nyc_csv
from contactcenter.imports.nyc import COLUMNS
from contactcenter.imports.service import ImportOptions, import_nyc
from tests.test_export_nyc import _snapshot, copy_city, nyc
from tests.test_import_nyc import nyc_row, write_nyc

__all__ = ["copy_city", "nyc"]  # fixtures

HYPERLINK = '=HYPERLINK("http://evil.example/?x","Click")'
DDE = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    "text",
    ["", "plain", HYPERLINK, DDE, "+1", "-2", "\tx", "\rx", "'quoted", "''", "'=1", "a=b"],
)
def test_defused_text_never_starts_a_formula_and_comes_back_unchanged(text):
    cell = defuse(text)
    assert cell[:1] not in FORMULA_STARTS
    assert undefuse(cell) == text


def test_an_apostrophe_in_a_file_we_did_not_write_is_kept():
    assert undefuse("'Tis the season") == "'Tis the season"


def hostile_rows() -> list[dict[str, str]]:
    return [
        nyc_row(
            "7101",
            Descriptor=HYPERLINK,
            Incident_Address=DDE,
            City="",
            Incident_Zip="",
            Resolution_Description="+cmd|' /C calc'!A0",
            Agency="=AG",
            Agency_Name="-Evil agency",
            Complaint_Type="@Complaint",
            Borough="=BOROUGH",
        ),
        nyc_row("7102", Descriptor="'Tis quoted already", Incident_Address="'=1 MAIN ST"),
    ]


def test_no_text_cell_of_the_export_starts_a_formula(session, nyc, tmp_path):
    path = write_nyc(tmp_path / "hostile.csv", hostile_rows())
    import_nyc(session, nyc, path, ImportOptions(rejects_path=tmp_path / "r.csv"))

    rows = list(csv.reader(io.StringIO("".join(nyc_csv(session, nyc)))))

    assert rows[0] == list(COLUMNS)
    by_key = {row[0]: dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]}
    hostile = by_key["7101"]
    assert hostile["Descriptor"] == "'" + HYPERLINK
    assert hostile["Incident Address"] == "'" + DDE
    assert hostile["Resolution Description"] == "'+cmd|' /C calc'!A0"
    assert (hostile["Agency"], hostile["Agency Name"], hostile["Complaint Type"]) == (
        "'=AG",
        "'-Evil agency",
        "'@Complaint",
    )
    assert hostile["Borough"] == "'=BOROUGH"
    for row in rows[1:]:
        for name, cell in zip(COLUMNS, row, strict=True):
            if name not in ("Latitude", "Longitude"):  # numbers: -73.99 is a number
                assert cell[:1] not in FORMULA_STARTS, (name, cell)


def test_an_export_with_quoted_cells_imports_back_to_the_same_cases(
    session, nyc, copy_city, tmp_path
):
    path = write_nyc(tmp_path / "hostile.csv", hostile_rows())
    import_nyc(session, nyc, path, ImportOptions(rejects_path=tmp_path / "r1.csv"))
    exported = tmp_path / "export.csv"
    exported.write_text("".join(nyc_csv(session, nyc)), encoding="utf-8")

    again = import_nyc(
        session, copy_city, exported, ImportOptions(rejects_path=tmp_path / "r2.csv")
    )

    assert (again.imported, again.rejected) == (2, 0)
    original, copied = _snapshot(session, nyc), _snapshot(session, copy_city)
    assert copied == original
    assert copied["7101"]["description"] == HYPERLINK
    assert copied["7101"]["address_text"] == DDE
    assert copied["7102"]["description"] == "'Tis quoted already"
    assert copied["7102"]["address_text"].startswith("=1 MAIN ST")  # read as our export


def test_a_rejected_key_is_written_defused_in_the_rejects_file(session, nyc, tmp_path):
    path = write_nyc(tmp_path / "bad.csv", [nyc_row("=1+2", Created_Date="nonsense")])
    import_nyc(session, nyc, path, ImportOptions(rejects_path=tmp_path / "r.csv"))
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[1][:2] == ["1", "'=1+2"]
