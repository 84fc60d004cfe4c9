"""New York's statuses: every one it publishes has a place in our lifecycle; a status we do
not know rejects its row rather than opening it."""

from __future__ import annotations

import pytest

from contactcenter.cases.models import CaseStatus
from contactcenter.imports.nyc import COLUMNS, Rejected, RowReader
from contactcenter.imports.service import import_nyc
from tests.test_import_nyc import (
    NEW_YORK,
    cases_by_key,
    nyc,
    nyc_row,
    options,
    read_rejects,
    write_nyc,
)

__all__ = ["nyc"]  # the fixture


def parse_status(status: str) -> tuple[str, object]:
    reader = RowReader(list(COLUMNS), NEW_YORK)
    row = nyc_row("1", Status=status)
    parsed = reader.parse([row.get(c, "") for c in COLUMNS])
    return parsed.status, parsed.closed_at


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("Closed", CaseStatus.CLOSED),
        ("Closed - Testing", CaseStatus.CLOSED),
        ("Cancel", CaseStatus.CLOSED),
        ("Cancelled", CaseStatus.CLOSED),
        ("CANCELED", CaseStatus.CLOSED),
        ("Assigned", CaseStatus.IN_PROGRESS),
        ("Started", CaseStatus.IN_PROGRESS),
        ("In  Progress", CaseStatus.IN_PROGRESS),
        ("Email Sent", CaseStatus.IN_PROGRESS),
        ("Open", CaseStatus.OPEN),
        ("Pending", CaseStatus.OPEN),
        ("Draft", CaseStatus.OPEN),
        ("Unspecified", CaseStatus.OPEN),
        ("", CaseStatus.OPEN),
    ],
)
def test_each_published_status_has_its_place(status, expected):
    parsed_status, closed_at = parse_status(status)
    assert parsed_status == expected.value
    assert (closed_at is not None) is (expected == CaseStatus.CLOSED)


def test_an_unknown_status_is_a_reason_not_an_open_case():
    with pytest.raises(Rejected, match="unknown Status 'Archived'"):
        parse_status("Archived")


def test_rows_with_unknown_statuses_are_rejected_and_counted(session, nyc, tmp_path):
    path = write_nyc(
        tmp_path / "statuses.csv",
        [
            nyc_row("2001", Status="Cancelled"),
            nyc_row("2002", Status="Archived"),
            nyc_row("2003", Status="Email Sent", Closed_Date=""),
        ],
    )

    result = import_nyc(session, nyc, path, options(tmp_path))

    assert (result.imported, result.rejected) == (2, 1)
    cases = cases_by_key(session, nyc)
    assert cases["2001"].status == CaseStatus.CLOSED and cases["2001"].closed_at is not None
    assert cases["2003"].status == CaseStatus.IN_PROGRESS
    assert read_rejects(tmp_path / "rejects.csv") == [["2", "2002", "unknown Status 'Archived'"]]
