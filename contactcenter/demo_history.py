"""A year of made-up closed and open requests for the demo city, so its public performance page
(``/public/demo/performance``) and Open311 lists have something to show on a fresh machine.

Deterministic (a fixed seed) and idempotent: the requests carry source keys ``demo-NNNNNN``, as
imported history does, and are made once. They are history: no resident, no routing, no clock.
"""

from __future__ import annotations

import datetime as dt
import math
import random

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.cases.models import Case, CaseStatus
from contactcenter.db import utcnow
from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
from contactcenter.messages import Channel

SOURCE_PREFIX = "demo-"
DISTRICTS = ("Ward 1", "Ward 2", "Ward 3", "Ward 4")
CHANNEL_SHARES = (
    (Channel.VOICE, 45),
    (Channel.SMS, 20),
    (Channel.WEBCHAT, 12),
    (Channel.EMAIL, 10),
    (Channel.OPEN311, 10),
    (Channel.WALK_IN, 3),
)
OPEN_SHARE = 0.06
"""Requests still open, besides those too recent to have closed."""


def seed_history(
    session: Session,
    jurisdiction: Jurisdiction,
    *,
    count: int = 1500,
    now: dt.datetime | None = None,
) -> int:
    """Add ``count`` requests spread over the last year (once); returns how many were added."""
    already = session.scalar(
        sa.select(sa.func.count())
        .select_from(Case)
        .where(Case.jurisdiction_id == jurisdiction.id, Case.source_key.like(f"{SOURCE_PREFIX}%"))
    )
    if already:
        return 0
    types = list(
        session.scalars(
            sa.select(ServiceType)
            .where(ServiceType.jurisdiction_id == jurisdiction.id, ServiceType.active.is_(True))
            .order_by(ServiceType.code)
        )
    )
    if not types:
        return 0
    now = now or utcnow()
    rng = random.Random(311)  # noqa: S311 - sample data, not a secret
    channels = [channel for channel, _ in CHANNEL_SHARES]
    weights = [share for _, share in CHANNEL_SHARES]
    for number in range(1, count + 1):
        service = rng.choice(types)
        created = now - dt.timedelta(days=rng.uniform(0, 365))
        target = service.target_days or 10.0
        # Most close near their target, some well after it: a log-normal spread around it.
        days_to_close = rng.lognormvariate(math.log(target * 0.7), 0.8)
        closed = created + dt.timedelta(days=days_to_close)
        is_open = closed > now or rng.random() < OPEN_SHARE
        session.add(
            Case(
                jurisdiction_id=jurisdiction.id,
                tracking_number=f"H{number:07d}",
                source_key=f"{SOURCE_PREFIX}{number:06d}",
                status=CaseStatus.OPEN if is_open else CaseStatus.CLOSED,
                service_type_id=service.id,
                department_id=service.department_id,
                origin_channel=rng.choices(channels, weights)[0],
                language=jurisdiction.default_language,
                description=f"{service.name} (sample request)",
                district=rng.choice(DISTRICTS),
                due_at=created + dt.timedelta(days=target) if service.target_days else None,
                created_at=created,
                updated_at=created if is_open else closed,
                resolved_at=None if is_open else closed,
                closed_at=None if is_open else closed,
            )
        )
    session.flush()
    return count
