"""The console clients: many Socket.IO-over-WebSocket connections in one process, and the
traffic that makes them hear something. Driven by ``run.py`` over stdin/stdout, one JSON
command per line, one JSON answer per line (the SMS benchmark's ``LoadGen`` protocol).

The sockets speak what the console's socket.io-client speaks with ``transports:
["websocket"]``: an HTTP upgrade to ``/socket.io/?EIO=4&transport=websocket`` with the
session cookie, Engine.IO ``0`` (open), Socket.IO ``40`` (connect) and ``40{sid}`` back
(``44``: refused), then ``42[event, data]`` frames; every Engine.IO ping (``2``) is answered
(``3``). One thread holds every socket (``selectors`` on non-blocking sockets, the frames
parsed by hand): 200-400 client threads would cost the 2-core machine more than the servers
they measure. Frames to the server are masked, as RFC 6455 requires of a client.

Commands:

- ``connect``: open ``count`` sockets to a target (``cookies``: one session cookie each, or
  none), wait for every Socket.IO connect answer;
- ``fanout``: a closed loop of broadcasts through ``GET /bench/fanout?n=<i>``, at most
  ``window`` broadcasts not yet heard by every socket of the target; deliveries per second;
- ``webhooks``: signed ``POST /sms/inbound`` at ``rate`` per second (open loop, from a few
  sender threads), each from a resident whose case is assigned to one of the agents; the time
  from each text's due time to its agent's socket hearing ``case_updated`` for that case;
- ``counts``: events heard so far, by target and name; ``quit``.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import http.client
import json
import os
import queue
import secrets
import selectors
import socket
import struct
import sys
import threading
import time
import urllib.parse
from typing import Any

WS_PATH = "/socket.io/?EIO=4&transport=websocket"


def mask_frame(payload: bytes, opcode: int = 1) -> bytes:
    """One final client frame (masked)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    masked = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return head + key + masked


class Conn:
    __slots__ = ("buf", "connected", "fragments", "index", "refused", "sock", "target")

    def __init__(self, sock: socket.socket, target: str, index: int, leftover: bytes) -> None:
        self.sock = sock
        self.target = target
        self.index = index
        self.buf = bytearray(leftover)
        self.connected = threading.Event()
        self.refused = False
        self.fragments: list[bytes] = []


class Hub:
    """Every socket, one selector thread, and what the sockets heard."""

    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.conns: dict[str, list[Conn]] = collections.defaultdict(list)
        self.heard: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.closed: collections.Counter[str] = collections.Counter()
        self.pings: collections.Counter[str] = collections.Counter()
        # fan-out: target -> n -> sockets that heard it; completions signalled to the driver
        self.fanout_target = ""
        self.fanout_need = 0
        self.fanout_heard: collections.Counter[int] = collections.Counter()
        self.fanout_done: dict[int, float] = {}
        self.fanout_deliveries = 0
        self.fanout_cond = threading.Condition(self.lock)
        # webhooks: case id -> due times of texts not heard yet (FIFO)
        self.case_pending: dict[int, collections.deque[float]] = collections.defaultdict(
            collections.deque
        )
        self.case_latencies: list[float] = []
        self.case_unexpected = 0
        self.running = True
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    # --- connecting ------------------------------------------------------------------------

    def open(self, target: str, port: int, cookie: str | None, index: int) -> Conn:
        sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {WS_PATH} HTTP/1.1",
            f"Host: 127.0.0.1:{port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
            f"Origin: http://127.0.0.1:{port}",
        ]
        if cookie:
            lines.append(f"Cookie: session={cookie}")
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed during the WebSocket handshake")
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode(errors="replace"))
        sock.setblocking(False)
        conn = Conn(sock, target, index, rest)
        with self.lock:
            self.conns[target].append(conn)
        if rest:  # the Engine.IO open packet came with the 101: answer it before the loop runs
            self._consume(conn)
        self.selector.register(sock, selectors.EVENT_READ, conn)
        return conn

    # --- the loop --------------------------------------------------------------------------

    def loop(self) -> None:
        while self.running:
            try:
                events = self.selector.select(timeout=0.5)
            except OSError:
                continue
            for key, _ in events:
                conn: Conn = key.data
                try:
                    chunk = conn.sock.recv(262144)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    self._drop(conn)
                    continue
                conn.buf += chunk
                self._consume(conn)

    def _drop(self, conn: Conn) -> None:
        with contextlib.suppress(Exception):
            self.selector.unregister(conn.sock)
        conn.sock.close()
        with self.lock:
            self.closed[conn.target] += 1
        conn.connected.set()

    def _send(self, conn: Conn, text: str, opcode: int = 1) -> None:
        frame = mask_frame(text.encode(), opcode)
        conn.sock.setblocking(True)
        try:
            conn.sock.sendall(frame)
        finally:
            conn.sock.setblocking(False)

    def _consume(self, conn: Conn) -> None:
        buf = conn.buf
        pos = 0
        while True:
            if len(buf) - pos < 2:
                break
            b0, b1 = buf[pos], buf[pos + 1]
            n = b1 & 0x7F
            at = pos + 2
            if n == 126:
                if len(buf) - at < 2:
                    break
                n = struct.unpack_from("!H", buf, at)[0]
                at += 2
            elif n == 127:
                if len(buf) - at < 8:
                    break
                n = struct.unpack_from("!Q", buf, at)[0]
                at += 8
            if len(buf) - at < n:
                break
            payload = bytes(buf[at : at + n])
            pos = at + n
            opcode = b0 & 0x0F
            if opcode == 0:
                conn.fragments.append(payload)
                if b0 & 0x80:
                    payload = b"".join(conn.fragments)
                    conn.fragments = []
                    self._message(conn, payload)
            elif opcode in (1, 2):
                if b0 & 0x80:
                    self._message(conn, payload)
                else:
                    conn.fragments = [payload]
            elif opcode == 9:
                self._send(conn, payload.decode("latin-1"), 10)
            elif opcode == 8:
                del buf[:pos]
                self._drop(conn)
                return
        del buf[:pos]

    def _message(self, conn: Conn, payload: bytes) -> None:
        now = time.monotonic()
        if payload[:2] == b"42":
            name, data = json.loads(payload[2:])[:2]
            with self.lock:
                self.heard[conn.target][name] += 1
                if name == "bench" and conn.target == self.fanout_target:
                    n = data["n"]
                    self.fanout_deliveries += 1
                    self.fanout_heard[n] += 1
                    if self.fanout_heard[n] == self.fanout_need:
                        self.fanout_done[n] = now
                        self.fanout_cond.notify_all()
                elif name == "case_updated":
                    pending = self.case_pending.get(data["case_id"])
                    if pending:
                        self.case_latencies.append((now - pending.popleft()) * 1000)
                    else:
                        self.case_unexpected += 1
        elif payload == b"2":
            self._send(conn, "3")
            with self.lock:
                self.pings[conn.target] += 1
        elif payload[:1] == b"0":
            self._send(conn, "40")
        elif payload[:2] == b"40":
            conn.connected.set()
        elif payload[:2] == b"44":
            conn.refused = True
            conn.connected.set()


