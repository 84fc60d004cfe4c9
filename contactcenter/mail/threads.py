"""Email conversations: which case a reply belongs to, and the headers that keep ours threaded.

A resident's mail client threads by ``Message-ID`` / ``In-Reply-To`` / ``References``. Every
email interaction stores its Message-ID as its ``provider_id`` (ours is made when the reply is
queued, before it is sent), so a reply's references lead straight back to its case, and our
replies carry the whole chain so the resident sees one conversation.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, Interaction
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, Direction

MAX_REFERENCES = 20
"""References kept on our replies: the first message and the newest ones (RFC 5322 §3.6.4
allows trimming the middle; mail clients thread on the first and the last)."""
_REPLY_PREFIX = re.compile(r"^\s*((re|aw|sv|fw|fwd|tr|rv|réf)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)


@dataclass(frozen=True)
class EmailHeaders:
    subject: str
    message_id: str
    thread_refs: tuple[str, ...]


def case_of_thread(session: Session, jurisdiction_id: int, refs: Sequence[str]) -> Case | None:
    """The case of the nearest message in ``refs`` (nearest first) that we know, if any."""
    if not refs:
        return None
    rows = session.execute(
        sa.select(Interaction.provider_id, Interaction.case_id).where(
            Interaction.channel == Channel.EMAIL,
            Interaction.jurisdiction_id == jurisdiction_id,
            Interaction.provider_id.in_(list(refs)),
            Interaction.case_id.is_not(None),
        )
    ).all()
    case_of = {row.provider_id: row.case_id for row in rows}
    for ref in refs:
        if ref in case_of:
            return session.get(Case, case_of[ref])
    return None


def inbound_email_counts(
    session: Session, resident_id: int | None, now: dt.datetime
) -> tuple[int, int]:
    """How many emails this resident sent in the last hour and the last day."""
    if resident_id is None:
        return 0, 0
    hour_ago = now - dt.timedelta(hours=1)
    row = session.execute(
        sa.select(
            sa.func.count(sa.case((Interaction.created_at >= hour_ago, 1))),
            sa.func.count(),
        ).where(
            Interaction.resident_id == resident_id,
            Interaction.channel == Channel.EMAIL,
            Interaction.direction == Direction.INBOUND,
            Interaction.created_at >= now - dt.timedelta(days=1),
        )
    ).one()
    return int(row[0]), int(row[1])


def outbound_headers(
    session: Session, jurisdiction_id: int, case: Case | None, from_address: str
) -> EmailHeaders:
    """Subject, a fresh Message-ID and the references for a message we send on ``case``."""
    domain = from_address.rpartition("@")[2] or "localhost"
    message_id = f"{uuid.uuid4().hex}@{domain}"
    if case is None or case.id is None:
        jurisdiction = session.get_one(Jurisdiction, jurisdiction_id)
        return EmailHeaders(f"{jurisdiction.name} 3-1-1", message_id, ())
    # The message being answered may be linked to the case in this very transaction.
    session.flush()
    email = sa.select(Interaction.provider_id, Interaction.direction).where(
        Interaction.case_id == case.id,
        Interaction.channel == Channel.EMAIL,
        Interaction.provider_id.is_not(None),
    )
    # Bounded whatever the thread's length: its first message and its newest ones.
    first = session.execute(email.order_by(Interaction.id).limit(1)).all()
    newest = list(
        reversed(
            session.execute(email.order_by(Interaction.id.desc()).limit(2 * MAX_REFERENCES)).all()
        )
    )
    # End with the resident's newest message: that is what we answer (In-Reply-To is the
    # last reference), not an acknowledgement of ours sent since.
    last_inbound = max(
        (i for i, row in enumerate(newest) if row.direction == Direction.INBOUND), default=None
    )
    kept = newest if last_inbound is None else newest[: last_inbound + 1]
    refs = [row.provider_id for row in first]
    refs += [
        row.provider_id for row in kept[-(MAX_REFERENCES - 1) :] if row.provider_id not in refs
    ]
    first_subject = (
        session.scalar(
            sa.select(Interaction.subject)
            .where(
                Interaction.case_id == case.id,
                Interaction.channel == Channel.EMAIL,
                Interaction.direction == Direction.INBOUND,
                Interaction.subject != "",
            )
            .order_by(Interaction.id)
            .limit(1)
        )
        or ""
    )
    return EmailHeaders(_subject(session, case, first_subject), message_id, tuple(refs))


def _subject(session: Session, case: Case, resident_subject: str) -> str:
    """``Re: <the resident's subject> [311 #1234-5678]``: the tracking number in the subject
    lets a reply find its case even when a mail client drops the references."""
    tag = f"[311 #{case.tracking_number}]"
    base = _REPLY_PREFIX.sub("", resident_subject).strip()
    if base:
        subject = f"Re: {base}" if tag in base else f"Re: {base} {tag}"
    else:
        jurisdiction = session.get_one(Jurisdiction, case.jurisdiction_id)
        subject = f"{jurisdiction.name} 3-1-1 {tag}"
    return subject[:998]
