"""The end-to-end part of the SMS benchmark: rq workers run the intake for real.

The webhook only stores a message and queues ``contactcenter.inbox.process_inbound``; the
worker does the intake (resident, case, classification, routing) and queues
``contactcenter.outbound.deliver_interaction``, which hands the acknowledgement to the Twilio
client (with no Twilio account configured, its transport is the dev outbox: it answers like
Twilio and logs instead of sending, so the job runs for real without network).

``run.py`` uses this module for

- the queue check after the webhook phases: every HTTP 200 stored exactly one inbound
  interaction and queued exactly one ``process_inbound`` job for it (and nothing else ran);
- the drain: worker processes (``contactcenter worker --burst``) empty a bounded part of the
  accumulated inbox, and how fast they do it;
- the concurrent phase: workers running while the webhook takes an open-loop load, and how
  long each message takes from being accepted (the inbound row's ``created_at``, written by
  the webhook) to its acknowledgement being handed to the Twilio client (the outbound row's
  ``updated_at`` in the transaction that records the provider's message id), read from the
  database after the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent

QUEUE = "default"
QUEUE_KEY = f"rq:queue:{QUEUE}"
INTAKE = "contactcenter.inbox.process_inbound"
DELIVERY = "contactcenter.outbound.deliver_interaction"
POLL = 0.5  # seconds between progress polls (database counts, worker liveness)


# --- small helpers -------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def censored_percentile(done: list[float], missing: int, pct: float) -> float | None:
    """Percentile over ``done`` plus ``missing`` values known only to be larger than all of
    them (messages not acknowledged by the deadline); None when it falls among the missing."""
    total = len(done) + missing
    if not total:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * total))
    return done[rank - 1] if rank <= len(done) else None


def stats_ms(values: list[float]) -> dict[str, float | int | None]:
    v = sorted(values)
    return {
        "n": len(v),
        "p50_ms": round(percentile(v, 50), 1) if v else None,
        "p90_ms": round(percentile(v, 90), 1) if v else None,
        "p99_ms": round(percentile(v, 99), 1) if v else None,
        "max_ms": round(v[-1], 1) if v else None,
    }


def tree_cpu(pid: int) -> float:
    """CPU seconds of a live process plus its children that it has waited for (rq's horses)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    f = data[data.rfind(")") + 2 :].split()
    return (int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")


def child_pids(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                data = (entry / "stat").read_text()
            except OSError:
                continue
            if int(data[data.rfind(")") + 2 :].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def row(cursor: Any) -> tuple[Any, ...]:
    """The one row a query returns."""
    found = cursor.fetchone()
    assert found is not None
    return tuple(found)


def seconds_between(a: dt.datetime, b: dt.datetime) -> float:
    return (b - a).total_seconds()


# --- rq jobs in Redis ----------------------------------------------------------------------


def fetch_jobs(rds: Any, ids: list[str]) -> list[Any]:
    """rq Job objects for ``ids`` (None for a job whose hash is gone), in pipelined chunks."""
    from rq.job import Job

    jobs: list[Any] = []
    for start in range(0, len(ids), 1000):
        jobs += Job.fetch_many(ids[start : start + 1000], connection=rds)
    return jobs


def queued_job_ids(rds: Any) -> list[str]:
    return [raw.decode() for raw in rds.lrange(QUEUE_KEY, 0, -1)]


def registry_counts(rds: Any) -> dict[str, int]:
    """Jobs that are not simply done: failed, waiting for a retry, or still marked running."""
    from rq import Queue
    from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

    queue = Queue(QUEUE, connection=rds)
    return {
        "queued": int(rds.llen(QUEUE_KEY)),
        "failed": FailedJobRegistry(queue=queue).count,
        "scheduled_for_retry": ScheduledJobRegistry(queue=queue).count,  # type: ignore[no-untyped-call]
        "started_not_finished": StartedJobRegistry(queue=queue).count,
    }


def finished_and_failed_ids(rds: Any) -> set[str]:
    from rq import Queue
    from rq.registry import FailedJobRegistry, FinishedJobRegistry

    queue = Queue(QUEUE, connection=rds)
    return set(FinishedJobRegistry(queue=queue).get_job_ids()) | set(
        FailedJobRegistry(queue=queue).get_job_ids()
    )


def queue_check(rds: Any, pg_url: str, http_200s: int) -> dict[str, Any]:
    """After the webhook phases, before any worker ran: every 200 stored one inbound
    interaction and queued exactly one ``process_inbound`` job for it, and nothing else."""
    import psycopg

    jobs = fetch_jobs(rds, queued_job_ids(rds))
    per_id: Counter[int] = Counter()
    other: Counter[str] = Counter()
    missing_hash = 0
    for job in jobs:
        if job is None:
            missing_hash += 1
        elif job.func_name == INTAKE and len(job.args) == 1:
            per_id[int(job.args[0])] += 1
        else:
            other[job.func_name] += 1
    with psycopg.connect(pg_url) as conn:
        inbound = {r[0] for r in conn.execute(
            "SELECT id FROM interactions WHERE direction = 'inbound'"
        )}  # fmt: skip
        processed, outbound = row(
            conn.execute(
                "SELECT count(*) FILTER (WHERE direction = 'inbound' AND processed_at IS NOT NULL),"
                " count(*) FILTER (WHERE direction = 'outbound') FROM interactions"
            )
        ) or (0, 0)
    exactly_one = sum(1 for i in inbound if per_id.get(i) == 1)
    check = {
        "http_200s": http_200s,
        "inbound_interactions": len(inbound),
        "process_inbound_jobs_queued": sum(per_id.values()),
        "inbound_with_exactly_one_job": exactly_one,
        "inbound_without_job": sum(1 for i in inbound if i not in per_id),
        "inbound_with_several_jobs": sum(1 for i in inbound if per_id.get(i, 0) > 1),
        "jobs_for_unknown_interactions": sum(c for i, c in per_id.items() if i not in inbound),
        "other_jobs_queued": dict(other),
        "job_ids_without_job_data": missing_hash,
        "processed_before_workers": processed,
        "outbound_interactions": outbound,
        **{f"rq_{k}": v for k, v in registry_counts(rds).items() if k != "queued"},
    }
    check["every_200_stored"] = len(inbound) == http_200s
    check["every_200_has_one_job"] = (
        exactly_one == len(inbound) == http_200s == sum(per_id.values())
        and not other
        and not missing_hash
    )
    return check


def describe_queue_check(c: dict[str, Any]) -> str:
    ok = c["every_200_stored"] and c["every_200_has_one_job"]
    text = (
        f"{c['http_200s']} HTTP 200s -> {c['inbound_interactions']} inbound interactions stored,"
        f" {c['process_inbound_jobs_queued']} process_inbound jobs queued,"
        f" {c['inbound_with_exactly_one_job']} messages with exactly one job"
    )
    if ok:
        return text + ": OK, one stored message and one intake job per 200"
    problems = [
        f"{c[k]} {k.replace('_', ' ')}"
        for k in ("inbound_without_job", "inbound_with_several_jobs",
                  "jobs_for_unknown_interactions", "job_ids_without_job_data")
        if c[k]
    ]  # fmt: skip
    if c["other_jobs_queued"]:
        problems.append(f"other jobs {c['other_jobs_queued']}")
    return text + ": MISMATCH (" + (", ".join(problems) or "counts differ") + ")"


# --- the worker processes ------------------------------------------------------------------


class RqWorkers:
    """``count`` rq worker processes for the app (``contactcenter worker``, with ``--fork``
    if asked), with the app server's environment."""

    def __init__(
        self, count: int, env: dict[str, str], *, fork: bool, burst: bool, log_stem: Path
    ) -> None:
        self.count = count
        self.env = env
        self.fork = fork
        self.kind = "fork" if fork else "in process"
        self.burst = burst
        self.log_stem = log_stem
        self.procs: list[subprocess.Popen[bytes]] = []
        self.exited_cpu = 0.0  # from wait4: the worker and the horses it waited for
        self.live: set[int] = set()
        self.started_at = 0.0

    def command(self) -> list[str]:
        flags = (["--fork"] if self.fork else []) + (["--burst"] if self.burst else [])
        return [str(Path(sys.executable).parent / "contactcenter"), "worker", *flags]

    def describe(self) -> str:
        """The command line, shortened: `contactcenter worker --burst`."""
        return " ".join(Path(arg).name if i == 0 else arg for i, arg in enumerate(self.command()))

    def log_paths(self) -> list[Path]:
        return [self.log_stem.with_name(f"{self.log_stem.name}-{i}.log") for i in range(self.count)]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
        env.update(self.env)
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        self.started_at = time.time()
        for path in self.log_paths():
            with path.open("wb") as log:
                proc = subprocess.Popen(
                    self.command(), env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
                )
            self.procs.append(proc)
            self.live.add(proc.pid)

    def poll(self) -> int:
        """Reap the workers that exited (keeping their CPU); how many are still running."""
        for proc in self.procs:
            if proc.pid not in self.live:
                continue
            try:
                pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            except ChildProcessError:
                self.live.discard(proc.pid)
                continue
            if pid:
                self.live.discard(proc.pid)
                self.exited_cpu += usage.ru_utime + usage.ru_stime
                proc.returncode = os.waitstatus_to_exitcode(status)
        return len(self.live)

    def cpu(self) -> float:
        self.poll()
        return self.exited_cpu + sum(tree_cpu(pid) for pid in self.live)

    def stop(self, timeout: float = 20) -> None:
        """Warm shutdown (SIGTERM: rq finishes the job in hand), then kill what is left."""
        if not self.poll():
            return
        for pid in self.live:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.poll() and time.monotonic() < deadline:
            time.sleep(0.1)
        for pid in list(self.live):
            for child in child_pids(pid):  # a work horse still running
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while self.poll() and time.monotonic() < deadline:
            time.sleep(0.1)

    def log_problems(self) -> dict[str, Any]:
        """Lines of the worker logs that report trouble (rq logs every job at INFO)."""
        lines: list[str] = []
        for path in self.log_paths():
            try:
                lines += path.read_text(errors="replace").splitlines()
            except OSError:
                continue
        words = ("Traceback", " ERROR ", " WARNING ", " CRITICAL ", "Exception", "retry")
        bad = [line for line in lines if any(w in line for w in words)]
        return {"log_lines": len(lines), "problem_lines": len(bad), "first": bad[:20]}


def wait_registered(rds: Any, count: int, timeout: float = 60) -> float:
    """Seconds until ``count`` rq workers are registered in Redis (ready to take jobs)."""
    from rq import Worker

    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if Worker.count(connection=rds) >= count:
            return time.monotonic() - began
        time.sleep(0.1)
    raise RuntimeError(f"{count} rq workers did not register within {timeout:g} s")


def start_worker_pyspy(workers: RqWorkers, seconds: float, out_stem: Path) -> list[Any]:
    """py-spy on each worker and its work horses (``--subprocesses``) for up to ``seconds``."""
    pyspy = Path(sys.executable).parent / "py-spy"
    procs = []
    for i, proc in enumerate(workers.procs):
        out = out_stem.with_name(f"{out_stem.name}-{i}.txt")
        procs.append(
            (
                out,
                subprocess.Popen(
                    [str(pyspy), "record", "--pid", str(proc.pid), "--subprocesses",
                     "--duration", str(max(1, int(seconds))), "--rate", "100", "--nonblocking",
                     "--format", "raw", "--output", str(out)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                ),
            )
        )  # fmt: skip
    return procs


# --- the database side ---------------------------------------------------------------------


def db_marks(conn: Any) -> dict[str, int]:
    marks = row(
        conn.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM interactions),"
            " (SELECT coalesce(max(id), 0) FROM cases),"
            " (SELECT count(*) FROM residents)"
        )
    )
    return {"interaction_id": marks[0], "case_id": marks[1], "residents": marks[2]}


def outcomes(conn: Any, inbound_ids: list[int], marks: dict[str, int]) -> dict[str, Any]:
    """What the intake made of ``inbound_ids`` (rows read after the phase)."""
    processed, on_case, commands = row(
        conn.execute(
            "SELECT count(*) FILTER (WHERE processed_at IS NOT NULL),"
            " count(*) FILTER (WHERE processed_at IS NOT NULL AND case_id IS NOT NULL),"
            " count(*) FILTER (WHERE processed_at IS NOT NULL AND case_id IS NULL)"
            " FROM interactions WHERE id = ANY(%s)",
            (inbound_ids,),
        )
    )
    cases, awaiting = row(
        conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE awaiting = 'location') FROM cases"
            " WHERE id > %s",
            (marks["case_id"],),
        )
    )
    residents = row(conn.execute("SELECT count(*) FROM residents"))[0]
    replies = dict(
        conn.execute(
            "SELECT CASE WHEN provider_id IS NOT NULL THEN 'handed_to_twilio'"
            " ELSE delivery_status::text END, count(*) FROM interactions"
            " WHERE direction = 'outbound' AND id > %s GROUP BY 1",
            (marks["interaction_id"],),
        ).fetchall()
    )
    return {
        "messages": len(inbound_ids),
        "processed": processed,
        "cases_created": cases,
        "cases_awaiting_location": awaiting,
        "messages_on_an_existing_case": on_case - cases,
        "messages_on_no_case": commands,
        "residents_created": residents - marks["residents"],
        "replies": replies,
    }


def match_replies(
    inbound: list[tuple[Any, ...]], outbound: list[tuple[Any, ...]]
) -> tuple[dict[int, tuple[Any, ...]], int]:
    """Pair each processed inbound message with the reply its intake queued.

    There is no column linking them; both rows carry the resident, and the reply is created
    in the transaction that sets the message's ``processed_at``. Per resident, messages in
    ``processed_at`` order get replies in ``created_at`` order (each intake of this traffic
    queues exactly one reply). Exact unless two messages of one resident were processed at
    the same moment by two workers, when their two replies may be swapped (latencies then
    differ by at most the overlap). Returns (inbound id -> outbound row, residents whose
    message and reply counts differ).

    inbound rows: (id, created_at, processed_at, resident_id);
    outbound rows: (id, created_at, updated_at, provider_id, resident_id).
    """
    outs: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in sorted(outbound, key=lambda r: (r[1], r[0])):
        outs[row[4]].append(row)
    ins: dict[int, list[tuple[Any, ...]]] = defaultdict(list)
    for row in sorted((r for r in inbound if r[2] is not None), key=lambda r: (r[2], r[0])):
        ins[row[3]].append(row)
    pairs: dict[int, tuple[Any, ...]] = {}
    uneven = 0
    for resident, messages in ins.items():
        replies = outs.get(resident, [])
        if len(replies) != len(messages):
            uneven += 1
        j = 0
        for message in messages:
            while j < len(replies) and replies[j][1] < message[2]:
                j += 1  # a reply created before this message was picked up is not its reply
            if j < len(replies):
                pairs[message[0]] = replies[j]
                j += 1
    return pairs, uneven


# --- the two phases ------------------------------------------------------------------------


def job_timing(jobs: Iterable[Any]) -> dict[str, Any]:
    """Span and per-job time (in the worker: rq's started_at..ended_at) of finished jobs."""
    done = [j for j in jobs if j is not None and j.started_at and j.ended_at]
    if not done:
        return {"finished": 0}
    first = min(j.started_at for j in done)
    last = max(j.ended_at for j in done)
    span = max(1e-9, seconds_between(first, last))
    return {
        "finished": len(done),
        "first_started": first.isoformat(),
        "last_ended": last.isoformat(),
        "span_s": round(span, 3),
        "jobs_per_s": round(len(done) / span, 2),
        "job_time": stats_ms([seconds_between(j.started_at, j.ended_at) * 1000 for j in done]),
    }


def drain(
    *,
    rds: Any,
    pg_url: str,
    make_workers: Callable[[bool], RqWorkers],
    max_messages: int,
    timeout: float,
    machine_cpu: Callable[[], tuple[float, float, float]],
    pyspy_stem: Path | None = None,
) -> dict[str, Any]:
    """Workers with ``--burst`` empty the oldest ``max_messages`` of the accumulated inbox
    (the rest is taken off the queue and stays unprocessed), within ``timeout`` seconds."""
    import psycopg

    ids = queued_job_ids(rds)
    take = ids[:max_messages]
    if len(ids) > len(take):
        rds.ltrim(QUEUE_KEY, 0, len(take) - 1)
    intake_jobs = fetch_jobs(rds, take)
    inbound_ids = [int(j.args[0]) for j in intake_jobs if j is not None and j.func_name == INTAKE]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        marks = db_marks(conn)
        seen_before = finished_and_failed_ids(rds)
        busy0, steal0, total0 = machine_cpu()
        workers = make_workers(True)
        workers.start()
        t0 = time.time()
        profilers = start_worker_pyspy(workers, timeout, pyspy_stem) if pyspy_stem else []
        # CPU of starting up (imports, create_app), not of the jobs: taken when the workers
        # have registered in Redis, which they do right before taking their first job.
        startup_cpu = 0.0
        with contextlib.suppress(RuntimeError):
            wait_registered(rds, workers.count, timeout=30)
            startup_cpu = workers.cpu()
        deadline = time.monotonic() + timeout
        next_report = time.monotonic() + 15
        timed_out = False
        while workers.poll():
            if time.monotonic() > deadline:
                timed_out = True
                break
            if time.monotonic() > next_report:
                processed, sent = row(
                    conn.execute(
                        "SELECT count(*) FILTER (WHERE direction = 'inbound'"
                        " AND processed_at IS NOT NULL), count(*) FILTER (WHERE"
                        " direction = 'outbound' AND provider_id IS NOT NULL) FROM interactions"
                    )
                )
                print(
                    f"    {time.time() - t0:5.0f} s: {processed}/{len(inbound_ids)} processed,"
                    f" {sent} acknowledgements sent",
                    flush=True,
                )
                next_report += 15
            time.sleep(POLL)
        worker_cpu_live = workers.cpu()
        workers.stop()
        t_end = time.time()
        busy1, steal1, total1 = machine_cpu()
        for _out, profiler in profilers:
            try:
                profiler.wait(timeout=15)
            except subprocess.TimeoutExpired:
                profiler.kill()
        worker_cpu = max(worker_cpu_live, workers.cpu())
        result_outcomes = outcomes(conn, inbound_ids, marks)
        sent_rows = row(
            conn.execute(
                "SELECT min(updated_at), max(updated_at), count(*) FROM interactions"
                " WHERE direction = 'outbound' AND id > %s AND provider_id IS NOT NULL",
                (marks["interaction_id"],),
            )
        )
    new_ids = sorted(finished_and_failed_ids(rds) - seen_before - set(take))
    delivery_jobs = [
        j for j in fetch_jobs(rds, new_ids) if j is not None and j.func_name == DELIVERY
    ]
    intake_jobs = fetch_jobs(rds, take)
    intake_status = Counter(
        (j.get_status(refresh=False) or "?") if j is not None else "gone" for j in intake_jobs
    )
    clk = os.sysconf("SC_CLK_TCK")
    wall = t_end - t0
    busy_s = (busy1 - busy0) / clk
    acked = int(sent_rows[2])
    started = dt.datetime.fromtimestamp(t0, dt.UTC)
    intake = job_timing(intake_jobs)
    result: dict[str, Any] = {
        "workers": workers.count,
        "worker_kind": workers.kind,
        "command": workers.describe(),
        "inbox_accumulated": len(ids),
        "drained_messages": len(inbound_ids),
        "left_unprocessed_by_design": len(ids) - len(take),
        "timeout_s": timeout,
        "timed_out": timed_out,
        "wall_s": round(wall, 2),
        "worker_startup_s": (
            round(seconds_between(started, dt.datetime.fromisoformat(intake["first_started"])), 2)
            if intake.get("first_started")
            else None
        ),
        "intake": intake,
        "intake_job_status": dict(intake_status),
        "delivery": job_timing(delivery_jobs),
        "acknowledgements_sent": acked,
        "first_ack_after_s": (
            round(seconds_between(started, sent_rows[0]), 2) if sent_rows[0] else None
        ),
        "last_ack_after_s": (
            round(seconds_between(started, sent_rows[1]), 2) if sent_rows[1] else None
        ),
        "messages_acked_per_s": (
            round(acked / max(1e-9, seconds_between(started, sent_rows[1])), 2)
            if sent_rows[1]
            else 0.0
        ),
        "worker_cpu_s": round(worker_cpu, 2),
        "worker_startup_cpu_s": round(startup_cpu, 2),
        "worker_cpu_ms_per_message": round(
            1000 * (worker_cpu - startup_cpu) / max(1, acked or len(inbound_ids)), 1
        ),
        "machine_cpu_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        "machine_cpu_steal_pct": round(100 * (steal1 - steal0) / max(1, total1 - total0), 1),
        "rest_cpu_pct": round(
            100 * max(0.0, busy_s - worker_cpu) / max(1e-9, (total1 - total0) / clk), 1
        ),
        "outcomes": result_outcomes,
        "rq": registry_counts(rds),
        "worker_logs": workers.log_problems(),
        "pyspy_files": [str(out) for out, _ in profilers],
    }
    return result


def concurrent(
    *,
    rds: Any,
    pg_url: str,
    make_workers: Callable[[bool], RqWorkers],
    run_load: Callable[[], dict[str, Any]],
    wait: float,
    machine_cpu: Callable[[], tuple[float, float, float]],
    server_cpu: Callable[[], float],
) -> dict[str, Any]:
    """Workers running while ``run_load`` drives the webhook; then wait (at most ``wait``
    seconds) for every message of the phase to be processed and acknowledged."""
    import psycopg

    left_in_queue = int(rds.llen(QUEUE_KEY))
    rds.delete(QUEUE_KEY)  # whatever the drain did not finish is not this phase's work
    with psycopg.connect(pg_url, autocommit=True) as conn:
        marks = db_marks(conn)
        workers = make_workers(False)
        workers.start()
        try:
            ready_s = wait_registered(rds, workers.count)
            busy0, steal0, total0 = machine_cpu()
            cpu0 = workers.cpu()
            srv0 = server_cpu()
            t0 = time.time()
            load = run_load()
            load_end = time.time()
            deadline = time.monotonic() + wait
            pending: tuple[Any, ...] = (-1, -1)
            while time.monotonic() < deadline:
                pending = row(
                    conn.execute(
                        "SELECT count(*) FILTER (WHERE direction = 'inbound'"
                        " AND processed_at IS NULL),"
                        " count(*) FILTER (WHERE direction = 'outbound' AND provider_id IS NULL"
                        " AND delivery_status IN ('queued', 'sending'))"
                        " FROM interactions WHERE id > %s",
                        (marks["interaction_id"],),
                    )
                )
                if pending == (0, 0) and rds.llen(QUEUE_KEY) == 0:
                    break
                time.sleep(POLL)
            settled = time.time()
            busy1, steal1, total1 = machine_cpu()
            worker_cpu = workers.cpu() - cpu0
            srv_cpu = server_cpu() - srv0
        finally:
            workers.stop()
        inbound = conn.execute(
            "SELECT id, created_at, processed_at, resident_id FROM interactions"
            " WHERE direction = 'inbound' AND id > %s",
            (marks["interaction_id"],),
        ).fetchall()
        outbound = conn.execute(
            "SELECT id, created_at, updated_at, provider_id, resident_id FROM interactions"
            " WHERE direction = 'outbound' AND id > %s",
            (marks["interaction_id"],),
        ).fetchall()
        result_outcomes = outcomes(conn, [r[0] for r in inbound], marks)
    pairs, uneven = match_replies(inbound, outbound)
    to_start: list[float] = []
    to_queued: list[float] = []
    to_sent: list[float] = []
    for message in inbound:
        if message[2] is not None:
            to_start.append(seconds_between(message[1], message[2]) * 1000)
        reply = pairs.get(message[0])
        if reply is not None:
            to_queued.append(seconds_between(message[1], reply[1]) * 1000)
            if reply[3] is not None:
                to_sent.append(seconds_between(message[1], reply[2]) * 1000)
    to_sent.sort()
    n = len(inbound)
    not_acked = n - len(to_sent)
    clk = os.sysconf("SC_CLK_TCK")
    wall = settled - t0
    busy_s = (busy1 - busy0) / clk
    ack_percentiles = {
        f"p{p}_ms": (None if (v := censored_percentile(to_sent, not_acked, p)) is None
                     else round(v, 1))
        for p in (50, 90, 99)
    }  # fmt: skip
    return {
        "workers": workers.count,
        "worker_kind": workers.kind,
        "command": workers.describe(),
        "left_in_queue_from_drain": left_in_queue,
        "workers_ready_s": round(ready_s, 2),
        "load": {k: v for k, v in load.items() if not k.startswith("_")},
        "messages": n,
        "load_seconds": round(load_end - t0, 2),
        "settle_wait_s": wait,
        "settled_after_load_s": round(settled - load_end, 2),
        "all_acknowledged": not_acked == 0,
        "pending_at_end": {"unprocessed": pending[0], "reply_not_sent": pending[1]},
        "acknowledged": len(to_sent),
        "not_acknowledged_by_deadline": not_acked,
        "residents_with_uneven_replies": uneven,
        # Censored: None = beyond the deadline (that share of messages had no ack sent by then).
        "accept_to_ack_sent": {"n": n, **ack_percentiles,
                               "max_ms": round(to_sent[-1], 1) if to_sent else None},
        "accept_to_ack_sent_of_acked": stats_ms(to_sent),
        "accept_to_intake_start": stats_ms(to_start),
        "accept_to_ack_queued": stats_ms(to_queued),
        "messages_acked_per_s": round(len(to_sent) / max(1e-9, wall), 2),
        "worker_cpu_ms_per_message": round(1000 * worker_cpu / max(1, n), 1),
        "server_cpu_ms_per_message": round(1000 * srv_cpu / max(1, n), 1),
        "machine_cpu_busy_pct": round(100 * (busy1 - busy0) / max(1, total1 - total0), 1),
        "machine_cpu_steal_pct": round(100 * (steal1 - steal0) / max(1, total1 - total0), 1),
        "rest_cpu_pct": round(
            100 * max(0.0, busy_s - worker_cpu - srv_cpu) / max(1e-9, (total1 - total0) / clk), 1
        ),
        "outcomes": result_outcomes,
        "rq": registry_counts(rds),
        "worker_logs": workers.log_problems(),
    }  # fmt: skip


# --- report --------------------------------------------------------------------------------


def _ms(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value / 1000:.2f} s" if value >= 10000 else f"{value:.0f} ms"


def describe(e2e: dict[str, Any]) -> list[str]:
    out: list[str] = []
    d = e2e.get("drain")
    if d:
        i, dl, o = d["intake"], d["delivery"], d["outcomes"]
        out.append(
            f"drain: {d['workers']} x `{d['command']}` on the oldest {d['drained_messages']} of"
            f" {d['inbox_accumulated']} accepted messages"
            + (f" ({d['left_unprocessed_by_design']} others left unprocessed)"
               if d["left_unprocessed_by_design"] else "")
            + (f"; STOPPED at the {d['timeout_s']:g} s bound" if d["timed_out"] else "")
        )  # fmt: skip
        if i.get("finished"):
            out.append(
                f"  intake (process_inbound): {i['jobs_per_s']:.1f} jobs/s, {i['finished']} done"
                f" in {i['span_s']:.1f} s; time per job in the worker"
                f" p50 {_ms(i['job_time']['p50_ms'])}"
                f" p90 {_ms(i['job_time']['p90_ms'])}"
            )
        if dl.get("finished"):
            out.append(
                f"  acknowledgement (deliver_interaction): {dl['jobs_per_s']:.1f} jobs/s,"
                f" {dl['finished']} done; time per job p50 {_ms(dl['job_time']['p50_ms'])}"
                f" p90 {_ms(dl['job_time']['p90_ms'])}"
            )
        out.append(
            f"  whole pipeline: {d['acknowledgements_sent']} acknowledgements handed to Twilio in"
            f" {d['last_ack_after_s'] or 0:.1f} s = {d['messages_acked_per_s']:.1f} messages/s;"
            f" first one after {d['first_ack_after_s'] or 0:.1f} s (workers start in"
            f" {d['worker_startup_s'] or 0:.1f} s)"
        )
        out.append(
            f"  {o['cases_created']} cases created ({o['cases_awaiting_location']} awaiting a"
            f" location), {o['messages_on_an_existing_case']} messages filed on an existing case,"
            f" {o['messages_on_no_case']} on none (commands), {o['residents_created']} residents"
        )
        out.append(
            f"  worker CPU {d['worker_cpu_ms_per_message']:.0f} ms per message (intake + delivery"
            f" + rq's own work{', work horses included' if d['worker_kind'] == 'fork' else ''};"
            f" startup {d['worker_startup_cpu_s']:.1f} s not counted); machine busy"
            f" {d['machine_cpu_busy_pct']}%, of which PostgreSQL/Redis/others {d['rest_cpu_pct']}%"
        )
        out.append(_problems(d))
    c = e2e.get("concurrent")
    if c:
        load = c["load"]
        a, s, q = c["accept_to_ack_sent"], c["accept_to_intake_start"], c["accept_to_ack_queued"]
        out.append(
            f"concurrent: {load.get('offered_rate', 0):g} req/s offered for"
            f" {c['load_seconds']:.0f} s with {c['workers']} workers running: {c['messages']}"
            f" messages; webhook p50 {load.get('p50_ms', 0):.1f} ms p99"
            f" {load.get('p99_ms', 0):.1f} ms, {load.get('error_count', 0)} errors"
        )

        def pct(v: Any) -> str:
            return f"> {c['settle_wait_s']:g} s after the load" if v is None else _ms(v)

        out.append(
            f"  accepted -> acknowledgement handed to Twilio: p50 {pct(a['p50_ms'])},"
            f" p90 {pct(a['p90_ms'])}, p99 {pct(a['p99_ms'])}"
            f" ({c['acknowledged']}/{c['messages']} acknowledged"
            + ("" if c["all_acknowledged"]
               else f", {c['not_acknowledged_by_deadline']} not within {c['settle_wait_s']:g} s")
            + ")"
        )  # fmt: skip
        out.append(
            f"  accepted -> intake started p50 {_ms(s['p50_ms'])} p99 {_ms(s['p99_ms'])};"
            f" -> acknowledgement queued p50 {_ms(q['p50_ms'])} p99 {_ms(q['p99_ms'])};"
            f" {c['messages_acked_per_s']:.1f} messages/s acknowledged (load + settling"
            f" {c['load_seconds'] + c['settled_after_load_s']:.0f} s)"
        )
        out.append(
            f"  CPU per message: workers {c['worker_cpu_ms_per_message']:.0f} ms, webhook"
            f" {c['server_cpu_ms_per_message']:.1f} ms; machine busy {c['machine_cpu_busy_pct']}%"
            f", PostgreSQL/Redis/others {c['rest_cpu_pct']}%"
        )
        out.append(_problems(c))
    return out


def _problems(phase: dict[str, Any]) -> str:
    rq, logs = phase["rq"], phase["worker_logs"]
    text = (
        f"  rq: {rq['failed']} failed, {rq['scheduled_for_retry']} waiting for a retry,"
        f" {rq['started_not_finished']} left running, {rq['queued']} still queued;"
        f" worker logs: {logs['problem_lines']} problem lines of {logs['log_lines']}"
    )
    return text