HUB: Hub | None = None


def hub() -> Hub:
    global HUB  # one hub per process, made on first use
    if HUB is None:
        HUB = Hub()
    return HUB


def cmd_connect(target: str, port: int, count: int, cookies: list[str] | None) -> dict[str, Any]:
    h = hub()
    began = time.monotonic()
    conns, failures = [], collections.Counter[str]()
    for i in range(count):
        try:
            conns.append(h.open(target, port, cookies[i] if cookies else None, i))
        except OSError as exc:
            failures[str(exc)[:80]] += 1
    deadline = time.monotonic() + 20
    for conn in conns:
        conn.connected.wait(max(0.0, deadline - time.monotonic()))
    connected = sum(1 for c in conns if c.connected.is_set() and not c.refused)
    refused = sum(1 for c in conns if c.refused)
    return {
        "target": target,
        "asked": count,
        "connected": connected,
        "refused": refused,
        "no_answer": sum(1 for c in conns if not c.connected.is_set()),
        "failures": dict(failures),
        "seconds": round(time.monotonic() - began, 2),
    }


def cmd_fanout(
    target: str, port: int, seconds: float, window: int, path: str = "/bench/fanout"
) -> dict[str, Any]:
    """Closed loop of broadcasts: send broadcast n when n - window has been heard by all."""
    h = hub()
    with h.lock:
        need = sum(1 for c in h.conns[target] if c.connected.is_set() and not c.refused)
        h.fanout_target, h.fanout_need = target, need - h.closed[target]
        h.fanout_heard.clear()
        h.fanout_done.clear()
        h.fanout_deliveries = 0
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent: dict[int, float] = {}
    statuses: collections.Counter[str] = collections.Counter()
    stalled = 0
    began = time.monotonic()
    end = began + seconds
    n = 0
    while time.monotonic() < end:
        with h.lock:
            # wait until at most window - 1 broadcasts are still being delivered
            while n - len(h.fanout_done) >= window and time.monotonic() < end:
                if not h.fanout_cond.wait(timeout=min(5.0, max(0.01, end - time.monotonic()))):
                    stalled += 1
            if time.monotonic() >= end:
                break
        sent[n] = time.monotonic()
        try:
            conn.request("GET", f"{path}?n={n}")
            response = conn.getresponse()
            response.read()
            statuses[str(response.status)] += 1
        except OSError as exc:
            statuses[type(exc).__name__] += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        n += 1
    elapsed = time.monotonic() - began
    with h.lock:
        deliveries = h.fanout_deliveries
        done = dict(h.fanout_done)
        h.fanout_target = ""
    conn.close()
    # what arrives after the phase is not counted (the next phase's counters start at zero)
    latencies = sorted((done[i] - sent[i]) * 1000 for i in done if i in sent)
    return {
        "target": target,
        "clients": h.fanout_need,
        "window": window,
        "seconds": round(elapsed, 3),
        "broadcasts_sent": n,
        "broadcasts_heard_by_all": len(done),
        "deliveries": deliveries,
        "deliveries_per_s": round(deliveries / elapsed, 1),
        "broadcasts_per_s": round(len(done) / elapsed, 2),
        "broadcast_ms": _pcts(latencies),
        "http_statuses": dict(statuses),
        "stalls_5s": stalled,
    }


