"""The supervisor dashboard over millions of contacts: ours vs. hand-written SQL.

Run from the repository root::

    .venv/bin/python bench/supervisor_dashboard/run.py [--cases N] [--repeat N] [--keep]

(``SUPERVISOR_DASHBOARD_CASES`` sets the default of ``--cases``; 5,000,000 when unset, with
four interactions per case: 20,000,000.)

It creates a fresh PostgreSQL database, migrates it and generates a contact center's history
(:mod:`generate`: cases, interactions, contacts, calls, offers, presence changes, surveys, all
set-based), builds the rollups with the project's own rebuilds and runs ``VACUUM ANALYZE``.
Then, for today and this week (hourly) and the last 30 days (daily), in turns:

1. **service**: ``supervisor_dashboard()``, the function behind the console's page and the API;
2. **http**: ``GET /api/v1/performance/dashboard`` through Flask's test client, with a
   supervisor's bearer token;
3. **raw**: the same figures by hand-written SQL through psycopg over the same rollup tables
   (and, for the agents' presence and the surveys, which have none, over the same small
   tables): the floor of this design;
4. **raw_base** (fewer calls): the contact figures by hand-written SQL over the base tables
   (work items, calls, interactions): what they would cost without pre-aggregation.

Every figure is compared between the sides (a difference fails the run). The targets (<= 1.5x
the raw SQL, p95 < 1 s, the same number of statements for a small and a large period) are
checked: each one missed is printed under ``TARGETS MISSED`` and the exit status is 1.
Results go to ``bench/results/supervisor_dashboard-<time>.json``; the database is dropped
unless ``--keep`` (``--database NAME`` reuses a kept one, skipping the generation).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.dashboard_bench import (  # noqa: E402
    ADMIN_URL,
    PG,
    RESULTS,
    StatementCounter,
    differences,
    distributions,
    timed,
)
from bench.supervisor_dashboard.generate import SLUG, TIMEZONE, generate  # noqa: E402

ZONE = ZoneInfo(TIMEZONE)
SLOT = 900
MEASURES = (
    "inbound",
    "offered",
    "answered",
    "answered_in_target",
    "abandoned",
    "abandoned_short",
    "answer_wait_seconds",
    "abandon_wait_seconds",
    "handled",
    "handle_seconds",
    "talk_seconds",
    "transfers",
    "resolved_on_contact",
    "ivr_calls",
    "self_served",
    "callbacks_requested",
    "callbacks_completed",
)
RATIO_TARGET = 1.5
P95_TARGET_MS = 1000.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_cases = int(os.environ.get("SUPERVISOR_DASHBOARD_CASES", "5000000"))
    p.add_argument("--cases", type=int, default=default_cases)
    p.add_argument("--interactions", type=int, help="default: four per case")
    p.add_argument("--agents", type=int, default=40)
    p.add_argument("--years", type=float, default=3.0, help="history generated, in years")
    p.add_argument("--repeat", type=int, default=20, help="timed calls per side and period")
    p.add_argument("--raw-base-repeat", type=int, default=3, help="calls over the base tables")
    p.add_argument("--no-raw-base", action="store_true", help="skip the base-table SQL")
    p.add_argument("--database", help="reuse this generated database (kept); no generation")
    p.add_argument(
        "--skip-rebuild",
        action="store_true",
        help="with --database: keep the rollups a run built in it (VACUUM ANALYZE only)",
    )
    p.add_argument("--keep", action="store_true", help="keep the database")
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


# --- the periods ------------------------------------------------------------------------------


def periods(today: dt.date) -> dict[str, tuple[dt.date, dt.date, str]]:
    monday = today - dt.timedelta(days=today.weekday())
    return {
        "today (hourly)": (today, today, "hour"),
        "this week (hourly)": (monday, today, "hour"),
        "last 30 days (daily)": (today - dt.timedelta(days=29), today, "day"),
    }


def bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime]:
    first = dt.datetime.combine(start, dt.time(), ZONE).astimezone(dt.UTC)
    after = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), ZONE).astimezone(dt.UTC)
    return first, after


def previous(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    length = dt.timedelta(days=(end - start).days + 1)
    return start - length, end - length


# --- hand-written SQL over the rollups (and, for agents and surveys, their tables) -----------

SUMS = ", ".join(f"sum({m})" for m in MEASURES)

RAW = {
    "jurisdiction": "SELECT id, timezone FROM jurisdictions WHERE slug = %(slug)s",
    "queues": "SELECT id, name, service_targets FROM queues WHERE jurisdiction_id = %(j)s"
    " ORDER BY id",
    # Each period: the series (by 15-minute slot, summed into local hours in Python, or by
    # day) and the breakdown by queue and channel, in one statement (GROUPING SETS).
    "contacts_hourly": """
        SELECT GROUPING(slot, queue_id, channel) AS g, slot, queue_id, channel, {sums}
        FROM performance_contact_intervals
        WHERE jurisdiction_id = %(j)s AND slot >= %(s0)s AND slot < %(s1)s
        GROUP BY GROUPING SETS ((slot), (queue_id, channel))""".replace("{sums}", SUMS),
    "contacts_daily": """
        SELECT GROUPING(day, queue_id, channel) AS g, day, queue_id, channel, {sums}
        FROM performance_contact_daily
        WHERE jurisdiction_id = %(j)s AND day BETWEEN %(d0)s AND %(d1)s
        GROUP BY GROUPING SETS ((day), (queue_id, channel))""".replace("{sums}", SUMS),
    # The agents: who they are and the state each was in when the period began (the last
    # change before it, else the state its first change in it left).
    "agents": """
        SELECT a.id, a.name, a.active, a.presence, a.created_at,
               (SELECT c.presence FROM agent_presence_changes c
                WHERE c.agent_id = a.id AND c.created_at < %(t0)s
                ORDER BY c.created_at DESC, c.id DESC LIMIT 1),
               f.previous, f.created_at
        FROM agents a
        JOIN agent_jurisdictions aj ON aj.agent_id = a.id AND aj.jurisdiction_id = %(j)s
        LEFT JOIN LATERAL (
            SELECT c.previous, c.created_at FROM agent_presence_changes c
            WHERE c.agent_id = a.id AND c.created_at >= %(t0)s AND c.created_at < %(t1)s
            ORDER BY c.created_at, c.id LIMIT 1) AS f ON true
        ORDER BY a.name, a.id""",
    # Their time per state (from the presence changes, clipped to the period), and the sums
    # of their daily rollup rows (performance_agent_daily: contacts handled, handle time, time
    # holding work, offers by outcome), in one statement.
    "agent_sums": """
        WITH members AS (
            SELECT agent_id FROM agent_jurisdictions WHERE jurisdiction_id = %(j)s
        ), changes AS (
            SELECT agent_id, presence, created_at AS since,
                   lead(created_at) OVER (PARTITION BY agent_id ORDER BY created_at, id) AS upto
            FROM agent_presence_changes
            WHERE agent_id IN (SELECT agent_id FROM members)
              AND created_at >= %(t0)s AND created_at < %(t1)s
        ), daily AS (
            SELECT agent_id, sum(handled) AS handled, sum(handle_seconds) AS handle_seconds,
                   sum(occupied_seconds) AS occupied_seconds, sum(offers) AS offers,
                   sum(accepted) AS accepted, sum(declined) AS declined,
                   sum(timed_out) AS timed_out
            FROM performance_agent_daily
            WHERE jurisdiction_id = %(j)s AND agent_id IN (SELECT agent_id FROM members)
              AND day BETWEEN %(d0)s AND %(d1)s
            GROUP BY agent_id
        )
        SELECT agent_id, 'presence' AS what, presence AS key,
               sum(extract(epoch FROM coalesce(upto, %(t1)s) - since))
        FROM changes GROUP BY agent_id, presence
        UNION ALL
        SELECT d.agent_id, 'daily', v.key, v.n
        FROM daily d CROSS JOIN LATERAL (VALUES
            ('handled', d.handled), ('handle_seconds', d.handle_seconds),
            ('occupied_seconds', d.occupied_seconds), ('offers', d.offers),
            ('accepted', d.accepted), ('declined', d.declined), ('timed_out', d.timed_out)
        ) AS v(key, n)""",
    # The surveys sent in the period and the one before, by channel, fate and score.
    "surveys": """
        SELECT s.sent_at >= %(t0)s AS current, s.channel,
               CASE WHEN s.state = 'suppressed' THEN 'suppressed'
                    WHEN s.state = 'answered' THEN 'answered'
                    WHEN s.state = 'expired' THEN 'expired'
                    WHEN s.expires_at <= %(now)s THEN 'expired'
                    ELSE 'open' END AS kind,
               s.score, count(*)
        FROM satisfaction_surveys s
        WHERE s.jurisdiction_id = %(j)s AND s.sent_at >= %(p0)s AND s.sent_at < %(t1)s
        GROUP BY 1, 2, 3, 4""",
}

# --- hand-written SQL over the base tables (no pre-aggregation): the contact figures ----------

RAW_BASE_CONTACTS = """
    WITH contacts AS (
        SELECT w.created_at AS at, w.queue_id, w.channel::text AS channel,
               1 AS offered,
               (w.first_assigned_at IS NOT NULL)::int AS answered,
               (w.first_assigned_at IS NOT NULL
                AND extract(epoch FROM w.first_assigned_at - w.created_at)
                   <= coalesce((q.service_targets -> w.channel::text ->> 'seconds')::int,
                               CASE w.channel WHEN 'voice' THEN 20 WHEN 'webchat' THEN 60
                                              WHEN 'sms' THEN 900 ELSE 86400 END))::int
                   AS answered_in_target,
               coalesce(extract(epoch FROM w.first_assigned_at - w.created_at), 0)
                   AS answer_wait,
               ab.abandoned::int AS abandoned,
               (ab.abandoned AND ab.wait < 5)::int AS abandoned_short,
               CASE WHEN ab.abandoned THEN ab.wait ELSE 0 END AS abandon_wait,
               h.handled::int AS handled,
               CASE WHEN h.handled THEN extract(epoch FROM w.completed_at - w.assigned_at)
                    ELSE 0 END AS handle_seconds,
               CASE WHEN h.handled THEN coalesce(c.talk_seconds, 0) ELSE 0 END AS talk_seconds,
               w.transfers,
               (h.handled AND w.resolved_on_contact)::int AS resolved_on_contact,
               0 AS inbound, 0 AS ivr_calls, 0 AS self_served, 0 AS callbacks_requested,
               0 AS callbacks_completed
        FROM work_items w
        JOIN queues q ON q.id = w.queue_id
        LEFT JOIN calls c ON c.work_item_id = w.id AND c.parent_call_id IS NULL
        CROSS JOIN LATERAL (
            SELECT w.state = 'cancelled' AND w.first_assigned_at IS NULL
                       AND w.kind IN ('call', 'chat') AS abandoned,
                   extract(epoch FROM coalesce(w.completed_at, w.updated_at) - w.created_at)
                       AS wait
        ) AS ab
        CROSS JOIN LATERAL (
            SELECT w.state = 'completed' AND w.assigned_at IS NOT NULL
                       AND w.completed_at IS NOT NULL AS handled
        ) AS h
        WHERE w.jurisdiction_id = %(j)s AND w.kind IN ('first_response', 'call', 'chat')
          AND w.created_at >= %(t0)s AND w.created_at < %(t1)s
          AND NOT (w.kind = 'first_response' AND w.state = 'cancelled'
                   AND w.first_assigned_at IS NULL
                   AND (w.completed_at IS NULL OR w.completed_at <= w.created_at))
        UNION ALL
        SELECT c.created_at, coalesce(c.queue_id, 0), 'voice',
               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, (c.outcome = 'self_served')::int,
               (c.callback_requested_at IS NOT NULL)::int,
               (c.callback_requested_at IS NOT NULL AND c.outcome = 'answered')::int
        FROM calls c
        WHERE c.jurisdiction_id = %(j)s AND c.direction = 'inbound' AND c.parent_call_id IS NULL
          AND c.created_at >= %(t0)s AND c.created_at < %(t1)s
        UNION ALL
        SELECT i.created_at, 0, i.channel::text,
               0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0
        FROM interactions i
        WHERE i.jurisdiction_id = %(j)s AND i.direction = 'inbound'
          AND i.created_at >= %(t0)s AND i.created_at < %(t1)s
    ), slots AS (  -- each 15-minute interval's sums, rounded as the rollup rounds them
        SELECT floor(extract(epoch FROM at) / 900)::bigint AS slot, queue_id, channel,
               sum(inbound) AS inbound, sum(offered) AS offered, sum(answered) AS answered,
               sum(answered_in_target) AS answered_in_target, sum(abandoned) AS abandoned,
               sum(abandoned_short) AS abandoned_short,
               round(sum(answer_wait)) AS answer_wait_seconds,
               round(sum(abandon_wait)) AS abandon_wait_seconds, sum(handled) AS handled,
               round(sum(handle_seconds)) AS handle_seconds, sum(talk_seconds) AS talk_seconds,
               sum(transfers) AS transfers, sum(resolved_on_contact) AS resolved_on_contact,
               sum(ivr_calls) AS ivr_calls, sum(self_served) AS self_served,
               sum(callbacks_requested) AS callbacks_requested,
               sum(callbacks_completed) AS callbacks_completed
        FROM contacts GROUP BY 1, 2, 3
    )
    SELECT GROUPING(b, queue_id, channel), b, queue_id, channel, {sums}
    FROM (SELECT *, {bucket} AS b FROM slots) AS x
    GROUP BY GROUPING SETS ((b), (queue_id, channel))""".replace("{sums}", SUMS)

HOUR_BUCKET = "slot"
DAY_BUCKET = "(to_timestamp(slot * 900) AT TIME ZONE %(tz)s)::date"


# --- the raw sides' arithmetic ----------------------------------------------------------------


def _empty() -> dict[str, int]:
    return dict.fromkeys(MEASURES, 0)


def _add(into: dict[str, int], values: Any) -> None:
    for name, value in zip(MEASURES, values, strict=True):
        into[name] += int(value or 0)


def contact_report(rows: Any, grain: str) -> dict[str, Any]:
    """Totals, series (by UTC start of each local hour, or by day), by queue and by channel
    from rows of (grouping, bucket, queue, channel, *measures)."""
    series: dict[Any, dict[str, int]] = {}
    by_queue: dict[int, dict[str, int]] = defaultdict(_empty)
    by_channel: dict[str, dict[str, int]] = defaultdict(_empty)
    totals = _empty()
    for grouping, bucket, queue_id, channel, *values in rows:
        if grouping == 3:  # the series
            if grain == "hour":
                epoch = int(bucket) * SLOT
                epoch -= dt.datetime.fromtimestamp(epoch, ZONE).minute * 60
                key: Any = dt.datetime.fromtimestamp(epoch, ZONE).isoformat()
            else:
                key = dt.datetime.combine(bucket, dt.time(), ZONE).isoformat()
            _add(series.setdefault(key, _empty()), values)
        else:
            _add(by_queue[int(queue_id)], values)
            _add(by_channel[str(channel)], values)
            _add(totals, values)
    return {
        "totals": totals,
        "series": series,
        "by_queue": dict(by_queue),
        "by_channel": dict(by_channel),
    }


def agent_report(agents: Any, sums: Any, t0: dt.datetime, t1: dt.datetime) -> dict[int, Any]:
    """The agents' figures as ``agent_figures`` reports them, from the two statements."""
    presence: dict[int, dict[str, float]] = defaultdict(dict)
    daily: dict[int, dict[str, int]] = defaultdict(dict)
    for agent_id, what, key, value in sums:
        if what == "presence":
            presence[agent_id][key] = float(value or 0)
        else:
            daily[agent_id][key] = int(value or 0)
    out: dict[int, Any] = {}
    for agent_id, _name, active, current, created_at, before, prev, first_at in agents:
        if before is not None:
            state, since = str(before), t0
        else:
            state = str(prev) if prev is not None else str(current)
            since = max(t0, created_at)
        upto = first_at if first_at is not None else t1
        by_state = {p: 0.0 for p in ("available", "busy", "away", "offline")}
        for s, spent in presence.get(agent_id, {}).items():
            by_state[s] = by_state.get(s, 0.0) + spent
        if upto > since:
            by_state[state] = by_state.get(state, 0.0) + (upto - since).total_seconds()
        seconds = {s: round(v) for s, v in by_state.items()}
        staffed = seconds.get("available", 0) + seconds.get("busy", 0)
        sums = daily.get(agent_id, {})
        row = {"seconds_by_presence": seconds, "staffed_seconds": staffed}
        for key in AGENT_SUMS:
            row[key] = sums.get(key, 0)
        if active or staffed or row["handled"] or row["offers"] or row["occupied_seconds"]:
            out[agent_id] = row
    return out


