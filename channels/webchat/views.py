"""The ``webchat`` blueprint: the loader script the city's page includes, and the chat frame.

The frame is our page, framed by the city's: ``Content-Security-Policy: frame-ancestors``
names the jurisdiction's allowed origins (browsers enforce it, so the public key only works
on the city's own sites), and no ``X-Frame-Options`` is sent (it cannot list origins).
"""

from __future__ import annotations

from typing import Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask.blueprints import BlueprintSetupState

from contactcenter import ratelimit
from contactcenter.chats.events import NAMESPACE
from contactcenter.chats.service import chat_language, jurisdiction_for_key
from contactcenter.chats.settings import chat_settings
from contactcenter.db import get_session
from contactcenter.demo import DEMO_CHAT_KEY
from contactcenter.errors import NotFound
from contactcenter.i18n import supported
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import active_service_types

bp = Blueprint(
    "webchat",
    __name__,
    url_prefix="/chat",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)

TYPING_RATE = "60/minute"
"""Typing events per chat (the window sends one when typing starts and one when it stops)."""


@bp.record_once
def _limits(state: BlueprintSetupState) -> None:
    app = cast(Flask, state.app)
    settings = app.config["SETTINGS"]
    ratelimit.init_app(
        app,
        settings.redis_url,
        {
            "chat_sessions": settings.chat_sessions_rate,
            "chat_messages": settings.chat_messages_rate,
            "chat_typing": TYPING_RATE,
        },
    )


@bp.get("/widget.js")
def widget() -> Response:
    """The loader: a static script, cached briefly so a fix reaches every city page soon."""
    response = send_from_directory(bp.static_folder or "", "widget.js", max_age=300)
    response.headers["Content-Type"] = "text/javascript; charset=utf-8"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


def frame_config(jurisdiction: Jurisdiction, key: str, language: str) -> dict[str, Any]:
    languages = [code for code in jurisdiction.languages if supported(code)]
    types = active_service_types(get_session(), jurisdiction.id)
    return {
        "key": key,
        "jurisdiction": jurisdiction.name,
        "languages": languages or [jurisdiction.default_language],
        "language": language,
        "service_types": [{"code": t.code, "name": t.localized_name(language)} for t in types],
        "api": url_for("webchat.sessions").rsplit("/", 1)[0],
        "socket_path": "/socket.io",
        "namespace": NAMESPACE,
        "socketio_js": url_for("console.static", filename="vendor/socket.io-4.8.4.min.js"),
    }


def frame_policy(origins: tuple[str, ...], host: str) -> str:
    """Only our own scripts and connections (the socket's ws/wss named too: older browsers do
    not count them as 'self'); framed only by the city's origins."""
    ancestors = " ".join(origins) if origins else "'none'"
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; object-src 'none'; base-uri 'none'; "
        f"form-action 'self'; frame-ancestors {ancestors}"
    )


@bp.get("/frame")
def frame() -> Response:
    key = request.args.get("key", "")
    jurisdiction = jurisdiction_for_key(get_session(), key)
    language = chat_language(jurisdiction, request.args.get("lang"))
    html = render_template("webchat/frame.html", config=frame_config(jurisdiction, key, language))
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = frame_policy(
        chat_settings(jurisdiction).allowed_origins, request.host
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@bp.get("/demo")
def demo_page() -> Response:
    """A stand-in city page embedding the chat (development only): what `make demo` opens."""
    settings = current_app.config["SETTINGS"]
    if settings.app_env == "production":
        raise NotFound("No such page.", code="not_found")
    key = request.args.get("key", DEMO_CHAT_KEY)
    jurisdiction_for_key(get_session(), key)  # an unknown key is a 404 here too
    html = render_template(
        "webchat/demo_page.html", base_url=request.host_url.rstrip("/"), key=key, language="en"
    )
    return Response(html, mimetype="text/html")
