"""Where one inbound-SMS webhook spends its time: cProfile + round-trip counts, in process.

Not the benchmark (that is ``run.py``): this drives the real app through Flask's test client,
one request at a time, with the same signed Twilio requests as the benchmark, against a fresh
PostgreSQL database and Redis database, and prints

- SQL statements, and Redis round trips, per request (by statement shape);
- the functions with the most own time and cumulative time (cProfile).

    .venv/bin/python bench/sms_webhook/profile_intake.py [--requests 1500] [--top 40]

Use py-spy on the gunicorn workers during ``run.py`` for the profile under real load.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import itertools
import pstats
import re
import sys
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qsl

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from run import AUTH_TOKEN, PG, Postgres, setup_app_db  # noqa: E402
from traffic import RequestBuilder, messages  # noqa: E402

BASE_URL = "http://127.0.0.1:8311"


def shape(sql: str) -> str:
    sql = " ".join(sql.split())
    if sql.startswith("SELECT"):
        tables = re.findall(r"FROM (\w+)", sql)
        return f"SELECT from {', '.join(dict.fromkeys(tables))}"
    return " ".join(sql.split()[:3])


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--requests", type=int, default=1500)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--redis-db", type=int, default=14)
    p.add_argument("--sort", default="tottime,cumulative")
    p.add_argument("--dump", type=Path, help="also write the raw profile (pstats) here")
    args = p.parse_args()

    import redis
    import sqlalchemy as sa
    from redis.connection import Connection

    from contactcenter.app import create_app
    from contactcenter.config import Settings

    db = "bench_sms_profile"
    pg = Postgres()
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    rds = redis.Redis.from_url(redis_url)
    rds.flushdb()
    pg.create(db)
    url = f"postgresql+psycopg://postgres@{PG}/{db}"
    try:
        to_number = setup_app_db(url)
        settings = Settings(
            app_env="development",
            database_url=url,
            redis_url=redis_url,
            twilio_auth_token=AUTH_TOKEN,
            public_base_url=BASE_URL,
            log_level="WARNING",
        )
        app = create_app(settings)
        client = app.test_client()
        builder = RequestBuilder(BASE_URL + "/sms/inbound", AUTH_TOKEN, to_number, 7)
        prepared = []
        for message in itertools.islice(messages(5), args.warmup + 2 * args.requests):
            raw = builder.build(message)
            head, body = raw.split(b"\r\n\r\n", 1)
            signature = re.search(rb"X-Twilio-Signature: (\S+)", head).group(1).decode()  # type: ignore[union-attr]
            form = dict(parse_qsl(body.decode(), keep_blank_values=True))
            prepared.append((message.kind, form, signature))
        warmup = prepared[: args.warmup]
        timed = prepared[args.warmup : args.warmup + args.requests]
        profiled = prepared[args.warmup + args.requests :]

        def post(form: dict[str, str], signature: str) -> None:
            response = client.post(
                "/sms/inbound", data=form, headers={"X-Twilio-Signature": signature}
            )
            if response.status_code != 200:
                raise SystemExit(f"HTTP {response.status_code}: {response.get_data(as_text=True)}")

        for _kind, form, signature in warmup:
            post(form, signature)
        pg.analyze(db)

        # 1. Plain timing, one request at a time: no profiler, no counting.
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _kind, form, signature in timed:
            post(form, signature)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        n = len(timed)
        print(
            f"{n} requests one at a time, no profiler: {1000 * wall / n:.2f} ms wall and"
            f" {1000 * cpu / n:.2f} ms CPU of this process per request"
        )

        # 2. Counting and profiling.
        current: list[str] = [""]
        statements: Counter[str] = Counter()
        by_kind: dict[str, Counter[str]] = {}
        kinds: Counter[str] = Counter()
        traces: dict[str, list[str]] = {}
        redis_trips = Counter[str]()

        def note(what: str) -> None:
            kind = current[0]
            statements[what] += 1
            by_kind.setdefault(kind, Counter())[what] += 1
            trace = traces.get(kind)
            if trace is not None and kinds[kind] == 1:
                trace.append(what)

        @sa.event.listens_for(sa.engine.Engine, "before_cursor_execute")
        def _count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
            note(shape(statement))

        @sa.event.listens_for(sa.pool.Pool, "checkout")
        def _checkout(dbapi_conn, record, proxy):  # type: ignore[no-untyped-def]
            note("(pool checkout)")

        @sa.event.listens_for(sa.engine.Engine, "commit")
        def _commit(conn):  # type: ignore[no-untyped-def]
            note("COMMIT")

        @sa.event.listens_for(sa.orm.Session, "before_flush")
        def _flush(session, context, instances):  # type: ignore[no-untyped-def]
            note("(ORM flush)")

        import psycopg

        waits = [0]
        original_wait = psycopg.Connection.wait

        def counting_wait(self, gen, *a, **kw):  # type: ignore[no-untyped-def]
            waits[0] += 1
            return original_wait(self, gen, *a, **kw)

        psycopg.Connection.wait = counting_wait  # type: ignore[method-assign]
        original = Connection.send_packed_command

        def counting(self, command, check_health=True):  # type: ignore[no-untyped-def]
            first = command[0] if isinstance(command, list) else command
            name = bytes(first).split(b"\r\n")[2:3]
            redis_trips[(name[0].decode(errors="replace") if name else "?").upper()] += 1
            return original(self, command, check_health)

        Connection.send_packed_command = counting  # type: ignore[method-assign]

        profiler = cProfile.Profile()
        began = time.perf_counter()
        for kind, form, signature in profiled:
            current[0] = kind
            kinds[kind] += 1
            if kinds[kind] == 1:
                traces[kind] = []
            profiler.enable()
            post(form, signature)
            profiler.disable()
        elapsed = time.perf_counter() - began
        Connection.send_packed_command = original  # type: ignore[method-assign]
        psycopg.Connection.wait = original_wait  # type: ignore[method-assign]

        if args.dump:
            profiler.dump_stats(args.dump)
        n = len(profiled)
        print(f"{n} more requests under cProfile: {1000 * elapsed / n:.2f} ms each")
        print(f"\nPostgreSQL round trips per request (psycopg waits): {waits[0] / n:.2f}")
        sql_total = sum(c for k, c in statements.items() if not k.startswith("("))
        print(f"SQL statements per request (incl. COMMIT): {sql_total / n:.2f}")
        for key, count in statements.most_common():
            print(f"  {count / n:6.2f}  {key}")
        print("\nstatements per request, by message kind (share of traffic):")
        for kind, counter in sorted(by_kind.items()):
            total = sum(c for k, c in counter.items() if not k.startswith("("))
            flushes = counter["(ORM flush)"]
            print(
                f"  {kind:22} {100 * kinds[kind] / n:5.1f}%  {total / kinds[kind]:5.2f} statements,"
                f" {flushes / kinds[kind]:4.2f} flushes"
            )
        print("\none request of each kind, in order:")
        for kind, trace in sorted(traces.items()):
            print(f"  {kind}:")
            print("\n".join(f"    {line}" for line in trace))
        print(f"\nRedis round trips per request: {sum(redis_trips.values()) / n:.2f}")
        for key, count in redis_trips.most_common():
            print(f"  {count / n:6.2f}  {key}")
        for sort in args.sort.split(","):
            out = io.StringIO()
            stats = pstats.Stats(profiler, stream=out)
            stats.strip_dirs().sort_stats(sort).print_stats(args.top)
            print(f"\n=== top {args.top} by {sort} ===")
            print("\n".join(out.getvalue().splitlines()[6:]))
    finally:
        pg.drop(db)
        rds.flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
