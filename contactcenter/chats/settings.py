"""Per-jurisdiction web chat settings, kept in ``Jurisdiction.settings["chat"]``.

``allowed_origins`` are the city's websites that may frame the chat (sent as the frame's
``Content-Security-Policy: frame-ancestors``, which browsers enforce); ``hours`` optionally
names a business calendar of the routing configuration: outside it a new chat is handed off
at once instead of waiting for agents who are not there. Stored values are read forgivingly,
as the detection settings are: a value that no longer validates is ignored.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction

log = logging.getLogger(__name__)

SETTINGS_KEY = "chat"
MAX_ORIGINS = 20
_ORIGIN = re.compile(r"^(https://[a-z0-9.-]+|http://(localhost|127\.0\.0\.1))(:[0-9]{1,5})?$")
"""``https://`` only: a page served over plain HTTP can be rewritten on the way, chat and all.
``http://localhost`` and ``http://127.0.0.1`` stay allowed for development."""


class ChatSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    allowed_origins: tuple[str, ...] = Field(default=(), max_length=MAX_ORIGINS)
    """``https://host[:port]`` origins whose pages may embed the chat (``http://`` only for
    localhost and 127.0.0.1, in development)."""
    hours: str | None = Field(default=None, min_length=1, max_length=64)
    """A business calendar's code: outside it, chats are handed off at once."""

    @field_validator("allowed_origins", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> Any:
        if not isinstance(value, list | tuple):
            return value
        cleaned = []
        for origin in value:
            if not isinstance(origin, str) or not _ORIGIN.match(origin.strip().lower()):
                raise ValueError(
                    "not an https:// origin like https://www.example.org (plain http:// only"
                    f" for localhost or 127.0.0.1): {origin!r}"
                )
            cleaned.append(origin.strip().lower())
        return tuple(dict.fromkeys(cleaned))


def chat_settings(jurisdiction: Jurisdiction) -> ChatSettings:
    settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
    stored = settings.get(SETTINGS_KEY, {})
    if not isinstance(stored, dict):
        return ChatSettings()
    try:
        return ChatSettings.model_validate(stored)
    except ValidationError:
        log.warning("jurisdiction %s: ignoring invalid chat settings", jurisdiction.id)
        return ChatSettings()


def update_chat_settings(jurisdiction: Jurisdiction, body: Any) -> ChatSettings:
    """Replace the chat settings with ``body`` (PUT: what is left out takes its default).

    :raises Invalid: not an object, unknown keys or bad values (``fields`` names them).
    """
    if not isinstance(body, dict):
        raise Invalid("Expected a JSON object of settings.", code="invalid_body")
    try:
        updated = ChatSettings.model_validate(body)
    except ValidationError as exc:
        fields = {
            str(err["loc"][0]) if err["loc"] else SETTINGS_KEY: err["msg"] for err in exc.errors()
        }
        raise Invalid(
            "Some chat settings are invalid.", code="invalid_settings", fields=fields
        ) from None
    settings = jurisdiction.settings if isinstance(jurisdiction.settings, dict) else {}
    jurisdiction.settings = {**settings, SETTINGS_KEY: updated.model_dump(mode="json")}
    return updated
