"""Public performance figures over millions of requests: ours vs. hand-written SQL.

Run from the repository root::

    .venv/bin/python bench/public_dashboard/run.py [--cases N] [--repeat N] [--keep]

(``PUBLIC_DASHBOARD_CASES`` sets the default of ``--cases``; 5,000,000 when unset.)

It creates a fresh PostgreSQL database, migrates it, and generates ``--cases`` requests of one
jurisdiction (New York's time zone) over the last three years in one ``INSERT ... SELECT`` from
``generate_series``: service types, channels, boroughs and times to close are drawn from the
shared New York 311 sample (``../shared/testdata/311/nyc/*.csv``) when present, else from a
built-in table; a few percent stay open. Then ``rebuild()`` builds the rollups, and, in the same
run, for a small period (one month) and a large one (twelve months):

1. **service**: ``performance_figures()``, the function behind the page, on one session;
2. **http**: ``GET /public/<slug>/performance.json`` through Flask's test client (the route:
   the jurisdiction, the figures, the JSON, the ETag);
3. **raw rollups**: the same figures by hand-written SQL through psycopg over the same rollup
   tables (the floor of this design);
4. **raw cases**: the same figures by hand-written SQL over the cases table itself (what the
   page would cost without pre-aggregation; fewer repetitions, it is slow).

Reported: p50/p95 of each, the ratios service/raw and http/raw, the number of SQL statements
per call, the rebuild time, and the backlog read live from the cases for comparison with the
rollup. Every figure (per-dimension counts, percentiles, backlog, trends) is compared on all
three sides. The targets (<= 1.5x the raw SQL over the rollups, p95 < 1 s, the same statements
for a month or a year, every figure equal) are checked: each one missed is printed under
``TARGETS MISSED`` and the exit status is 1. Results go to
``bench/results/public_dashboard-<time>.json``; the database is dropped unless ``--keep``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard_bench import (  # noqa: E402
    ADMIN_URL,
    PG,
    QUANTA,
    RESULTS,
    StatementCounter,
    differences,
    distributions,
    quantized,
    timed,
)

SLUG = "nyc"
TIMEZONE = "America/New_York"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_cases = int(os.environ.get("PUBLIC_DASHBOARD_CASES", "5000000"))
    p.add_argument("--cases", type=int, default=default_cases)
    p.add_argument("--repeat", type=int, default=40, help="timed calls per measurement")
    p.add_argument("--raw-cases-repeat", type=int, default=5, help="calls over the raw cases")
    p.add_argument("--years", type=float, default=3.0, help="history generated, in years")
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


# --- the data --------------------------------------------------------------------------------


def setup(url: str, dist: dict[str, Any], cases: int, years: float) -> dict[str, Any]:
    """Migrate, create the jurisdiction and its service types, generate the cases."""
    import psycopg

    from contactcenter import migrate

    migrate.upgrade(url.replace("postgresql://", "postgresql+psycopg://"))
    rng = random.Random(311)
    out: dict[str, Any] = {}
    with psycopg.connect(url) as conn:
        jid = conn.execute(
            "INSERT INTO jurisdictions (slug, name, timezone, country, languages, created_at,"
            " routing_version, settings) VALUES (%s, 'New York City', %s, 'US', '[\"en\"]',"
            " now(), 1, '{}') RETURNING id",
            (SLUG, TIMEZONE),
        ).fetchone()[0]
        dept = conn.execute(
            "INSERT INTO departments (jurisdiction_id, code, name, is_default)"
            " VALUES (%s, '311', '3-1-1', true) RETURNING id",
            (jid,),
        ).fetchone()[0]
        type_ids: dict[str, int] = {}
        for n, name in enumerate(sorted(dist["types"])):
            # Most types have a target (2 to 30 days), one in five has none.
            target = None if n % 5 == 4 else float(rng.choice([2, 3, 5, 7, 10, 14, 30]))
            type_ids[name] = conn.execute(
                'INSERT INTO service_types (jurisdiction_id, code, name, "group", description,'
                " keywords, department_id, target_days, active, open311_type, name_translations)"
                " VALUES (%s, %s, %s, '', '', '[]', %s, %s, true, 'realtime', '{}') RETURNING id",
                (jid, f"t{n}", name[:200], dept, target),
            ).fetchone()[0]
        conn.commit()
        targets = dict(
            conn.execute(
                "SELECT id, target_days FROM service_types WHERE jurisdiction_id = %s", (jid,)
            ).fetchall()
        )
        type_draws = [type_ids[name] for name in quantized(dist["types"], rng)]
        target_draws = [targets[t] for t in type_draws]
        channel_draws = quantized(dist["channels"], rng)
        district_draws = [d or None for d in quantized(dist["districts"], rng)]
        close_draws = quantized(list(dist["close_seconds"]), rng)
        print(f"  generating {cases:,} cases ...", flush=True)
        started = time.perf_counter()
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET work_mem = '256MB'")
        # One statement: each row draws its type (and that type's target), channel, district,
        # creation time over the last years, time to close, and whether it is still open.
        conn.execute(
            """
            INSERT INTO cases (jurisdiction_id, tracking_number, status, priority, service_type_id,
                               department_id, origin_channel, language, description, address_text,
                               due_at, created_at, updated_at, resolved_at, closed_at, district,
                               attributes)
            SELECT %(j)s,
                   lpad((g / 10000)::text, 4, '0') || '-' || lpad((g %% 10000)::text, 4, '0'),
                   CASE WHEN d.still_open THEN 'in_progress' ELSE 'closed' END, 'normal',
                   (%(types)s::int[])[d.k], %(dept)s, (%(channels)s::text[])[d.c], 'en', '', '',
                   d.created + (%(targets)s::float8[])[d.k] * interval '1 day',
                   d.created, d.created,
                   CASE WHEN d.still_open THEN NULL ELSE d.done END,
                   CASE WHEN d.still_open THEN NULL ELSE d.done END,
                   (%(districts)s::text[])[d.di], '{}'
            FROM generate_series(1, %(n)s) AS g
            CROSS JOIN LATERAL (
                SELECT k, c, di, created,
                       created + make_interval(secs => (%(close)s::float8[])[t]) AS done,
                       (r < %(open_share)s
                        OR created + make_interval(secs => (%(close)s::float8[])[t]) > now())
                           AS still_open
                FROM (SELECT 1 + floor(random() * %(q)s)::int AS k,
                             1 + floor(random() * %(q)s)::int AS c,
                             1 + floor(random() * %(q)s)::int AS di,
                             1 + floor(random() * %(q)s)::int AS t,
                             random() AS r,
                             now() - random() * make_interval(days => %(days)s) AS created,
                             g AS dep) AS draws
            ) AS d
            """,
            {
                "j": jid,
                "dept": dept,
                "n": cases,
                "q": QUANTA,
                "types": type_draws,
                "targets": target_draws,
                "channels": channel_draws,
                "districts": district_draws,
                "close": close_draws,
                "open_share": dist["open_share"],
                "days": int(years * 365),
            },
        )
        conn.commit()
        out["generate_s"] = time.perf_counter() - started
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE cases")
        out["jurisdiction_id"] = jid
        out["service_types"] = len(type_ids)
    return out


# --- our side --------------------------------------------------------------------------------


# --- hand-written SQL over the rollups -------------------------------------------------------

RAW_ROLLUP = {
    "jurisdiction": "SELECT id, timezone FROM jurisdictions WHERE slug = %(slug)s",
    "types": "SELECT id, code, name, target_days FROM service_types WHERE jurisdiction_id = %(j)s",
    "counts": """
        SELECT dimension, value, sum(opened), sum(closed), sum(closed_with_target),
               sum(closed_on_time)
        FROM performance_daily
        WHERE jurisdiction_id = %(j)s AND day BETWEEN %(first)s AND %(last)s
          AND dimension IN ('all', 'service_type', 'channel', 'district')
        GROUP BY dimension, value""",
    # One statement for the trends, as the service: the daily totals, summed into weeks and
    # months in Python (see ``trends``).
    "daily": """
        SELECT day, opened, closed, closed_with_target, closed_on_time
        FROM performance_daily
        WHERE jurisdiction_id = %(j)s AND dimension = 'all' AND day BETWEEN %(first)s AND %(last)s
        ORDER BY day""",
    "percentiles": """
        WITH h AS (
            SELECT service_type_id AS st, bucket, sum(cases)::bigint AS n
            FROM performance_close_times
            WHERE jurisdiction_id = %(j)s AND month BETWEEN %(first)s AND %(last_month)s
            GROUP BY service_type_id, bucket
        ), hh AS (
            SELECT st, bucket, n FROM h
            UNION ALL SELECT -1, bucket, sum(n)::bigint FROM h GROUP BY bucket
        ), c AS (
            SELECT st, bucket,
                   sum(n) OVER (PARTITION BY st ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS cum,
                   sum(n) OVER (PARTITION BY st) AS total
            FROM hh
        )
        SELECT st, max(total), min(bucket) FILTER (WHERE 2 * cum >= total),
               min(bucket) FILTER (WHERE 10 * cum >= 9 * total)
        FROM c GROUP BY st""",
    "backlog": """
        SELECT sum(open_now) FILTER (WHERE age <= 2),
               sum(open_now) FILTER (WHERE age BETWEEN 3 AND 7),
               sum(open_now) FILTER (WHERE age BETWEEN 8 AND 30),
               sum(open_now) FILTER (WHERE age BETWEEN 31 AND 90),
               sum(open_now) FILTER (WHERE age > 90)
        FROM (SELECT %(today)s::date - day AS age, open_now FROM performance_daily
              WHERE jurisdiction_id = %(j)s AND dimension = 'all' AND open_now <> 0) AS o""",
}

# --- hand-written SQL over the cases (no pre-aggregation) ------------------------------------

RAW_CASES = {
    "types": RAW_ROLLUP["types"],
    "opened": """
        SELECT service_type_id, origin_channel, coalesce(district, ''),
               GROUPING(service_type_id, origin_channel, coalesce(district, '')), count(*)
        FROM cases
        WHERE jurisdiction_id = %(j)s
          AND created_at >= %(first)s::timestamp AT TIME ZONE %(tz)s
          AND created_at < (%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s
        GROUP BY GROUPING SETS ((), (service_type_id), (origin_channel),
                                (coalesce(district, '')))""",
    "closed": """
        SELECT service_type_id, origin_channel, coalesce(district, ''),
               GROUPING(service_type_id, origin_channel, coalesce(district, '')), count(*),
               count(due_at), count(*) FILTER (WHERE done <= due_at),
               percentile_disc(0.5) WITHIN GROUP (ORDER BY done - created_at),
               percentile_disc(0.9) WITHIN GROUP (ORDER BY done - created_at)
        FROM (SELECT *, coalesce(resolved_at, closed_at) AS done FROM cases
              WHERE jurisdiction_id = %(j)s AND status IN ('resolved', 'closed')) AS c
        WHERE done >= %(first)s::timestamp AT TIME ZONE %(tz)s
          AND done < (%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s
        GROUP BY GROUPING SETS ((), (service_type_id), (origin_channel),
                                (coalesce(district, '')))""",
    "trends": """
        SELECT date_trunc('week', (created_at AT TIME ZONE %(tz)s))::date AS week,
               date_trunc('month', (created_at AT TIME ZONE %(tz)s))::date AS month, count(*)
        FROM cases
        WHERE jurisdiction_id = %(j)s
          AND created_at >= %(first)s::timestamp AT TIME ZONE %(tz)s
          AND created_at < (%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s
        GROUP BY GROUPING SETS ((1), (2))""",
    "trends_closed": """
        SELECT date_trunc('week', (coalesce(resolved_at, closed_at) AT TIME ZONE %(tz)s))::date,
               date_trunc('month', (coalesce(resolved_at, closed_at) AT TIME ZONE %(tz)s))::date,
               count(*), count(due_at),
               count(*) FILTER (WHERE coalesce(resolved_at, closed_at) <= due_at)
        FROM cases
        WHERE jurisdiction_id = %(j)s AND status IN ('resolved', 'closed')
          AND coalesce(resolved_at, closed_at) >= %(first)s::timestamp AT TIME ZONE %(tz)s
          AND coalesce(resolved_at, closed_at) < (%(last)s::date + 1)::timestamp AT TIME ZONE %(tz)s
        GROUP BY GROUPING SETS ((1), (2))""",
    "backlog": """
        SELECT count(*) FILTER (WHERE age <= 2), count(*) FILTER (WHERE age BETWEEN 3 AND 7),
               count(*) FILTER (WHERE age BETWEEN 8 AND 30),
               count(*) FILTER (WHERE age BETWEEN 31 AND 90), count(*) FILTER (WHERE age > 90)
        FROM (SELECT %(today)s::date - (created_at AT TIME ZONE %(tz)s)::date AS age
              FROM cases
              WHERE jurisdiction_id = %(j)s AND status IN ('new', 'open', 'in_progress')) AS o""",
}


def run_raw(conn: Any, queries: dict[str, str], params: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, sql in queries.items():
        out[name] = conn.execute(sql, params).fetchall()
    if "daily" in out:
        out["trends"] = trends(out["daily"])
    return out


def trends(daily: list[Any]) -> dict[str, dict[dt.date, tuple[int, ...]]]:
    """The weekly (by Monday) and monthly sums of the daily totals, as the service does."""
    out: dict[str, dict[dt.date, list[int]]] = {"weekly": {}, "monthly": {}}
    for day, *counts in daily:
        for kind, start in (
            ("weekly", day - dt.timedelta(days=day.weekday())),
            ("monthly", day.replace(day=1)),
        ):
            row = out[kind].setdefault(start, [0, 0, 0, 0])
            for i, n in enumerate(counts):
                row[i] += int(n)
    return {kind: {k: tuple(v) for k, v in rows.items()} for kind, rows in out.items()}


# --- every figure, from each side, in one shape ----------------------------------------------
# {figure: {key: value}}: counts per dimension and value (opened, closed, closed_with_target,
# closed_on_time), the close-time percentiles as histogram buckets per service type ('all' for
# every request), the backlog by age, and the weekly and monthly trends (non-zero ones).


def _nonzero(rows: dict[Any, tuple[int, ...]]) -> dict[Any, tuple[int, ...]]:
    return {k: v for k, v in rows.items() if any(v)}


def figures_of_service(figures: Any, codes: dict[str, int]) -> dict[str, Any]:
    counts: dict[tuple[str, str], tuple[int, ...]] = {}
    percentiles: dict[str, tuple[int | None, int | None]] = {}

    def numbers(c: Any) -> tuple[int, ...]:
        return (c.opened, c.closed, c.closed_with_target, c.closed_on_time)

    counts[("all", "")] = numbers(figures.totals)
    percentiles["all"] = (figures.close_time.median_bucket, figures.close_time.p90_bucket)
    for st in figures.by_service_type:
        key = st.counts.key
        value = str(codes[key]) if key in codes else ("" if key == "none" else key)
        counts[("service_type", value)] = numbers(st.counts)
        if st.close_time.closed:
            percentiles[value] = (st.close_time.median_bucket, st.close_time.p90_bucket)
    for c in figures.by_channel:
        counts[("channel", c.key)] = numbers(c)
    for c in figures.by_district:
        counts[("district", "" if c.key == "unknown" else c.key)] = numbers(c)
    return {
        "counts": _nonzero(counts),
        "percentiles": percentiles,
        "backlog": [b.cases for b in figures.backlog],
        "weekly": _nonzero({p.start: numbers(p.counts) for p in figures.weekly}),
        "monthly": _nonzero({p.start: numbers(p.counts) for p in figures.monthly}),
    }


def figures_of_raw_rollups(side: dict[str, Any]) -> dict[str, Any]:
    counts = {
        (dimension, value): tuple(int(n) for n in numbers)
        for dimension, value, *numbers in side["counts"]
    }
    percentiles = {
        ("all" if st == -1 else ("" if st == 0 else str(st))): (median, p90)
        for st, total, median, p90 in side["percentiles"]
        if total
    }
    return {
        "counts": _nonzero(counts),
        "percentiles": percentiles,
        "backlog": [int(x or 0) for x in side["backlog"][0]],
        "weekly": _nonzero(side["trends"]["weekly"]),
        "monthly": _nonzero(side["trends"]["monthly"]),
    }


def figures_of_raw_cases(side: dict[str, Any], bucket_of: Callable[[float], int]) -> dict[str, Any]:
    """The same figures from the cases; exact percentiles are put in the histogram's buckets
    (the nearest-rank percentile falls in the bucket the histogram reports)."""

    def key(st: Any, ch: Any, di: Any, grouping: int) -> tuple[str, str]:
        # grouping: GROUPING(service_type_id, origin_channel, district) as a bit mask
        if grouping == 7:
            return ("all", "")
        if grouping == 3:
            return ("service_type", "" if st is None else str(st))
        if grouping == 5:
            return ("channel", str(ch))
        return ("district", di)

    counts: dict[tuple[str, str], list[int]] = {}
    for st, ch, di, grouping, n in side["opened"]:
        counts.setdefault(key(st, ch, di, grouping), [0, 0, 0, 0])[0] += int(n)
    percentiles: dict[str, tuple[int | None, int | None]] = {}
    for st, ch, di, grouping, n, with_target, on_time, median, p90 in side["closed"]:
        k = key(st, ch, di, grouping)
        row = counts.setdefault(k, [0, 0, 0, 0])
        row[1], row[2], row[3] = int(n), int(with_target), int(on_time)
        if k[0] in ("all", "service_type") and n:
            name = "all" if k[0] == "all" else k[1]
            percentiles[name] = (
                bucket_of(median.total_seconds()),
                bucket_of(p90.total_seconds()),
            )
    weekly: dict[dt.date, list[int]] = {}
    monthly: dict[dt.date, list[int]] = {}
    for week, month, n in side["trends"]:
        target = weekly if month is None else monthly
        target.setdefault(week if month is None else month, [0, 0, 0, 0])[0] += int(n)
    for week, month, n, with_target, on_time in side["trends_closed"]:
        target = weekly if month is None else monthly
        row = target.setdefault(week if month is None else month, [0, 0, 0, 0])
        row[1], row[2], row[3] = int(n), int(with_target), int(on_time)
    return {
        "counts": _nonzero({k: tuple(v) for k, v in counts.items()}),
        "percentiles": percentiles,
        "backlog": [int(x or 0) for x in side["backlog"][0]],
        "weekly": _nonzero({k: tuple(v) for k, v in weekly.items()}),
        "monthly": _nonzero({k: tuple(v) for k, v in monthly.items()}),
    }


RATIO_TARGET = 1.5
P95_TARGET_MS = 1000.0


def missed_targets(result: dict[str, Any]) -> list[str]:
    """Every target missed, in words: <= 1.5x the hand-written SQL over the rollups (service
    and http), p95 under 1 s, the same number of statements whatever the period, and every
    figure equal on every side."""
    missed = []
    for label, m in result["periods"].items():
        for side in ("service", "http"):
            ratio = m[f"ratio_{side}"]
            if ratio > RATIO_TARGET:
                missed.append(f"{label}: {side} is {ratio:.2f}x the raw SQL (target <= 1.5x)")
            if m[side]["p95_ms"] >= P95_TARGET_MS:
                missed.append(f"{label}: {side} p95 {m[side]['p95_ms']:.0f} ms (target < 1 s)")
        if not m["consistent"]:
            missed.append(f"{label}: the sides' figures differ ({len(m['disagreements'])}+)")
        if m["queries"]["http"] != m["queries"]["raw_rollups"]:
            missed.append(
                f"{label}: a request runs {m['queries']['http']} statements, the raw"
                f" side {m['queries']['raw_rollups']} (not the same shape of work)"
            )
    if not result["same_query_count"]:
        missed.append("the number of statements per request depends on the period")
    return missed


def summary_text(result: dict[str, Any], cases: int) -> str:
    lines = ["", "=" * 78, f"SUMMARY ({cases:,} requests)"]
    for label, m in result["periods"].items():
        lines.append(
            f"  {label}: service p50/p95 {m['service']['p50_ms']:.1f}/{m['service']['p95_ms']:.1f}"
            f" ms, http {m['http']['p50_ms']:.1f}/{m['http']['p95_ms']:.1f} ms, raw SQL over the"
            f" rollups {m['raw_rollups']['p50_ms']:.1f}/{m['raw_rollups']['p95_ms']:.1f} ms"
            f" -> {m['ratio_service']:.2f}x / {m['ratio_http']:.2f}x"
        )
        lines.append(
            f"  {label}: RAW SQL OVER THE CASES (no pre-aggregation) p50"
            f" {m['raw_cases']['p50_ms']:.0f} ms, p95 {m['raw_cases']['p95_ms']:.0f} ms"
            f" ({m['ratio_cases_vs_rollups']:.0f}x the SQL over the rollups)"
        )
    missed = result["targets_missed"]
    if missed:
        lines.append("TARGETS MISSED:")
        lines.extend(f"  - {line}" for line in missed)
    else:
        lines.append("all targets met (<= 1.5x, p95 < 1 s, constant statements, figures equal)")
    lines.append("=" * 78)
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import psycopg

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    name = f"bench_public_{stamp.lower()}"
    pg_url = f"postgresql://postgres@{PG}/{name}"
    app_url = f"postgresql+psycopg://postgres@{PG}/{name}"
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    failed = False
    try:
        dist = distributions()
        result["distributions"] = {
            "source": dist["source"],
            "service_types": len(dist["types"]),
            "channels": dist["channels"],
            "districts": dist["districts"],
            "close_samples": len(dist["close_seconds"]),
            "open_share": dist["open_share"],
        }
        print(
            f"distributions from {dist['source']}: {len(dist['types'])} service types", flush=True
        )
        data = setup(pg_url, dist, args.cases, args.years)
        result["data"] = data
        print(f"  {args.cases:,} cases in {data['generate_s']:.1f} s", flush=True)

        import sqlalchemy as sa

        from contactcenter.app import create_app
        from contactcenter.config import Settings
        from contactcenter.db import get_db
        from contactcenter.jurisdictions.models import Jurisdiction
        from contactcenter.performance.figures import Period, local_today, performance_figures
        from contactcenter.performance.rollup import bucket_of, rebuild

        app = create_app(
            Settings(
                app_env="development",
                database_url=app_url,
                secret_key="bench",  # noqa: S106 - a throwaway app
                log_level="WARNING",
            )
        )
        db = get_db(app)
        jid = data["jurisdiction_id"]
        print("rebuild(): the rollups from the cases ...", flush=True)
        with db.session() as session:
            t0 = time.perf_counter()
            rebuild(session, jid)
            session.commit()
            result["rebuild_s"] = time.perf_counter() - t0
        with psycopg.connect(pg_url, autocommit=True) as conn:
            # What autovacuum does soon after a rebuild (planner statistics, hint bits).
            conn.execute("VACUUM ANALYZE performance_daily")
            conn.execute("VACUUM ANALYZE performance_close_times")
            sizes = conn.execute(
                "SELECT (SELECT count(*) FROM performance_daily),"
                " (SELECT count(*) FROM performance_close_times)"
            ).fetchone()
        result["rollup_rows"] = {"daily": sizes[0], "close_times": sizes[1]}
        print(
            f"  {result['rebuild_s']:.1f} s; {sizes[0]:,} daily rows, {sizes[1]:,} close-time rows",
            flush=True,
        )

        counter = StatementCounter(db.engine)
        client = app.test_client()
        session = db.session()
        jurisdiction = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.id == jid)).one()
        today = local_today(jurisdiction, dt.datetime.now(dt.UTC))
        this_month = today.replace(day=1)
        year_ago = (this_month - dt.timedelta(days=330)).replace(day=1)
        periods = {
            "small (1 month)": Period(this_month, this_month),
            "large (12 months)": Period(year_ago, this_month),
        }
        raw = psycopg.connect(pg_url, autocommit=True)
        raw_types = raw.execute(RAW_ROLLUP["types"], {"j": jid}).fetchall()
        result["periods"] = {}
        for label, period in periods.items():
            print(f"period {label}: {period.start} .. {period.end}", flush=True)
            params = {
                "slug": SLUG,
                "j": jid,
                "tz": TIMEZONE,
                "today": today,
                "first": period.start,
                "last": period.end,
                "last_month": period.last_month,
            }
            query = "?" + "&".join(f"{k}={v}" for k, v in period.as_params().items())
            url = f"/public/{SLUG}/performance.json{query}"

            def service(period: Period = period) -> Any:
                figures = performance_figures(session, jurisdiction, period, today)
                session.commit()  # ends the read transaction; nothing is expired
                return figures

            def http(url: str = url) -> Any:
                response = client.get(url)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                return response.get_json()

            before = counter.count
            figures = service()
            service_queries = counter.count - before
            before = counter.count
            document = http()
            http_queries = counter.count - before
            measured: dict[str, Any] = timed(
                {
                    "service": service,
                    "http": http,
                    "raw_rollups": lambda p=params: run_raw(raw, RAW_ROLLUP, p),
                },
                args.repeat,
            )
            measured.update(
                timed(
                    {
                        "raw_cases": lambda p=params: run_raw(raw, RAW_CASES, p),
                        "backlog_live_from_cases": lambda p=params: run_raw(
                            raw, {"b": RAW_CASES["backlog"]}, p
                        ),
                        "backlog_from_rollups": lambda p=params: run_raw(
                            raw, {"b": RAW_ROLLUP["backlog"]}, p
                        ),
                    },
                    args.raw_cases_repeat,
                    warmup=1,
                )
            )
            measured.update(
                {
                    "queries": {
                        "service": service_queries,
                        "http": http_queries,
                        "raw_rollups": len(RAW_ROLLUP),
                        "raw_cases": len(RAW_CASES),
                    },
                }
            )
            # Every figure, from each side: the service's (and its JSON document), the SQL
            # over the rollups, the SQL over the cases.
            codes = {code: type_id for type_id, code, _name, _target in raw_types}
            compared = {
                "service": figures_of_service(figures, codes),
                "raw_rollups": figures_of_raw_rollups(run_raw(raw, RAW_ROLLUP, params)),
                "raw_cases": figures_of_raw_cases(run_raw(raw, RAW_CASES, params), bucket_of),
            }
            disagreements = differences(compared)
            expected_json = json.loads(json.dumps(figures.as_dict(), default=str))
            if document != expected_json:
                disagreements.append("the JSON document differs from the service's figures")
            consistent = not disagreements
            measured["figures_compared"] = {
                figure: len(values) if isinstance(values, dict) else 1
                for figure, values in compared["service"].items()
            }
            measured["disagreements"] = disagreements[:50]
            measured["consistent"] = consistent
            failed = failed or not consistent
            raw_p50 = measured["raw_rollups"]["p50_ms"]
            measured["ratio_service"] = measured["service"]["p50_ms"] / raw_p50
            measured["ratio_http"] = measured["http"]["p50_ms"] / raw_p50
            measured["ratio_cases_vs_rollups"] = measured["raw_cases"]["p50_ms"] / raw_p50
            result["periods"][label] = measured
            for side in ("service", "http", "raw_rollups", "raw_cases"):
                m = measured[side]
                q = measured["queries"][side]
                print(
                    f"  {side:12} p50 {m['p50_ms']:8.1f} ms  p95 {m['p95_ms']:8.1f} ms"
                    f"  ({q} statements, {m['n']} calls)",
                    flush=True,
                )
            print(
                f"  ratio service/raw {measured['ratio_service']:.2f}x, http/raw"
                f" {measured['ratio_http']:.2f}x (target <= 1.5x); without pre-aggregation"
                f" {measured['ratio_cases_vs_rollups']:.0f}x slower",
                flush=True,
            )
            shown = ", ".join(f"{n} {f}" for f, n in measured["figures_compared"].items())
            print(
                f"  figures compared on all three sides ({shown}):"
                f" {'all equal' if consistent else f'{len(disagreements)} DIFFER'}",
                flush=True,
            )
            for line in disagreements[:20]:
                print(f"    {line}", flush=True)
            live, rolled = measured["backlog_live_from_cases"], measured["backlog_from_rollups"]
            print(
                f"  backlog by age: live from the cases p50 {live['p50_ms']:.1f} ms,"
                f" from the rollups p50 {rolled['p50_ms']:.1f} ms",
                flush=True,
            )
        queries = {label: m["queries"]["http"] for label, m in result["periods"].items()}
        result["same_query_count"] = len(set(queries.values())) == 1
        print(f"statements per request by period: {queries}", flush=True)
        missed = missed_targets(result)
        result["targets_missed"] = missed
        print(summary_text(result, args.cases), flush=True)
        failed = failed or bool(missed)
        raw.close()
        session.close()
        db.engine.dispose()
    except Exception as exc:
        result["error"] = repr(exc)
        print(f"bench failed: {exc!r}", flush=True)
        failed = True
    finally:
        out = args.out or RESULTS / f"public_dashboard-{stamp}.json"
        out.write_text(json.dumps(result, indent=2, default=str))
        print(f"results: {out}", flush=True)
        if not args.keep:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
