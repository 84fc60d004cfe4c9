"""Import benchmark: ``contactcenter import nyc`` against PostgreSQL's COPY of the same file.

Run from the repository root::

    .venv/bin/python bench/import/run.py [--rows N] [--batch-size N] [--keep]

(``BENCH_IMPORT_ROWS`` also sets ``--rows``; the default is 1,000,000.)

1. A file of ``--rows`` rows in New York's 41-column 311 layout is generated from the shared
   sample's distributions (``generate.py``; cached in ``bench/results/`` by size and seed).
2. A fresh PostgreSQL database is migrated and given a New York jurisdiction.
3. **floor**: the file is streamed by psycopg into ``COPY ... FROM STDIN (FORMAT csv)``, one
   transaction, into a bare table with the file's columns (dates as ``timestamptz`` parsed by
   the server in New York's time, coordinates as ``float8``, the rest text) and the **same
   indexes as the cases table**, read from the database's catalog and mapped onto the
   corresponding columns (tracking number and source key -> Unique Key, status -> Status,
   created_at -> Created Date, department -> Agency, service type -> Complaint Type, origin
   channel -> Open Data Channel Type; columns the file has no counterpart for, such as the
   assigned agent, are added empty so their index entries still cost what they cost).
4. **app**: the real command, ``contactcenter import nyc FILE --jurisdiction nyc --quiet``, in
   a subprocess: hashing the file, parsing every row, mapping agencies and complaint types,
   COPY into a staging table per batch and ``INSERT ... ON CONFLICT DO NOTHING`` into cases,
   committing each batch with the run's position and its cases' contributions to the public
   figures (``rollup.apply_inserted``, in the batch's transaction: inside the import's time;
   there is no rebuild afterwards). Its own timer (the summary line) is the import; the peak
   resident memory is the child's ``ru_maxrss``; the figures are then checked to count every
   imported case once.
5. **exports** (unless ``--skip-export``): ``contactcenter export nyc`` and ``export open311``
   of the imported cases to a file, each process's time and peak memory (streamed in pages,
   so the memory should not grow with the number of cases).

Targets: the import <= 3x the COPY time, peak memory < 1 GB. It exits 0 when the run worked
even if a target is missed (``--enforce``: 2 then). Results go to
``bench/results/import-<time>.json``; the database is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
PG = "127.0.0.1:5432"
ADMIN_URL = f"postgresql://postgres@{PG}/postgres"
TARGET_RATIO = 3.0
TARGET_RSS_MB = 1024.0

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

from contactcenter.imports.nyc import COLUMNS  # noqa: E402

TIMESTAMP_COLUMNS = {"Created Date", "Closed Date", "Due Date", "Resolution Action Updated Date"}
FLOAT_COLUMNS = {"Latitude", "Longitude"}
COUNTERPART = {
    "tracking_number": "Unique Key",
    "source_key": "Unique Key",
    "status": "Status",
    "created_at": "Created Date",
    "department_id": "Agency",
    "service_type_id": "Complaint Type",
    "origin_channel": "Open Data Channel Type",
    "jurisdiction_id": "jurisdiction_id",
    "id": "id",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_IMPORT_ROWS", "1000000")))
    p.add_argument("--batch-size", type=int, default=10_000)
    p.add_argument("--rounds", type=int, default=3, help="COPY + import rounds; median reported")
    p.add_argument("--seed", type=int, default=311)
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--skip-export", action="store_true", help="do not time the exports")
    p.add_argument("--enforce", action="store_true", help="exit 2 when a target is missed")
    p.add_argument("--out", type=Path, help="JSON result path (default: bench/results/...)")
    return p.parse_args(argv)


def quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def bare_table_sql(cases_indexes: list[dict[str, Any]]) -> list[str]:
    """CREATE TABLE and CREATE INDEX statements of the floor's table."""
    extra: dict[str, str] = {"id": "bigserial PRIMARY KEY", "jurisdiction_id": "integer"}
    for index in cases_indexes:
        for column in index["columns"]:
            if column not in COUNTERPART:
                extra.setdefault(column, "integer")
    columns = [f"{quoted(k)} {v}" for k, v in extra.items()]
    for name in COLUMNS:
        kind = "timestamptz" if name in TIMESTAMP_COLUMNS else "text"
        kind = "float8" if name in FLOAT_COLUMNS else kind
        columns.append(f"{quoted(name)} {kind}")
    statements = [f"CREATE TABLE nyc_bare ({', '.join(columns)})"]
    for n, index in enumerate(cases_indexes):
        mapped = [quoted(COUNTERPART.get(c, c)) for c in index["columns"]]
        unique = "UNIQUE " if index["unique"] else ""
        statements.append(f"CREATE {unique}INDEX nyc_bare_{n} ON nyc_bare ({', '.join(mapped)})")
    return statements


