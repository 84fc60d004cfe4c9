"""3-1-1 contact-center backend: the core (cases, residents, routing, agents, APIs).

Nothing runs at import time; call :func:`create_app` to get a configured application.
"""

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flask import Flask


def create_app(settings: Any = None, **overrides: Any) -> "Flask":
    """Build the Flask application (see :mod:`contactcenter.app`)."""
    from contactcenter.app import create_app as _create_app

    return _create_app(settings, **overrides)


__all__ = ["create_app"]
