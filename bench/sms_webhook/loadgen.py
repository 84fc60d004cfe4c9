"""The load generator: a separate process that ``run.py`` drives over stdin/stdout.

Kept light on purpose, since it shares the machine's cores with the servers under test:
requests are prebuilt bytes (see ``traffic.py``) written to plain keep-alive sockets, and the
response is read with just enough HTTP/1.1 parsing to find its status and its end.

Protocol: one JSON command per line on stdin, one JSON answer per line on stdout.

- ``{"cmd": "setup", "targets": {name: {"port", "url", "token", "to", "sid_seed"}}, "seed"}``
- ``{"cmd": "prepare", "target", "count"}``: build and sign ``count`` more requests (untimed).
- ``{"cmd": "closed", "target", "seconds", "concurrency"}``: closed loop; each of
  ``concurrency`` connections sends its next request as soon as the last one is answered.
- ``{"cmd": "open", "target", "seconds", "rate", "senders"}``: open loop; requests are due
  at fixed intervals whatever the server does, and latency counts from when a request was
  due, so a slow server cannot hide its queueing (no coordinated omission).
- ``{"cmd": "quit"}``

Every phase is bounded in time and in request count (it sends only prepared requests), and
every socket goes to 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import queue
import socket
import sys
import threading
import time
from collections import Counter, deque
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from traffic import RequestBuilder, messages

HOST = "127.0.0.1"
REQUEST_TIMEOUT = 10.0  # seconds; a request slower than this counts as an error
DRAIN_TIMEOUT = 15.0  # open loop: how long to wait for the last requests after the schedule


class ServerClosed(Exception):
    """The server closed the connection before answering (an idle keep-alive timed out)."""


class Connection:
    """One keep-alive HTTP/1.1 connection to the loopback server."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock: socket.socket | None = None
        self.buf = b""
        self.body = b""  # the last response's body

    def close(self) -> None:
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.close()
        self.sock = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection((HOST, self.port), timeout=REQUEST_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        return sock

    def request(self, data: bytes) -> int:
        """Send one request and read its response; the HTTP status."""
        for attempt in (0, 1):
            reused = self.sock is not None
            sock = self.sock or self._connect()
            try:
                sock.sendall(data)
                return self._read_response(sock)
            except (ServerClosed, ConnectionResetError, BrokenPipeError):
                self.close()
                # A keep-alive connection the server had already closed: open a new one and
                # send again (what every HTTP client does; the request was never processed).
                if not reused or attempt:
                    raise
            except BaseException:
                self.close()
                raise
        raise AssertionError("unreachable")

    def _recv(self, sock: socket.socket) -> bytes:
        chunk = sock.recv(65536)
        if not chunk:
            raise ServerClosed
        return chunk

    def _read_response(self, sock: socket.socket) -> int:
        buf = self.buf
        received_any = bool(buf)
        while (end := buf.find(b"\r\n\r\n")) < 0:
            try:
                buf += self._recv(sock)
            except ServerClosed:
                if received_any:
                    raise ConnectionError("connection closed mid-response") from None
                raise
            received_any = True
        head = buf[:end].decode("latin-1")
        buf = buf[end + 4 :]
        lines = head.split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = -1
        chunked = close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if chunked:
            while (stop := buf.find(b"0\r\n\r\n")) < 0:
                buf += self._recv(sock)
            self.body = buf[:stop]  # still chunk-encoded
            buf = buf[stop + 5 :]
        elif length >= 0:
            while len(buf) < length:
                buf += self._recv(sock)
            self.body = buf[:length]
            buf = buf[length:]
        else:
            close = True  # body runs to the end of the connection
        self.buf = buf
        if close:
            self.close()
        return status


class Target:
    def __init__(self, name: str, spec: dict[str, Any], seed: int) -> None:
        self.name = name
        self.port = int(spec["port"])
        self.builder = RequestBuilder(spec["url"], spec["token"], spec["to"], spec["sid_seed"])
        self.messages = messages(seed)
        self.ready: deque[bytes] = deque()
        self.kinds: Counter[str] = Counter()

    def prepare(self, count: int) -> None:
        for message in itertools.islice(self.messages, count):
            self.ready.append(self.builder.build(message))
            self.kinds[message.kind] += 1


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def closed_loop(target: Target, seconds: float, concurrency: int) -> dict[str, Any]:
    requests = target.ready
    deadline_box: list[float] = []
    results: list[list[tuple[float, int | str]]] = [[] for _ in range(concurrency)]
    exhausted = threading.Event()
    start_barrier = threading.Barrier(concurrency + 1)

    def worker(out: list[tuple[float, int | str]]) -> None:
        conn = Connection(target.port)
        start_barrier.wait()
        deadline = deadline_box[0]
        perf = time.perf_counter
        while perf() < deadline:
            try:
                data = requests.popleft()  # deque.popleft is atomic
            except IndexError:
                exhausted.set()
                break
            t0 = perf()
            try:
                status: int | str = conn.request(data)
            except TimeoutError:
                status = "timeout"
            except OSError as exc:
                status = type(exc).__name__
            out.append((perf() - t0, status))
        conn.close()

    threads = [threading.Thread(target=worker, args=(results[i],)) for i in range(concurrency)]
    for t in threads:
        t.start()
    cpu0 = _cpu()
    started = time.perf_counter()
    deadline_box.append(started + seconds)
    start_barrier.wait()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    samples = [s for out in results for s in out]
    return _summary(samples, elapsed, _cpu() - cpu0, exhausted=exhausted.is_set())


def open_loop(target: Target, seconds: float, rate: float, senders: int) -> dict[str, Any]:
    total = int(seconds * rate)
    if len(target.ready) < total:
        raise RuntimeError(f"prepare at least {total} requests first")
    work: queue.Queue[tuple[bytes, float] | None] = queue.Queue()
    samples: list[tuple[float, int | str]] = []
    lags: list[float] = []
    done = threading.Semaphore(0)
    stop = threading.Event()

    def sender() -> None:
        conn = Connection(target.port)
        perf = time.perf_counter
        while True:
            item = work.get()
            if item is None or stop.is_set():
                break
            data, due = item
            lags.append(perf() - due)
            try:
                status: int | str = conn.request(data)
            except TimeoutError:
                status = "timeout"
            except OSError as exc:
                status = type(exc).__name__
            samples.append((perf() - due, status))  # list.append is atomic under the GIL
            done.release()
        conn.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    cpu0 = _cpu()
    started = time.perf_counter()
    for i in range(total):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        work.put((target.ready.popleft(), due))
    schedule_end = time.perf_counter()
    finished = 0
    drain_deadline = schedule_end + DRAIN_TIMEOUT
    while finished < total and done.acquire(timeout=max(0.0, drain_deadline - time.perf_counter())):
        finished += 1
    elapsed = time.perf_counter() - started
    stop.set()
    for _ in threads:
        work.put(None)
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT + 1)
    unfinished = total - len(samples)
    result = _summary(list(samples), elapsed, _cpu() - cpu0, exhausted=False)
    result.update(
        offered_rate=rate,
        scheduled=total,
        unfinished=unfinished,
        max_dispatch_lag_ms=round(max(lags, default=0.0) * 1000, 2),
        schedule_seconds=round(schedule_end - started, 3),
    )
    if unfinished:
        result["errors"]["unfinished"] = unfinished
    return result


