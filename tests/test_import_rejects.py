"""A resumed import keeps the rejects of its committed batches, streamed through a file
beside the old one that then replaces it."""

from __future__ import annotations

import csv

import pytest

from contactcenter.imports import service as import_service
from contactcenter.imports.models import ImportRun
from contactcenter.imports.service import import_nyc
from tests.test_import_nyc import nyc, nyc_row, options, read_rejects, write_nyc

__all__ = ["nyc"]  # the fixture


class Stop(Exception):
    pass


def test_resuming_streams_the_committed_rejects_into_a_replacement_file(
    session, nyc, tmp_path, monkeypatch
):
    rows = [nyc_row(str(9100 + n), Created_Date="bad" if n % 2 else "") for n in range(1, 41)]
    rows[35] = nyc_row("9136")  # one good row in the last batch
    path = write_nyc(tmp_path / "rejects-heavy.csv", rows)

    def stop_after_two(run: ImportRun) -> None:
        if run.rows_read == 20:
            raise Stop

    with pytest.raises(Stop):
        import_nyc(session, nyc, path, options(tmp_path, batch_size=10), after_batch=stop_after_two)
    rejects = tmp_path / "rejects.csv"
    with rejects.open("a", newline="", encoding="utf-8") as f:  # an uncommitted batch's
        csv.writer(f).writerows([["21", "9121", "left by a crash"], ["22", "9122", "same"]])
    replaced: list[tuple[str, str]] = []
    replace = import_service.os.replace

    def spy(src, dst):  # type: ignore[no-untyped-def]
        replaced.append((str(src), str(dst)))
        replace(src, dst)

    monkeypatch.setattr(import_service.os, "replace", spy)

    resumed = import_nyc(session, nyc, path, options(tmp_path, batch_size=10))

    assert replaced == [(str(rejects) + ".partial", str(rejects))]
    assert not (tmp_path / "rejects.csv.partial").exists()
    numbers = [int(r[0]) for r in read_rejects(rejects)]
    assert numbers == [n for n in range(1, 41) if n != 36]
    assert (resumed.imported, resumed.rejected) == (1, 19)
