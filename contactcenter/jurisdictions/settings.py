"""Per-jurisdiction knobs for duplicate and incident detection, kept in ``Jurisdiction.settings``.

Only the values a jurisdiction changed are stored (under ``"detection"``), so a jurisdiction
that never touched a knob follows the default when it changes. What is stored is read
forgivingly: a value that no longer validates (a hand-edited row, a knob whose bounds
tightened) falls back to its default instead of breaking the intake of every new case.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction

log = logging.getLogger(__name__)

SETTINGS_KEY = "detection"


class DetectionSettings(BaseModel):
    """How close, how recent and how many similar cases make a duplicate or an incident."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    duplicate_radius_m: float = Field(default=50, ge=0, le=5000)
    """A new case this close to an open case of the same service type is a likely duplicate."""
    duplicate_window_hours: float = Field(default=72, ge=0, le=2160)
    """... if that case was opened at most this long before it."""
    incident_threshold: int = Field(default=5, ge=2, le=1000)
    """This many open cases of one service type, close together and recent, make an incident."""
    incident_radius_m: float = Field(default=250, ge=1, le=10000)
    incident_window_minutes: int = Field(default=120, ge=1, le=10080)


def _stored(jurisdiction: Jurisdiction) -> dict[str, Any]:
    settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
    stored = settings.get(SETTINGS_KEY, {})
    return dict(stored) if isinstance(stored, dict) else {}


def _bad_fields(error: ValidationError) -> dict[str, str]:
    return {
        str(err["loc"][0]) if err["loc"] else SETTINGS_KEY: err["msg"] for err in error.errors()
    }


def detection_settings(jurisdiction: Jurisdiction) -> DetectionSettings:
    """The jurisdiction's detection settings; any stored value that is not valid is ignored."""
    stored = _stored(jurisdiction)
    try:
        return DetectionSettings.model_validate(stored)
    except ValidationError as exc:
        bad = _bad_fields(exc)
        log.warning(
            "jurisdiction %s: ignoring invalid detection settings %s", jurisdiction.id, sorted(bad)
        )
    usable = {key: value for key, value in stored.items() if key not in bad}
    try:
        return DetectionSettings.model_validate(usable)
    except ValidationError:
        return DetectionSettings()


def update_detection_settings(
    jurisdiction: Jurisdiction, changes: dict[str, Any]
) -> DetectionSettings:
    """Apply ``changes`` (``None`` resets a knob to its default) and store the result.

    A new dict is assigned to ``jurisdiction.settings`` because SQLAlchemy does not see changes
    made inside a plain JSON column. The caller commits.

    :raises Invalid: ``changes`` is not an object, or names unknown knobs or bad values
        (``fields`` names each of them).
    """
    if not isinstance(changes, dict):
        raise Invalid("Expected a JSON object of settings.", code="invalid_body")
    bad = {
        str(key): "not a detection setting"
        for key in changes
        if key not in DetectionSettings.model_fields
    }
    merged = detection_settings(jurisdiction).model_dump(exclude_unset=True)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif key not in bad:
            merged[key] = value
    try:
        updated = DetectionSettings.model_validate(merged)
    except ValidationError as exc:
        bad.update(_bad_fields(exc))
    else:
        if not bad:
            settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
            stored = updated.model_dump(exclude_unset=True)
            jurisdiction.settings = {**settings, SETTINGS_KEY: stored}
            return updated
    raise Invalid("Some detection settings are invalid.", code="invalid_settings", fields=bad)
