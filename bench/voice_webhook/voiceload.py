"""The voice load generator: a separate process that ``run.py`` drives over stdin/stdout.

It speaks the SMS benchmark's protocol (``bench/sms_webhook/loadgen.py``, whose keep-alive
``Connection`` and result summary it reuses), so ``run.py`` drives it with that benchmark's
``Bench``. Unlike SMS requests, a call's requests cannot be built ahead: each one goes to the
Gather URL of the answer before it, so the callers here are :class:`voice_calls.CallWalk`
objects, which parse each answer and sign the next request (tens of microseconds).

Commands (one JSON line each; one JSON answer line each):

- ``{"cmd": "setup", "targets": {name: {"port", "url", "token", "to", "seed",
  "number_base"}}, "menu_steps", "keys"}``
- ``{"cmd": "pool", "target", "calls"}``: start ``calls`` calls (incoming + language choice,
  untimed) and keep the main-menu Gather URL of each: where the closed loop's callers start;
  ``{"cmd": "pool", "target", "like": name}``: take another target's callers and URLs
  instead (the bare server has no calls of its own).
- ``{"cmd": "trace", "target", "menu_steps"}``: one whole call, every answer returned.
- ``{"cmd": "prepare", ...}``: nothing to prepare (kept for ``Bench``).
- ``{"cmd": "closed", "target", "seconds", "concurrency"}``: menu steps only; each
  connection walks a pooled call ``menu_steps`` steps, then the next pooled call, sending
  each request as soon as the last is answered.
- ``{"cmd": "open", "target", "seconds", "rate", "senders"}``: the mixed stream, ``rate``
  requests/s for ``seconds``: ``senders`` lanes, lane *i* taking the request slots
  *i*, *i* + lanes, ... (slot *k* is due at *k* / rate), each lane one call after another
  (incoming, language, ``menu_steps`` steps, status). A call's first request counts from
  its due time whatever (callers arrive on schedule); a later request of a call cannot be
  sent before the answer to the one before it, so it counts from its due time or from that
  answer, whichever is later (``late`` counts those sent after their due time).
- ``{"cmd": "counts"}``: 200s per target and kind so far (every phase, pool and trace).
- ``{"cmd": "quit"}``

Every phase is bounded in time; every socket goes to 127.0.0.1.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import threading
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "sms_webhook"))
sys.path.insert(0, HERE)

from loadgen import DRAIN_TIMEOUT, Connection, _cpu, _summary  # noqa: E402
from voice_calls import KINDS, Caller, CallWalk, Signer, UnexpectedNode, callers  # noqa: E402

Sample = tuple[float, str, str]  # (latency s, status, kind)


class Target:
    def __init__(self, name: str, spec: dict[str, Any], menu_steps: int, keys: dict[str, str]):
        self.name = name
        self.port = int(spec["port"])
        self.signer = Signer(spec["url"], spec["token"])
        self.callers = callers("343", int(spec["number_base"]), int(spec["seed"]), spec["to"])
        self.caller_lock = threading.Lock()
        self.menu_steps = menu_steps
        self.keys = keys
        self.pool: list[tuple[Caller, str]] = []
        self.ok: Counter[str] = Counter()

    def caller(self) -> Caller:
        with self.caller_lock:
            return next(self.callers)

    def walk(self, menu_steps: int | None = None, start: tuple[Caller, str] | None = None) -> Any:
        steps = self.menu_steps if menu_steps is None else menu_steps
        caller, path = start or (self.caller(), None)
        return CallWalk(self.signer, caller, steps, path=path, keys=self.keys)


def build(walk: CallWalk) -> bytes | str:
    """The walk's next request, or why there is none (a node the walk has no key for)."""
    try:
        return walk.next_request()[1]
    except UnexpectedNode as exc:
        walk.position = len(walk.plan)
        return f"no key for node {exc}"


def transmit(conn: Connection, walk: CallWalk, data: bytes | str) -> tuple[str, float]:
    """Send a request :func:`build` made; (status, seconds). The walk takes the answer."""
    if isinstance(data, str):
        return data, 0.0
    perf = time.perf_counter
    t0 = perf()
    try:
        code = conn.request(data)
        return walk.answered(code, conn.body), perf() - t0
    except TimeoutError:
        status = "timeout"
    except OSError as exc:
        status = type(exc).__name__
    walk.position = len(walk.plan)
    return status, perf() - t0


