"""Folding a duplicate resident record into the one staff keep.

One person often reaches the city twice as two residents (a phone call, then an email).
Merging moves everything the second record holds to the first, so the person's history is
in one place, and leaves the second record in place, marked merged, so old links resolve.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import Case, Interaction
from contactcenter.chats.models import ChatSession
from contactcenter.errors import Conflict, Invalid
from contactcenter.residents.models import ContactPoint, Resident, ResidentMerge

MAX_MOVED = 5000
"""Rows of one kind a merge moves; more is not one person, and staff should look first."""


def merge_residents(
    session: Session, keep: Resident, merge: Resident, agent: Agent
) -> ResidentMerge:
    """Move ``merge``'s contact points, cases, interactions and web chats to ``keep`` and
    audit it.

    Both rows are locked (in id order, so two merges never deadlock) before the "already
    merged" check, so two supervisors merging the same pair at once cannot both succeed.

    ``keep``'s name and language win unless empty; flags are united. Each moved case
    records a ``resident_merged`` event.

    :raises Invalid: another jurisdiction's resident, or the same resident.
    :raises Conflict: ``merge`` was already merged, or holds more than ``MAX_MOVED`` rows.
    """
    if keep.jurisdiction_id != merge.jurisdiction_id:
        raise Invalid(
            "Only residents of the same jurisdiction can be merged.", code="other_jurisdiction"
        )
    if keep.id == merge.id:
        raise Invalid("A resident cannot be merged into itself.", code="self_merge")
    session.scalars(
        sa.select(Resident)
        .where(Resident.id.in_([keep.id, merge.id]))
        .order_by(Resident.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    if merge.merged_into_id is not None or keep.merged_into_id is not None:
        raise Conflict("That resident record was already merged.", code="already_merged")
    moved = {
        "contact_points": _ids(session, ContactPoint.id, ContactPoint.resident_id, merge.id),
        "cases": _ids(session, Case.id, Case.resident_id, merge.id),
        "interactions": _ids(session, Interaction.id, Interaction.resident_id, merge.id),
        "chat_sessions": _ids(session, ChatSession.id, ChatSession.resident_id, merge.id),
    }
    for model, key in (
        (ContactPoint, "contact_points"),
        (Case, "cases"),
        (Interaction, "interactions"),
        (ChatSession, "chat_sessions"),
    ):
        if moved[key]:
            session.execute(
                sa.update(model)
                .where(model.id.in_(moved[key]))
                .values(resident_id=keep.id)
                .execution_options(synchronize_session=False)
            )
    keep.display_name = keep.display_name or merge.display_name
    keep.preferred_language = keep.preferred_language or merge.preferred_language
    keep.flags = list(dict.fromkeys([*(keep.flags or []), *(merge.flags or [])]))
    merge.merged_into_id = keep.id
    audit = ResidentMerge(
        jurisdiction_id=keep.jurisdiction_id,
        kept_id=keep.id,
        merged_id=merge.id,
        agent_id=agent.id,
        moved=moved,
    )
    session.add(audit)
    if moved["cases"]:
        cases = session.scalars(sa.select(Case).where(Case.id.in_(moved["cases"]))).all()
        for case in cases:
            record_event(
                session, case, "resident_merged", agent=agent, kept=keep.id, merged=merge.id
            )
    session.expire(keep, ["contact_points"])
    session.expire(merge, ["contact_points"])
    session.flush()
    return audit


def _ids(
    session: Session,
    id_column: sa.orm.InstrumentedAttribute[int],
    owner: sa.orm.InstrumentedAttribute[int | None],
    resident_id: int,
) -> list[int]:
    ids: Sequence[int] = session.scalars(
        sa.select(id_column).where(owner == resident_id).order_by(id_column).limit(MAX_MOVED + 1)
    ).all()
    if len(ids) > MAX_MOVED:
        raise Conflict(
            f"That resident has more than {MAX_MOVED} records of one kind; merge refused.",
            code="merge_too_large",
        )
    return list(ids)


def merge_history(session: Session, resident: Resident) -> Sequence[ResidentMerge]:
    """Merges this resident took part in, newest first."""
    return session.scalars(
        sa.select(ResidentMerge)
        .where(
            ResidentMerge.jurisdiction_id == resident.jurisdiction_id,
            sa.or_(ResidentMerge.kept_id == resident.id, ResidentMerge.merged_id == resident.id),
        )
        .order_by(ResidentMerge.created_at.desc(), ResidentMerge.id.desc())
        .limit(100)
    ).all()