AGENT_SUMS = (
    "occupied_seconds",
    "handled",
    "handle_seconds",
    "offers",
    "accepted",
    "declined",
    "timed_out",
)


def survey_report(rows: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for current, channel, kind, score, count in rows:
        for key in ("all", channel):
            figures = out.setdefault(
                f"{'current' if current else 'previous'}:{key}",
                {"sent": 0, "answered": 0, "suppressed": 0, "expired": 0, "scores": [0] * 5},
            )
            if kind == "suppressed":
                figures["suppressed"] += count
                continue
            figures["sent"] += count
            if kind == "expired":
                figures["expired"] += count
            elif kind == "answered" and score in (1, 2, 3, 4, 5):
                figures["answered"] += count
                figures["scores"][score - 1] += count
    return out


class RawSide:
    """The dashboard's figures by hand-written SQL through psycopg; ``took`` keeps each
    statement's times (where the time goes)."""

    def __init__(self, conn: Any, jid: int, service_sql: Any) -> None:
        self.conn = conn
        self.jid = jid
        self.service_sql = service_sql
        self.took: dict[str, list[float]] = defaultdict(list)

    def query(self, name: str, sql: str, params: dict[str, Any]) -> list[Any]:
        t0 = time.perf_counter()
        rows = self.conn.execute(sql, params).fetchall()
        self.took[name].append(time.perf_counter() - t0)
        return rows

    def run(self, start: dt.date, end: dt.date, grain: str, now: dt.datetime) -> dict[str, Any]:
        jid = self.jid
        self.query("jurisdiction", RAW["jurisdiction"], {"slug": SLUG})
        queues = self.query("queues", RAW["queues"], {"j": jid})
        p_start, p_end = previous(start, end)
        contacts = {}
        for label, (a, b) in {"current": (start, end), "previous": (p_start, p_end)}.items():
            t0, t1 = bounds(a, b)
            if grain == "hour":
                params = {"j": jid, "s0": int(t0.timestamp()) // SLOT}
                params["s1"] = int(t1.timestamp()) // SLOT
                rows = self.query("contacts", RAW["contacts_hourly"], params)
            else:
                params = {"j": jid, "d0": a, "d1": b}
                rows = self.query("contacts", RAW["contacts_daily"], params)
            contacts[label] = contact_report(rows, grain)
        t0, after = bounds(start, end)
        t1 = max(t0, min(after, now))
        agents = self.query("agents", RAW["agents"], {"j": jid, "t0": t0, "t1": t1})
        params = {"j": jid, "t0": t0, "t1": t1, "d0": start, "d1": end}
        sums = self.query("agent_sums", RAW["agent_sums"], params)
        p0, _ = bounds(p_start, p_end)
        params = {"j": jid, "t0": t0, "t1": after, "p0": p0, "now": now}
        surveys = self.query("surveys", RAW["surveys"], params)
        service = self.service_sql(self, start, end, p_start, p_end)
        return {
            "queues": {q[0]: (q[1], q[2]) for q in queues},
            "contacts": contacts,
            "agents": agent_report(agents, sums, t0, t1),
            "surveys": survey_report(surveys),
            "service": service,
        }


def raw_base(conn: Any, jid: int, start: dt.date, end: dt.date, grain: str) -> dict[str, Any]:
    """The contact figures of the period from the base tables."""
    t0, t1 = bounds(start, end)
    bucket = HOUR_BUCKET if grain == "hour" else DAY_BUCKET
    params = {"j": jid, "t0": t0, "t1": t1, "tz": TIMEZONE}
    rows = conn.execute(RAW_BASE_CONTACTS.replace("{bucket}", bucket), params).fetchall()
    return contact_report(rows, grain)


# --- every figure, from each side, in one shape ------------------------------------------------
# {figure: {key: value}}: contact measures (totals, series points, queues, channels) of both
# periods, each agent's figures, the surveys' counts and scores, the service headline.


def _nonzero(rows: dict[Any, dict[str, int]]) -> dict[Any, tuple[int, ...]]:
    return {
        k: tuple(int(v[m]) for m in MEASURES)
        for k, v in rows.items()
        if any(v[m] for m in MEASURES)
    }


def contact_figures_of(report: dict[str, Any], label: str) -> dict[str, Any]:
    return {
        f"{label} totals": {"all": tuple(int(report["totals"][m]) for m in MEASURES)},
        f"{label} series": _nonzero(report["series"]),
        f"{label} by queue": _nonzero(report["by_queue"]),
        f"{label} by channel": _nonzero(report["by_channel"]),
    }


def figures_of_service(data: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in ("current", "previous"):
        report = data["contacts"][label]
        out.update(
            contact_figures_of(
                {
                    "totals": report["totals"],
                    "series": {p["start"]: p for p in report["series"]},
                    "by_queue": {q["queue_id"]: q for q in report["by_queue"]},
                    "by_channel": {c["channel"]: c for c in report["by_channel"]},
                },
                label,
            )
        )
    out["agents"] = {a["agent_id"]: {k: a[k] for k in AGENT_KEYS} for a in data["agents"]}
    surveys = {}
    for label in ("current", "previous"):
        s = data["satisfaction"][label]
        surveys[f"{label}:all"] = _survey_tuple(s, [s["distribution"][str(n)] for n in range(1, 6)])
        for channel, c in s["by_channel"].items():
            scores = [c["distribution"][str(n)] for n in range(1, 6)]
            surveys[f"{label}:{channel}"] = _survey_tuple(c, scores)
    out["surveys"] = surveys
    out["service"] = {
        label: {k: data["service"][label][k] for k in SERVICE_KEYS}
        for label in ("current", "previous")
    }
    return out


AGENT_KEYS = (
    "seconds_by_presence",
    "staffed_seconds",
    "occupied_seconds",
    "handled",
    "handle_seconds",
    "offers",
    "accepted",
    "declined",
    "timed_out",
)


def _survey_tuple(s: dict[str, Any], scores: list[int]) -> tuple[int, ...]:
    return (s["sent"], s["answered"], s["suppressed"], s["expired"], *scores)


def figures_of_raw(side: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for label in ("current", "previous"):
        out.update(contact_figures_of(side["contacts"][label], label))
    out["agents"] = side["agents"]
    out["surveys"] = {
        key: (s["sent"], s["answered"], s["suppressed"], s["expired"], *s["scores"])
        for key, s in side["surveys"].items()
    }
    out["service"] = side["service"]
    return out


# --- the run ------------------------------------------------------------------------------------


def missed_targets(result: dict[str, Any]) -> list[str]:
    """Every target missed, in words: <= 1.5x the raw SQL (service and http), p95 under 1 s,
    every figure equal on every side, and the same number of statements for every period."""
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
    if not result["same_query_count"]:
        missed.append(
            "the number of statements per request depends on the period:"
            f" {result['statements_by_period']}"
        )
    return missed


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "commit": commit,
        "load_average": os.getloadavg(),
    }


def rebuild_rollups(db: Any, pg_url: str, jid: int, *, rebuild: bool = True) -> dict[str, Any]:
    """The project's own rebuilds: the case figures, then the contact figures; VACUUM ANALYZE."""
    import psycopg

    from contactcenter.performance import contacts, rollup

    out: dict[str, Any] = {"rebuilt": rebuild}
    for name, rebuild_one in (
        ("case rollups (rollup.rebuild)", rollup.rebuild),
        ("contact rollups (contacts.rebuild_contact_rollups)", contacts.rebuild_contact_rollups),
    ):
        if not rebuild:
            print(f"  {name}: kept from the run that built them", flush=True)
            continue
        print(f"  {name} ...", end="", flush=True)
        with db.session() as session:
            t0 = time.perf_counter()
            rebuild_one(session, jid)
            session.commit()
            out[name] = time.perf_counter() - t0
        print(f" {out[name]:.1f} s", flush=True)
    with psycopg.connect(pg_url, autocommit=True) as conn:
        t0 = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        out["vacuum analyze"] = time.perf_counter() - t0
        out["rows"] = dict(
            conn.execute(
                "SELECT relname, n_live_tup FROM pg_stat_user_tables WHERE n_live_tup > 0"
                " ORDER BY n_live_tup DESC"
            ).fetchall()
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import psycopg

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    name = args.database or f"bench_supervisor_{stamp.lower()}"
    pg_url = f"postgresql://postgres@{PG}/{name}"
    app_url = f"postgresql+psycopg://postgres@{PG}/{name}"
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    if not args.database:
        admin.execute(f'CREATE DATABASE "{name}"')
    result: dict[str, Any] = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "machine": machine(),
        "started": stamp,
    }
    failed = False
    try:
        if args.database:
            print(f"reusing the database {name}", flush=True)
            with psycopg.connect(pg_url) as conn:
                jid = conn.execute(RAW["jurisdiction"], {"slug": SLUG}).fetchone()[0]
                supervisor = conn.execute(
                    "SELECT min(id) FROM agents WHERE role = 'supervisor'"
                ).fetchone()[0]
            result["data"] = {"reused": name}
        else:
            dist = distributions()
            interactions = args.interactions or 4 * args.cases
            print(
                f"generating {args.cases:,} cases, {interactions:,} interactions"
                f" ({dist['source']}: {len(dist['types'])} service types) ...",
                flush=True,
            )
            data = generate(
                pg_url,
                dist,
                cases=args.cases,
                interactions=interactions,
                agents=args.agents,
                years=args.years,
            )
            result["data"] = data
            jid, supervisor = data["jurisdiction_id"], data["supervisor_id"]
            print(f"  generated in {data['generate_s']:.0f} s", flush=True)

        import sqlalchemy as sa

        from contactcenter.agents.models import Agent
        from contactcenter.app import create_app
        from contactcenter.auth import issue_token
        from contactcenter.config import Settings
        from contactcenter.db import get_db
        from contactcenter.jurisdictions.models import Jurisdiction
        from contactcenter.performance import agent_figures as agent_module
        from contactcenter.performance.dashboard import supervisor_dashboard
        from contactcenter.surveys import figures as survey_module

        app = create_app(
            Settings(
                app_env="development",
                database_url=app_url,
                secret_key="bench",  # noqa: S106 - a throwaway app
                log_level="WARNING",
            )
        )
        db = get_db(app)
        print("rollups, with the project's rebuilds:", flush=True)
        result["rollups"] = rebuild_rollups(
            db, pg_url, jid, rebuild=not (args.database and args.skip_rebuild)
        )
        with db.session() as session:
            token = issue_token(session, session.get_one(Agent, supervisor), name="bench")
            session.commit()

        counter = StatementCounter(db.engine)
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        session = db.session()
        jurisdiction = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.id == jid)).one()
        today = dt.datetime.now(dt.UTC).astimezone(ZONE).date()
        raw_conn = psycopg.connect(pg_url, autocommit=True)
        raw = RawSide(raw_conn, jid, service_sql)
        base_conn = psycopg.connect(pg_url, autocommit=True)
        base_conn.execute("SET work_mem = '64MB'")
        result["periods"] = {}
        statements: dict[str, int] = {}
        for label, (start, end, grain) in periods(today).items():
            print(f"period {label}: {start} .. {end}", flush=True)
            url = (
                f"/api/v1/performance/dashboard?jurisdiction={SLUG}&from={start}&to={end}"
                f"&grain={grain}"
            )

            def service(start: dt.date = start, end: dt.date = end, grain: str = grain) -> Any:
                data = supervisor_dashboard(
                    session, jurisdiction, start=start, end=end, grain=grain
                )
                session.commit()  # ends the read transaction, as a request does
                return data

            def http(url: str = url) -> Any:
                response = client.get(url, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)[:300]
                return response.get_json()["data"]

            def raw_side(start: dt.date = start, end: dt.date = end, grain: str = grain) -> Any:
                return raw.run(start, end, grain, dt.datetime.now(dt.UTC))

            # The figures, compared at one frozen instant (agents' and surveys' "now").
            frozen = dt.datetime.now(dt.UTC).replace(microsecond=0)
            with (
                mock.patch.object(agent_module, "utcnow", lambda at=frozen: at),
                mock.patch.object(survey_module, "utcnow", lambda at=frozen: at),
            ):
                before = counter.count
                data = service()
                service_statements = counter.count - before
                before = counter.count
                document = http()
                http_statements = counter.count - before
                raw_figures = raw.run(start, end, grain, frozen)
            compared = {
                "service": figures_of_service(data),
                "http": figures_of_service(document),
                "raw": figures_of_raw(raw_figures),
            }
            if not args.no_raw_base:
                base_figures = {
                    "current": raw_base(base_conn, jid, start, end, grain),
                    "previous": raw_base(base_conn, jid, *previous(start, end), grain),
                }
                compared["raw_base"] = {
                    k: v
                    for label in ("current", "previous")
                    for k, v in contact_figures_of(base_figures[label], label).items()
                }
                compared["raw_base"].update(
                    {k: v for k, v in compared["raw"].items() if k not in compared["raw_base"]}
                )
            disagreements = differences(compared)
            raw.took.clear()
            measured: dict[str, Any] = timed(
                {"service": service, "http": http, "raw": raw_side}, args.repeat
            )
            if not args.no_raw_base:
                measured.update(
                    timed(
                        {
                            "raw_base": lambda s=start, e=end, g=grain: (
                                raw_base(base_conn, jid, s, e, g),
                                raw_base(base_conn, jid, *previous(s, e), g),
                            )
                        },
                        args.raw_base_repeat,
                        warmup=1,
                    )
                )
            raw_statements = raw_statement_count()
            measured["raw_statement_p50_ms"] = {
                name: statistics.median(took) * 1000 for name, took in raw.took.items()
            }
            raw.took.clear()
            measured["statements"] = {
                "service": service_statements,
                "http": http_statements,
                "raw": raw_statements,
            }
            statements[label] = http_statements
            measured["figures_compared"] = {
                figure: len(values) if isinstance(values, dict) else 1
                for figure, values in compared["service"].items()
            }
            measured["disagreements"] = disagreements[:50]
            measured["consistent"] = not disagreements
            failed = failed or bool(disagreements)
            raw_p50 = measured["raw"]["p50_ms"]
            measured["ratio_service"] = measured["service"]["p50_ms"] / raw_p50
            measured["ratio_http"] = measured["http"]["p50_ms"] / raw_p50
            if "raw_base" in measured:
                measured["ratio_base_vs_raw"] = measured["raw_base"]["p50_ms"] / raw_p50
            result["periods"][label] = measured
            print_period(measured)
        result["statements_by_period"] = statements
        result["same_query_count"] = len(set(statements.values())) == 1
        print(f"statements per request by period: {statements}", flush=True)
        missed = missed_targets(result)
        result["targets_missed"] = missed
        print(summary_text(result), flush=True)
        failed = failed or bool(missed)
        raw_conn.close()
        base_conn.close()
        session.close()
        db.engine.dispose()
    except Exception as exc:
        result["error"] = repr(exc)
        print(f"bench failed: {exc!r}", flush=True)
        failed = True
    finally:
        out = args.out or RESULTS / f"supervisor_dashboard-{stamp}.json"
        out.write_text(json.dumps(result, indent=2, default=str))
        print(f"results: {out}", flush=True)
        if not args.keep and not args.database:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
    return 1 if failed else 0


def raw_statement_count() -> int:
    """Statements one raw call sends: jurisdiction, queues, two contact statements, two for
    the agents (who and their state at the start; presence and their daily rows), one for the
    surveys, and the service headline's."""
    return 7 + SERVICE_STATEMENTS


def print_period(m: dict[str, Any]) -> None:
    for side in ("service", "http", "raw", "raw_base"):
        if side not in m:
            continue
        s = m[side]
        q = m["statements"].get(side, "")
        print(
            f"  {side:9} p50 {s['p50_ms']:8.1f} ms  p95 {s['p95_ms']:8.1f} ms"
            f"  ({q} statements, {s['n']} calls)",
            flush=True,
        )
    line = (
        f"  ratio service/raw {m['ratio_service']:.2f}x, http/raw {m['ratio_http']:.2f}x"
        " (target <= 1.5x)"
    )
    if "ratio_base_vs_raw" in m:
        line += f"; contacts over the base tables {m['ratio_base_vs_raw']:.0f}x the raw side"
    print(line, flush=True)
    shown = ", ".join(f"{n} {f}" for f, n in m["figures_compared"].items())
    verdict = "all equal" if m["consistent"] else f"{len(m['disagreements'])} DIFFER"
    print(f"  figures compared ({shown}): {verdict}", flush=True)
    for line in m["disagreements"][:20]:
        print(f"    {line}", flush=True)


def summary_text(result: dict[str, Any]) -> str:
    lines = ["", "=" * 78, "SUMMARY"]
    for label, m in result["periods"].items():
        lines.append(
            f"  {label}: service p50/p95 {m['service']['p50_ms']:.1f}/{m['service']['p95_ms']:.1f}"
            f" ms, http {m['http']['p50_ms']:.1f}/{m['http']['p95_ms']:.1f} ms, raw SQL"
            f" {m['raw']['p50_ms']:.1f}/{m['raw']['p95_ms']:.1f} ms"
            f" -> {m['ratio_service']:.2f}x / {m['ratio_http']:.2f}x"
        )
        if "raw_base" in m:
            lines.append(
                f"  {label}: contacts by SQL over the base tables p50"
                f" {m['raw_base']['p50_ms']:.0f} ms ({m['ratio_base_vs_raw']:.0f}x the raw side)"
            )
    missed = result["targets_missed"]
    if missed:
        lines.append("TARGETS MISSED:")
        lines.extend(f"  - {line}" for line in missed)
    else:
        lines.append("all targets met (<= 1.5x, p95 < 1 s, constant statements, figures equal)")
    lines.append("=" * 78)
    return "\n".join(lines)


# --- the service headline (service_figures' totals) by hand-written SQL ------------------------

SERVICE_COUNTS = (
    "opened",
    "closed",
    "closed_with_target",
    "closed_on_time",
    "sla_breached",
    "reopened",
    "duplicates",
    "sat_responses",
    "sat_score_sum",
    "sat_satisfied",
)
SERVICE_KEYS = (*SERVICE_COUNTS, "backlog", "median_days", "p90_days")


def _service_counts_sql() -> str:
    columns = [
        f"sum({name}) FILTER (WHERE day BETWEEN %({p}0)s AND %({p}1)s)"
        for p in ("d", "q")
        for name in SERVICE_COUNTS
    ]
    return (
        "SELECT " + ", ".join(columns) + ", sum(open_now) FROM performance_daily"  # noqa: S608
        " WHERE jurisdiction_id = %(j)s AND dimension = 'all'"
        " AND (day BETWEEN %(q0)s AND %(d1)s OR open_now <> 0)"
    )


RAW["service_counts"] = _service_counts_sql()
# The nearest-rank median and 90th percentile of each period's months, from the histograms.
RAW["service_percentiles"] = """
    WITH h AS (
        SELECT p.current, t.bucket, sum(t.cases) AS n
        FROM (VALUES (true, %(m0)s::date, %(m1)s::date), (false, %(n0)s::date, %(n1)s::date))
             AS p(current, first, last)
        JOIN performance_close_times t
          ON t.jurisdiction_id = %(j)s AND t.month BETWEEN p.first AND p.last
        GROUP BY p.current, t.bucket
    ), c AS (
        SELECT current, bucket,
               sum(n) OVER (PARTITION BY current ORDER BY bucket ROWS UNBOUNDED PRECEDING) AS cum,
               sum(n) OVER (PARTITION BY current) AS total
        FROM h
    )
    SELECT current, max(total), min(bucket) FILTER (WHERE 2 * cum >= total),
           min(bucket) FILTER (WHERE 10 * cum >= 9 * total)
    FROM c GROUP BY current"""


def service_sql(
    raw: RawSide, start: dt.date, end: dt.date, p_start: dt.date, p_end: dt.date
) -> dict[str, Any]:
    """Opened, closed, on time, SLA breaches, reopened, duplicates and satisfaction of both
    periods and the backlog now (one statement), then the time-to-close percentiles of both
    periods' months (one statement)."""
    from contactcenter.performance.rollup import bucket_upper_days

    params = {"j": raw.jid, "d0": start, "d1": end, "q0": p_start, "q1": p_end}
    row = raw.query("service_counts", RAW["service_counts"], params)[0]
    n = len(SERVICE_COUNTS)
    out: dict[str, Any] = {}
    for index, label in enumerate(("current", "previous")):
        figures = {
            name: int(v or 0)
            for name, v in zip(SERVICE_COUNTS, row[index * n : index * n + n], strict=True)
        }
        figures.update(backlog=int(row[-1] or 0), median_days=None, p90_days=None)
        out[label] = figures
    params = {
        "j": raw.jid,
        "m0": start.replace(day=1),
        "m1": end.replace(day=1),
        "n0": p_start.replace(day=1),
        "n1": p_end.replace(day=1),
    }
    for current, total, median, p90 in raw.query(
        "service_percentiles", RAW["service_percentiles"], params
    ):
        if total:
            figures = out["current" if current else "previous"]
            for key, bucket in (("median_days", median), ("p90_days", p90)):
                days = bucket_upper_days(int(bucket))
                figures[key] = None if days is None else round(days, 4)
    return out


SERVICE_STATEMENTS = 2


if __name__ == "__main__":
    sys.exit(main())
