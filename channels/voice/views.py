"""The signed-in agent's Twilio Client token, for the browser softphone.

``GET /api/v1/voice/token`` for API clients (a staff bearer token) and ``GET /console/voice/token``
for the console (its session cookie). The console route lives here, not in the console package,
because the core knows no channel: it only borrows the console's session check.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

from channels.voice.token import TOKEN_TTL_SECONDS, client_identity, missing_settings, voice_token
from contactcenter.auth import current_agent, require_staff
from contactcenter.config import Settings
from contactcenter.console.auth import signed_in_agent
from contactcenter.errors import Unauthorized, Unavailable

bp = Blueprint("voice_token", __name__, url_prefix="/api/v1/voice")
console_bp = Blueprint("console_voice", __name__, url_prefix="/console/voice")


def _token_for(agent_id: int) -> dict[str, Any]:
    """The token body, or :class:`Unavailable` (503) naming what city IT must set."""
    settings: Settings = current_app.config["SETTINGS"]
    missing = missing_settings(settings)
    if missing:
        raise Unavailable(
            "Browser calling is not configured: city IT must set " + ", ".join(missing) + ".",
            code="voice_not_configured",
            fields={name: "not set" for name in missing},
        )
    identity = client_identity(agent_id)
    return {
        "token": voice_token(settings, identity),
        "identity": identity,
        "expires_in": TOKEN_TTL_SECONDS,
    }


@bp.get("/token")
@require_staff()
def token() -> dict[str, Any]:
    return _token_for(current_agent().id)


@console_bp.get("/token")
def console_token() -> Response:
    """The console session's agent's token: a GET, so no CSRF token; 401 (JSON, never the
    sign-in page) once the session no longer holds."""
    agent = signed_in_agent()
    if agent is None:
        raise Unauthorized("Sign in to the console again.", code="not_signed_in")
    response = jsonify(_token_for(agent.id))
    response.headers["Cache-Control"] = "no-store"  # a credential
    return response