def cases_indexes(conn: Any) -> list[dict[str, Any]]:
    """The cases table's indexes (unique constraints included; not the primary key)."""
    rows = conn.execute(
        """
        SELECT i.relname, ix.indisunique,
               array_agg(a.attname ORDER BY k.ord)
        FROM pg_index ix
        JOIN pg_class t ON t.oid = ix.indrelid
        JOIN pg_class i ON i.oid = ix.indexrelid
        JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY AS k(attnum, ord) ON true
        JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
        WHERE t.relname = 'cases' AND NOT ix.indisprimary
        GROUP BY i.relname, ix.indisunique
        ORDER BY i.relname
        """
    ).fetchall()
    return [{"name": r[0], "unique": r[1], "columns": list(r[2])} for r in rows]


def setup_database(url: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from contactcenter import migrate
    from contactcenter.jurisdictions.models import Jurisdiction

    migrate.upgrade(url)
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with Session(engine) as session:
        session.add(
            Jurisdiction(
                slug="nyc",
                name="New York",
                timezone="America/New_York",
                country="US",
                languages=["en", "es"],
            )
        )
        session.commit()
    engine.dispose()


def run_copy(dsn: str, path: Path) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        indexes = cases_indexes(conn)
        for statement in bare_table_sql(indexes):
            conn.execute(statement)
        conn.execute("SET timezone = 'America/New_York'")
        conn.execute("SET datestyle = 'ISO, MDY'")
        conn.execute("CHECKPOINT")
        names = ", ".join(quoted(c) for c in COLUMNS)
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            cur.copy(f"COPY nyc_bare ({names}) FROM STDIN (FORMAT csv, HEADER true)") as copy,
            path.open("rb") as f,
        ):
            while chunk := f.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        rows = conn.execute("SELECT count(*) FROM nyc_bare").fetchone()[0]
    return {"seconds": seconds, "rows": rows, "indexes": indexes}


def run_child(command: list[str], env: dict[str, str]) -> tuple[str, float, float]:
    """(stdout, wall seconds, peak RSS in MB) of one child process, from its own rusage."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if child.returncode != 0:
        raise RuntimeError(f"{command[1:3]} failed ({child.returncode}): {stderr[-3000:]}")
    return stdout, wall, usage.ru_maxrss / 1024


def app_env(url: str) -> dict[str, str]:
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING", "APP_ENV": "development"}
    env.pop("REDIS_URL", None)
    return env


def run_import(url: str, path: Path, batch_size: int) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    rejects = RESULTS / f"import-rejects-{os.getpid()}.csv"
    command = [
        str(ROOT / ".venv" / "bin" / "contactcenter"),
        "import",
        "nyc",
        str(path),
        "--jurisdiction",
        "nyc",
        "--quiet",
        "--batch-size",
        str(batch_size),
        "--rejects",
        str(rejects),
    ]
    stdout, wall, rss = run_child(command, app_env(url))
    summary = re.search(
        r"read (\d+) / imported (\d+) / already present (\d+) / rejected (\d+) / ([\d.]+) s",
        stdout,
    )
    if summary is None:
        raise RuntimeError(f"no summary line in: {stdout!r}")
    read, imported, present, rejected = (int(summary.group(i)) for i in range(1, 5))
    rejects.unlink(missing_ok=True)
    return {
        "seconds": float(summary.group(5)),
        "wall_seconds": wall,
        "rows_read": read,
        "imported": imported,
        "already_present": present,
        "rejected": rejected,
        "peak_rss_mb": rss,
        "output": stdout,
    }


def figures_opened(url: str) -> int:
    """Cases the public figures count as opened (each case once, under dimension ``all``)."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(opened), 0) FROM performance_daily WHERE dimension = 'all'"
        ).fetchone()
    return int(row[0]) if row else 0


def run_export(url: str, layout: str) -> dict[str, Any]:
    """``contactcenter export nyc|open311`` of everything imported, to a file then deleted."""
    target = RESULTS / f"export-{os.getpid()}.{'csv' if layout == 'nyc' else 'json'}"
    command = [
        str(ROOT / ".venv" / "bin" / "contactcenter"),
        "export",
        layout,
        "--jurisdiction",
        "nyc",
        "--output",
        str(target),
    ]
    _, wall, rss = run_child(command, app_env(url))
    size = target.stat().st_size
    target.unlink()
    return {"seconds": wall, "peak_rss_mb": rss, "mb": size / 1e6}


