"""Voice IVR flows for 3-1-1 calls (built in the voice issue).

Only :func:`blueprints` is used by the app factory.
"""

from __future__ import annotations

from typing import Any


def blueprints() -> list[Any]:
    from ivr.admin_views import bp as admin_bp

    return [admin_bp]
