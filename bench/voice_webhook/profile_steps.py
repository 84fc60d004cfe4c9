"""Where an IVR menu step spends its time: the real app in one process, under cProfile.

Not the benchmark: ``run.py`` calls :func:`profile` after its load phases when the menu-step
ratio misses its target (or with ``--profile``), against the benchmark's own database. It
starts ``--calls`` calls through the app (incoming + language choice, with Flask's test
client), walks each one ``--steps`` menu steps to record the requests, and then replays
those menu steps (they are stateless: the call's state is in the URL) straight into the WSGI
app, one at a time, from prebuilt WSGI environs (no HTTP server, no test client in the
measured part):

- timed without a profiler, for the app and for ``bare_app`` (the same requests): ms per
  step in process, and their ratio;
- counted: SQL statements per step;
- under cProfile: the functions with the most own time and cumulative time, in ms per step.

Alone (a fresh database set up like the benchmark's, dropped afterwards)::

    .venv/bin/python bench/voice_webhook/profile_steps.py [--calls 40] [--top 25]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT))

from bench.voice_webhook.voice_calls import CallWalk, Signer, callers  # noqa: E402

Step = tuple[str, dict[str, str], str]  # (path, form, signature)


def record_steps(client: Any, signer: Signer, to: str, calls: int, steps: int) -> list[Step]:
    """``calls`` calls started through the app and walked ``steps`` menu steps each."""
    recorded: list[Step] = []
    for caller in (c for c, _ in zip(callers("343", 9_000_000, 5, to), range(calls), strict=False)):
        walk = CallWalk(signer, caller, steps, status_callback=False)
        while not walk.done:
            kind, path, form = walk.next_form()
            signature = signer.signature(path, form)
            if kind == "step":
                recorded.append((path, form, signature))
            response = client.post(path, data=form, headers={"X-Twilio-Signature": signature})
            status = walk.answered(response.status_code, response.data)
            if status != "200":
                raise RuntimeError(f"{kind} {path}: {status}")
    return recorded


def environs(steps: Iterable[Step]) -> list[dict[str, Any]]:
    from werkzeug.test import EnvironBuilder

    out = []
    for path, form, signature in steps:
        builder = EnvironBuilder(
            path=path, method="POST", data=form, headers=[("X-Twilio-Signature", signature)]
        )
        out.append(builder.get_environ())
        builder.close()
    return out


def replay(app: Any, prepared: list[dict[str, Any]]) -> float:
    """Every prepared request once through ``app``'s WSGI callable; wall seconds for them."""
    statuses: list[str] = []

    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        statuses.append(status)

    began = time.perf_counter()
    for environ in prepared:
        chunks = app(environ, start_response)
        b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
    elapsed = time.perf_counter() - began
    bad = [s for s in statuses if not s.startswith("200")]
    if bad:
        raise RuntimeError(f"{len(bad)} steps answered {bad[0]}")
    return elapsed


def timed(app: Any, work: list[Step]) -> tuple[float, float]:
    """(wall s, CPU s) of ``work`` through ``app``, the WSGI environs built beforehand."""
    prepared = environs(work)
    cpu0 = time.process_time()
    wall = replay(app, prepared)
    return wall, time.process_time() - cpu0