def _summary(
    samples: list[tuple[float, int | str]], elapsed: float, cpu: float, *, exhausted: bool
) -> dict[str, Any]:
    statuses = Counter(str(status) for _, status in samples)
    ok = statuses.pop("200", 0)
    return {
        "completed": len(samples),
        "ok": ok,
        "errors": dict(statuses),
        "elapsed": round(elapsed, 4),
        "throughput": round(ok / elapsed, 2) if elapsed else 0.0,
        # Every answered request's latency, ok or not, in ms; run.py takes percentiles.
        "latencies_ms": [round(lat * 1000, 3) for lat, _ in samples],
        "loadgen_cpu_s": round(cpu, 3),
        "exhausted": exhausted,
    }


def main() -> None:
    targets: dict[str, Target] = {}
    for line in sys.stdin:
        command = json.loads(line)
        cmd = command["cmd"]
        if cmd == "quit":
            break
        if cmd == "setup":
            for name, spec in command["targets"].items():
                targets[name] = Target(name, spec, command["seed"])
            answer: dict[str, Any] = {"ok": True}
        elif cmd == "prepare":
            target = targets[command["target"]]
            began = time.perf_counter()
            target.prepare(int(command["count"]))
            answer = {
                "ready": len(target.ready),
                "seconds": round(time.perf_counter() - began, 3),
                "kinds": dict(target.kinds),
            }
        elif cmd == "closed":
            target = targets[command["target"]]
            answer = closed_loop(target, float(command["seconds"]), int(command["concurrency"]))
            answer["left"] = len(target.ready)
        elif cmd == "open":
            target = targets[command["target"]]
            answer = open_loop(
                target, float(command["seconds"]), float(command["rate"]), int(command["senders"])
            )
            answer["left"] = len(target.ready)
        else:
            answer = {"error": f"unknown command {cmd!r}"}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
