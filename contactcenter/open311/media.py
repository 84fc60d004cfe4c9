"""Publishing a case's photo: the only media Open311 ever shows is one staff chose.

What residents and clients send stays with the case for staff (interactions' ``media_urls``);
a supervisor who judges a picture fit to publish (no faces, no licence plates) puts its URL in
``Case.public_media_url``, and may take it back.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case
from contactcenter.db import utcnow
from contactcenter.errors import Invalid

MAX_URL = 1000
_URL = re.compile(r"^https?://[^\s/]+\S*$", re.IGNORECASE)


def publish_media(session: Session, case: Case, url: str, *, agent: Agent) -> None:
    """Make ``url`` the case's public media.

    :raises Invalid: not an http(s) URL of at most ``MAX_URL`` characters.
    """
    url = url.strip()
    if len(url) > MAX_URL or not _URL.match(url):
        raise Invalid(
            "Give an http(s) URL.",
            code="invalid_media_url",
            fields={"url": f"an http(s) URL of at most {MAX_URL} characters"},
        )
    case.public_media_url = url
    case.updated_at = utcnow()
    record_event(session, case, "media_published", agent=agent, url=url)


def unpublish_media(session: Session, case: Case, *, agent: Agent) -> None:
    """Publish no media for the case any more (nothing happens if none was)."""
    if case.public_media_url is None:
        return
    case.public_media_url = None
    case.updated_at = utcnow()
    record_event(session, case, "media_unpublished", agent=agent)
