"""What the dashboard benchmarks share (``public_dashboard``, ``supervisor_dashboard``).

The distributions of the shared New York 311 sample (service types, their agencies, channels,
boroughs, times to close, hours of the day) with a built-in table when the sample is absent;
draws of them as arrays that one ``random()`` indexes in SQL; sides timed in turns; SQL
statements counted on an engine; figures compared side by side.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLES = ROOT.parent / "shared" / "testdata" / "311" / "nyc"
PG = "127.0.0.1:5432"
ADMIN_URL = f"postgresql://postgres@{PG}/postgres"
QUANTA = 1000  # each distribution is an array of this many draws, indexed by random()

CHANNELS = {"PHONE": "voice", "ONLINE": "webchat", "MOBILE": "open311", "OTHER": "other"}
BUILTIN: dict[str, Any] = {
    "types": {
        "Noise - Residential": 30,
        "HEAT/HOT WATER": 25,
        "Street Condition": 15,
        "Blocked Driveway": 12,
        "Illegal Parking": 10,
        "Water System": 8,
    },
    "agencies": {
        "Noise - Residential": "NYPD",
        "HEAT/HOT WATER": "HPD",
        "Street Condition": "DOT",
        "Blocked Driveway": "NYPD",
        "Illegal Parking": "NYPD",
        "Water System": "DEP",
    },
    "agency_names": {
        "NYPD": "New York City Police Department",
        "HPD": "Department of Housing Preservation and Development",
        "DOT": "Department of Transportation",
        "DEP": "Department of Environmental Protection",
    },
    "channels": {"voice": 60, "webchat": 20, "open311": 10, "sms": 5, "email": 5},
    "districts": {
        "BROOKLYN": 30,
        "QUEENS": 25,
        "MANHATTAN": 22,
        "BRONX": 15,
        "STATEN ISLAND": 5,
        "": 3,
    },
    "close_seconds": [1800, 7200, 20000, 86400, 3 * 86400, 6 * 86400, 14 * 86400, 40 * 86400],
    "open_share": 0.03,
    # Share of requests by local hour of the day (a weekday's curve: busiest at midday).
    "hours": {
        h: w
        for h, w in enumerate(
            [2, 1, 1, 1, 1, 1, 2, 4, 6, 9, 10, 11] + [11] * 2 + [10, 8, 6, 5, 4, 3, 3, 3, 3, 2]
        )
    },
}


def distributions() -> dict[str, Any]:
    """Service types (with the agency that handles most of each), channels, districts, times
    to close and hours of the day, from the New York sample (the built-in table without it)."""
    files = sorted(SAMPLES.glob("*.csv")) if SAMPLES.is_dir() else []
    if not files:
        return {**BUILTIN, "source": "built-in"}
    types: Counter[str] = Counter()
    by_agency: dict[str, Counter[str]] = defaultdict(Counter)
    agency_names: dict[str, str] = {}
    channels: Counter[str] = Counter()
    districts: Counter[str] = Counter()
    hours: Counter[int] = Counter()
    close: list[float] = []
    open_rows = rows = 0
    fmt = "%m/%d/%Y %I:%M:%S %p"
    for path in files:
        with path.open(newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                rows += 1
                kind = row.get("Complaint Type", "") or "Other"
                types[kind] += 1
                agency = (row.get("Agency", "") or "311")[:32]
                by_agency[kind][agency] += 1
                agency_names.setdefault(agency, (row.get("Agency Name", "") or agency)[:200])
                channels[CHANNELS.get(row.get("Open Data Channel Type", ""), "other")] += 1
                borough = row.get("Borough", "")
                districts["" if borough in ("", "Unspecified") else borough] += 1
                try:
                    created = dt.datetime.strptime(row["Created Date"], fmt)
                except (KeyError, ValueError):
                    open_rows += 1
                    continue
                hours[created.hour] += 1
                try:
                    closed = dt.datetime.strptime(row["Closed Date"], fmt)
                except (KeyError, ValueError):
                    open_rows += 1
                    continue
                if closed >= created:
                    close.append((closed - created).total_seconds())
    return {
        "types": dict(types),
        "agencies": {kind: c.most_common(1)[0][0] for kind, c in by_agency.items()},
        "agency_names": agency_names,
        "channels": dict(channels),
        "districts": dict(districts),
        "close_seconds": close or BUILTIN["close_seconds"],
        "open_share": open_rows / max(rows, 1),
        "hours": dict(hours) or BUILTIN["hours"],
        "source": ", ".join(p.name for p in files),
    }


def quantized(weights: dict[Any, float] | list[Any], rng: random.Random) -> list[Any]:
    """QUANTA draws in proportion to the weights (sorted, so the SQL picks by one random())."""
    if isinstance(weights, list):
        return sorted(rng.choice(weights) for _ in range(QUANTA))
    keys = list(weights)
    return sorted(rng.choices(keys, weights=[weights[k] for k in keys], k=QUANTA), key=str)


class StatementCounter:
    """Counts the SQL statements an SQLAlchemy engine sends."""

    def __init__(self, engine: Any) -> None:
        import sqlalchemy as sa

        self.count = 0
        sa.event.listen(engine, "before_cursor_execute", self._count)

    def _count(self, *args: Any) -> None:
        self.count += 1


def timed(sides: dict[str, Callable[[], Any]], repeat: int, warmup: int = 2) -> dict[str, Any]:
    """Each side called ``repeat`` times, taking turns (a, b, c, a, b, c, ...) so that whatever
    else runs on the machine meanwhile slows them alike."""
    for _ in range(warmup):
        for fn in sides.values():
            fn()
    took: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        for name, fn in sides.items():
            t0 = time.perf_counter()
            fn()
            took[name].append(time.perf_counter() - t0)
    return {name: summary(values) for name, values in took.items()}


def summary(took: list[float]) -> dict[str, Any]:
    took = sorted(took)
    return {
        "n": len(took),
        "p50_ms": statistics.median(took) * 1000,
        "p95_ms": took[min(len(took) - 1, round(0.95 * (len(took) - 1)))] * 1000,
        "max_ms": took[-1] * 1000,
    }


def differences(sides: dict[str, dict[str, Any]]) -> list[str]:
    """Every figure on which the sides disagree, named (empty when they all agree)."""
    names = list(sides)
    first = sides[names[0]]
    out = []
    for other in names[1:]:
        for figure, values in first.items():
            theirs = sides[other][figure]
            if isinstance(values, dict):
                for k in sorted(set(values) | set(theirs), key=str):
                    if values.get(k) != theirs.get(k):
                        out.append(
                            f"{figure} {k}: {names[0]} {values.get(k)} != {other} {theirs.get(k)}"
                        )
            elif values != theirs:
                out.append(f"{figure}: {names[0]} {values} != {other} {theirs}")
    return out
