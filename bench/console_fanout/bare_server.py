"""The floor: a bare python-socketio server that broadcasts one event to every socket.

The same async mode as the app (``threading``, WebSocket only, same-origin check) and, like
the app, Redis as the message queue: under gunicorn with 2 workers a broadcast must reach the
sockets held by both processes, and only a message queue does that. No Flask, no session, no
database, no rooms: every socket is accepted and hears every broadcast.

``GET /bench/fanout?n=<i>`` emits ``bench {"n": i}`` to all; ``GET /health`` answers ok.
Run by ``run.py`` under gunicorn: ``bench.console_fanout.bare_server:create_app()`` with
``BARE_REDIS_URL`` set.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

import socketio

CHANNEL = "bench-console-fanout-bare"


def create_app() -> Any:
    manager = socketio.RedisManager(os.environ["BARE_REDIS_URL"], channel=CHANNEL)
    sio = socketio.Server(
        async_mode="threading",
        client_manager=manager,
        transports=["websocket"],
        cors_allowed_origins=None,
    )

    def routes(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == "/bench/fanout":
            n = int(parse_qs(environ.get("QUERY_STRING", "")).get("n", ["0"])[0])
            sio.emit("bench", {"n": n})
            start_response("204 No Content", [])
            return [b""]
        if path == "/health":
            start_response("200 OK", [("Content-Type", "application/json")])
            return [b'{"status": "ok"}']
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]

    return socketio.WSGIApp(sio, routes)
