"""Voice (IVR) webhook benchmark: menu steps against the floor, then a mixed call stream.

Run from the repository root::

    .venv/bin/python bench/voice_webhook/run.py [--seconds N] [--concurrency N] [--dry-run]

It creates a fresh PostgreSQL database, sets it up the way a city does
(``contactcenter db upgrade``, ``contactcenter demo``: the demo jurisdiction, its 3-1-1
number and its IVR menu), starts the real app and ``bare_app.py`` under gunicorn with
identical settings on loopback ports (the SMS benchmark's ``Server``), walks one call through
the app to check the menu and to capture a menu-step answer for the bare server, and drives
both from a separate load generator process (``voiceload.py``) that calls the way Twilio does:
signed requests, each one to the Gather URL of the answer before it.

1. closed loop, menu steps only: ``--concurrency`` keep-alive connections, each walking
   calls already past the language choice (``--pool`` of them, started untimed) through
   ``--menu-steps`` steps (main 3, info 9, main 3, ...), each request sent as soon as the last
   is answered; ``--rounds`` phases of ``--seconds`` per server, alternating app and bare.
   Menu steps per second, app/bare (target >= 0.5), and CPU per step.
2. open loop, the mixed stream: ``--open-rate`` requests/s offered for ``--open-seconds``
   per server (split over the rounds): whole calls, each incoming (INSERTs the call), the
   language choice (a write), ``--menu-steps`` menu steps, the status callback (an UPDATE).
   Latency by request kind; targets p99 <= 300 ms, no answer over 5 s, no errors.

Every answer must be HTTP 200 with TwiML (``<Response>``, and a ``<Gather>`` where the call
goes on); anything else is an error. After the run the app's database must hold one call per
answered incoming request, and one ended call per answered status callback.

If the menu-step ratio misses its target (or with ``--profile``), ``profile_steps.py``
profiles menu steps in one process (cProfile) against the same database and prints where the
time goes.

Results go to ``bench/results/voice_webhook-<time>.json``. The database is dropped and the
Redis database (``--redis-db``, default 13; it must be empty) flushed at the end. A ratio
benchmark, not a test: exit 0 when the run worked even if a target is missed (``--enforce``:
exit 2), 1 when a request failed or the run broke.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.sms_webhook import run as sms  # noqa: E402
from bench.sms_webhook.endtoend import row  # noqa: E402
from bench.voice_webhook.voice_calls import KINDS, NEXT_KEY, node_of  # noqa: E402

RESULTS = sms.RESULTS
PG = sms.PG
AUTH_TOKEN = "bench-voice-webhook-auth-token"  # noqa: S105 - signs loopback test traffic only
DEMO_VOICE_NUMBER = "+16135550311"

TARGET_RATIO = 0.5
TARGET_P99_MS = 300.0
SLOW_MS = 5000.0
APP_CODE = ("contactcenter", "channels", "ivr", "migrations")
EXPECTED_WALK = ["welcome", "main", "info", "main"]
"""The nodes whose Gathers the traced call answers: language, then menu steps 3, 9, 3."""


NUMBERS = [
    (option, float(default) if "." in default else int(default), float(low), float(high), text)
    for option, default, low, high, text in (
        line.split(maxsplit=4)
        for line in """
