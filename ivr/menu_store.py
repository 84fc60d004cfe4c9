"""A jurisdiction's IVR menus: checked against what it has, stored as versions, read back.

Installing never edits a stored menu: it adds the next version, which is live at once (calls
already in progress finish on the version they started with). The file is kept as it was
written next to its validated form, so what went live can always be read back exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import resources

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.calls.models import IvrMenu
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import active_service_types
from contactcenter.routing.models import Queue
from contactcenter.sla.models import CalendarRecord
from ivr.flows import Menu, MenuError, load_menu, parse_source, problems_against

DEMO_MENU = "demo.yaml"


def checked_menu(
    session: Session | None, jurisdiction: Jurisdiction | None, source: str
) -> tuple[Menu | None, list[str]]:
    """The menu in ``source`` and its problems; the menu is ``None`` unless there are none.

    Without a jurisdiction only the file itself is checked (a city drafting its first menu).
    """
    try:
        menu = load_menu(parse_source(source))
    except MenuError as exc:
        return None, exc.problems
    if session is None or jurisdiction is None:
        return menu, []
    problems = problems_against(
        menu,
        queues=session.scalars(
            sa.select(Queue.code).where(Queue.jurisdiction_id == jurisdiction.id)
        ).all(),
        calendars=session.scalars(
            sa.select(CalendarRecord.code).where(CalendarRecord.jurisdiction_id == jurisdiction.id)
        ).all(),
        service_types=[st.code for st in active_service_types(session, jurisdiction.id)],
        languages=jurisdiction.languages,
    )
    return (None, problems) if problems else (menu, [])


def check_menu(
    session: Session | None, jurisdiction: Jurisdiction | None, source: str
) -> list[str]:
    """Every problem of ``source`` (empty: it may go live), without storing anything."""
    return checked_menu(session, jurisdiction, source)[1]


def install_menu(
    session: Session, jurisdiction: Jurisdiction, source: str, *, agent: Agent | None = None
) -> IvrMenu:
    """Make ``source`` the jurisdiction's live menu: the next version. Flushes, never commits.

    :raises Invalid: ``invalid_menu``, listing every problem in the message and in
        ``fields["menu"]``; nothing is stored.
    """
    menu, problems = checked_menu(session, jurisdiction, source)
    if menu is None:
        raise Invalid(
            f"The menu has {len(problems)} problem(s): " + " ".join(_sentence(p) for p in problems),
            code="invalid_menu",
            fields={"menu": problems},
        )
    # Two saves at once would both pick the same next version; the row lock serializes them.
    session.execute(
        sa.select(Jurisdiction.id).where(Jurisdiction.id == jurisdiction.id).with_for_update()
    )
    latest = session.scalar(
        sa.select(sa.func.max(IvrMenu.version)).where(IvrMenu.jurisdiction_id == jurisdiction.id)
    )
    row = IvrMenu(
        jurisdiction_id=jurisdiction.id,
        version=(latest or 0) + 1,
        definition=menu.model_dump(mode="json", exclude_defaults=False),
        source=source,
        created_by_agent_id=agent.id if agent is not None else None,
    )
    session.add(row)
    session.flush()
    return row


def _sentence(problem: str) -> str:
    return problem if problem.endswith((".", "?", "!")) else problem + "."


def live_menu(session: Session, jurisdiction_id: int) -> IvrMenu | None:
    """The version calls get now (the highest), or ``None`` if none was ever installed."""
    return session.scalars(
        sa.select(IvrMenu)
        .where(IvrMenu.jurisdiction_id == jurisdiction_id)
        .order_by(IvrMenu.version.desc())
        .limit(1)
    ).first()


def menu_version(session: Session, jurisdiction_id: int, version: int) -> IvrMenu | None:
    return session.scalars(
        sa.select(IvrMenu).where(
            IvrMenu.jurisdiction_id == jurisdiction_id, IvrMenu.version == version
        )
    ).one_or_none()


def menu_versions(session: Session, jurisdiction_id: int, limit: int = 20) -> Sequence[IvrMenu]:
    """The newest versions first: what changed when, and who loaded it.

    The menus themselves are not read (a listing needs none); they load if touched.
    """
    return session.scalars(
        sa.select(IvrMenu)
        .where(IvrMenu.jurisdiction_id == jurisdiction_id)
        .options(sa.orm.defer(IvrMenu.definition), sa.orm.defer(IvrMenu.source))
        .order_by(IvrMenu.version.desc())
        .limit(limit)
    ).all()


def demo_menu_source() -> str:
    """The demo city's menu file, as shipped in the package (also the example to copy)."""
    return resources.files("ivr.menus").joinpath(DEMO_MENU).read_text(encoding="utf-8")
