"""Console fan-out benchmark: 200 agent consoles on Socket.IO, the app next to a bare server.

Run from the repository root::

    .venv/bin/python bench/console_fanout/run.py [--clients 200] [--threads 250]

It creates a fresh PostgreSQL database (``contactcenter db upgrade``, ``contactcenter demo``),
adds ``--clients`` agents to the demo jurisdiction and mints each a signed-in console session
cookie (what ``start_session`` stores), then starts under gunicorn with identical settings:

- ``app``: ``bench/console_fanout/wrapper_app.py``, i.e. ``contactcenter.create_app()`` plus
  one bench-only route that calls ``realtime.notify_jurisdiction`` (Redis db ``--redis-db``
  as message queue and rq queue; it must be empty);
- ``bare``: ``bench/console_fanout/bare_server.py``, python-socketio alone, same async mode,
  Redis as message queue too, one route that broadcasts to every socket;

and ``--rq-workers`` ``contactcenter worker`` processes. Each resident of ``--clients``
residents texts once (untimed) and the case this opens is assigned to one agent. Then one
process (``clients.py``) opens ``--clients`` WebSocket consoles to each server and:

1. **webhook to agent**: signed ``POST /sms/inbound`` from those residents at ``--rate`` per
   second for ``--webhook-seconds`` (open loop); the worker files each text on its case and
   ``case_updated`` goes to the case's agent; latency from each text's due time to its agent's
   socket hearing it: p50/p95/p99 (target p95 < 250 ms);
2. **idle**: no traffic for ``--idle-seconds`` (rq workers stopped): CPU of each server's
   gunicorn processes as % of one core (target < 15 % for the app);
3. **fan-out**: a closed loop of broadcasts to all consoles (at most ``--window`` not yet heard
   by every socket), ``--rounds`` x ``--fanout-seconds`` per server, alternating app and bare:
   events delivered per second, app/bare (target >= 0.5).

Results go to ``bench/results/console_fanout-<time>.json``. A ratio benchmark, not a test:
exit 0 when the run worked even if a target is missed (``--enforce``: exit 2), 1 when it broke
(a socket refused or dropped, a webhook not answered 200, a text never heard).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.sms_webhook import endtoend  # noqa: E402
from bench.sms_webhook import run as sms  # noqa: E402
from bench.voice_webhook.run import contactcenter  # noqa: E402

RESULTS = sms.RESULTS
PG = sms.PG
AUTH_TOKEN = "bench-console-fanout-auth-token"  # noqa: S105 - signs loopback test traffic only
SECRET_KEY = "bench-console-fanout-secret-key"  # noqa: S105 - loopback bench sessions only
APP_CODE = ("contactcenter", "channels", "migrations")

SOCKET_PACKAGES = ("flask-socketio", "python-socketio", "python-engineio", "simple-websocket")
TARGET_RATIO = 0.5
TARGET_P95_MS = 250.0
TARGET_IDLE_PCT = 15.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=200, help="consoles per server (and agents)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    p.add_argument(
        "--threads",
        type=int,
        default=250,
        help="gunicorn threads per worker (both servers): a WebSocket holds one for its life,"
        " so it must exceed the sockets one worker may get (all of them, at worst)",
    )
    p.add_argument("--rq-workers", type=int, default=2, help="`contactcenter worker` processes")
    p.add_argument("--rate", type=float, default=20.0, help="texts per second (webhook phase)")
    p.add_argument("--webhook-seconds", type=float, default=15.0)
    p.add_argument("--webhook-wait", type=float, default=15.0, help="for the last events, s")
    p.add_argument("--idle-seconds", type=float, default=30.0)
    p.add_argument("--fanout-seconds", type=float, default=10.0, help="per phase")
    p.add_argument("--rounds", type=int, default=2, help="fan-out phases per server")
    p.add_argument("--window", type=int, default=8, help="broadcasts in flight at most")
    p.add_argument("--warmup", type=float, default=2.0, help="unmeasured fan-out s per server")
    p.add_argument("--redis-db", type=int, default=11, help="must be empty; flushed at the end")
    p.add_argument("--keep", action="store_true", help="keep the database and Redis data")
    p.add_argument("--enforce", action="store_true", help="exit 2 when a target is missed")
    p.add_argument("--out", type=Path, help="JSON result path (default: bench/results/...)")
    return p.parse_args(argv)


# --- set-up --------------------------------------------------------------------------------


def make_agents(database_url: str, count: int) -> tuple[int, list[int], list[str]]:
    """``count`` agents in the demo jurisdiction, each with a signed-in console cookie."""
    import sqlalchemy as sa

    from contactcenter.agents.models import Agent
    from contactcenter.app import create_app
    from contactcenter.auth import hash_password
    from contactcenter.config import Settings
    from contactcenter.console.auth import session_auth
    from contactcenter.db import get_db
    from contactcenter.demo import DEMO_SLUG
    from contactcenter.jurisdictions.models import Jurisdiction

    app = create_app(
        Settings(app_env="development", database_url=database_url, secret_key=SECRET_KEY)
    )
    cookies = []
    with app.app_context(), get_db().session() as session:
        city = session.scalars(sa.select(Jurisdiction).where(Jurisdiction.slug == DEMO_SLUG)).one()
        password_hash = hash_password("bench console agent")  # one hash: it is slow on purpose
        agents = [
            Agent(
                email=f"bench-agent-{i}@console-fanout.example",
                name=f"Bench Agent {i}",
                password_hash=password_hash,
                jurisdictions=[city],
            )
            for i in range(count)
        ]
        session.add_all(agents)
        session.commit()
        for agent in agents:
            browser = app.test_client()
            with browser.session_transaction() as cookie:  # what start_session stores
                cookie.permanent = True
                cookie["agent_id"] = agent.id
                cookie["auth"] = session_auth(agent)
            stored = browser.get_cookie("session")
            assert stored is not None
            cookies.append(stored.value)
        ids = [a.id for a in agents]
        city_id = city.id
    get_db(app).engine.dispose()
    return city_id, ids, cookies


def text(base_url: str, phone: str, to: str, body: str) -> int:
    from twilio.request_validator import RequestValidator

    params = {
        "MessageSid": "SM" + os.urandom(16).hex(),
        "AccountSid": "AC" + "5e" * 16,
        "From": phone,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }
    signature = RequestValidator(AUTH_TOKEN).compute_signature(base_url + "/sms/inbound", params)
    request = urllib.request.Request(  # noqa: S310 - loopback
        base_url + "/sms/inbound",
        data=urllib.parse.urlencode(params).encode(),
        headers={"X-Twilio-Signature": signature},
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return int(response.status)


def open_cases(
    db: str, base_url: str, to: str, agent_ids: list[int], timeout: float = 90
) -> list[list[Any]]:
    """One resident per agent texts a first report; each case is assigned to its agent.
    Returns [phone, case id] per agent."""
    import psycopg

    phones = [f"+1613{7000000 + i:07d}" for i in range(len(agent_ids))]
    for i, phone in enumerate(phones):
        status = text(base_url, phone, to, f"Pothole at {100 + i} Main St, please fix it")
        if status != 200:
            raise RuntimeError(f"seeding text answered {status}")
    deadline = time.monotonic() + timeout
    with psycopg.connect(f"postgresql://postgres@{PG}/{db}", autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT from_address, case_id FROM interactions"
                " WHERE direction = 'inbound' AND case_id IS NOT NULL AND from_address = ANY(%s)",
                (phones,),
            ).fetchall()
            if len(rows) >= len(phones):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {len(rows)} of {len(phones)} seeding texts got a case")
            time.sleep(0.3)
        case_of = dict(rows)
        for phone, agent_id in zip(phones, agent_ids, strict=True):
            conn.execute(
                "UPDATE cases SET assigned_agent_id = %s WHERE id = %s", (agent_id, case_of[phone])
            )
    return [[phone, case_of[phone]] for phone in phones]


def threads_of(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def server_threads(server: sms.Server) -> list[int]:
    return [threads_of(pid) for pid in server.workers()]


# --- measuring -----------------------------------------------------------------------------


class Meter:
    """CPU seconds of some processes and of the machine between start and stop."""

    def __init__(self, servers: dict[str, sms.Server], client_pid: int) -> None:
        self.servers = servers
        self.client_pid = client_pid

    def snapshot(self) -> dict[str, Any]:
        return {
            "t": time.monotonic(),
            "servers": {name: s.cpu() for name, s in self.servers.items()},
            "client": sms.proc_cpu(self.client_pid),
            "machine": sms.machine_cpu(),
        }

    @staticmethod
    def delta(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
        seconds = b["t"] - a["t"]
        busy = b["machine"][0] - a["machine"][0]
        steal = b["machine"][1] - a["machine"][1]
        total = max(1, b["machine"][2] - a["machine"][2])
        ours = sum(b["servers"].values()) - sum(a["servers"].values()) + b["client"] - a["client"]
        cores = os.cpu_count() or 1
        return {
            "seconds": round(seconds, 3),
            "server_cpu_s": {k: round(b["servers"][k] - a["servers"][k], 3) for k in a["servers"]},
            "server_cpu_pct_of_core": {
                k: round(100 * (b["servers"][k] - a["servers"][k]) / seconds, 2)
                for k in a["servers"]
            },
            "client_cpu_pct_of_core": round(100 * (b["client"] - a["client"]) / seconds, 1),
            "machine_busy_pct": round(100 * busy / total, 1),
            "machine_steal_pct": round(100 * steal / total, 1),
            # busy CPU that is neither server nor client: rq workers, PostgreSQL, Redis, and
            # whatever else runs on the machine
            "other_pct": round(100 * busy / total - 100 * ours / (seconds * cores), 1),
        }


def fanout_summary(phases: list[dict[str, Any]], name: str) -> dict[str, Any]:
    mine = [p for p in phases if p["target"] == name]
    seconds = sum(p["seconds"] for p in mine)
    deliveries = sum(p["deliveries"] for p in mine)
    cpu = sum(p["cpu"]["server_cpu_s"][name] for p in mine)
    return {
        "phases": len(mine),
        "seconds": round(seconds, 2),
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / max(1e-9, seconds), 1),
        "per_phase": [p["deliveries_per_s"] for p in mine],
        "broadcasts_per_s": round(sum(p["broadcasts_heard_by_all"] for p in mine) / seconds, 2),
        "server_cpu_us_per_delivery": round(1e6 * cpu / max(1, deliveries), 2),
        "broadcast_p50_ms": [p["broadcast_ms"]["p50"] for p in mine],
        "broadcast_p99_ms": [p["broadcast_ms"]["p99"] for p in mine],
        "client_cpu_pct": [p["cpu"]["client_cpu_pct_of_core"] for p in mine],
        "machine_busy_pct": [p["cpu"]["machine_busy_pct"] for p in mine],
        "machine_steal_pct": [p["cpu"]["machine_steal_pct"] for p in mine],
        "other_pct": [p["cpu"]["other_pct"] for p in mine],
        "http_statuses": _merge(p["http_statuses"] for p in mine),
    }


def _merge(dicts: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def print_report(r: dict[str, Any]) -> None:
    s, t = r["settings"], r["targets"]
    fmt = sms.fmt
    print()
    print(
        f"Console fan-out benchmark - {s['clients']} consoles per server; gunicorn gthread"
        f" {s['workers']} workers x {s['threads']} threads; {r['machine']['cpus']} CPUs"
    )
    for c in r["connect"]:
        print(
            f"  connect {c['target']:5}: {c['connected']}/{c['asked']} connected,"
            f" {c['refused']} refused, {c['no_answer']} no answer in {c['seconds']} s"
        )
    print(f"  worker threads after connecting: {r['worker_threads']}")
    w = r["webhooks"]
    lat = w["webhook_to_agent_ms"]
    print(
        f"webhook -> agent: {w['texts']} texts at {w['rate']:g}/s, {s['rq_workers']} rq workers:"
        f" p50 {fmt(lat['p50'])} ms, p95 {fmt(lat['p95'])} ms, p99 {fmt(lat['p99'])} ms,"
        f" max {fmt(lat['max'])} ms; heard {w['heard']}, never {w['never_heard']};"
        f" HTTP {w['http_statuses']}; webhook answer p95 {fmt(w['webhook_http_ms']['p95'])} ms"
    )
    print(
        f"  target p95 < {TARGET_P95_MS:g} ms: {'PASS' if t['p95_ok'] else 'MISS'};"
        f" machine busy {w['cpu']['machine_busy_pct']} %, steal {w['cpu']['machine_steal_pct']} %,"
        f" other (rq workers, PostgreSQL, Redis, the rest of the machine) {w['cpu']['other_pct']} %"
    )
    i = r["idle"]
    print(
        f"idle {i['seconds']:g} s, {s['clients']} consoles each: app"
        f" {i['server_cpu_pct_of_core']['app']} % of a core, bare"
        f" {i['server_cpu_pct_of_core']['bare']} %; Engine.IO pings answered during it"
        f" {r['idle_pings']}  target app < {TARGET_IDLE_PCT:g} %:"
        f" {'PASS' if t['idle_ok'] else 'MISS'}"
    )
    print(f"fan-out, closed loop, window {s['window']}, {s['rounds']} x {s['fanout_seconds']:g} s:")
    print(
        f"{'':6}{'events/s':>10}{'bcast/s':>9}{'us/event':>10}{'bcast p50':>11}{'p99 ms':>8}"
        f"  client CPU %   busy %   other %   per phase"
    )
    for name in ("app", "bare"):
        f = r["fanout"][name]
        print(
            f"{name:6}{f['deliveries_per_s']:>10.0f}{f['broadcasts_per_s']:>9.1f}"
            f"{f['server_cpu_us_per_delivery']:>10.1f}{fmt(f['broadcast_p50_ms'][0]):>11}"
            f"{fmt(f['broadcast_p99_ms'][0]):>8}  {f['client_cpu_pct']}  {f['machine_busy_pct']}"
            f"  {f['other_pct']}  {f['per_phase']}"
        )
    print(
        f"fan-out ratio app/bare: {t['ratio']:.3f} (target >= {TARGET_RATIO})"
        f" {'PASS' if t['ratio_ok'] else 'MISS'}; server CPU per event bare/app"
        f" {t['cpu_ratio']:.3f}"
    )
    print(f"errors: {r['errors'] or 'none'}")
    print(f"results: {r['path']}")


def main(argv: list[str] | None = None) -> int:
    started_at = dt.datetime.now(dt.UTC)
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    db = f"bench_console_fanout_{os.getpid()}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"

    import redis

    rds = redis.Redis.from_url(redis_url)
    if rds.dbsize():
        print(
            f"Redis database {args.redis_db} is not empty ({rds.dbsize()} keys): someone is"
            " using it; choose another with --redis-db",
            file=sys.stderr,
        )
        return 1
    pg = sms.Postgres()
    servers: dict[str, sms.Server] = {}
    workers: endtoend.RqWorkers | None = None
    clients: sms.LoadGen | None = None
    created_db = False
    try:
        app = sms.Server("app", "bench.console_fanout.wrapper_app:create_app()", {}, db, args)
        database_url = f"postgresql+psycopg://postgres@{PG}/{db}"
        env = {
            "APP_ENV": "development",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "SECRET_KEY": SECRET_KEY,
            "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "PUBLIC_BASE_URL": app.base_url,
            "LOG_LEVEL": "WARNING",
        }
        print(f"setting up {db}: db upgrade, demo, {args.clients} agents ...", flush=True)
        began = time.perf_counter()
        pg.create(db)
        created_db = True
        setup_log = RESULTS / "console_fanout-setup.log"
        setup_log.write_bytes(b"")
        contactcenter(env, setup_log, "db", "upgrade")
        contactcenter(env, setup_log, "demo")
        city_id, agent_ids, cookies = make_agents(database_url, args.clients)
        from contactcenter.demo import DEMO_SMS_NUMBER

        app.env = {**env, "BENCH_JURISDICTION_ID": str(city_id)}
        app.log_path = RESULTS / "console_fanout-app.log"
        bare = sms.Server(
            "bare", "bench.console_fanout.bare_server:create_app()",
            {"BARE_REDIS_URL": redis_url}, "", args,
        )  # fmt: skip
        bare.log_path = RESULTS / "console_fanout-bare.log"
        servers = {"app": app, "bare": bare}
        for server in servers.values():
            server.start()
        workers = endtoend.RqWorkers(
            args.rq_workers, env, fork=False, burst=False, log_stem=RESULTS / "console_fanout-rq"
        )
        workers.start()
        for server in servers.values():
            server.wait_ready()
        endtoend.wait_registered(rds, args.rq_workers)
        residents = open_cases(db, app.base_url, DEMO_SMS_NUMBER, agent_ids)
        print(f"  done in {time.perf_counter() - began:.1f} s", flush=True)

        clients = sms.LoadGen(HERE / "clients.py")
        meter = Meter(servers, clients.proc.pid)
        connect = [
            clients.call(cmd="connect", target="app", port=app.port, count=args.clients,
                         cookies=cookies),
            clients.call(cmd="connect", target="bare", port=bare.port, count=args.clients,
                         cookies=None),
            # nobody signed in: the app must refuse the socket
            clients.call(cmd="connect", target="anonymous", port=app.port, count=1, cookies=None),
        ]  # fmt: skip
        threads = {name: server_threads(s) for name, s in servers.items()}
        for c in connect:
            print(f"  {c}", flush=True)
        errors: dict[str, Any] = {}
        for c in connect[:2]:
            if c["connected"] != c["asked"]:
                errors[f"connect_{c['target']}"] = c
        if connect[2]["refused"] != 1:
            errors["anonymous_not_refused"] = connect[2]

        print(f"webhook -> agent: {args.rate:g} texts/s for {args.webhook_seconds:g} s", flush=True)
        a = meter.snapshot()
        hooks = clients.call(
            cmd="webhooks", port=app.port, base_url=app.base_url, token=AUTH_TOKEN,
            to=DEMO_SMS_NUMBER, residents=residents, rate=args.rate,
            seconds=args.webhook_seconds, wait=args.webhook_wait,
        )  # fmt: skip
        hooks["cpu"] = Meter.delta(a, meter.snapshot())
        print(f"  {hooks['webhook_to_agent_ms']}", flush=True)
        if hooks["never_heard"] or set(hooks["http_statuses"]) - {"200"}:
            errors["webhooks"] = {k: hooks[k] for k in ("http_statuses", "never_heard")}
        workers.stop()
        worker_problems = workers.log_problems()

        print(f"idle: {args.idle_seconds:g} s", flush=True)
        time.sleep(1.0)
        pings_before = clients.call(cmd="counts")["pings"]
        a = meter.snapshot()
        time.sleep(args.idle_seconds)
        idle = Meter.delta(a, meter.snapshot())
        pings_after = clients.call(cmd="counts")["pings"]
        idle_pings = {k: v - pings_before.get(k, 0) for k, v in pings_after.items()}
        print(f"  {idle['server_cpu_pct_of_core']}", flush=True)

        print("fan-out: warm-up, then measured phases", flush=True)
        for name in servers:
            clients.call(cmd="fanout", target=name, port=servers[name].port,
                         seconds=args.warmup, window=args.window)  # fmt: skip
        phases = []
        for _ in range(args.rounds):
            for name in servers:
                time.sleep(0.5)
                a = meter.snapshot()
                phase = clients.call(cmd="fanout", target=name, port=servers[name].port,
                                     seconds=args.fanout_seconds, window=args.window)  # fmt: skip
                phase["cpu"] = Meter.delta(a, meter.snapshot())
                phases.append(phase)
                print(
                    f"  {name}: {phase['deliveries_per_s']} events/s,"
                    f" {phase['broadcasts_per_s']} broadcasts/s, HTTP {phase['http_statuses']}",
                    flush=True,
                )
        fanout = {name: fanout_summary(phases, name) for name in servers}
        counts = clients.call(cmd="counts")
        if counts["closed"]:
            errors["sockets_closed"] = counts["closed"]
        for name in servers:
            bad = set(fanout[name]["http_statuses"]) - {"204"}
            if bad:
                errors[f"fanout_http_{name}"] = fanout[name]["http_statuses"]

        ratio = fanout["app"]["deliveries_per_s"] / max(1e-9, fanout["bare"]["deliveries_per_s"])
        cpu_ratio = fanout["bare"]["server_cpu_us_per_delivery"] / max(
            1e-9, fanout["app"]["server_cpu_us_per_delivery"]
        )
        p95 = hooks["webhook_to_agent_ms"]["p95"]
        targets = {
            "ratio": round(ratio, 3),
            "ratio_ok": ratio >= TARGET_RATIO,
            "cpu_ratio": round(cpu_ratio, 3),
            "webhook_to_agent_p95_ms": p95,
            "p95_ok": p95 is not None and p95 < TARGET_P95_MS,
            "idle_app_pct_of_core": idle["server_cpu_pct_of_core"]["app"],
            "idle_ok": idle["server_cpu_pct_of_core"]["app"] < TARGET_IDLE_PCT,
        }
        out = args.out or RESULTS / f"console_fanout-{started_at:%Y%m%dT%H%M%SZ}.json"
        result = {
            "benchmark": "console_fanout",
            "path": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
            "started_at": started_at.isoformat(timespec="seconds"),
            "git_commit": sms.git_commit(),
            "uncommitted_app_changes": sms.app_tree_changes(APP_CODE),
            "command": " ".join([".venv/bin/python", "bench/console_fanout/run.py", *sys.argv[1:]]),
            "settings": {
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "gunicorn": app.command()[1:-1],
            },
            "machine": sms.machine_info(),
            "postgres": pg.settings(),
            "versions": {
                **sms.versions(),
                **{n: _version(n) for n in SOCKET_PACKAGES},
            },
            "connect": connect,
            "worker_threads": threads,
            "webhooks": hooks,
            "rq_worker_log": worker_problems,
            "idle": idle,
            "idle_pings": idle_pings,
            "fanout_phases": phases,
            "fanout": fanout,
            "targets": targets,
            "counts": counts,
            "errors": errors,
            "server_log_problems": {name: s.log_problems() for name, s in servers.items()},
        }
        out.write_text(json.dumps(result, indent=2) + "\n")
        print_report(result)
        if args.enforce and not all(targets[k] for k in ("ratio_ok", "p95_ok", "idle_ok")):
            return 2
        return 1 if errors else 0
    finally:
        if clients is not None:
            clients.close()
        if workers is not None:
            workers.stop()
        for server in servers.values():
            server.stop()
        if not args.keep:
            if created_db:
                with contextlib.suppress(Exception):
                    pg.drop(db)
            with contextlib.suppress(Exception):
                rds.flushdb()


def _version(name: str) -> str:
    from importlib.metadata import version

    with contextlib.suppress(Exception):
        return version(name)
    return ""


if __name__ == "__main__":
    sys.exit(main())