--seconds       10.0   0.1   300    closed-loop seconds per phase
--concurrency   8      1     256    closed-loop connections
--rounds        2      1     10     phases per server for each loop
--warmup        3.0    0     60     unmeasured seconds per server
--open-rate     50.0   0.1   2000   open-loop offered requests/s
--open-seconds  30.0   0.1   600    open-loop seconds per server, over the rounds
--lanes         25     1     512    open-loop calls at once (a call's requests lanes/rate s apart)
--menu-steps    6      1     50     menu steps per call
--pool          200    1     10000  calls started (untimed) for the closed loop to walk
--workers       2      1     32     gunicorn workers (both servers)
--threads       4      1     64     gunicorn threads per worker (both servers)
--redis-db      13     0     15     Redis database for the app (must be empty; flushed)
--seed          311    0     1e9    callers' numbers and call sids
""".strip().splitlines()
    )
]
"""The numeric options: name, default (its type is the option's), lowest, highest, help."""
FLAGS = {
    "--skip-open": "closed loop only",
    "--keep": "keep the database and Redis data",
    "--enforce": "exit 2 when a target is missed",
    "--no-profile": "no profile when the ratio misses its target",
    "--profile": "profile menu steps in any case",
    "--dry-run": "everything, briefly (1 s phases); the bare server alone while the app has"
    " no voice webhooks",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for option, default, _, _, text in NUMBERS:
        p.add_argument(option, type=type(default), default=default, help=text)
    for option, text in FLAGS.items():
        p.add_argument(option, action="store_true", help=text)
    p.add_argument("--only", choices=["app", "bare"], help="run one server only (no ratio)")
    p.add_argument("--out", type=Path, help="JSON result path (default: bench/results/...)")
    args = p.parse_args(argv)
    for option, _, lowest, highest, _ in NUMBERS:
        if not lowest <= getattr(args, option[2:].replace("-", "_")) <= highest:
            p.error(f"{option} must be in [{lowest:g}, {highest:g}]")
    if args.dry_run:
        args.seconds, args.rounds, args.warmup, args.open_seconds = 1.0, 1, 0.5, 4.0
        args.pool = min(args.pool, 20)
    # What the SMS benchmark's Bench reads.
    args.open_senders = args.lanes
    args.pyspy = False
    return args


# --- set-up --------------------------------------------------------------------------------


def voice_wired() -> tuple[bool, str]:
    """Whether ``create_app()`` serves ``POST /voice/incoming`` (checked in process)."""
    try:
        from contactcenter.app import create_app
        from contactcenter.config import Settings

        app = create_app(Settings(app_env="development", database_url="sqlite://"))
    except Exception as exc:
        return False, f"create_app() failed: {type(exc).__name__}: {exc}"
    rules = {(r.rule, m) for r in app.url_map.iter_rules() for m in (r.methods or ())}
    needed = [(path, "POST") for path in ("/voice/incoming", "/voice/step", "/voice/status")]
    missing = [path for path, method in needed if (path, method) not in rules]
    return not missing, f"not registered: {', '.join(missing)}" if missing else "wired"


def contactcenter(env: dict[str, str], log: Path, *argv: str) -> None:
    """``contactcenter <argv>`` with the app server's environment (output to ``log``)."""
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    with log.open("ab") as out:
        subprocess.run(
            [str(Path(sys.executable).parent / "contactcenter"), *argv],
            env={**base, **env}, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, check=True,
        )  # fmt: skip


def capture(trace: dict[str, Any]) -> tuple[str, list[str]]:
    """From one traced call: the main menu's TwiML as a menu step answers it (for the bare
    server), and the problems with the walk (wrong status, answer or node)."""
    problems = []
    requests = trace["requests"]
    kinds = [r["kind"] for r in requests]
    if kinds != ["incoming", "language", "step", "step", "step", "status"]:
        problems.append(f"requests {kinds}")
    problems += [
        f"{r['kind']} {r['path']}: {r['status']}" for r in requests if r["status"] != "200"
    ]
    nodes = [node_of(r["path"]) for r in requests if r["kind"] in ("language", "step")]
    if nodes != EXPECTED_WALK:
        problems.append(f"nodes walked {nodes}, expected {EXPECTED_WALK}")
    back = [r for r in requests if r["kind"] == "step" and node_of(r["path"]) == "info"]
    return (back[0]["body"] if back else ""), problems


def database_check(db: str, ok: dict[str, int]) -> dict[str, Any]:
    """Every answered incoming request stored one call; every answered status ended one."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@{PG}/{db}") as conn:
        calls, completed = row(
            conn.execute("SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM calls")
        )
    check = {
        "incoming_200s": ok.get("incoming", 0),
        "calls_stored": calls,
        "status_200s": ok.get("status", 0),
        "calls_completed": completed,
    }
    check["ok"] = calls == check["incoming_200s"] and completed == check["status_200s"]
    return check


# --- results -------------------------------------------------------------------------------


def latency_stats(values: list[float], errors: dict[str, int]) -> dict[str, Any]:
    v = sorted(values)

    def pct(p: float) -> float | None:
        return round(sms.percentile(v, p), 2) if v else None

    return {
        "n": len(v),
        "p50_ms": pct(50),
        "p95_ms": pct(95),
        "p99_ms": pct(99),
        "max_ms": round(v[-1], 2) if v else None,
        "over_5s": sum(1 for x in v if x > SLOW_MS),
        "errors": errors,
        "error_count": sum(errors.values()),
    }


def by_kind_summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Latency by request kind, and over all, across the phases given."""
    values: dict[str, list[float]] = {kind: [] for kind in (*KINDS, "all")}
    errors: dict[str, dict[str, int]] = {kind: {} for kind in values}
    for phase in phases:
        for kind, part in phase["_by_kind"].items():
            for key in (kind, "all"):
                values[key] += part["latencies_ms"]
                for status, count in part["errors"].items():
                    errors[key][status] = errors[key].get(status, 0) + count
    return {kind: latency_stats(values[kind], errors[kind]) for kind in values if values[kind]}


def pg_delta(before: dict[str, int], after: dict[str, int], requests: int) -> dict[str, float]:
    return {k: round((after[k] - before[k]) / max(1, requests), 3) for k in after}


def print_report(result: dict[str, Any]) -> None:
    s, summary, t = result["settings"], result["summary"], result["targets"]
    fmt = sms.fmt
    print()
    print(
        f"Voice webhook benchmark - gunicorn gthread {s['workers']} workers x {s['threads']}"
        f" threads, PostgreSQL {result['postgres']['server_version']},"
        f" {result['machine']['cpus']} CPUs"
    )
    print(
        f"closed loop, menu steps only: {s['concurrency']} connections,"
        f" {s['rounds']} x {s['seconds']:g} s per server"
    )
    print(
        f"{'':6}{'step/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}{'errors':>8}"
        f"{'srv CPU':>10}{'PG CPU':>9}{'CPU busy':>10}{'steal':>7}{'other':>7}"
    )
    print(f"{'':69}{'ms/req':>10}{'ms/req':>9}{'%':>10}{'%':>7}{'%':>7}")
    for name in ("app", "bare"):
        c = summary.get(name, {}).get("closed")
        if c:
            print(
                f"{name:6}{fmt(c['throughput']):>9}{fmt(c['p50_ms'], '.2f'):>9}"
                f"{fmt(c['p90_ms'], '.2f'):>9}{fmt(c['p99_ms'], '.2f'):>9}"
                f"{fmt(c['max_ms'], '.1f'):>9}{c['error_count']:>8}"
                f"{fmt(c['server_cpu_ms_per_req'], '.2f'):>10}"
                f"{fmt(c['postgres_cpu_ms_per_req'], '.2f'):>9}"
                f"{fmt(c['machine_cpu_busy_pct']):>10}{fmt(c['machine_cpu_steal_pct']):>7}"
                f"{fmt(c['other_cpu_pct']):>7}"
            )
            if len(c["throughput_per_phase"]) > 1:
                per = ", ".join(f"{x:.1f}" for x in c["throughput_per_phase"])
                print(f"{'':6}per phase: {per}")
    if t.get("ratio") is not None:
        print(
            f"menu-step throughput ratio app/bare: {t['ratio']:.3f}   (target >= {TARGET_RATIO})"
            f"  {'PASS' if t['ratio_ok'] else 'MISS'}"
        )
        print(
            f"CPU per menu step, bare/app (server + PostgreSQL): {t['cpu_cost_ratio']:.3f};"
            f" app {t['app_cpu_ms_per_step']:.2f} ms, bare {t['bare_cpu_ms_per_step']:.2f} ms"
        )
    pg_step = summary.get("app", {}).get("postgres_per_menu_step")
    if pg_step:
        print(
            f"PostgreSQL per app menu step: {pg_step['commits']:.3f} commits,"
            f" {pg_step['fetched']:.2f} rows fetched,"
            f" {pg_step['inserted'] + pg_step['updated']:.3f} rows written"
        )
    opened = [name for name in ("app", "bare") if summary.get(name, {}).get("open")]
    if opened:
        o = summary[opened[0]]["open"]
        print()
        print(
            f"open loop, mixed stream: {s['open_rate']:g} req/s offered, {s['open_seconds']:g} s"
            f" per server in {s['rounds']} phase(s); {o['lanes']} calls at a time, a call's"
            f" requests {o['think_time_s']:g} s apart; {s['menu_steps']} menu steps per call"
        )
        print(
            f"{'':6}{'request':10}{'n':>6}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'max ms':>9}"
            f"{'>5 s':>6}{'errors':>8}"
        )
        for name in opened:
            for kind, k in summary[name]["open_by_kind"].items():
                print(
                    f"{name:6}{kind:10}{k['n']:>6}{fmt(k['p50_ms'], '.2f'):>9}"
                    f"{fmt(k['p95_ms'], '.2f'):>9}{fmt(k['p99_ms'], '.2f'):>9}"
                    f"{fmt(k['max_ms'], '.1f'):>9}{k['over_5s']:>6}{k['error_count']:>8}"
                )
            o = summary[name]["open"]
            print(
                f"{'':6}{name}: {o['throughput']:.1f} answers/s; server CPU"
                f" {o['server_cpu_ms_per_req']:.2f} + PostgreSQL {o['postgres_cpu_ms_per_req']:.2f}"
                f" ms/req; {o['late']} requests sent late (answer before them late; max"
                f" {o['max_late_ms']:.0f} ms); {o['calls_completed']} calls completed"
            )
    if t.get("open_p99_ms") is not None:
        print(
            f"app p99 at {s['open_rate']:g} req/s (all requests): {t['open_p99_ms']:.1f} ms"
            f" (target <= {TARGET_P99_MS:g} ms) {'PASS' if t['p99_ok'] else 'MISS'};"
            f" answers > 5 s: {t['open_over_5s']} (target 0); errors: {t['open_errors']}"
            " (target 0)"
        )
    checks = result["checks"]
    sanity = checks["sanity"]
    verdict = "OK" if not sanity["non_200_or_not_twiml"] else "ERRORS " + json.dumps(sanity["by"])
    print(
        f"sanity: {sanity['answers']} answers, {sanity['non_200_or_not_twiml']} not 200 with"
        f" TwiML (and a Gather where the call goes on): {verdict}"
    )
    if "database" in checks:
        d = checks["database"]
        print(
            f"app database: {d['incoming_200s']} incoming 200s -> {d['calls_stored']} calls;"
            f" {d['status_200s']} status 200s -> {d['calls_completed']} completed:"
            f" {'OK' if d['ok'] else 'MISMATCH'}"
        )
    print(f"results: {result['path']}")


def main(argv: list[str] | None = None) -> int:
    started_at = dt.datetime.now(dt.UTC)
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = f"voice_webhook-{started_at:%Y%m%dT%H%M%SZ}" + ("-dryrun" if args.dry_run else "")
    names = [args.only] if args.only else ["app", "bare"]
    wired, why = voice_wired()
    if not wired and "app" in names:
        if not args.dry_run:
            print(f"the app has no voice webhooks yet ({why}); try --dry-run", file=sys.stderr)
            return 1
        print(f"dry run on the bare server alone: the app has no voice webhooks yet ({why})")
        names = ["bare"]
    db = f"bench_voice_app_{os.getpid()}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"

    import redis

    rds = redis.Redis.from_url(redis_url)
    if "app" in names and rds.dbsize():
        # A test run or another benchmark is using it; flushing it would break that run.
        print(
            f"Redis database {args.redis_db} is not empty ({rds.dbsize()} keys): someone is"
            " using it; choose another with --redis-db",
            file=sys.stderr,
        )
        return 1
    pg = sms.Postgres()
    servers: dict[str, sms.Server] = {}
    loadgen: sms.LoadGen | None = None
    created_db = False
    try:
        if "app" in names:
            app = sms.Server("app", "contactcenter.app:create_app()", {}, db, args)
            app.env = {
                "APP_ENV": "development",
                "DATABASE_URL": f"postgresql+psycopg://postgres@{PG}/{db}",
                "REDIS_URL": redis_url,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "PUBLIC_BASE_URL": app.base_url,
                "LOG_LEVEL": "WARNING",
            }
            servers["app"] = app
            print(f"setting up {db}: contactcenter db upgrade, contactcenter demo ...", flush=True)
            began = time.perf_counter()
            pg.create(db)
            created_db = True
            setup_log = RESULTS / "voice_webhook-setup.log"
            setup_log.write_bytes(b"")
            contactcenter(app.env, setup_log, "db", "upgrade")
            contactcenter(app.env, setup_log, "demo")
            print(f"  done in {time.perf_counter() - began:.1f} s", flush=True)
        bare_twiml = RESULTS / "voice_webhook-bare-twiml.xml"
        if "bare" in names:
            servers["bare"] = sms.Server(
                "bare", "bench.voice_webhook.bare_app:create_app()",
                {"BARE_TWIML_FILE": str(bare_twiml)}, "", args,
            )  # fmt: skip
        for server in servers.values():
            server.log_path = RESULTS / f"voice_webhook-{server.name}.log"

        loadgen = sms.LoadGen(HERE / "voiceload.py")
        loadgen.call(
            cmd="setup", menu_steps=args.menu_steps, keys=NEXT_KEY,
            targets={
                name: {"port": s.port, "url": s.base_url, "token": AUTH_TOKEN,
                       "to": DEMO_VOICE_NUMBER, "seed": args.seed * 10 + i,
                       "number_base": 2_000_000 + 2_000_000 * i}
                for i, (name, s) in enumerate(servers.items())
            },
        )  # fmt: skip
        checks: dict[str, Any] = {}
        trace: dict[str, Any] = {}
        if "app" in servers:
            servers["app"].start()
            servers["app"].wait_ready()
            # One call, traced: the menu is the one the walk expects, and the main menu's TwiML
            # as a menu step answers it becomes the bare server's answer.
            trace = loadgen.call(cmd="trace", target="app", menu_steps=3)
            twiml, problems = capture(trace)
            checks["trace"] = {"problems": problems, "call_sid": trace["call_sid"]}
            for r in trace["requests"]:
                print(
                    f"  traced {r['kind']:8} {r['path'][:72]:72} {r['digits']:1} -> {r['status']}"
                    f" {len(r['body'])} bytes, {r['ms']:.1f} ms",
                    flush=True,
                )
            if problems:
                print("the traced call went wrong: " + "; ".join(problems), file=sys.stderr)
                return 1
            bare_twiml.write_text(twiml)
        elif "bare" in servers:
            from bench.voice_webhook.bare_app import REPRESENTATIVE_TWIML

            bare_twiml.write_text(REPRESENTATIVE_TWIML)
        if "bare" in servers:
            servers["bare"].start()
            servers["bare"].wait_ready()
        print(
            "servers up: "
            + ", ".join(f"{s.name} at {s.base_url}" for s in servers.values())
            + f"; the bare server answers {len(bare_twiml.read_bytes())} bytes of TwiML",
            flush=True,
        )
        first = names[0]
        pool = loadgen.call(cmd="pool", target=first, calls=args.pool)
        print(
            f"started {pool['pooled']} calls on {first} for the closed loop in {pool['seconds']} s"
            f" (they wait at {pool['example_path']})"
            + (f"; problems {pool['problems']}" if pool["problems"] else ""),
            flush=True,
        )
        if pool["problems"]:
            return 1
        pool_done = time.monotonic()
        if "bare" in servers and first != "bare":
            loadgen.call(cmd="pool", target="bare", like=first)

        bench = sms.Bench(args, pg, loadgen)
        bench.servers = servers
        print("warm-up (not measured):", flush=True)
        warm = {name: bench.phase(name, "closed", args.warmup, record=False) for name in names}
        if "app" in names:
            pg.analyze(db)
        # Let PostgreSQL publish the activity so far (the planner's statistics; and the pool's
        # writes: an idle backend publishes its counters only after 10 s).
        time.sleep(max(1.5, 11 - (time.monotonic() - pool_done)))
        stats = [pg.db_stats(db)]
        print("measured:", flush=True)
        for _ in range(args.rounds):
            for name in names:
                bench.phase(name, "closed", args.seconds)
        time.sleep(1.0)
        stats.append(pg.db_stats(db))
        if not args.skip_open:
            for _ in range(args.rounds):
                for name in names:
                    bench.phase(name, "open", args.open_seconds / args.rounds)
            time.sleep(1.0)
            stats.append(pg.db_stats(db))
        for phase in [*bench.phases, *warm.values()]:
            phase["_by_kind"] = phase.pop("by_kind", {})

        summary: dict[str, dict[str, Any]] = {}
        for name in names:
            mine = [p for p in bench.phases if p["server"] == name]
            summary[name] = {m: c for m in ("closed", "open") if (c := bench.combined(name, m))}
            opened = [p for p in mine if p["mode"] == "open"]
            if opened:
                summary[name]["open"].update(
                    lanes=opened[0]["lanes"],
                    think_time_s=opened[0]["think_time_s"],
                    late=sum(p["late"] for p in opened),
                    max_late_ms=max(p["max_late_ms"] for p in opened),
                    calls_started=sum(p["calls_started"] for p in opened),
                    calls_completed=sum(p["calls_completed"] for p in opened),
                    scheduled=sum(p["scheduled"] for p in opened),
                )
                summary[name]["open_by_kind"] = by_kind_summary(opened)
            if name == "app":
                closed_ok = sum(p["ok"] for p in mine if p["mode"] == "closed")
                summary[name]["postgres_per_menu_step"] = pg_delta(stats[0], stats[1], closed_ok)
                if opened:
                    open_ok = sum(p["ok"] for p in opened)
                    summary[name]["postgres_per_mixed_request"] = pg_delta(
                        stats[1], stats[2], open_ok
                    )

        targets: dict[str, Any] = {}
        if "app" in summary and "bare" in summary:
            app_c, bare_c = summary["app"]["closed"], summary["bare"]["closed"]
            ratio = app_c["throughput"] / max(1e-9, bare_c["throughput"])
            app_cpu = app_c["server_cpu_ms_per_req"] + app_c["postgres_cpu_ms_per_req"]
            bare_cpu = bare_c["server_cpu_ms_per_req"] + bare_c["postgres_cpu_ms_per_req"]
            targets.update(
                ratio=round(ratio, 3),
                ratio_ok=ratio >= TARGET_RATIO,
                cpu_cost_ratio=round(bare_cpu / max(1e-9, app_cpu), 3),
                app_cpu_ms_per_step=round(app_cpu, 3),
                bare_cpu_ms_per_step=round(bare_cpu, 3),
            )
        if "app" in summary and "open_by_kind" in summary["app"]:
            everything = summary["app"]["open_by_kind"]["all"]
            targets.update(
                open_p99_ms=everything["p99_ms"],
                p99_ok=everything["p99_ms"] is not None and everything["p99_ms"] <= TARGET_P99_MS,
                open_over_5s=everything["over_5s"],
                open_errors=everything["error_count"],
            )
            targets["slow_ok"] = targets["open_over_5s"] == 0
            targets["errors_ok"] = targets["open_errors"] == 0

        answers = sum(p["completed"] for p in [*bench.phases, *warm.values()])
        bad: dict[str, int] = {}
        for p in [*bench.phases, *warm.values()]:
            for status, count in p["errors"].items():
                bad[status] = bad.get(status, 0) + count
        checks["sanity"] = {
            "answers": answers,
            "non_200_or_not_twiml": sum(bad.values()),
            "by": bad,
        }
        if "app" in names:
            counts = loadgen.call(cmd="counts")["ok"]["app"]
            checks["database"] = database_check(db, counts)

        out = args.out or RESULTS / f"{stem}.json"
        result = {
            "benchmark": "voice_webhook",
            "path": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
            "started_at": started_at.isoformat(timespec="seconds"),
            "git_commit": sms.git_commit(),
            "uncommitted_app_changes": sms.app_tree_changes(APP_CODE),
            "command": " ".join([".venv/bin/python", "bench/voice_webhook/run.py", *sys.argv[1:]]),
            "settings": {
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "gunicorn": next(iter(servers.values())).command()[1:-1],
                "keys_by_node": NEXT_KEY,
            },
            "machine": sms.machine_info(),
            "postgres": pg.settings(),
            "versions": sms.versions(),
            "trace": trace,
            "bare_twiml": bare_twiml.read_text(),
            "pool": pool,
            "warmup": {name: _public(w) for name, w in warm.items()},
            "phases": [_public(p) for p in bench.phases],
            "targets": targets,
            "checks": checks,
            "summary": summary,
            "server_log_problems": {name: s.log_problems() for name, s in servers.items()},
        }
        write_json(out, result)
        print_report(result)

        missed = not targets.get("ratio_ok", True)
        if "app" in names and (args.profile or (missed and not args.no_profile)):
            from bench.voice_webhook.profile_steps import profile

            why = " (the ratio missed its target)" if missed else ""
            print(f"\nprofile of menu steps in one process{why}:", flush=True)
            result["profile"] = profile(
                servers["app"].env, AUTH_TOKEN, DEMO_VOICE_NUMBER, bare_twiml=bare_twiml.read_text()
            )
            write_json(out, result)

        failed = bool(checks["sanity"]["non_200_or_not_twiml"]) or not checks.get(
            "database", {}
        ).get("ok", True)
        if failed:
            print(
                f"requests failed or were not stored: see {out} and {RESULTS}/voice_webhook-*.log"
            )
        if args.enforce and not all(
            targets.get(k, True) for k in ("ratio_ok", "p99_ok", "slow_ok", "errors_ok")
        ):
            return 2
        return 1 if failed else 0
    finally:
        if loadgen is not None:
            loadgen.close()
        for server in servers.values():
            server.stop()
        if not args.keep:
            if created_db:
                with contextlib.suppress(Exception):
                    pg.drop(db)
            if "app" in names:
                with contextlib.suppress(Exception):
                    rds.flushdb()


def write_json(path: Path, result: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")


def _public(phase: dict[str, Any]) -> dict[str, Any]:
    """A phase's record without its raw latencies."""
    return {k: v for k, v in phase.items() if not k.startswith("_")}


if __name__ == "__main__":
    sys.exit(main())
