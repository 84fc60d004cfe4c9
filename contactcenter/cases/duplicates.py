"""Likely duplicates and incidents: many residents reporting the same thing.

A new case near an open case of the same service type, reported shortly after it, is
*suspected* to duplicate it; an agent confirms or rejects the suggestion, or links cases by
hand. A confirmed duplicate follows its parent's status, so when the crew resolves the one
case every resident who reported it is told, in their language, on their channel. A burst
of similar cases close together (forty calls about one water main) raises an *incident*,
which later reports join and whose announcement the IVR reads to callers.

Import structure: the state machine (:mod:`contactcenter.cases.service`) imports
:func:`follow_parent` from here at module level, because every status change must run it.
This module needs the state machine back only at call time (to move a duplicate), so it
imports ``change_status`` inside :func:`_change_status`. That one deferred import is the
whole cycle-breaker, and it works whichever module is imported first.

Geometry: candidates are prefiltered in SQL by a bounding box on latitude and longitude
(cheap, portable, works on SQLite and PostgreSQL alike), ordered by an approximate planar
distance and capped, then measured exactly (haversine) in Python.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import re
import unicodedata
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent
from contactcenter.cases.events import record_event
from contactcenter.cases.models import (
    OPEN_STATUSES,
    Case,
    CaseStatus,
    DuplicateStatus,
    Incident,
    IncidentStatus,
)
from contactcenter.cases.queries import MAX_ID
from contactcenter.db import utcnow
from contactcenter.errors import Conflict, Invalid, NotFound
from contactcenter.jurisdictions.settings import DetectionSettings
from contactcenter.routing.geo import bbox_around, distance_m

log = logging.getLogger(__name__)

MAX_CANDIDATES = 200
"""Cases read to judge one new case: detection must stay cheap however busy an area gets."""
MAX_CHAIN = 32
"""Links followed to a duplicate's root; more means corrupt data, never a real chain."""
MAX_ANNOUNCEMENTS = 10
MAX_LISTED_INCIDENTS = 200
MAX_ANNOUNCEMENT = 500
_LINKED = (DuplicateStatus.SUSPECTED, DuplicateStatus.CONFIRMED)
_DONE = (CaseStatus.RESOLVED, CaseStatus.CLOSED)
_PUNCTUATION = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")


# ---------------------------------------------------------------------------------------------
# Detection


