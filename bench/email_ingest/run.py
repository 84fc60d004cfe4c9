"""Inbound-email benchmark: mail through the real SMTP listener and rq workers, against the floor.

Run from the repository root::

    .venv/bin/python bench/email_ingest/run.py [--messages N] [--workers N] [--redis-db N]

It creates two fresh PostgreSQL databases and, in the same run:

1. **floor**: the standard library's parser (``BytesParser(policy=default)``) plus one raw
   ``INSERT`` per message, all in one transaction through psycopg — the least a mail intake
   can do;
2. **app**: the same messages sent with ``smtplib`` over ``--senders`` connections to
   ``contactcenter mail listen`` (the Procfile's ``mail`` process), which stores each raw
   message and queues its processing; ``--workers`` ``contactcenter worker`` processes parse,
   file and run the intake (resident, case, acknowledgement). Reported: the rate at which
   the listener accepted the mail, and the end-to-end rate (the last message processed);
3. **huge message**: a ``--big-mb`` MB message with ``--big-parts`` attachments is sent first,
   then ``--small`` small messages right behind it on other connections; their acceptance
   and end-to-end times are compared with the same small batch sent alone just before.

The corpus is synthesized from the shared sample messages (``../shared/testdata/email/eml``,
those under 256 kB): each copy gets its own Message-ID and, unless it is a delivery report,
one of 500 resident senders. Targets: the app's end-to-end rate >= 0.5x the floor's, and the
huge message delays the others by < 5 s. Results go to ``bench/results/email_ingest-<time>.json``;
the databases are dropped and the Redis database flushed at the end (unless ``--keep``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import threading
import time
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
SAMPLES = ROOT.parent / "shared" / "testdata" / "email" / "eml"
PG = "127.0.0.1:5432"
ADMIN_URL = f"postgresql://postgres@{PG}/postgres"
MAILBOX = "311@demo.example"
MAX_TEMPLATE = 256 * 1024
REPORTS = ("bounce", "complaint", "disposition")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=10_000)
    p.add_argument("--senders", type=int, default=8, help="concurrent SMTP connections")
    p.add_argument("--workers", type=int, default=2, help="rq worker processes")
    p.add_argument("--big-mb", type=float, default=50)
    p.add_argument("--big-parts", type=int, default=40)
    p.add_argument("--small", type=int, default=100, help="small messages behind the huge one")
    p.add_argument("--redis-db", type=int, default=13, help="Redis database (flushed!)")
    p.add_argument("--drain-timeout", type=float, default=900)
    p.add_argument("--keep", action="store_true", help="keep the databases and Redis data")
    p.add_argument("--out", type=Path)
    return p.parse_args(argv)


# --- the corpus ------------------------------------------------------------------------------

_HEADER_END = re.compile(rb"\r?\n\r?\n")
_DROP = re.compile(rb"^(message-id|from|to)[ \t]*:.*(?:\r?\n[ \t].*)*\r?\n", re.I | re.M)


def templates() -> list[tuple[str, bytes]]:
    found = []
    for path in sorted(SAMPLES.rglob("*.eml")):
        data = path.read_bytes()
        if len(data) <= MAX_TEMPLATE:
            found.append((path.name, data))
    return found


def synthesize(count: int, tag: str) -> list[bytes]:
    """``count`` messages shaped like the samples, each with its own Message-ID."""
    shapes = templates()
    out = []
    for n in range(count):
        name, data = shapes[n % len(shapes)]
        match = _HEADER_END.search(data)
        head, body = (data[: match.start()], data[match.start() :]) if match else (data, b"\n")
        is_report = any(word in name for word in REPORTS)
        if not is_report:
            head = _DROP.sub(b"", head + b"\n").rstrip(b"\r\n")
            sender = f"Resident {n % 500} <resident{n % 500}@example.org>"
            head = f"From: {sender}\nTo: {MAILBOX}\n".encode() + head
        else:
            head = re.sub(rb"(?im)^message-id[ \t]*:.*\r?\n?", b"", head + b"\n").rstrip(b"\r\n")
        head = f"Message-ID: <bench-{tag}-{n}@bench.example>\n".encode() + head
        out.append(crlf(head + body))
    return out


def crlf(data: bytes) -> bytes:
    data = data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def small_message(n: int, tag: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"resident{n}@example.org"
    message["To"] = MAILBOX
    message["Subject"] = f"Pothole {n}"
    message["Message-ID"] = f"<small-{tag}-{n}@bench.example>"
    message.set_content(f"There is a pothole at {n} Main St.")
    return crlf(message.as_bytes())


def huge_message(megabytes: float, parts: int) -> bytes:
    message = EmailMessage()
    message["From"] = "photographer@example.org"
    message["To"] = MAILBOX
    message["Subject"] = "All my photos of the flooding"
    message["Message-ID"] = "<huge@bench.example>"
    message.set_content("Photos attached.")
    # base64 grows the bytes by 4/3 and its 76-character lines by 2 more in 78: size each part
    # so that the whole message is about ``megabytes``.
    each = int(megabytes * 1_000_000 * 3 / 4 * 76 / 78 / parts)
    for i in range(parts):
        blob = os.urandom(each)
        message.add_attachment(blob, maintype="image", subtype="jpeg", filename=f"photo{i}.jpg")
    return crlf(message.as_bytes())


# --- the floor -------------------------------------------------------------------------------


def run_floor(url: str, corpus: list[bytes]) -> dict[str, Any]:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(
            "CREATE TABLE raw_floor (id bigserial PRIMARY KEY, received_at timestamptz"
            " DEFAULT now(), sender text, subject text, data bytea)"
        )
        conn.commit()
        parser = BytesParser(policy=default_policy)
        started = time.perf_counter()
        with conn.cursor() as cur:
            for data in corpus:
                message = parser.parsebytes(data)
                cur.execute(
                    "INSERT INTO raw_floor (sender, subject, data) VALUES (%s, %s, %s)",
                    (str(message.get("From", "")), str(message.get("Subject", "")), data),
                )
        conn.commit()
        wall = time.perf_counter() - started
    return {"messages": len(corpus), "wall_s": wall, "rate": len(corpus) / wall}


# --- the app ---------------------------------------------------------------------------------


def setup_app_db(url: str) -> None:
    from contactcenter import migrate
    from contactcenter.db import Database
    from contactcenter.demo import seed_demo
    from contactcenter.jurisdictions.models import ChannelAddress, Jurisdiction
    from contactcenter.messages import Channel

    migrate.upgrade(url)
    db = Database(url)
    session = db.session()
    try:
        seed_demo(session)
        city = session.query(Jurisdiction).one()
        session.add(ChannelAddress(jurisdiction_id=city.id, channel=Channel.EMAIL, address=MAILBOX))
        session.commit()
    finally:
        session.close()
        db.engine.dispose()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Processes:
    """The listener and the workers, started by this script and stopped by their pids."""

    def __init__(self, env: dict[str, str], stem: str) -> None:
        base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
        self.env = {**base, **env, "PYTHONDONTWRITEBYTECODE": "1"}
        self.stem = stem
        self.procs: list[subprocess.Popen[bytes]] = []
        self.named: dict[str, subprocess.Popen[bytes]] = {}
        self.command = str(Path(sys.executable).parent / "contactcenter")

    def start(self, name: str, *args: str) -> None:
        log = (RESULTS / f"{self.stem}-{name}.log").open("ab")
        proc = subprocess.Popen(
            [self.command, *args], env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )
        self.procs.append(proc)
        self.named[name] = proc

    def stop_named(self, prefix: str) -> None:
        """Stop the processes whose name starts with ``prefix`` (rq workers finish their job)."""
        chosen = [p for n, p in self.named.items() if n.startswith(prefix) and p.poll() is None]
        for proc in chosen:
            proc.send_signal(signal.SIGTERM)
        for proc in chosen:
            proc.wait(timeout=60)

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def wait_for_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"the listener did not come up on port {port}")


def send_all(port: int, messages: list[bytes], connections: int) -> dict[str, Any]:
    """Send ``messages`` over ``connections`` parallel SMTP sessions; per message, when its
    sending started and how long until the listener's 250."""
    started_at = [0.0] * len(messages)
    took = [0.0] * len(messages)
    errors: list[str] = []

    def sender(offset: int) -> None:
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as smtp:
            for i in range(offset, len(messages), connections):
                started_at[i] = time.time()
                t0 = time.perf_counter()
                try:
                    smtp.sendmail("bench@example.org", [MAILBOX], messages[i])
                except smtplib.SMTPException as exc:
                    errors.append(f"{i}: {exc!r}"[:300])
                took[i] = time.perf_counter() - t0

    threads = [threading.Thread(target=sender, args=(k,)) for k in range(connections)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    return {"started_at": started_at, "took": took, "wall_s": wall, "errors": errors}


def wait_processed(url: str, since_id: int, count: int, timeout: float) -> list[tuple[Any, ...]]:
    """Rows ``(id, state, received_at, processed_at, size)`` once none of the ``count`` raw
    messages after ``since_id`` is pending."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while True:
            rows = conn.execute(
                "SELECT id, state, received_at, processed_at, size FROM raw_emails"
                " WHERE id > %s ORDER BY id",
                (since_id,),
            ).fetchall()
            done = [r for r in rows if r[1] != "pending"]
            if len(rows) >= count and len(done) == len(rows):
                return rows
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(done)}/{count} processed after {timeout:g} s")
            time.sleep(0.5)


def last_id(url: str) -> int:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT coalesce(max(id), 0) FROM raw_emails").fetchone()
        return int(row[0]) if row else 0


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def small_batch(url: str, port: int, args: argparse.Namespace, tag: str, *, big: bytes | None):
    """``args.small`` small messages over 4 connections, behind ``big`` if given."""
    before = last_id(url)
    smalls = [small_message(n, tag) for n in range(args.small)]
    big_result: dict[str, Any] = {}
    big_thread = None
    if big is not None:

        def send_big() -> None:
            big_result.update(send_all(port, [big], 1))

        big_thread = threading.Thread(target=send_big)
        big_thread.start()
        time.sleep(0.5)  # the huge message is on the wire
    sent = send_all(port, smalls, 4)
    if big_thread is not None:
        big_thread.join()
    rows = wait_processed(url, before, args.small + (1 if big else 0), args.drain_timeout)
    small_rows = [r for r in rows if r[4] < 1_000_000]
    first_send = min(sent["started_at"])
    end_to_end = [r[3].timestamp() - first_send for r in small_rows]
    out = {
        "accept_p50_s": pct(sent["took"], 50),
        "accept_max_s": max(sent["took"]),
        "all_processed_after_s": max(end_to_end),
        "states": _states(small_rows),
        "errors": sent["errors"],
    }
    if big is not None:
        big_row = [r for r in rows if r[4] >= 1_000_000]
        out["big"] = {
            "bytes": len(big),
            "accept_s": big_result.get("took", [0])[0],
            "errors": big_result.get("errors", []),
            "state": big_row[0][1] if big_row else None,
            "processed_after_s": (big_row[0][3].timestamp() - first_send) if big_row else None,
        }
    return out


def _states(rows: list[tuple[Any, ...]]) -> dict[str, int]:
    states: dict[str, int] = {}
    for row in rows:
        states[row[1]] = states.get(row[1], 0) + 1
    return states


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sys.path.insert(0, str(ROOT))
    import psycopg
    from redis import Redis

    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    dbs = {"app": f"bench_email_app_{stamp.lower()}", "floor": f"bench_email_floor_{stamp.lower()}"}
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    Redis.from_url(redis_url).flushdb()
    for name in dbs.values():
        admin.execute(f'CREATE DATABASE "{name}"')
    app_url = f"postgresql+psycopg://postgres@{PG}/{dbs['app']}"
    app_pg = f"postgresql://postgres@{PG}/{dbs['app']}"
    floor_pg = f"postgresql://postgres@{PG}/{dbs['floor']}"
    procs = Processes(
        {
            "APP_ENV": "development",
            "DATABASE_URL": app_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
        },
        f"email_ingest-{stamp}",
    )
    result: dict[str, Any] = {"args": {k: str(v) for k, v in vars(args).items()}}
    failed = False
    try:
        print(f"synthesizing {args.messages} messages ...", flush=True)
        corpus = synthesize(args.messages, "main")
        total = sum(len(m) for m in corpus)
        result["corpus"] = {"messages": len(corpus), "bytes": total, "shapes": len(templates())}
        print(f"  {total / 1e6:.0f} MB from {len(templates())} sample shapes", flush=True)

        print("floor: BytesParser + one INSERT per message, one transaction ...", flush=True)
        floor = run_floor(floor_pg, corpus)
        result["floor"] = floor
        print(f"  {floor['rate']:.0f} messages/s ({floor['wall_s']:.1f} s)", flush=True)

        setup_app_db(app_url)
        port = free_port()
        procs.start("listener", "mail", "listen", "--host", "127.0.0.1", "--port", str(port))
        wait_for_port(port)
        for i in range(args.workers):
            procs.start(f"worker-{i}", "worker")

        # Warm up: workers import the app and connect before anything is measured.
        warm = last_id(app_pg)
        send_all(port, [small_message(n, "warmup") for n in range(20)], 4)
        wait_processed(app_pg, warm, 20, args.drain_timeout)

        print(f"app: {args.small} small messages alone (baseline) ...", flush=True)
        result["small_alone"] = small_batch(app_pg, port, args, "alone", big=None)
        big = huge_message(args.big_mb, args.big_parts)
        print(
            f"app: a {len(big) / 1e6:.0f} MB message with {args.big_parts} attachments,"
            f" then {args.small} small ones ...",
            flush=True,
        )
        result["small_behind_big"] = small_batch(app_pg, port, args, "behind", big=big)
        alone, behind = result["small_alone"], result["small_behind_big"]
        delay = behind["all_processed_after_s"] - alone["all_processed_after_s"]
        result["big_delay_s"] = delay
        print(
            f"  small alone: accepted p50 {alone['accept_p50_s'] * 1000:.0f} ms,"
            f" all processed after {alone['all_processed_after_s']:.2f} s",
            flush=True,
        )
        print(
            f"  behind the huge one: accepted p50 {behind['accept_p50_s'] * 1000:.0f} ms"
            f" (max {behind['accept_max_s']:.2f} s), all processed after"
            f" {behind['all_processed_after_s']:.2f} s -> delay {delay:.2f} s (target < 5 s);"
            f" huge one {behind['big']['state']} after {behind['big']['processed_after_s']:.1f} s",
            flush=True,
        )

        # The listener's ingest alone (workers stopped, as when they fall behind in a storm),
        # then the workers' drain of that backlog: two rates, each on the whole machine.
        print(
            f"app: {args.messages} messages over {args.senders} SMTP connections, workers"
            f" stopped; then {args.workers} rq workers drain them ...",
            flush=True,
        )
        procs.stop_named("worker-")
        before = last_id(app_pg)
        sent = send_all(port, corpus, args.senders)
        drain_start = time.time()
        for i in range(args.workers):
            procs.start(f"worker-{i}", "worker")
        rows = wait_processed(app_pg, before, len(corpus), args.drain_timeout)
        drain_wall = max(r[3].timestamp() for r in rows) - drain_start
        app = {
            "accept_wall_s": sent["wall_s"],
            "accept_rate": len(corpus) / sent["wall_s"],
            "drain_wall_s": drain_wall,
            "drain_rate": len(corpus) / drain_wall,
            "end_to_end_rate": len(corpus) / (sent["wall_s"] + drain_wall),
            "accept_p50_ms": pct(sent["took"], 50) * 1000,
            "accept_p99_ms": pct(sent["took"], 99) * 1000,
            "states": _states(rows),
            "errors": sent["errors"][:20],
            "error_count": len(sent["errors"]),
        }
        result["app"] = app
        result["ratio_accept"] = app["accept_rate"] / floor["rate"]
        result["ratio_end_to_end"] = app["end_to_end_rate"] / floor["rate"]
        print(
            f"  listener ingest {app['accept_rate']:.0f}/s (p50 {app['accept_p50_ms']:.0f} ms,"
            f" p99 {app['accept_p99_ms']:.0f} ms); workers' drain {app['drain_rate']:.0f}/s"
            f" (parse, file, intake, routing, acknowledgement); states {app['states']}",
            flush=True,
        )
        print(
            f"ratio app/floor: listener ingest {result['ratio_accept']:.2f}x (target >= 0.5x);"
            f" whole pipeline {result['ratio_end_to_end']:.2f}x; huge-message delay {delay:.2f} s"
            " (target < 5 s)",
            flush=True,
        )
        failed = bool(app["error_count"] or alone["errors"] or behind["errors"])
    except Exception as exc:
        result["error"] = repr(exc)
        print(f"bench failed: {exc!r}", flush=True)
        failed = True
    finally:
        procs.stop()
        out = args.out or RESULTS / f"email_ingest-{stamp}.json"
        out.write_text(json.dumps(result, indent=2, default=str))
        print(f"results: {out}", flush=True)
        if not args.keep:
            for name in dbs.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            Redis.from_url(redis_url).flushdb()
        admin.close()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
