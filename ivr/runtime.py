"""What every IVR request needs, kept per process: menus, open hours, incident announcements.

A caller waits on every webhook, and these change a few times a day at most. A menu version
never changes once stored, so it is kept for good (by id); which version is live, whether the
office is open and what incidents are announced are kept for a few seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from contactcenter.calls.models import IvrMenu
from contactcenter.cases.duplicates import active_incidents
from contactcenter.db import utcnow
from contactcenter.routing.context import context_for
from ivr.engine import Announcement, Facts
from ivr.flows import Menu
from ivr.menu_store import live_menu

LIVE_TTL = 30.0
FACTS_TTL = 10.0
T = TypeVar("T")


@dataclass(frozen=True)
class LoadedMenu:
    id: int
    jurisdiction_id: int
    menu: Menu


class IvrRuntime:
    def __init__(self) -> None:
        self._menus: dict[int, LoadedMenu] = {}
        self._live: dict[int, tuple[int | None, float]] = {}
        self._facts: dict[int, tuple[Facts, float]] = {}
        self._lock = threading.Lock()

    def clear(self) -> None:
        with self._lock:
            self._menus.clear()
            self._live.clear()
            self._facts.clear()

    def menu(self, session: Session, menu_id: int) -> LoadedMenu | None:
        loaded = self._menus.get(menu_id)
        if loaded is not None:
            return loaded
        row = session.get(IvrMenu, menu_id)
        if row is None:
            return None
        return self._keep(row)

    def _keep(self, row: IvrMenu) -> LoadedMenu:
        loaded = LoadedMenu(row.id, row.jurisdiction_id, Menu.model_validate(row.definition))
        with self._lock:
            self._menus[row.id] = loaded
        return loaded

    def live(self, session: Session, jurisdiction_id: int) -> LoadedMenu | None:
        now = time.monotonic()
        entry = self._live.get(jurisdiction_id)
        if entry is not None and entry[1] > now and entry[0] is not None:
            return self.menu(session, entry[0])
        row = live_menu(session, jurisdiction_id)
        with self._lock:
            self._live[jurisdiction_id] = (row.id if row else None, now + LIVE_TTL)
        if row is None:
            return None
        return self._menus.get(row.id) or self._keep(row)

    def facts(self, session: Session, loaded: LoadedMenu) -> Facts:
        now = time.monotonic()
        entry = self._facts.get(loaded.id)
        if entry is not None and entry[1] > now:
            return entry[0]
        facts = Facts(
            is_open=_is_open(session, loaded),
            announcements=tuple(
                Announcement(incident.id, incident.announcement)
                for incident in active_incidents(session, [loaded.jurisdiction_id])
                if incident.announcement
            ),
        )
        with self._lock:
            self._facts[loaded.id] = (facts, now + FACTS_TTL)
        return facts


def _is_open(session: Session, loaded: LoadedMenu) -> bool:
    if not loaded.menu.hours:
        return True
    calendar = context_for(session, loaded.jurisdiction_id).calendars.get(loaded.menu.hours)
    return calendar.is_open(utcnow()) if calendar is not None else True