def normalize_address(text: str) -> str:
    """Address text for comparison: "12  Main St." and "12 main st" are the same place."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACES.sub(" ", _PUNCTUATION.sub(" ", folded).replace("_", " ")).strip()


def detect_duplicate(session: Session, case: Case, settings: DetectionSettings) -> Case | None:
    """Link a new case to the open case it most likely repeats, as a *suspected* duplicate.

    The parent is the nearest open case of the same jurisdiction and service type opened at
    most ``duplicate_window_hours`` before ``case`` and within ``duplicate_radius_m`` of it;
    without coordinates, one with the same (normalized) address. A candidate that is itself a
    duplicate stands for its root, so duplicates never chain. A case an agent already judged
    (any duplicate status) is left alone: a rejected suggestion is never made again.
    """
    if case.service_type_id is None and case.service_type is not None:
        session.flush()
    if case.service_type_id is None or case.duplicate_status is not None:
        return None
    if case.id is None:
        session.flush()
    window_start = case.created_at - dt.timedelta(hours=settings.duplicate_window_hours)
    query = sa.select(Case).where(
        Case.jurisdiction_id == case.jurisdiction_id,
        Case.service_type_id == case.service_type_id,
        Case.status.in_(OPEN_STATUSES),
        Case.source_key.is_(None),  # imported history is nobody's duplicate
        Case.id != case.id,
        Case.created_at >= window_start,
        Case.created_at <= case.created_at,
    )
    found = _nearest_by_location(session, case, query, settings.duplicate_radius_m)
    if found is None:
        found = _same_address(session, case, query)
    if found is None:
        return None
    parent, distance = found
    case.duplicate_of = parent
    case.duplicate_status = DuplicateStatus.SUSPECTED
    rounded = round(distance, 1) if distance is not None else None
    record_event(
        session,
        case,
        "duplicate_suspected",
        parent=parent.tracking_number,
        parent_id=parent.id,
        distance_m=rounded,
    )
    record_event(
        session,
        parent,
        "duplicate_linked",
        duplicate=case.tracking_number,
        duplicate_id=case.id,
        distance_m=rounded,
    )
    return parent


def _nearest_by_location(
    session: Session, case: Case, query: sa.Select[Case], radius_m: float
) -> tuple[Case, float | None] | None:
    if case.latitude is None or case.longitude is None:
        return None
    lat, lon = case.latitude, case.longitude
    candidates = session.scalars(_within_box(query, lat, lon, radius_m).limit(MAX_CANDIDATES)).all()
    measured = sorted(
        (distance_m(lat, lon, c.latitude, c.longitude), c.created_at, c.id, c)
        for c in candidates
        if c.latitude is not None and c.longitude is not None
    )
    for distance, _, _, candidate in measured:
        if distance > radius_m:
            break
        root = _open_root(candidate, case)
        if root is None:
            continue
        if root is not candidate and root.latitude is not None and root.longitude is not None:
            distance = distance_m(lat, lon, root.latitude, root.longitude)
        return root, distance
    return None


def _same_address(
    session: Session, case: Case, query: sa.Select[Case]
) -> tuple[Case, float | None] | None:
    """Without coordinates, the oldest open case reported at the same address."""
    if case.latitude is not None and case.longitude is not None:
        return None
    wanted = normalize_address(case.address_text or "")
    if not wanted:
        return None
    # Only ids and addresses are read: loading every candidate whole cost more than the rest
    # of a busy day's intake.
    rows = session.execute(
        query.with_only_columns(Case.id, Case.address_text, Case.created_at)
        .where(Case.address_text != "")
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(MAX_CANDIDATES)
    ).all()
    for row in sorted(rows, key=lambda r: (r.created_at, r.id)):
        if normalize_address(row.address_text) == wanted:
            root = _open_root(session.get_one(Case, row.id), case)
            if root is not None:
                return root, None
    return None


def _within_box(query: sa.Select[Case], lat: float, lon: float, radius_m: float) -> sa.Select[Case]:
    """Cases inside the box around the circle, nearest (approximately) first."""
    min_lat, min_lon, max_lat, max_lon = bbox_around(lat, lon, radius_m)
    shrink = math.cos(math.radians(lat)) ** 2
    approximate = (Case.latitude - lat) * (Case.latitude - lat) + shrink * (
        Case.longitude - lon
    ) * (Case.longitude - lon)
    return query.where(
        Case.latitude.between(min_lat, max_lat),
        Case.longitude.between(min_lon, max_lon),
    ).order_by(approximate, Case.id)


def _chain(case: Case) -> list[Case]:
    """``case``, its parent, the parent's parent...: suspected and confirmed links only."""
    chain = [case]
    current = case
    while len(chain) < MAX_CHAIN:
        parent = current.duplicate_of
        if current.duplicate_status not in _LINKED or parent is None or parent in chain:
            break
        chain.append(parent)
        current = parent
    return chain


def root_of(case: Case) -> Case:
    """The case a (suspected or confirmed) duplicate ultimately stands for; itself otherwise."""
    return _chain(case)[-1]


def _open_root(candidate: Case, case: Case) -> Case | None:
    """The parent ``candidate`` suggests for ``case``, unless it is closed, is ``case`` itself,
    or an agent already said it is *not* a duplicate of ``case``."""
    root = root_of(candidate)
    rejected = root.duplicate_of_id == case.id and root.duplicate_status == DuplicateStatus.REJECTED
    if root is case or rejected or not root.is_open:
        return None
    return root


# ---------------------------------------------------------------------------------------------
# Agents' decisions


def confirm_duplicate(session: Session, case: Case, agent: Agent) -> Case:
    """An agent agrees the suggested link: from now on the case follows its parent.

    :raises Conflict: the case is not a suspected duplicate.
    """
    parent = case.duplicate_of
    if case.duplicate_status != DuplicateStatus.SUSPECTED or parent is None:
        raise Conflict(
            f"Case {case.tracking_number} is not a suspected duplicate.", code="not_suspected"
        )
    case.duplicate_status = DuplicateStatus.CONFIRMED
    case.updated_at = utcnow()
    record_event(session, case, "duplicate_confirmed", agent=agent, parent=parent.tracking_number)
    _catch_up(session, case, parent, agent)
    return case


