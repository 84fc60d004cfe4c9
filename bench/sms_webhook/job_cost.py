"""What one background job costs, in a forked work horse and in process.

``contactcenter worker --fork`` runs rq's default ``Worker``, which forks a fresh work horse
for every job from a parent that has never run one (until cfec6dd that was the only mode);
plain ``contactcenter worker`` runs the jobs in its own process (rq's ``SimpleWorker``). This
drives the real job functions three ways, one job at a time, against a fresh PostgreSQL
database whose inbox is filled through the real webhook (Flask test client, the benchmark's
signed requests), and prints wall and CPU milliseconds per job:

1. fork from a cold parent: what ``contactcenter worker --fork`` does for every job;
2. fork from a parent that has already run jobs in process (its caches are inherited);
3. in process, no fork: what ``contactcenter worker`` does.

These time the job functions, ``process_inbound`` and ``deliver_interaction`` (in the fork
modes also the fork and wait around them), not rq's own bookkeeping per job (dequeue,
registries, heartbeats, the stored result, log lines): the last line measures that apart, with
an rq ``SimpleWorker`` running jobs that do nothing.

    .venv/bin/python bench/sms_webhook/job_cost.py [--jobs 10] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import os
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run import AUTH_TOKEN, PG, Postgres, setup_app_db  # noqa: E402
from traffic import RequestBuilder, messages  # noqa: E402

BASE_URL = "http://127.0.0.1:8311"


def in_child(
    fn: Callable[[int], None], arg: int, profile_to: Path | None = None
) -> tuple[float, float, float]:
    """Run ``fn(arg)`` in a forked child: (child wall ms, child CPU ms, parent wall ms incl.
    fork and wait)."""
    read_end, write_end = os.pipe()
    began = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: like rq's work horse
        os.close(read_end)
        try:
            wall0, cpu0 = time.perf_counter(), time.process_time()
            profiler = cProfile.Profile() if profile_to else None
            if profiler:
                profiler.enable()
            fn(arg)
            if profiler:
                profiler.disable()
                out = io.StringIO()
                pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(40)
                profile_to.write_text(out.getvalue())  # type: ignore[union-attr]
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            os.write(write_end, f"{wall * 1000:.3f} {cpu * 1000:.3f}".encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    answer = os.read(read_end, 100).decode().split()
    os.close(read_end)
    if len(answer) != 2:
        raise RuntimeError(f"{fn.__name__}({arg}) failed in the child")
    return float(answer[0]), float(answer[1]), (time.perf_counter() - began) * 1000


def in_process(fn: Callable[[int], None], arg: int) -> tuple[float, float, float]:
    wall0, cpu0 = time.perf_counter(), time.process_time()
    fn(arg)
    wall = (time.perf_counter() - wall0) * 1000
    return wall, (time.process_time() - cpu0) * 1000, wall


def report(label: str, samples: list[tuple[float, float, float]]) -> None:
    def med(i: int) -> float:
        return statistics.median(s[i] for s in samples)

    print(
        f"  {label:44} n={len(samples):3}  job wall {med(0):6.1f} ms  job CPU {med(1):6.1f} ms"
        f"  wall incl. fork {med(2):6.1f} ms   (medians)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--jobs", type=int, default=10, help="jobs of each kind per mode")
    p.add_argument("--redis-db", type=int, default=14, help="Redis database (flushed!)")
    p.add_argument(
        "--profile",
        action="store_true",
        help="also print cProfile of one intake and one delivery in a cold work horse, and of"
        " warm intakes in process",
    )
    args = p.parse_args()
    n = max(1, min(args.jobs, 200))

    import psycopg
    import redis

    from contactcenter.app import create_app
    from contactcenter.config import Settings
    from contactcenter.inbox import process_inbound
    from contactcenter.outbound import deliver_interaction

    db = "bench_sms_jobcost"
    pg = Postgres()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    rds = redis.Redis.from_url(redis_url)
    rds.flushdb()
    pg.create(db)
    url = f"postgresql+psycopg://postgres@{PG}/{db}"
    plain_url = f"postgresql://postgres@{PG}/{db}"
    try:
        settings = Settings(
            app_env="development",
            database_url=url,
            redis_url=redis_url,  # jobs are queued (and ignored), not run inline
            twilio_auth_token=AUTH_TOKEN,
            public_base_url=BASE_URL,
            log_level="WARNING",
        )
        app = create_app(settings)
        total = 9 * n + 40
        # Migrate, seed and fill the inbox through the webhook in a child, so that this parent
        # stays as cold as the rq worker's: no ORM query run, no statement compiled.
        pid = os.fork()
        if pid == 0:
            try:
                to_number = setup_app_db(url)
                builder = RequestBuilder(BASE_URL + "/sms/inbound", AUTH_TOKEN, to_number, 11)
                client = app.test_client()
                for message in itertools.islice(messages(9), total):
                    raw = builder.build(message)
                    head, body = raw.split(b"\r\n\r\n", 1)
                    found = re.search(rb"X-Twilio-Signature: (\S+)", head)
                    assert found is not None
                    response = client.post(
                        "/sms/inbound",
                        data=dict(parse_qsl(body.decode(), keep_blank_values=True)),
                        headers={"X-Twilio-Signature": found.group(1).decode()},
                    )
                    assert response.status_code == 200, response.status_code
            except BaseException as exc:
                print(f"filling the inbox failed: {exc!r}", file=sys.stderr)
                os._exit(1)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status:
            raise SystemExit("could not fill the inbox")
        pg.analyze(db)

        def queued(kind: str) -> list[int]:
            sql = {
                "inbound": "SELECT id FROM interactions WHERE direction = 'inbound'"
                " AND processed_at IS NULL ORDER BY id",
                "outbound": "SELECT id FROM interactions WHERE direction = 'outbound'"
                " AND delivery_status = 'queued' ORDER BY id",
            }[kind]
            with psycopg.connect(plain_url) as conn:
                return [row[0] for row in conn.execute(sql)]

        with app.app_context():  # as `contactcenter worker` runs inside FlaskGroup's context
            inbound = queued("inbound")
            print(f"{len(inbound)} messages in the inbox; {n} jobs of each kind per mode:")
            # 1. Cold parent: every job in a fresh fork, the parent never runs one.
            cold_in = [in_child(process_inbound, i) for i in inbound[:n]]
            cold_out = [in_child(deliver_interaction, o) for o in queued("outbound")[:n]]
            report("process_inbound, fork of a cold parent", cold_in)
            report("deliver_interaction, fork of a cold parent", cold_out)
            if args.profile:
                # The profiled intake queues the reply that the profiled delivery sends.
                for fn, kind, name in (
                    (process_inbound, "inbound", "intake"),
                    (deliver_interaction, "outbound", "delivery"),
                ):
                    arg = queued(kind)[0]
                    handle, path = tempfile.mkstemp(prefix=f"bench_job_cost_{name}_")
                    os.close(handle)
                    target = Path(path)
                    in_child(fn, arg, target)
                    print(f"\n=== cProfile, {name} in a cold work horse (top 40 cumulative) ===")
                    print("\n".join(target.read_text().splitlines()[5:]))
                    target.unlink()
            # Warm the parent: run jobs in process (also the in-process mode's own warm-up).
            for i in queued("inbound")[: 2 * n]:
                process_inbound(i)
            for o in queued("outbound")[: 2 * n]:
                deliver_interaction(o)
            warm_in = [in_child(process_inbound, i) for i in queued("inbound")[:n]]
            warm_out = [in_child(deliver_interaction, o) for o in queued("outbound")[:n]]
            report("process_inbound, fork of a warm parent", warm_in)
            report("deliver_interaction, fork of a warm parent", warm_out)
            here_in = [in_process(process_inbound, i) for i in queued("inbound")[:n]]
            here_out = [in_process(deliver_interaction, o) for o in queued("outbound")[:n]]
            report("process_inbound, in process", here_in)
            report("deliver_interaction, in process", here_out)
            if args.profile:
                # Where a warm intake's time goes once the cold start is gone.
                profiler = cProfile.Profile()
                ids = queued("inbound")[: 3 * n]
                for i in ids:
                    profiler.enable()
                    process_inbound(i)
                    profiler.disable()
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out)
                project = re.escape(str(ROOT)) + r"/(contactcenter|channels)/"
                stats.sort_stats("cumulative").print_stats(project, 30)
                print(
                    f"\n=== cProfile, {len(ids)} intakes in process (warm), project functions ==="
                )
                lines = out.getvalue().replace(str(ROOT) + "/", "").splitlines()
                print("\n".join(line for line in lines[5:] if line.strip()))
        print(
            f"\nrq's own cost per job: {rq_overhead(rds, 500):.2f} ms CPU (SimpleWorker, a job"
            " that does nothing; its INFO log lines written to /dev/null)"
        )
    finally:
        pg.drop(db)
        rds.flushdb()
    return 0


def rq_overhead(rds: Any, count: int) -> float:
    """CPU ms per job that an rq SimpleWorker spends on a job that does nothing: dequeue,
    registries, heartbeats, the stored result, logging."""
    import logging

    from rq import Queue, SimpleWorker

    queue = Queue("bench-rq-overhead", connection=rds)
    with rds.pipeline() as pipe:
        queue.enqueue_many(
            [Queue.prepare_data("builtins.abs", (1,)) for _ in range(count)], pipeline=pipe
        )
        pipe.execute()
    loggers = [logging.getLogger(), logging.getLogger("rq.worker")]
    with open(os.devnull, "w") as devnull:
        # Log lines are formatted and written as usual, to /dev/null (rq adds its handler to
        # "rq.worker" at start, the app configured the root logger).
        worker = SimpleWorker([queue], connection=rds)
        cpu0 = time.process_time()
        streams = {}
        for logger in loggers:
            for handler in logger.handlers:
                if isinstance(handler, logging.StreamHandler):
                    streams[handler] = handler.setStream(devnull)
        original_add = logging.Logger.addHandler

        def add_quiet(self: logging.Logger, handler: logging.Handler) -> None:
            if isinstance(handler, logging.StreamHandler):
                streams[handler] = handler.setStream(devnull)
            original_add(self, handler)

        logging.Logger.addHandler = add_quiet  # type: ignore[method-assign,assignment]
        try:
            worker.work(burst=True)
        finally:
            logging.Logger.addHandler = original_add  # type: ignore[method-assign,assignment]
            cpu = time.process_time() - cpu0
            for handler, stream in streams.items():
                if stream is not None:
                    handler.setStream(stream)
    return 1000 * cpu / count


if __name__ == "__main__":
    sys.exit(main())