def send(conn: Connection, walk: CallWalk) -> tuple[str, str, float]:
    """The walk's next request: (kind, status, seconds)."""
    kind = walk.kind
    return (kind, *transmit(conn, walk, build(walk)))


def by_kind(samples: list[Sample]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for kind in KINDS:
        mine = [(lat, status) for lat, status, k in samples if k == kind]
        if mine:
            out[kind] = {
                "latencies_ms": [round(lat * 1000, 3) for lat, _ in mine],
                "errors": dict(Counter(s for _, s in mine if s != "200")),
            }
    return out


def finish(target: Target, samples: list[Sample], elapsed: float, cpu: float) -> dict[str, Any]:
    for _, status, kind in samples:
        if status == "200":
            target.ok[kind] += 1
    result = _summary([(lat, status) for lat, status, _ in samples], elapsed, cpu, exhausted=False)
    result["by_kind"] = by_kind(samples)
    return result


def make_pool(target: Target, calls: int, threads: int = 4) -> dict[str, Any]:
    """``calls`` calls started (incoming + language choice); each one's next Gather URL."""
    found: list[tuple[Caller, str]] = []
    problems: Counter[str] = Counter()
    lock = threading.Lock()
    todo = iter(range(calls))

    def worker() -> None:
        conn = Connection(target.port)
        for _ in iter(lambda: next(todo, None), None):
            walk = target.walk(menu_steps=0)
            statuses = [send(conn, walk)[1] for _ in range(2)]
            with lock:
                for kind, status in zip(("incoming", "language"), statuses, strict=True):
                    if status == "200":
                        target.ok[kind] += 1
                    else:
                        problems[f"{kind} {status}"] += 1
                if statuses == ["200", "200"] and walk.path:
                    found.append((walk.caller, walk.path))
        conn.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    target.pool = found
    return {
        "pooled": len(found),
        "problems": dict(problems),
        "seconds": round(time.perf_counter() - began, 2),
        "example_path": found[0][1] if found else None,
    }


def trace(target: Target, menu_steps: int) -> dict[str, Any]:
    """One call from ringing to the status callback, every request and answer."""
    conn = Connection(target.port)
    walk = target.walk(menu_steps=menu_steps)
    out = []
    while not walk.done:
        kind, path, params = walk.next_form()
        kind, status, seconds = send(conn, walk)
        if status == "200":
            target.ok[kind] += 1
        out.append({
            "kind": kind, "path": path, "digits": params.get("Digits", ""), "status": status,
            "ms": round(seconds * 1000, 2), "body": conn.body.decode(errors="replace"),
        })  # fmt: skip
        if not status.startswith("200"):
            break
    conn.close()
    return {"call_sid": walk.caller.sid, "requests": out}


def run_threads(
    threads: list[threading.Thread],
    barrier: threading.Barrier,
    box: list[float],
    offset: float,
    join_timeout: float | None,
) -> tuple[float, float]:
    """Start the phase's threads, release them together (``box`` gets the start time plus
    ``offset``: a deadline, or the schedule's start), wait for them: (wall s, CPU s)."""
    for thread in threads:
        thread.start()
    cpu0, started = _cpu(), time.perf_counter()
    box.append(started + offset)
    barrier.wait()
    for thread in threads:
        thread.join(timeout=join_timeout)
    return time.perf_counter() - started, _cpu() - cpu0


def closed_loop(target: Target, seconds: float, concurrency: int) -> dict[str, Any]:
    if not target.pool:
        raise RuntimeError(f"no pooled calls for {target.name}: run the pool command first")
    deadline_box: list[float] = []
    results: list[list[Sample]] = [[] for _ in range(concurrency)]
    barrier = threading.Barrier(concurrency + 1)

    def worker(i: int, out: list[Sample]) -> None:
        conn = Connection(target.port)
        starts = itertools.islice(itertools.cycle(target.pool), i, None, concurrency)
        barrier.wait()
        deadline = deadline_box[0]
        perf = time.perf_counter
        while perf() < deadline:
            walk = target.walk(start=next(starts))
            while not walk.done and perf() < deadline:
                kind, status, lat = send(conn, walk)
                out.append((lat, status, kind))
        conn.close()

    threads = [threading.Thread(target=worker, args=(i, results[i])) for i in range(concurrency)]
    elapsed, cpu = run_threads(threads, barrier, deadline_box, seconds, join_timeout=None)
    return finish(target, [s for out in results for s in out], elapsed, cpu)


def open_loop(target: Target, seconds: float, rate: float, lanes: int) -> dict[str, Any]:
    total = int(seconds * rate)
    lanes = max(1, min(lanes, total))
    samples: list[Sample] = []  # list.append is atomic under the GIL
    late: list[float] = []
    calls: list[Counter[str]] = [Counter() for _ in range(lanes)]
    started_box: list[float] = []
    barrier = threading.Barrier(lanes + 1)

    def lane(i: int) -> None:
        conn = Connection(target.port)
        perf = time.perf_counter
        barrier.wait()
        started = started_box[0]
        give_up = started + total / rate + DRAIN_TIMEOUT
        walk: CallWalk | None = None
        answered_at = 0.0
        for slot in range(i, total, lanes):
            if walk is None or walk.done:
                # Lanes' first calls have 0..menu_steps steps, so that the lanes are out of
                # step and the mix of request kinds is the same from the first second on.
                first = walk is None
                walk = target.walk(menu_steps=i % (target.menu_steps + 1) if first else None)
                calls[i]["started"] += 1
            due = started + slot / rate
            now = perf()
            if now > give_up:
                break
            if walk.kind != "incoming" and answered_at > due:
                late.append(answered_at - due)
                due = answered_at  # the call could not go on before its last answer
            kind, data = walk.kind, build(walk)
            if (delay := due - perf()) > 0:
                time.sleep(delay)
            status = transmit(conn, walk, data)[0]
            answered_at = perf()
            samples.append((answered_at - due, status, kind))
            if walk.done and kind == "status":
                calls[i]["completed"] += 1
        conn.close()

    threads = [threading.Thread(target=lane, args=(i,), daemon=True) for i in range(lanes)]
    elapsed, cpu = run_threads(threads, barrier, started_box, 0.0, seconds + DRAIN_TIMEOUT + 15)
    taken = list(samples)
    result = finish(target, taken, elapsed, cpu)
    unfinished = total - len(taken)
    result.update(
        offered_rate=rate,
        scheduled=total,
        lanes=lanes,
        think_time_s=round(lanes / rate, 3),
        unfinished=unfinished,
        late=len(late),
        max_late_ms=round(max(late, default=0.0) * 1000, 2),
        calls_started=sum(c["started"] for c in calls),
        calls_completed=sum(c["completed"] for c in calls),
    )
    if unfinished:
        result["errors"]["unfinished"] = unfinished
    return result


def main() -> None:
    targets: dict[str, Target] = {}
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        answer: dict[str, Any]
        if cmd == "quit":
            break
        try:
            if cmd == "setup":
                for name, spec in command["targets"].items():
                    targets[name] = Target(name, spec, int(command["menu_steps"]), command["keys"])
                answer = {"ok": True}
            elif cmd == "pool":
                target = targets[command["target"]]
                if "like" in command:
                    target.pool = list(targets[command["like"]].pool)
                    answer = {"pooled": len(target.pool)}
                else:
                    answer = make_pool(target, int(command["calls"]))
            elif cmd == "trace":
                answer = trace(targets[command["target"]], int(command["menu_steps"]))
            elif cmd == "prepare":
                answer = {"ready": 0}
            elif cmd == "closed":
                target = targets[command["target"]]
                answer = closed_loop(target, float(command["seconds"]), int(command["concurrency"]))
            elif cmd == "open":
                target = targets[command["target"]]
                answer = open_loop(
                    target, float(command["seconds"]), float(command["rate"]),
                    int(command["senders"]),
                )  # fmt: skip
            elif cmd == "counts":
                answer = {"ok": {name: dict(t.ok) for name, t in targets.items()}}
            else:
                answer = {"error": f"unknown command {cmd!r}"}
        except Exception as exc:  # reported to run.py, which stops the run
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