def reject_duplicate(session: Session, case: Case, agent: Agent) -> Case:
    """An agent says the case is not a duplicate after all.

    The link stays, marked rejected, so the case shows "not a duplicate of X" and detection
    never suggests it again; the case no longer follows X.

    :raises Conflict: the case is not a suspected or confirmed duplicate.
    """
    parent = case.duplicate_of
    if case.duplicate_status not in _LINKED or parent is None:
        raise Conflict(
            f"Case {case.tracking_number} is not marked as a duplicate.", code="not_duplicate"
        )
    previous = case.duplicate_status
    case.duplicate_status = DuplicateStatus.REJECTED
    case.updated_at = utcnow()
    record_event(
        session,
        case,
        "duplicate_rejected",
        agent=agent,
        parent=parent.tracking_number,
        was=str(previous),
    )
    return case


def mark_duplicate(session: Session, case: Case, parent: Case, agent: Agent) -> Case:
    """An agent links ``case`` to ``parent`` (or the case ``parent`` duplicates), confirmed.

    :raises Invalid: another jurisdiction's case, or the case itself.
    :raises Conflict: the link would make a cycle (``parent`` duplicates ``case``).
    """
    if parent.jurisdiction_id != case.jurisdiction_id:
        raise Invalid(
            "A case can only duplicate a case of the same jurisdiction.",
            code="other_jurisdiction",
            fields={"parent": "another jurisdiction's case"},
        )
    if parent.id == case.id:
        raise Invalid(
            "A case cannot be a duplicate of itself.",
            code="self_duplicate",
            fields={"parent": "the case itself"},
        )
    chain = _chain(parent)
    if case in chain:
        raise Conflict(
            f"Case {parent.tracking_number} is marked as a duplicate of {case.tracking_number};"
            " reject that link first.",
            code="duplicate_cycle",
        )
    root = chain[-1]
    if case.duplicate_of is root and case.duplicate_status == DuplicateStatus.CONFIRMED:
        return case
    case.duplicate_of = root
    case.duplicate_status = DuplicateStatus.CONFIRMED
    case.updated_at = utcnow()
    record_event(session, case, "duplicate_marked", agent=agent, parent=root.tracking_number)
    record_event(session, root, "duplicate_linked", agent=agent, duplicate=case.tracking_number)
    _catch_up(session, case, root, agent)
    return case


def _catch_up(session: Session, case: Case, parent: Case, agent: Agent | None) -> None:
    """A duplicate confirmed after its parent was resolved or closed follows at once."""
    if parent.status in _DONE and case.status != parent.status:
        _follow(session, case, parent, agent)


# ---------------------------------------------------------------------------------------------
# Following the parent