def top(profiler: cProfile.Profile, sort: str, n: int, steps: int) -> list[dict[str, Any]]:
    stats = pstats.Stats(profiler, stream=io.StringIO())
    rows = []
    for (path, line, name), (_cc, calls, tottime, cumtime, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        where = "/".join(Path(path).parts[-2:]) if path != "~" else ""
        rows.append({
            "function": f"{name} ({where}:{line})" if where else name,
            "calls_per_step": round(calls / steps, 2),
            "own_ms_per_step": round(1000 * tottime / steps, 4),
            "cumulative_ms_per_step": round(1000 * cumtime / steps, 4),
        })  # fmt: skip
    key = "own_ms_per_step" if sort == "tottime" else "cumulative_ms_per_step"
    return sorted(rows, key=lambda r: -r[key])[:n]


def profile(
    env: dict[str, str], token: str, to: str, *, calls: int = 40, steps: int = 6, rounds: int = 8,
    top_n: int = 25, bare_twiml: str | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Profile menu steps of the app configured by ``env`` (the benchmark server's)."""
    import sqlalchemy as sa

    from bench.voice_webhook.bare_app import REPRESENTATIVE_TWIML
    from bench.voice_webhook.bare_app import create_app as create_bare
    from contactcenter.app import create_app
    from contactcenter.config import Settings

    settings = Settings(
        app_env="development", database_url=env["DATABASE_URL"], redis_url=env["REDIS_URL"],
        twilio_auth_token=token, public_base_url=env["PUBLIC_BASE_URL"], log_level="WARNING",
    )  # fmt: skip
    app = create_app(settings)
    signer = Signer(env["PUBLIC_BASE_URL"], token)
    recorded = record_steps(app.test_client(), signer, to, calls, steps)
    work = recorded * rounds
    n = len(work)
    timed(app, work)  # warm
    app_wall, app_cpu = timed(app, work)
    bare = create_bare(bare_twiml or REPRESENTATIVE_TWIML)
    timed(bare, work)
    bare_wall, bare_cpu = timed(bare, work)

    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", count)
    try:
        timed(app, work)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", count)

    prepared = environs(work)
    profiler = cProfile.Profile()
    profiler.enable()
    profiled_wall = replay(app, prepared)
    profiler.disable()

    result = {
        "steps": n,
        "distinct_steps": len(recorded),
        "app_ms_per_step": round(1000 * app_wall / n, 3),
        "app_cpu_ms_per_step": round(1000 * app_cpu / n, 3),
        "bare_ms_per_step": round(1000 * bare_wall / n, 3),
        "bare_cpu_ms_per_step": round(1000 * bare_cpu / n, 3),
        "in_process_ratio": round(bare_wall / max(1e-9, app_wall), 3),
        "sql_statements_per_step": round(statements[0] / n, 3),
        "profiled_ms_per_step": round(1000 * profiled_wall / n, 3),
        "by_own_time": top(profiler, "tottime", top_n, n),
        "by_cumulative_time": top(profiler, "cumulative", top_n, n),
    }
    print_profile(result)
    return result


def print_profile(r: dict[str, Any]) -> None:
    print(
        f"{r['steps']} menu steps ({r['distinct_steps']} distinct) straight into the WSGI app,"
        f" one at a time: app {r['app_ms_per_step']:.3f} ms per step"
        f" ({r['app_cpu_ms_per_step']:.3f} ms CPU), bare {r['bare_ms_per_step']:.3f} ms"
        f" ({r['bare_cpu_ms_per_step']:.3f} ms CPU): in-process ratio {r['in_process_ratio']:.3f};"
        f" {r['sql_statements_per_step']:.3f} SQL statements per step;"
        f" {r['profiled_ms_per_step']:.3f} ms per step under cProfile"
    )
    for title, key, rows in (
        ("own time", "own_ms_per_step", r["by_own_time"]),
        ("cumulative time", "cumulative_ms_per_step", r["by_cumulative_time"]),
    ):
        print(f"\ntop {len(rows)} by {title}, ms per menu step (under cProfile):")
        print(f"  {'ms/step':>8} {'calls':>7}  function")
        for row in rows:
            print(f"  {row[key]:8.4f} {row['calls_per_step']:7.2f}  {row['function']}")


def main() -> int:
    """Alone: a fresh database and Redis database set up like the benchmark's."""
    from bench.sms_webhook.run import PG, Postgres
    from bench.voice_webhook.run import AUTH_TOKEN, DEMO_VOICE_NUMBER, contactcenter

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=40)
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--rounds", type=int, default=8, help="replays of the recorded steps")
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--redis-db", type=int, default=13, help="Redis database (must be empty)")
    args = p.parse_args()
    import redis

    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    rds = redis.Redis.from_url(redis_url)
    if rds.dbsize():
        print(f"Redis database {args.redis_db} is not empty", file=sys.stderr)
        return 1
    db = "bench_voice_profile"
    pg = Postgres()
    pg.create(db)
    env = {
        "APP_ENV": "development",
        "DATABASE_URL": f"postgresql+psycopg://postgres@{PG}/{db}",
        "REDIS_URL": redis_url,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PUBLIC_BASE_URL": "http://127.0.0.1:8311",
        "LOG_LEVEL": "WARNING",
    }
    log = ROOT / "bench" / "results" / "voice_webhook-profile-setup.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        contactcenter(env, log, "db", "upgrade")
        contactcenter(env, log, "demo")
        options = {"calls": args.calls, "steps": args.steps, "rounds": args.rounds}
        profile(env, AUTH_TOKEN, DEMO_VOICE_NUMBER, top_n=args.top, **options)
        return 0
    finally:
        rds.flushdb()
        pg.drop(db)


if __name__ == "__main__":
    raise SystemExit(main())
