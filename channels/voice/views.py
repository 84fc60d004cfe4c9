"""``GET /api/v1/voice/token``: the signed-in agent's Twilio Client token."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app

from channels.voice.token import TOKEN_TTL_SECONDS, client_identity, missing_settings, voice_token
from contactcenter.auth import current_agent, require_staff
from contactcenter.config import Settings
from contactcenter.errors import Unavailable

bp = Blueprint("voice_token", __name__, url_prefix="/api/v1/voice")


@bp.get("/token")
@require_staff()
def token() -> dict[str, Any]:
    settings: Settings = current_app.config["SETTINGS"]
    missing = missing_settings(settings)
    if missing:
        raise Unavailable(
            "Browser calling is not configured: city IT must set " + ", ".join(missing) + ".",
            code="voice_not_configured",
            fields={name: "not set" for name in missing},
        )
    identity = client_identity(current_agent().id)
    return {
        "token": voice_token(settings, identity),
        "identity": identity,
        "expires_in": TOKEN_TTL_SECONDS,
    }