def follow_parent(session: Session, parent: Case, agent: Agent | None) -> list[Case]:
    """Move every confirmed duplicate of ``parent`` to the parent's new status.

    Called by the state machine after each status change. Each duplicate goes through
    ``change_status`` itself, so its SLA clock, queue and resident notification (in the
    resident's language, on their channel) behave exactly as if an agent had changed it; its
    own confirmed duplicates then follow in turn. A transition the state machine refuses
    (a closed duplicate cannot become in progress) is skipped. Rows are locked so an agent
    editing a duplicate at the same moment is serialized with this. Returns the moved cases.
    """
    duplicates = session.scalars(
        sa.select(Case)
        .where(
            Case.duplicate_of_id == parent.id,
            Case.duplicate_status == DuplicateStatus.CONFIRMED,
            Case.status != parent.status,
        )
        .order_by(Case.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    return [case for case in duplicates if _follow(session, case, parent, agent)]


def _follow(session: Session, case: Case, parent: Case, agent: Agent | None) -> bool:
    try:
        _change_status(
            session,
            case,
            parent.status,
            agent=agent,
            note=f"Follows {parent.tracking_number}",
        )
    except Conflict as exc:
        log.info("case %s does not follow case %s: %s", case.id, parent.id, exc.code)
        return False
    record_event(
        session,
        case,
        "followed_parent",
        agent=agent,
        parent=parent.tracking_number,
        status=str(parent.status),
    )
    return True


def _change_status(
    session: Session, case: Case, status: CaseStatus, *, agent: Agent | None, note: str
) -> None:
    """The state machine, imported here because it imports this module (see the docstring)."""
    from contactcenter.cases.service import change_status

    change_status(session, case, status, agent=agent, note=note)


# ---------------------------------------------------------------------------------------------
# Incidents


def detect_incident(session: Session, case: Case, settings: DetectionSettings) -> Incident | None:
    """Join ``case`` to the active incident around it, or raise one when a burst is reached.

    A burst is ``incident_threshold`` open cases (``case`` included) of one service type,
    opened in the last ``incident_window_minutes`` within ``incident_radius_m`` of ``case``
    and in no incident yet (cases of a resolved incident do not start the next one).

    Concurrency: two cases of one burst arriving together could each raise an incident.
    Before raising one, a transaction takes an advisory lock per jurisdiction and service type
    (held until commit); under it the active incidents and the burst are read again, so the
    second of two racing transactions waits for the first to commit and joins its incident.
    An advisory lock rather than a row lock on the jurisdiction: every intake has already
    inserted rows referencing that row (a key-share lock), so two intakes upgrading to a row
    lock would deadlock. What remains: a case whose transaction counts the burst while another
    is raising the incident, and finds it one short, stays out of it (the next case nearby
    joins normally); and a case just outside the new incident's circle (centred on the mean
    of its cases) may be left out too. SQLite has one writer at a time and needs no lock.
    """
    if case.service_type_id is None and case.service_type is not None:
        session.flush()
    if case.incident_id is not None:
        return session.get(Incident, case.incident_id)
    if case.service_type_id is None or case.latitude is None or case.longitude is None:
        return None
    if not case.is_open:
        return None
    if case.id is None:
        session.flush()
    incident = _covering_incident(session, case)
    if incident is not None:
        return _join(session, case, incident)
    if len(_burst(session, case, settings)) + 1 < settings.incident_threshold:
        return None
    _lock_raising(session, case)
    incident = _covering_incident(session, case)
    if incident is not None:
        return _join(session, case, incident)
    burst = _burst(session, case, settings)
    if len(burst) + 1 < settings.incident_threshold:
        return None
    return _raise_incident(session, case, [case, *burst], settings)


def _lock_raising(session: Session, case: Case) -> None:
    """Serialize raising incidents per jurisdiction and service type on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(f"incident:{case.jurisdiction_id}:{case.service_type_id}".encode())
        session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _covering_incident(session: Session, case: Case) -> Incident | None:
    """The nearest active incident of the case's service type whose circle holds the case."""
    assert case.latitude is not None and case.longitude is not None
    incidents = session.scalars(
        sa.select(Incident)
        .where(
            Incident.jurisdiction_id == case.jurisdiction_id,
            Incident.status == IncidentStatus.ACTIVE,
            Incident.service_type_id == case.service_type_id,
        )
        .order_by(Incident.id.desc())
        .limit(MAX_CANDIDATES)
        .execution_options(populate_existing=True)
    ).all()
    covering = sorted(
        (distance_m(case.latitude, case.longitude, i.latitude, i.longitude), i.id, i)
        for i in incidents
    )
    for distance, _, incident in covering:
        if distance <= incident.radius_m:
            return incident
    return None


def _join(session: Session, case: Case, incident: Incident) -> Incident:
    case.incident_id = incident.id
    record_event(session, case, "incident_linked", incident_id=incident.id)
    # Counted in SQL so that concurrent joins cannot lose an increment.
    session.execute(
        sa.update(Incident)
        .where(Incident.id == incident.id)
        .values(case_count=Incident.case_count + 1)
        .execution_options(synchronize_session=False)
    )
    session.expire(incident, ["case_count"])
    session.flush()
    return incident


def _burst(session: Session, case: Case, settings: DetectionSettings) -> Sequence[Case]:
    """Other open cases, in no incident, that make a burst with ``case``."""
    assert case.latitude is not None and case.longitude is not None
    lat, lon = case.latitude, case.longitude
    since = case.created_at - dt.timedelta(minutes=settings.incident_window_minutes)
    query = sa.select(Case).where(
        Case.jurisdiction_id == case.jurisdiction_id,
        Case.service_type_id == case.service_type_id,
        Case.status.in_(OPEN_STATUSES),
        Case.incident_id.is_(None),
        Case.source_key.is_(None),  # imported history joins no incident
        Case.id != case.id,
        Case.created_at >= since,
    )
    limit = max(MAX_CANDIDATES, settings.incident_threshold)
    candidates = session.scalars(
        _within_box(query, lat, lon, settings.incident_radius_m).limit(limit)
    ).all()
    return [
        c
        for c in candidates
        if c.latitude is not None
        and c.longitude is not None
        and distance_m(lat, lon, c.latitude, c.longitude) <= settings.incident_radius_m
    ]


def _raise_incident(
    session: Session, case: Case, cases: Sequence[Case], settings: DetectionSettings
) -> Incident:
    latitudes = [c.latitude for c in cases if c.latitude is not None]
    longitudes = [c.longitude for c in cases if c.longitude is not None]
    incident = Incident(
        jurisdiction_id=case.jurisdiction_id,
        service_type_id=case.service_type_id,
        status=IncidentStatus.ACTIVE,
        latitude=sum(latitudes) / len(latitudes),
        longitude=sum(longitudes) / len(longitudes),
        radius_m=settings.incident_radius_m,
        case_count=len(cases),
        created_at=utcnow(),
    )
    session.add(incident)
    session.flush()
    for member in cases:
        member.incident_id = incident.id
        record_event(
            session,
            member,
            "incident_raised",
            incident_id=incident.id,
            case_count=len(cases),
            raised_by=case.tracking_number,
        )
    session.flush()
    log.info("incident %s raised with %s cases", incident.id, len(cases))
    return incident


def active_incidents(session: Session, jurisdiction_ids: Sequence[int]) -> list[Incident]:
    """Active incidents of these jurisdictions, newest first."""
    return list(
        session.scalars(
            sa.select(Incident)
            .where(
                Incident.jurisdiction_id.in_(jurisdiction_ids),
                Incident.status == IncidentStatus.ACTIVE,
            )
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(MAX_LISTED_INCIDENTS)
        )
    )


def get_incident(
    session: Session, jurisdiction_ids: Sequence[int], incident_id: int, *, lock: bool = False
) -> Incident:
    """:raises NotFound: no such incident in these jurisdictions (another's answers the same)."""
    if not 1 <= incident_id <= MAX_ID:
        raise NotFound(f"No incident {incident_id}.", code="incident_not_found")
    query = sa.select(Incident).where(
        Incident.id == incident_id, Incident.jurisdiction_id.in_(jurisdiction_ids)
    )
    if lock:
        query = query.with_for_update()
    incident = session.scalars(query).one_or_none()
    if incident is None:
        raise NotFound(f"No incident {incident_id}.", code="incident_not_found")
    return incident


def resolve_incident(
    session: Session, jurisdiction_ids: Sequence[int], incident_id: int, agent: Agent
) -> Incident:
    """The incident is over: new cases nearby no longer join it and the IVR stops reading it.

    Its cases stay as they are (each is resolved on its own, or through its parent); each one
    records who resolved the incident.

    :raises NotFound: no such incident in these jurisdictions.
    :raises Conflict: it is already resolved.
    """
    incident = get_incident(session, jurisdiction_ids, incident_id, lock=True)
    if incident.status != IncidentStatus.ACTIVE:
        raise Conflict(f"Incident {incident_id} is already resolved.", code="incident_resolved")
    incident.status = IncidentStatus.RESOLVED
    incident.resolved_at = utcnow()
    members = session.scalars(sa.select(Case).where(Case.incident_id == incident.id)).all()
    for member in members:
        record_event(session, member, "incident_resolved", agent=agent, incident_id=incident.id)
    session.flush()
    return incident


def set_announcement(
    session: Session, jurisdiction_ids: Sequence[int], incident_id: int, text: str, agent: Agent
) -> Incident:
    """What callers and residents are told about the incident; empty text removes it.

    :raises NotFound: no such incident in these jurisdictions.
    :raises Invalid: longer than ``MAX_ANNOUNCEMENT`` characters.
    """
    cleaned = " ".join(text.split())
    if len(cleaned) > MAX_ANNOUNCEMENT:
        raise Invalid(
            f"An announcement can be at most {MAX_ANNOUNCEMENT} characters.",
            code="announcement_too_long",
            fields={"text": f"max {MAX_ANNOUNCEMENT} characters"},
        )
    incident = get_incident(session, jurisdiction_ids, incident_id, lock=True)
    incident.announcement = cleaned
    session.flush()
    log.info("incident %s announcement set by agent %s", incident.id, agent.id)
    return incident


def incident_announcements(session: Session, jurisdiction_id: int) -> list[str]:
    """Announcements of the jurisdiction's active incidents, newest incident first (for the IVR)."""
    return list(
        session.scalars(
            sa.select(Incident.announcement)
            .where(
                Incident.jurisdiction_id == jurisdiction_id,
                Incident.status == IncidentStatus.ACTIVE,
                Incident.announcement != "",
            )
            .order_by(Incident.created_at.desc(), Incident.id.desc())
            .limit(MAX_ANNOUNCEMENTS)
        )
    )
