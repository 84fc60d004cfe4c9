"""Per-jurisdiction survey settings, kept in ``Jurisdiction.settings["surveys"]``.

Surveys are on by default on every channel they can go out on (SMS, email, web chat); a city
turns them off altogether with ``enabled`` or channel by channel. Stored values are read
forgivingly, as the chat settings are: a value that no longer validates is ignored.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel

log = logging.getLogger(__name__)

SETTINGS_KEY = "surveys"
SURVEY_CHANNELS = (Channel.SMS, Channel.EMAIL, Channel.WEBCHAT)


class SurveySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    enabled: bool = True
    """Off: no case gets a survey, whatever the channel switches say."""
    sms: bool = True
    """Ask by text message ("reply 1 to 5")."""
    email: bool = True
    """Ask by email (a link to the one-question page)."""
    webchat: bool = True
    """Offer the rating in the chat window when a chat with an agent ends."""

    def allows(self, channel: Channel) -> bool:
        return self.enabled and channel in SURVEY_CHANNELS and bool(getattr(self, str(channel)))


def survey_settings(jurisdiction: Jurisdiction) -> SurveySettings:
    settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
    stored = settings.get(SETTINGS_KEY, {})
    if not isinstance(stored, dict):
        return SurveySettings()
    try:
        return SurveySettings.model_validate(stored)
    except ValidationError:
        log.warning("jurisdiction %s: ignoring invalid survey settings", jurisdiction.id)
        return SurveySettings()


def update_survey_settings(jurisdiction: Jurisdiction, body: Any) -> SurveySettings:
    """Replace the survey settings with ``body`` (PUT: what is left out takes its default).

    A new dict is assigned to ``jurisdiction.settings`` because SQLAlchemy does not see changes
    made inside a plain JSON column. The caller commits.

    :raises Invalid: not an object, unknown keys or values that are not booleans.
    """
    if not isinstance(body, dict):
        raise Invalid("Expected a JSON object of settings.", code="invalid_body")
    try:
        updated = SurveySettings.model_validate(body)
    except ValidationError as exc:
        fields = {
            str(err["loc"][0]) if err["loc"] else SETTINGS_KEY: err["msg"] for err in exc.errors()
        }
        raise Invalid(
            "Some survey settings are invalid.", code="invalid_settings", fields=fields
        ) from None
    settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
    jurisdiction.settings = {**settings, SETTINGS_KEY: updated.model_dump(mode="json")}
    return updated
