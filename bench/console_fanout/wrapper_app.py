"""The real app, plus one bench-only route that broadcasts through the app's own realtime layer.

``GET /bench/fanout?n=<i>`` calls ``contactcenter.realtime.notify_jurisdiction(<jid>, "bench",
{"n": i})`` for the jurisdiction in ``BENCH_JURISDICTION_ID``: what the app does to tell every
agent of a city something (published on Redis, delivered by each web process to the sockets
it holds in room ``jurisdiction:<jid>``). Everything else is ``contactcenter.create_app()``.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from contactcenter import create_app as create_contactcenter_app
from contactcenter.realtime import notify_jurisdiction


def create_app() -> Flask:
    app = create_contactcenter_app()
    jurisdiction_id = int(os.environ["BENCH_JURISDICTION_ID"])

    @app.get("/bench/fanout")
    def bench_fanout() -> Response:
        notify_jurisdiction(jurisdiction_id, "bench", {"n": request.args.get("n", 0, type=int)})
        return Response(status=204)

    return app
