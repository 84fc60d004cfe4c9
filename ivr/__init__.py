"""The voice IVR: menus as data, a pure engine, and Twilio Voice webhooks.

Only :func:`blueprints` is used by the app factory.
"""

from __future__ import annotations

from typing import Any


def blueprints() -> list[Any]:
    from ivr.admin_views import bp as admin_bp
    from ivr.webhooks import bp as voice_bp

    return [admin_bp, voice_bp]
