"""Inbound-SMS webhook benchmark: the real webhook against the floor, then the real intake.

Run from the repository root::

    .venv/bin/python bench/sms_webhook/run.py [--seconds N] [--concurrency N] [--skip-e2e]

It creates two fresh PostgreSQL databases, starts the real app and ``bare_app.py`` under
gunicorn with identical settings on loopback ports, and drives both from a separate load
generator process (``loadgen.py``) with the same kind of signed Twilio requests, alternating
app, bare, app, bare so that drift on the machine hits both alike:

1. closed loop: ``--concurrency`` keep-alive connections, each sending its next request as
   soon as the last is answered, for ``--seconds`` per phase and ``--rounds`` phases each;
2. open loop: ``--open-rate`` requests/s offered for ``--open-seconds`` in all, split over
   the rounds; latency counts from when each request was due.

The app's webhook only stores the message and queues one rq job
(``contactcenter.inbox.process_inbound``); no worker runs during these phases, so after them
the script checks that every 200 stored one inbound interaction and queued exactly one
``process_inbound`` job for it.

3. end to end (unless ``--skip-e2e``; see ``endtoend.py``): ``--e2e-workers`` rq worker
   processes (``contactcenter worker``, the app's own command, with the app server's
   environment; ``--e2e-fork`` adds ``--fork``) run the intake and the acknowledgement jobs
   for real (the Twilio client's dev outbox transport stands in for Twilio's API): first
   they drain the oldest ``--drain-max`` messages of the accumulated inbox (``--burst``),
   then they run while the webhook takes ``--e2e-rate`` requests/s for ``--e2e-seconds``,
   and the time from each message's acceptance to its acknowledgement being handed to the
   Twilio client is read from the database.

It prints requests/s, p50/p99 latency and errors of both servers, their throughput ratio, and
checks the targets (app >= 0.5x bare throughput; app p99 <= 300 ms at 50 requests/s), then
the end-to-end rates and latencies; the full results go to
``bench/results/sms_webhook-<time>.json``. Databases are dropped and the Redis database
flushed at the end.

It is a ratio benchmark, not a test: it exits 0 when the run worked (no errors) even if a
target is missed, unless ``--enforce`` is given; 1 when requests or jobs failed or the run
broke.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
PG = "127.0.0.1:5432"
ADMIN_URL = f"postgresql://postgres@{PG}/postgres"
AUTH_TOKEN = "bench-sms-webhook-auth-token"  # noqa: S105 - signs loopback test traffic only

TARGET_RATIO = 0.5
TARGET_P99_MS = 300.0

sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import endtoend  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=12, help="closed-loop seconds per phase")
    p.add_argument("--concurrency", type=int, default=8, help="closed-loop connections")
    p.add_argument("--rounds", type=int, default=2, help="phases per server for each loop")
    p.add_argument("--open-rate", type=float, default=50, help="open-loop offered requests/s")
    p.add_argument("--open-seconds", type=float, default=20, help="open-loop seconds per server")
    p.add_argument("--open-senders", type=int, default=32, help="open-loop connections")
    p.add_argument("--warmup", type=float, default=3, help="unmeasured seconds per server")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (both servers)")
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    p.add_argument("--redis-db", type=int, default=14, help="Redis database (flushed!)")
    p.add_argument("--seed", type=int, default=311)
    p.add_argument("--only", choices=["app", "bare"], help="run one server only (no ratio)")
    p.add_argument("--skip-open", action="store_true", help="closed loop only")
    p.add_argument("--keep", action="store_true", help="keep the databases and Redis data")
    p.add_argument("--enforce", action="store_true", help="exit 2 when a target is missed")
    p.add_argument("--out", type=Path, help="JSON result path (default: bench/results/...)")
    p.add_argument(
        "--pyspy",
        action="store_true",
        help="profile the app's workers with py-spy during its closed-loop phases (perturbs them)",
    )
    e2e = p.add_argument_group("end to end (rq workers run the intake for real)")
    e2e.add_argument("--skip-e2e", action="store_true", help="webhook phases only, no workers")
    e2e.add_argument("--e2e-workers", type=int, default=2, help="rq worker processes")
    e2e.add_argument(
        "--e2e-fork",
        action="store_true",
        help="run `contactcenter worker --fork` (rq's Worker: a forked work horse per job)"
        " instead of the default, jobs in the worker process (rq's SimpleWorker)",
    )
    e2e.add_argument(
        "--drain-max", type=int, default=300, help="messages the drain takes (oldest first)"
    )
    e2e.add_argument("--drain-timeout", type=float, default=150, help="drain bound, seconds")
    e2e.add_argument(
        "--e2e-rate", type=float, help="concurrent phase req/s offered (default: --open-rate)"
    )
    e2e.add_argument("--e2e-seconds", type=float, default=10, help="concurrent phase load seconds")
    e2e.add_argument(
        "--e2e-wait",
        type=float,
        default=120,
        help="after the concurrent load, seconds to wait for the last acknowledgements",
    )
    args = p.parse_args(argv)
    if args.e2e_rate is None:
        args.e2e_rate = args.open_rate
    if not 1 <= args.e2e_workers <= 16 or not 0 <= args.drain_max <= 100_000:
        p.error("--e2e-workers must be 1..16 and --drain-max 0..100000")
    if not 0 < args.drain_timeout <= 1800 or not 0 < args.e2e_wait <= 1800:
        p.error("--drain-timeout and --e2e-wait must be in (0, 1800]")
    if not 0 < args.e2e_rate <= 2000 or not 0 < args.e2e_seconds <= 600:
        p.error("--e2e-rate must be in (0, 2000] and --e2e-seconds in (0, 600]")
    if args.seconds <= 0 or args.seconds > 300:
        p.error("--seconds must be in (0, 300]")
    if not 1 <= args.concurrency <= 256 or not 1 <= args.rounds <= 10:
        p.error("--concurrency must be 1..256 and --rounds 1..10")
    if not 0 < args.open_rate <= 2000 or not 0 < args.open_seconds <= 600:
        p.error("--open-rate must be in (0, 2000] and --open-seconds in (0, 600]")
    return args


# --- measurement helpers -------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = data[data.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            data = (entry / "stat").read_text()
        except OSError:
            continue
        if int(data[data.rfind(")") + 2 :].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def machine_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies of all cores since boot; busy excludes steal."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    steal = values[7]
    total = sum(values[:8])
    return total - idle - steal, steal, total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- the servers ---------------------------------------------------------------------------


class Server:
    """One gunicorn, its database, and its CPU accounting."""

    def __init__(self, name: str, app_spec: str, env: dict[str, str], db: str, args: Any):
        self.name = name
        self.app_spec = app_spec
        self.db = db
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = RESULTS / f"sms_webhook-{name}.log"

    def command(self) -> list[str]:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        return [
            gunicorn,
            "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.args.workers),
            "--worker-class", "gthread",
            "--threads", str(self.args.threads),
            "--keep-alive", "10",
            "--timeout", "60",
            "--log-level", "warning",
            "--no-control-socket",
            "--chdir", str(ROOT),
            self.app_spec,
        ]  # fmt: skip

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
        env.update(self.env)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            self.command(), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        log.close()

    def wait_ready(self, timeout: float = 45) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} server exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.base_url}/health", timeout=2) as response:  # noqa: S310 - loopback
                    if response.status == 200 and len(self.workers()) >= self.args.workers:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} server did not become ready; see {self.log_path}")

    def workers(self) -> list[int]:
        return children(self.proc.pid) if self.proc else []

    def worker_cpu(self) -> dict[int, float]:
        return {pid: proc_cpu(pid) for pid in self.workers()}

    def cpu(self) -> float:
        assert self.proc is not None
        return proc_cpu(self.proc.pid) + sum(proc_cpu(pid) for pid in self.workers())

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)

    def log_problems(self) -> list[str]:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return []
        return [line for line in lines if "Traceback" in line or " ERROR " in line][:20]


class Postgres:
    def __init__(self) -> None:
        import psycopg

        self.conn = psycopg.connect(ADMIN_URL, autocommit=True)

    def create(self, name: str) -> None:
        self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.conn.execute(f'CREATE DATABASE "{name}"')

    def drop(self, name: str) -> None:
        self.conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def analyze(self, db: str) -> None:
        """Give the planner statistics, as any database that has been running a while has.

        Without them a fresh ``cases`` table is looked up by tracking number through the
        (jurisdiction_id, status, created_at) index instead of the unique one, a scan that
        grows with the table: a fresh-database artifact, not what production sees.
        """
        import psycopg

        with psycopg.connect(f"postgresql://postgres@{PG}/{db}", autocommit=True) as conn:
            conn.execute("ANALYZE")

    def backend_cpu(self, db: str) -> dict[int, float]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (db,),
        ).fetchall()
        return {pid: proc_cpu(pid) for (pid,) in rows}

    def db_stats(self, db: str) -> dict[str, int]:
        self.conn.execute("SELECT pg_stat_clear_snapshot()")
        row = self.conn.execute(
            "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_fetched,"
            " tup_returned, blks_hit + blks_read FROM pg_stat_database WHERE datname = %s",
            (db,),
        ).fetchone()
        keys = ("commits", "rollbacks", "inserted", "updated", "fetched", "returned", "blocks")
        return dict(zip(keys, row or (0,) * len(keys), strict=True))

    def settings(self) -> dict[str, str]:
        names = ("server_version", "synchronous_commit", "fsync", "shared_buffers", "wal_level")
        return {n: self.conn.execute(f"SHOW {n}").fetchone()[0] for n in names}


# --- the load generator --------------------------------------------------------------------


class LoadGen:
    def __init__(self, script: Path = HERE / "loadgen.py") -> None:
        self.proc = subprocess.Popen(
            [sys.executable, str(script)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )

    def call(self, **command: Any) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the load generator died")
        answer: dict[str, Any] = json.loads(line)
        if "error" in answer:
            raise RuntimeError(answer["error"])
        return answer

    def close(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(Exception):
                self.call(cmd="quit")
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class Bench:
    def __init__(self, args: argparse.Namespace, pg: Postgres, loadgen: LoadGen):
        self.args = args
        self.pg = pg
        self.loadgen = loadgen
        self.servers: dict[str, Server] = {}
        self.last_rate: dict[str, float] = {}
        self.phases: list[dict[str, Any]] = []
        self.pyspy_files: list[Path] = []

    def prepare(self, name: str, count: int) -> None:
        self.loadgen.call(cmd="prepare", target=name, count=max(0, count))

    def phase(
        self,
        name: str,
        mode: str,
        seconds: float,
        *,
        record: bool = True,
        rate: float | None = None,
        label: str | None = None,
    ) -> dict[str, Any]:
        """One load phase; ``record=False``: not part of the webhook summary (warm-up, and the
        end-to-end phase, which has workers running next to the server)."""
        args = self.args
        server = self.servers[name]
        rate = rate or args.open_rate
        if mode == "open":
            need = int(seconds * rate) + 1
        else:
            # Enough for 1.6x the last measured rate (unknown at first: assume fast).
            rate = self.last_rate.get(name, 2500.0)
            need = int(rate * 1.6 * seconds) + 200
        self.prepare(name, need)
        pg_before = self.pg.backend_cpu(server.db)
        srv_before = server.cpu()
        workers_before = server.worker_cpu()
        busy0, steal0, total0 = machine_cpu()
        profilers = self.start_pyspy(server, seconds) if mode == "closed" and record else []
        if mode == "open":
            result = self.loadgen.call(
                cmd="open", target=name, seconds=seconds, rate=rate,
                senders=args.open_senders,
            )  # fmt: skip
        else:
            result = self.loadgen.call(
                cmd="closed", target=name, seconds=seconds, concurrency=args.concurrency
            )
        busy1, steal1, total1 = machine_cpu()
        for profiler in profilers:
            profiler.wait(timeout=60)
        srv_cpu = server.cpu() - srv_before
        wall = max(1e-9, result["elapsed"])
        # Share of one core each worker used: a worker is one interpreter (one GIL), so it
        # cannot use more than ~100 %; a lopsided split means connections sat unevenly.
        worker_load = [
            round(100 * (cpu - workers_before.get(pid, 0.0)) / wall, 1)
            for pid, cpu in sorted(server.worker_cpu().items())
        ]
        pg_after = self.pg.backend_cpu(server.db)
        pg_cpu = sum(cpu - pg_before.get(pid, 0.0) for pid, cpu in pg_after.items())
        ok = max(1, result["ok"])
        if mode == "closed" and result["ok"]:
            self.last_rate[name] = result["throughput"]
        latencies = sorted(result["latencies_ms"])
        summary = {
            "server": name,
            "mode": mode,
            "seconds": seconds,
            **{k: v for k, v in result.items() if k != "latencies_ms"},
            "p50_ms": round(percentile(latencies, 50), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(latencies[-1], 2) if latencies else None,
            "server_cpu_ms_per_req": round(srv_cpu * 1000 / ok, 3),
            "worker_cpu_pct": worker_load,
            "postgres_cpu_ms_per_req": round(pg_cpu * 1000 / ok, 3),
            "loadgen_cpu_ms_per_req": round(result["loadgen_cpu_s"] * 1000 / ok, 3),
            "machine_cpu_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
            "machine_cpu_steal_pct": round(100 * (steal1 - steal0) / max(1, total1 - total0), 1),
            # CPU that neither this server, its PostgreSQL backends nor the load generator used:
            # other programs on the machine (and Redis, PostgreSQL's own background processes).
            "other_cpu_pct": round(
                100
                * max(
                    0.0,
                    (busy1 - busy0) / os.sysconf("SC_CLK_TCK")
                    - srv_cpu
                    - pg_cpu
                    - result["loadgen_cpu_s"],
                )
                / max(1e-9, (total1 - total0) / os.sysconf("SC_CLK_TCK")),
                1,
            ),
        }
        if record:
            summary["_latencies"] = latencies
            self.phases.append(summary)
        label = label or ("warmup" if not record else f"{mode} loop")
        summary["error_count"] = sum(result["errors"].values())
        errors = sum(result["errors"].values())
        print(
            f"  {name:4} {label:11} {result['throughput']:8.1f} req/s  p50 {summary['p50_ms']:7.2f}"
            f" ms  p99 {summary['p99_ms']:7.2f} ms  errors {errors}"
            f"  (CPU busy {summary['machine_cpu_busy_pct']}%"
            f", steal {summary['machine_cpu_steal_pct']}%, other {summary['other_cpu_pct']}%;"
            f" workers {'/'.join(f'{x:.0f}' for x in worker_load)}% of a core)"
            + ("  [ran out of prepared requests]" if result.get("exhausted") else ""),
            flush=True,
        )
        return summary

    def combined(self, name: str, mode: str) -> dict[str, Any] | None:
        phases = [p for p in self.phases if p["server"] == name and p["mode"] == mode]
        if not phases:
            return None
        latencies = sorted(x for p in phases for x in p["_latencies"])
        ok = sum(p["ok"] for p in phases)
        elapsed = sum(p["elapsed"] for p in phases)
        errors: dict[str, int] = {}
        for p in phases:
            for key, count in p["errors"].items():
                errors[key] = errors.get(key, 0) + count

        def per_req(key: str) -> float:
            return round(sum(p[key] * max(1, p["ok"]) for p in phases) / max(1, ok), 3)

        return {
            "phases": len(phases),
            "ok": ok,
            "errors": errors,
            "error_count": sum(errors.values()),
            "elapsed": round(elapsed, 3),
            "throughput": round(ok / elapsed, 2) if elapsed else 0.0,
            "throughput_per_phase": [p["throughput"] for p in phases],
            "p50_ms": round(percentile(latencies, 50), 2),
            "p90_ms": round(percentile(latencies, 90), 2),
            "p99_ms": round(percentile(latencies, 99), 2),
            "max_ms": round(latencies[-1], 2) if latencies else None,
            "server_cpu_ms_per_req": per_req("server_cpu_ms_per_req"),
            "postgres_cpu_ms_per_req": per_req("postgres_cpu_ms_per_req"),
            "loadgen_cpu_ms_per_req": per_req("loadgen_cpu_ms_per_req"),
            "machine_cpu_busy_pct": round(
                sum(p["machine_cpu_busy_pct"] for p in phases) / len(phases), 1
            ),
            "machine_cpu_steal_pct": round(
                sum(p["machine_cpu_steal_pct"] for p in phases) / len(phases), 1
            ),
            "other_cpu_pct": round(sum(p["other_cpu_pct"] for p in phases) / len(phases), 1),
        }

    def start_pyspy(self, server: Server, seconds: float) -> list[subprocess.Popen[bytes]]:
        """--pyspy: sample each worker's GIL holder during the app's closed-loop phases."""
        if not self.args.pyspy or server.name != "app":
            return []
        pyspy = Path(sys.executable).parent / "py-spy"
        procs = []
        for pid in server.workers():
            out = RESULTS / f"sms_webhook-pyspy-{pid}-{len(self.phases)}.txt"
            self.pyspy_files.append(out)
            procs.append(
                subprocess.Popen(
                    [str(pyspy), "record", "--pid", str(pid), "--duration", str(int(seconds)),
                     "--rate", "100", "--gil", "--nonblocking", "--format", "raw",
                     "--output", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                )
            )  # fmt: skip
        return procs


# --- set-up and checks ---------------------------------------------------------------------


def setup_app_db(url: str) -> str:
    """Migrate and seed the demo jurisdiction; the demo SMS number."""
    from contactcenter import migrate
    from contactcenter.db import Database
    from contactcenter.demo import DEMO_SMS_NUMBER, seed_demo

    migrate.upgrade(url)
    db = Database(url)
    session = db.session()
    try:
        seed_demo(session)
        session.commit()
    finally:
        session.close()
        db.engine.dispose()
    return DEMO_SMS_NUMBER


def run_end_to_end(
    args: argparse.Namespace,
    bench: Bench,
    server: Server,
    rds: Any,
    db: str,
    workers_box: list[endtoend.RqWorkers],
) -> dict[str, Any]:
    """The drain, then the concurrent phase (see ``endtoend.py``)."""
    pg_url = f"postgresql://postgres@{PG}/{db}"
    counter = iter(range(1000))

    def make_workers(burst: bool) -> endtoend.RqWorkers:
        workers = endtoend.RqWorkers(
            args.e2e_workers, server.env, fork=args.e2e_fork, burst=burst,
            log_stem=RESULTS / f"sms_webhook-worker-{next(counter)}",
        )  # fmt: skip
        workers_box.append(workers)
        return workers

    out: dict[str, Any] = {}
    print(
        f"end to end: {args.e2e_workers} rq workers"
        f" ({'a forked work horse per job' if args.e2e_fork else 'jobs in process'});"
        " drain of the oldest"
        f" {args.drain_max} accepted messages (at most {args.drain_timeout:g} s):",
        flush=True,
    )
    if args.drain_max:
        out["drain"] = endtoend.drain(
            rds=rds, pg_url=pg_url, make_workers=make_workers, max_messages=args.drain_max,
            timeout=args.drain_timeout, machine_cpu=machine_cpu,
            pyspy_stem=RESULTS / "sms_webhook-rqspy" if args.pyspy else None,
        )  # fmt: skip
        d = out["drain"]
        print(
            f"  drained {d['outcomes']['processed']}/{d['drained_messages']} messages,"
            f" {d['acknowledgements_sent']} acknowledgements sent in {d['wall_s']:.1f} s",
            flush=True,
        )
    print(
        f"  concurrent: {args.e2e_rate:g} req/s for {args.e2e_seconds:g} s with the workers"
        f" running, then up to {args.e2e_wait:g} s for the last acknowledgements:",
        flush=True,
    )

    def run_load() -> dict[str, Any]:
        return bench.phase(
            "app", "open", args.e2e_seconds, record=False, rate=args.e2e_rate, label="e2e open"
        )

    out["concurrent"] = endtoend.concurrent(
        rds=rds, pg_url=pg_url, make_workers=make_workers, run_load=run_load,
        wait=args.e2e_wait, machine_cpu=machine_cpu, server_cpu=server.cpu,
    )  # fmt: skip
    c = out["concurrent"]
    print(
        f"  {c['acknowledged']}/{c['messages']} acknowledged,"
        f" settled {c['settled_after_load_s']:.1f} s after the load",
        flush=True,
    )
    return out


def bare_db_count(pg_url: str) -> int:
    import psycopg

    with psycopg.connect(pg_url) as conn:
        row = conn.execute("SELECT count(*) FROM inbound_sms").fetchone()
        return int(row[0]) if row else 0


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = ""
    with contextlib.suppress(OSError):
        mem = Path("/proc/meminfo").read_text().split("\n", 1)[0].split(":", 1)[1].strip()
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory": mem,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    names = ("flask", "werkzeug", "sqlalchemy", "psycopg", "gunicorn", "rq", "redis", "twilio")
    out = {}
    for name in names:
        with contextlib.suppress(Exception):
            out[name] = version(name)
    return out


def app_tree_changes(
    paths: tuple[str, ...] = ("contactcenter", "channels", "migrations"),
) -> list[str]:
    """Uncommitted changes to the code under test (the numbers are for that tree, not HEAD)."""
    with contextlib.suppress(Exception):
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", *paths],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        return [line.strip() for line in out.splitlines() if line.strip()]
    return []


def git_commit() -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
    return ""


# --- report --------------------------------------------------------------------------------


def fmt(value: Any, spec: str = ".1f") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return format(value, spec)


def print_report(result: dict[str, Any]) -> None:
    s = result["settings"]
    print()
    print(
        f"SMS webhook benchmark - gunicorn gthread {s['workers']} workers x {s['threads']}"
        f" threads, PostgreSQL {result['postgres']['server_version']}, {result['machine']['cpus']}"
        " CPUs"
    )
    print(
        f"closed loop: {s['concurrency']} connections, {s['rounds']} x {s['seconds']:g} s per"
        f" server; open loop: {s['open_rate']:g} req/s offered, {s['open_seconds']:g} s per server"
    )
    header = (
        f"{'':6}{'loop':8}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'srv CPU':>10}{'PG CPU':>9}{'CPU busy':>10}{'steal':>7}{'other':>7}"
    )
    print(header)
    print(
        f"{'':6}{'':8}{'':>9}{'':>9}{'':>9}{'':>9}{'':>8}{'ms/req':>10}{'ms/req':>9}{'%':>10}"
        f"{'%':>7}{'%':>7}"
    )
    for mode in ("closed", "open"):
        for name in ("app", "bare"):
            c = result["summary"].get(name, {}).get(mode)
            if not c:
                continue
            print(
                f"{name:6}{mode:8}{fmt(c['throughput']):>9}{fmt(c['p50_ms'], '.2f'):>9}"
                f"{fmt(c['p90_ms'], '.2f'):>9}{fmt(c['p99_ms'], '.2f'):>9}{c['error_count']:>8}"
                f"{fmt(c['server_cpu_ms_per_req'], '.2f'):>10}"
                f"{fmt(c['postgres_cpu_ms_per_req'], '.2f'):>9}"
                f"{fmt(c['machine_cpu_busy_pct']):>10}{fmt(c['machine_cpu_steal_pct']):>7}"
                f"{fmt(c['other_cpu_pct']):>7}"
            )
    for name in ("app", "bare"):
        closed = result["summary"].get(name, {}).get("closed")
        if closed and len(closed["throughput_per_phase"]) > 1:
            per = ", ".join(f"{x:.1f}" for x in closed["throughput_per_phase"])
            print(f"  {name} closed-loop req/s per phase: {per}")
    t = result["targets"]
    print()
    if t.get("ratio") is not None:
        print(
            f"throughput ratio app/bare: {t['ratio']:.3f}   (target >= {TARGET_RATIO})"
            f"  {'PASS' if t['ratio_ok'] else 'MISS'}"
        )
        print(
            f"CPU per request, bare/app (server + PostgreSQL): {t['cpu_cost_ratio']:.3f}"
            "   (the ratio a CPU-bound machine would show)"
        )
    if t.get("open_p99_ms") is not None:
        print(
            f"app p99 at {s['open_rate']:g} req/s: {t['open_p99_ms']:.1f} ms"
            f"   (target <= {TARGET_P99_MS:g} ms)  {'PASS' if t['p99_ok'] else 'MISS'}"
        )
    checks = result.get("checks", {})
    if "app" in checks:
        print(f"app queue check: {endtoend.describe_queue_check(checks['app'])}")
    if "bare" in checks:
        b = checks["bare"]
        verdict = "OK" if b["every_200_stored"] else "MISMATCH"
        print(f"bare rows check: {b['http_200s']} HTTP 200s -> {b['rows']} rows stored: {verdict}")
    if result.get("end_to_end"):
        print()
        print("END TO END (rq workers run the intake and send the acknowledgements for real):")
        for line in endtoend.describe(result["end_to_end"]):
            print(line)
    print(f"results: {result['path']}")


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    names = [args.only] if args.only else ["app", "bare"]
    tag = f"{os.getpid()}"
    dbs = {"app": f"bench_sms_app_{tag}", "bare": f"bench_sms_bare_{tag}"}
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"

    import redis

    pg = Postgres()
    rds = redis.Redis.from_url(redis_url)
    bench: Bench | None = None
    loadgen: LoadGen | None = None
    failed = False
    servers: dict[str, Server] = {}
    workers_box: list[endtoend.RqWorkers] = []  # stopped in `finally`, whatever happens
    try:
        print(f"setting up databases {', '.join(dbs[n] for n in names)} ...", flush=True)
        rds.flushdb()
        to_number = "+16135550311"
        if "app" in names:
            pg.create(dbs["app"])
            app_url = f"postgresql+psycopg://postgres@{PG}/{dbs['app']}"
            to_number = setup_app_db(app_url)
            servers["app"] = Server("app", "contactcenter.app:create_app()", {}, dbs["app"], args)
            servers["app"].env = {
                "APP_ENV": "development",
                "DATABASE_URL": app_url,
                "REDIS_URL": redis_url,
                "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
                "PUBLIC_BASE_URL": servers["app"].base_url,
                "LOG_LEVEL": "WARNING",
            }
        if "bare" in names:
            from bare_app import create_table

            pg.create(dbs["bare"])
            bare_url = f"postgresql://postgres@{PG}/{dbs['bare']}"
            create_table(bare_url)
            servers["bare"] = Server(
                "bare", "bench.sms_webhook.bare_app:create_app()",
                {"BARE_DATABASE_URL": bare_url}, dbs["bare"], args,
            )  # fmt: skip
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
        print(
            "servers up: "
            + ", ".join(
                f"{s.name} at {s.base_url} (pid {s.proc.pid})"
                for s in servers.values()  # type: ignore[union-attr]
            ),
            flush=True,
        )

        loadgen = LoadGen()
        loadgen.call(
            cmd="setup",
            seed=args.seed,
            targets={
                name: {
                    "port": s.port,
                    "url": f"{s.base_url}/sms/inbound",
                    "token": AUTH_TOKEN,
                    "to": to_number,
                    "sid_seed": args.seed * 100 + i,
                }
                for i, (name, s) in enumerate(servers.items())
            },
        )
        bench = Bench(args, pg, loadgen)
        bench.servers = servers

        print("warm-up (not measured):", flush=True)
        warm = {name: bench.phase(name, "closed", args.warmup, record=False) for name in names}
        for name in names:
            pg.analyze(dbs[name])
        time.sleep(1.5)  # let PostgreSQL publish the warm-up's statistics
        stats_before = {name: pg.db_stats(dbs[name]) for name in names}
        print("measured:", flush=True)
        for _ in range(args.rounds):
            for name in names:
                bench.phase(name, "closed", args.seconds)
        if not args.skip_open:
            for _ in range(args.rounds):
                for name in names:
                    bench.phase(name, "open", args.open_seconds / args.rounds)
        time.sleep(1.5)
        stats_after = {name: pg.db_stats(dbs[name]) for name in names}

        summary: dict[str, dict[str, Any]] = {}
        for name in names:
            summary[name] = {
                mode: c for mode in ("closed", "open") if (c := bench.combined(name, mode))
            }
            measured_ok = sum(p["ok"] for p in bench.phases if p["server"] == name)
            summary[name]["postgres_per_request"] = {
                key: round(
                    (stats_after[name][key] - stats_before[name][key]) / max(1, measured_ok), 2
                )
                for key in stats_after[name]
            }
        checks: dict[str, Any] = {}
        warm_ok = {name: warm[name]["ok"] for name in names}
        total_ok = {
            name: warm_ok[name] + sum(p["ok"] for p in bench.phases if p["server"] == name)
            for name in names
        }
        if "app" in names:
            # No worker has run yet: every 200 must have stored one inbound interaction and
            # queued exactly one process_inbound job for it, and nothing else.
            checks["app"] = endtoend.queue_check(
                rds, f"postgresql://postgres@{PG}/{dbs['app']}", total_ok["app"]
            )
        if "bare" in names:
            rows = bare_db_count(f"postgresql://postgres@{PG}/{dbs['bare']}")
            checks["bare"] = {"rows": rows, "http_200s": total_ok["bare"],
                              "every_200_stored": rows == total_ok["bare"]}  # fmt: skip

        end_to_end: dict[str, Any] = {}
        if "app" in names and not args.skip_e2e:
            end_to_end = run_end_to_end(args, bench, servers["app"], rds, dbs["app"], workers_box)

        targets: dict[str, Any] = {}
        if "app" in summary and "bare" in summary:
            ratio = summary["app"]["closed"]["throughput"] / max(
                1e-9, summary["bare"]["closed"]["throughput"]
            )
            targets.update(ratio=round(ratio, 3), ratio_ok=ratio >= TARGET_RATIO)
            # The same comparison in CPU per request (server + its PostgreSQL backends): what the
            # ratio would be on a CPU-bound machine, and much less sensitive to other load.
            app_c, bare_c = summary["app"]["closed"], summary["bare"]["closed"]
            app_cpu = app_c["server_cpu_ms_per_req"] + app_c["postgres_cpu_ms_per_req"]
            bare_cpu = bare_c["server_cpu_ms_per_req"] + bare_c["postgres_cpu_ms_per_req"]
            targets["cpu_cost_ratio"] = round(bare_cpu / max(1e-9, app_cpu), 3)
        if "app" in summary and "open" in summary["app"]:
            p99 = summary["app"]["open"]["p99_ms"]
            targets.update(open_p99_ms=p99, p99_ok=p99 <= TARGET_P99_MS)

        out = args.out or RESULTS / f"sms_webhook-{started_at:%Y%m%dT%H%M%SZ}.json"
        result = {
            "benchmark": "sms_webhook",
            "started_at": started_at.isoformat(timespec="seconds"),
            "git_commit": git_commit(),
            "uncommitted_app_changes": app_tree_changes(),
            "command": " ".join([".venv/bin/python", "bench/sms_webhook/run.py", *sys.argv[1:]]),
            "settings": {
                **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "gunicorn": servers[names[0]].command()[1:-1],
                "rq_workers_during_webhook_phases": False,
                "end_to_end_worker": next(
                    (phase["command"] for phase in end_to_end.values()), None
                ),
            },
            "machine": machine_info(),
            "postgres": pg.settings(),
            "versions": versions(),
            "warmup": {
                name: {k: v for k, v in w.items() if k != "_latencies"} for name, w in warm.items()
            },
            "phases": [{k: v for k, v in p.items() if k != "_latencies"} for p in bench.phases],
            "summary": summary,
            "targets": targets,
            "checks": checks,
            "end_to_end": end_to_end,
            "server_log_problems": {name: s.log_problems() for name, s in servers.items()},
            "path": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print_report(result)
        if bench.pyspy_files:
            from hotspots import summarize

            files = [f for f in bench.pyspy_files if f.exists()]
            print("\npy-spy (GIL holder) over the app's closed-loop phases:")
            print(summarize(files, 25) if files else "py-spy wrote nothing (is it installed?)")
        worker_spy = [Path(f) for f in end_to_end.get("drain", {}).get("pyspy_files", [])]
        if worker_spy:
            from hotspots import summarize

            files = [f for f in worker_spy if f.exists()]
            print("\npy-spy (active samples) over the rq workers and their work horses, drain:")
            print(summarize(files, 25) if files else "py-spy wrote nothing (is it installed?)")
        errors = sum(
            c.get("error_count", 0)
            for per_server in summary.values()
            for c in per_server.values()
            if isinstance(c, dict)
        )
        if errors:
            print(f"{errors} requests failed: see the JSON and {RESULTS}/sms_webhook-*.log")
            failed = True
        if any(not c.get("every_200_stored", True) for c in checks.values()):
            print("a server answered 200 for requests it did not store")
            failed = True
        if not checks.get("app", {}).get("every_200_has_one_job", True):
            print("the app did not queue exactly one process_inbound job per stored message")
            failed = True
        failed_jobs = sum(p.get("rq", {}).get("failed", 0) for p in end_to_end.values())
        if failed_jobs:
            print(f"{failed_jobs} rq jobs failed: see the JSON and {RESULTS}/sms_webhook-worker-*")
            failed = True
        if args.enforce and not (targets.get("ratio_ok", True) and targets.get("p99_ok", True)):
            return 2
        return 1 if failed else 0
    finally:
        for workers in workers_box:
            workers.stop()
        if loadgen is not None:
            loadgen.close()
        for server in servers.values():
            server.stop()
        if not args.keep:
            for name in names:
                with contextlib.suppress(Exception):
                    pg.drop(dbs[name])
            with contextlib.suppress(Exception):
                rds.flushdb()


if __name__ == "__main__":
    sys.exit(main())
