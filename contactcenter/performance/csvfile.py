"""The performance figures as one CSV file in long format: one row per figure, group and
measure, so a spreadsheet or an open-data portal can pivot it any way."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from contactcenter.performance.figures import SUPPRESS_BELOW, Counts, Figures

HEADER = ("figure", "dimension", "key", "label", "measure", "value")
COUNT_MEASURES = ("opened", "closed", "closed_with_target", "closed_on_time", "on_time_percent")
SUPPRESSION_NOTE = (
    f"In the service_type and district rows, a count from 1 to {SUPPRESS_BELOW - 1} is left "
    "empty, and so is on_time_percent when a count it is computed from is."
)
CLOSE_MEASURES = ("median_days", "median_over_a_year", "p90_days", "p90_over_a_year")


def figures_csv(figures: Figures) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(figures):
        writer.writerow([_cell(value) for value in row])
    return out.getvalue()


def rows(figures: Figures) -> Iterator[tuple[Any, ...]]:
    period = figures.as_dict()["period"]
    for measure in ("from", "to", "first_day", "last_day"):
        yield ("period", "", "", "", measure, period[measure])
    yield ("period", "", "", "", "as_of", figures.today.isoformat())
    yield ("note", "", "", "", "suppressed", SUPPRESSION_NOTE)
    yield from _counts("requests", "all", figures.totals)
    close = figures.close_time.as_dict()
    for measure in CLOSE_MEASURES:
        yield ("days_to_close", "all", "all", "All requests", measure, close[measure])
    for st in figures.by_service_type:
        yield from _counts("requests", "service_type", st.counts, suppress=True)
        data = st.as_dict()
        for measure in (*CLOSE_MEASURES, "target_days"):
            label = st.counts.label
            yield ("days_to_close", "service_type", st.counts.key, label, measure, data[measure])
    for counts in figures.by_channel:
        yield from _counts("requests", "channel", counts)
    for counts in figures.by_district:
        yield from _counts("requests", "district", counts, suppress=True)
    for bucket in figures.backlog:
        yield ("backlog", "age", bucket.label, bucket.label, "open", bucket.cases)
    for name, points in (("trend_weekly", figures.weekly), ("trend_monthly", figures.monthly)):
        for point in points:
            yield from _counts(name, "week" if name == "trend_weekly" else "month", point.counts)


def _counts(
    figure: str, dimension: str, counts: Counts, *, suppress: bool = False
) -> Iterator[tuple[Any, ...]]:
    data = counts.as_dict(suppress=suppress)
    for measure in COUNT_MEASURES:
        yield (figure, dimension, counts.key, counts.label, measure, data[measure])


def _cell(value: Any) -> str:
    """Text as written, numbers plainly, nothing for none; a label that a spreadsheet would
    run as a formula (=, +, -, @ first) is quoted with an apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value
    return str(value)
