"""The floor for an IVR menu step: read the key pressed, answer a fixed TwiML document.

The reference the real voice webhooks are compared with in ``run.py``: it runs under the same
gunicorn settings and answers the same signed requests, with one route for every
``POST /voice/...`` that parses the form (a menu step has to read ``Digits``) and returns
the same static TwiML: a real menu-step answer of the app captured when the benchmark
starts (``BARE_TWIML_FILE``), or without one a representative Gather + Say document of the
same shape. No signature check, no database, no menu: nothing a menu step could leave out.

Run: ``gunicorn 'bench.voice_webhook.bare_app:create_app()'``.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

REPRESENTATIVE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/voice/step?c=1&amp;m=1'
    '&amp;l=en&amp;n=main&amp;h=welcome.main" actionOnEmptyResult="true" input="dtmf speech"'
    ' language="en-US" method="POST" numDigits="1" speechTimeout="auto" timeout="6">'
    '<Say language="en-US" voice="Polly.Joanna-Neural">Main menu. To report a problem, press'
    " 1 or say report. To check on a request, press 2 or say status. For information, press 3"
    " or say information. To talk to an agent, press 0 or say agent.</Say></Gather></Response>"
)


def create_app(twiml: str | None = None) -> Flask:
    if twiml is None:
        path = os.environ.get("BARE_TWIML_FILE")
        twiml = Path(path).read_text() if path else REPRESENTATIVE_TWIML
    body = twiml.encode()
    app = Flask(__name__)

    @app.post("/voice/<path:_rest>")
    def voice(_rest: str) -> Response:
        request.form.get("Digits")
        return Response(body, mimetype="text/xml")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