def main(argv: list[str] | None = None) -> int:
    import psycopg

    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    data = RESULTS / f"nyc311-{args.rows}-seed{args.seed}-v3.csv"
    if not data.exists():
        print(f"generating {args.rows} rows -> {data}", flush=True)
        started = time.perf_counter()
        partial = data.with_suffix(".partial")
        info = generate.generate(args.rows, partial, args.seed)
        partial.rename(data)
        print(f"  {info} in {time.perf_counter() - started:.1f} s", flush=True)
    size_mb = data.stat().st_size / 1e6
    rounds: list[tuple[dict[str, Any], dict[str, Any]]] = []
    exports: dict[str, Any] = {}
    name = ""
    for round_number in range(1, args.rounds + 1):
        # Each round in a fresh database, COPY then the import back to back, so that whatever
        # else runs on the machine weighs on both sides of a round alike.
        name = f"bench_import_{secrets.token_hex(4)}"
        dsn = f"postgresql://postgres@{PG}/{name}"
        url = f"postgresql+psycopg://postgres@{PG}/{name}"
        last = round_number == args.rounds
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            setup_database(url)
            print(f"round {round_number}: COPY of {data.name} ({size_mb:.0f} MB) ...", flush=True)
            floor = run_copy(dsn, data)
            print(f"  {floor['rows']} rows in {floor['seconds']:.1f} s", flush=True)
            print(f"round {round_number}: contactcenter import nyc ...", flush=True)
            app = run_import(url, data, args.batch_size)
            print("  " + app["output"].strip().replace("\n", "\n  "), flush=True)
            app["figures_opened"] = figures_opened(url)
            print(f"  public figures count {app['figures_opened']} opened", flush=True)
            print(f"  ratio {app['seconds'] / floor['seconds']:.2f}x", flush=True)
            rounds.append((floor, app))
            if last and not args.skip_export:
                for layout in ("nyc", "open311"):
                    print(f"export {layout} ...", flush=True)
                    exports[layout] = run_export(url, layout)
                    print(
                        f"  {exports[layout]['mb']:.0f} MB in {exports[layout]['seconds']:.1f} s"
                        f" (process), peak RSS {exports[layout]['peak_rss_mb']:.0f} MB",
                        flush=True,
                    )
        finally:
            if not (args.keep and last):
                with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    # The round with the median ratio is the one reported (all rounds are in the results).
    rounds.sort(key=lambda pair: pair[1]["seconds"] / pair[0]["seconds"])
    floor, app = rounds[len(rounds) // 2]
    ratio = app["seconds"] / floor["seconds"]
    result = {
        "benchmark": "import",
        "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "rows": args.rows,
        "file_mb": round(size_mb, 1),
        "batch_size": args.batch_size,
        "copy_seconds": round(floor["seconds"], 2),
        "import_seconds": round(app["seconds"], 2),
        "import_wall_seconds": round(app["wall_seconds"], 2),
        "ratio": round(ratio, 2),
        "import_rows_per_second": round(app["rows_read"] / app["seconds"]),
        "copy_rows_per_second": round(floor["rows"] / floor["seconds"]),
        "peak_rss_mb": round(app["peak_rss_mb"], 1),
        "figures_opened": app["figures_opened"],
        "figures_exact": app["figures_opened"] == app["imported"],
        "imported": app["imported"],
        "rejected": app["rejected"],
        "exports": exports,
        "indexes": floor["indexes"],
        "targets": {"ratio": TARGET_RATIO, "peak_rss_mb": TARGET_RSS_MB},
        "database": name if args.keep else None,
        "rounds": [
            {
                "copy_seconds": round(f["seconds"], 2),
                "import_seconds": round(a["seconds"], 2),
                "ratio": round(a["seconds"] / f["seconds"], 2),
            }
            for f, a in rounds
        ],
    }
    out = args.out or RESULTS / f"import-{dt.datetime.now():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(result, indent=2))
    met = ratio <= TARGET_RATIO and app["peak_rss_mb"] < TARGET_RSS_MB and result["figures_exact"]
    print(
        f"\nCOPY {floor['seconds']:.1f} s | import {app['seconds']:.1f} s "
        f"(process {app['wall_seconds']:.1f} s) | ratio {ratio:.2f}x (target <= {TARGET_RATIO}x)"
        f" | {result['import_rows_per_second']} rows/s | peak RSS {app['peak_rss_mb']:.0f} MB"
        f" (target < {TARGET_RSS_MB:.0f}) | figures counted per batch"
        f" ({'exact' if result['figures_exact'] else 'NOT EXACT'})"
        f" | {'targets met' if met else 'TARGET MISSED'}\nresults: {out}",
        flush=True,
    )
    return 2 if args.enforce and not met else 0


if __name__ == "__main__":
    raise SystemExit(main())
