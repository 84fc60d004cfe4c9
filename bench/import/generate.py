"""A large file in New York's 311 layout, drawn from the shared sample's distributions.

Each output row starts from a sample row picked at random (so agency, agency name, complaint
type, descriptor, borough, city, zip, address, channel type, status, resolution text and
whether coordinates are given keep their joint distribution), then gets a synthetic Unique
Key, a creation time spread over two years in file order (as real exports come), the
template's close and due delays applied to it, and its coordinates jittered by up to ~100 m.
Without the shared data a small built-in set of templates stands in.

    .venv/bin/python bench/import/generate.py ROWS OUT.csv [--seed N]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SAMPLE = ROOT.parent / "shared" / "testdata" / "311" / "nyc" / "nyc311_2011-03_2000rows_41cols.csv"
FORMAT = "%m/%d/%Y %I:%M:%S %p"
NEW_YORK = ZoneInfo("America/New_York")
START = dt.datetime(2010, 1, 1, 5, tzinfo=dt.UTC)  # midnight in New York
SPAN_SECONDS = 2 * 365 * 24 * 3600
KEY_BASE = 30_000_000

sys.path.insert(0, str(ROOT))

from contactcenter.imports.nyc import COLUMNS  # noqa: E402

BUILT_IN = """\
NYPD|New York City Police Department|Noise - Residential|Loud Music/Party|BROOKLYN|PHONE|Closed|3
DOT|Department of Transportation|Street Condition|Pothole|QUEENS|ONLINE|Closed|120
DSNY|Department of Sanitation|Dirty Conditions|Trash|BRONX|PHONE|Pending|
DPR|Department of Parks and Recreation|Damaged Tree|Branch Cracked|STATEN ISLAND|MOBILE|Closed|400
HPD|Housing Preservation and Development|HEAT/HOT WATER|ENTIRE BUILDING|MANHATTAN|PHONE|Closed|48
"""
"""Agency, agency name, complaint type, descriptor, borough, channel, status, hours to close."""


def _parse(text: str) -> dt.datetime | None:
    """A local time as an aware instant (delays between two of them are then real ones)."""
    if not text or text.startswith("01/01/1900"):
        return None
    try:
        return dt.datetime.strptime(text, FORMAT).replace(tzinfo=NEW_YORK).astimezone(dt.UTC)
    except ValueError:
        return None


def templates() -> list[dict[str, str]]:
    """The shared sample's rows, or the built-in stand-ins."""
    if SAMPLE.exists():
        with SAMPLE.open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    rows = []
    for line in BUILT_IN.splitlines():
        agency, name, complaint, descriptor, borough, channel, status, close = line.split("|")
        hours = int(close) if close else None
        created = dt.datetime(2011, 3, 1, 10, 0, 0)  # naive: formatted as it is
        closed = created + dt.timedelta(hours=hours) if hours is not None else None
        rows.append(
            {
                "Unique Key": "1",
                "Created Date": created.strftime(FORMAT),
                "Closed Date": closed.strftime(FORMAT) if closed else "",
                "Agency": agency,
                "Agency Name": name,
                "Complaint Type": complaint,
                "Descriptor": descriptor,
                "Incident Zip": "11201",
                "Incident Address": "100 MAIN STREET",
                "City": borough,
                "Status": status,
                "Due Date": (created + dt.timedelta(days=5)).strftime(FORMAT),
                "Resolution Description": "The agency responded to the request.",
                "Borough": borough,
                "Open Data Channel Type": channel,
                "Latitude": "40.70" if hours != 400 else "",
                "Longitude": "-73.95" if hours != 400 else "",
            }
        )
    return rows


def local(instant: dt.datetime) -> str:
    return instant.astimezone(NEW_YORK).strftime(FORMAT)


def generate(rows: int, out: Path, seed: int = 311) -> dict[str, object]:
    rng = random.Random(seed)
    base = templates()
    prepared = []
    for t in base:
        created = _parse(t.get("Created Date", ""))
        closed = _parse(t.get("Closed Date", ""))
        due = _parse(t.get("Due Date", ""))
        prepared.append(
            (
                t,
                (closed - created) if created and closed else None,
                (due - created) if created and due else None,
                bool(t.get("Latitude")),
            )
        )
    with out.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for n in range(rows):
            template, close_after, due_after, located = prepared[rng.randrange(len(prepared))]
            # Instants, written in New York's time: no time falls in a daylight-saving gap.
            # In creation order, as New York's exports (and the shared sample) come: keys and
            # times rise together through the file.
            created = START + dt.timedelta(seconds=(n + rng.random()) * SPAN_SECONDS / rows)
            row = dict(template)
            row["Unique Key"] = str(KEY_BASE + n)
            row["Created Date"] = local(created)
            row["Closed Date"] = local(created + close_after) if close_after is not None else ""
            row["Resolution Action Updated Date"] = row["Closed Date"]
            row["Due Date"] = local(created + due_after) if due_after else ""
            if located:
                lat = float(template["Latitude"]) + rng.uniform(-0.001, 0.001)
                lon = float(template["Longitude"]) + rng.uniform(-0.001, 0.001)
                row["Latitude"], row["Longitude"] = f"{lat:.12f}", f"{lon:.12f}"
                row["Location"] = f"({lat:.12f}, {lon:.12f})"
            writer.writerow([row.get(c, "") for c in COLUMNS])
    return {"rows": rows, "templates": len(base), "from_sample": SAMPLE.exists(), "seed": seed}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("rows", type=int)
    p.add_argument("out", type=Path)
    p.add_argument("--seed", type=int, default=311)
    args = p.parse_args(argv)
    print(generate(args.rows, args.out, args.seed))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
