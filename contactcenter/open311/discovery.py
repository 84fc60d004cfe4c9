"""Open311 service discovery: where the GeoReport v2 endpoint is and what it speaks."""

from __future__ import annotations

from typing import Any

from contactcenter.jurisdictions.models import Jurisdiction

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"
CHANGESET = "2026-11-29T00:00:00Z"
"""When this endpoint's behaviour last changed (clients compare it to what they cached)."""
FORMATS = ["text/xml", "application/json"]
SETTINGS_KEY = "open311"
"""``Jurisdiction.settings["open311"]`` may give ``contact`` and ``key_service`` texts."""


def discovery_document(endpoint_url: str, jurisdiction: Jurisdiction | None) -> dict[str, Any]:
    """The discovery document of ``endpoint_url`` (this deployment's ``/open311/v2``); the
    contact and key service are the jurisdiction's own when its settings give them."""
    stored = (
        jurisdiction.settings if jurisdiction and isinstance(jurisdiction.settings, dict) else {}
    )
    settings = stored.get(SETTINGS_KEY)
    settings = settings if isinstance(settings, dict) else {}
    name = jurisdiction.name if jurisdiction else "this 3-1-1 service"
    contact = str(settings.get("contact") or f"The 3-1-1 administrators of {name}.")
    key_service = str(
        settings.get("key_service")
        or f"API keys for POST requests are issued by the 3-1-1 administrators of {name}."
    )
    return {
        "changeset": CHANGESET,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": endpoint_url,
                "changeset": CHANGESET,
                "type": "production",
                "formats": list(FORMATS),
            }
        ],
    }