def _pcts(values: list[float]) -> dict[str, float | None]:
    import math

    v = sorted(values)

    def pct(p: float) -> float | None:
        if not v:
            return None
        return round(v[max(1, math.ceil(p / 100 * len(v))) - 1], 2)

    return {
        "n": len(v),
        "p50": pct(50),
        "p95": pct(95),
        "p99": pct(99),
        "max": round(v[-1], 2) if v else None,
    }


def cmd_webhooks(
    port: int,
    base_url: str,
    token: str,
    to: str,
    residents: list[list[Any]],
    rate: float,
    seconds: float,
    wait: float,
    senders: int = 4,
) -> dict[str, Any]:
    """Open loop: text i is due at i / rate; its latency counts from its due time."""
    from twilio.request_validator import RequestValidator

    h = hub()
    validator = RequestValidator(token)
    url = base_url + "/sms/inbound"
    total = int(rate * seconds)
    todo: queue.Queue[tuple[float, int, bytes, dict[str, str]] | None] = queue.Queue()
    http_ms: list[float] = []
    statuses: collections.Counter[str] = collections.Counter()
    late = 0
    lock = threading.Lock()

    def sender() -> None:
        nonlocal late
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while (item := todo.get()) is not None:
            due, case_id, body, headers = item
            with h.lock:
                h.case_pending[case_id].append(due)
            if time.monotonic() - due > 0.05:
                with lock:
                    late += 1
            try:
                conn.request("POST", "/sms/inbound", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = str(response.status)
            except OSError as exc:
                status = type(exc).__name__
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            with lock:
                statuses[status] += 1
                http_ms.append((time.monotonic() - due) * 1000)
        conn.close()

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for t in threads:
        t.start()
    bodies = ("Any update on this?", "It is getting worse", "Still there this morning")
    prepared = []
    for i in range(total):
        phone, case_id = residents[i % len(residents)]
        params = {
            "ToCountry": "CA",
            "SmsMessageSid": "",
            "NumMedia": "0",
            "SmsSid": "",
            "SmsStatus": "received",
            "Body": bodies[i % len(bodies)],
            "To": to,
            "NumSegments": "1",
            "MessageSid": "SM" + secrets.token_hex(16),
            "AccountSid": "AC" + "5e" * 16,
            "From": phone,
            "ApiVersion": "2010-04-01",
        }
        params["SmsMessageSid"] = params["SmsSid"] = params["MessageSid"]
        body = urllib.parse.urlencode(params).encode()
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": validator.compute_signature(url, params),
        }
        prepared.append((case_id, body, headers))
    with h.lock:
        h.case_latencies.clear()
        h.case_pending.clear()
        h.case_unexpected = 0
    began = time.monotonic() + 0.1
    for i, (case_id, body, headers) in enumerate(prepared):
        due = began + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        todo.put((due, case_id, body, headers))
    for _ in threads:
        todo.put(None)
    for t in threads:
        t.join(timeout=30)
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        with h.lock:
            if not any(h.case_pending.values()):
                break
        time.sleep(0.05)
    with h.lock:
        heard = list(h.case_latencies)
        unheard = sum(len(d) for d in h.case_pending.values())
        unexpected = h.case_unexpected
    # a text never heard counts as slower than every other one: the percentiles never flatter
    never = [float("inf")] * unheard
    result = _pcts(heard + never)
    return {
        "texts": total,
        "rate": rate,
        "seconds": seconds,
        "http_statuses": dict(statuses),
        "webhook_http_ms": _pcts(http_ms),
        "sent_late_over_50ms": late,
        "webhook_to_agent_ms": result,
        "heard": len(heard),
        "never_heard": unheard,
        "unexpected_case_updated": unexpected,
    }


def main() -> None:
    for line in sys.stdin:
        command = json.loads(line)
        name = command.pop("cmd")
        try:
            if name == "quit":
                print(json.dumps({"ok": True}), flush=True)
                break
            if name == "connect":
                answer = cmd_connect(**command)
            elif name == "fanout":
                answer = cmd_fanout(**command)
            elif name == "webhooks":
                answer = cmd_webhooks(**command)
            elif name == "counts":
                h = hub()
                with h.lock:
                    answer = {
                        "heard": {t: dict(c) for t, c in h.heard.items()},
                        "closed": dict(h.closed),
                        "pings": dict(h.pings),
                        "open": {t: len(c) for t, c in h.conns.items()},
                    }
            else:
                answer = {"error": f"unknown command {name}"}
        except Exception as exc:  # reported to the driver
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
