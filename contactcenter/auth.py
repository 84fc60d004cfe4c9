"""Staff authentication (bearer tokens) and the role and jurisdiction checks on every route.

Every staff query is scoped with :func:`jurisdiction_ids`; a record of another jurisdiction
answers 404, not 403, so its existence does not leak either.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from flask import g, request
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from contactcenter.agents.models import Agent, ApiToken, Role
from contactcenter.db import get_session, utcnow
from contactcenter.errors import Forbidden, Invalid, NotFound, Unauthorized
from contactcenter.jurisdictions.models import Jurisdiction

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def hash_password(password: str) -> str:
    return generate_password_hash(password)


_DUMMY_HASH = hash_password(secrets.token_urlsafe(16))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, agent: Agent, *, name: str = "") -> str:
    """A new bearer token for ``agent``; the plain value is shown once and never stored."""
    token = "cc_" + secrets.token_urlsafe(32)
    session.add(ApiToken(agent_id=agent.id, token_hash=_digest(token), name=name))
    session.flush()
    return token


MAX_FAILURES = 5
"""Failed sign-ins in a row (console or API) that lock an account."""
LOCK_FOR = dt.timedelta(minutes=15)


def authenticate_password(
    session: Session, email: str, password: str, now: dt.datetime | None = None
) -> Agent:
    """The agent behind ``email`` and ``password``. Failures are counted in the session (the
    caller commits, refusals included); ``MAX_FAILURES`` in a row lock the account for
    ``LOCK_FOR``, so passwords cannot be guessed through the console or the API.

    :raises Unauthorized: unknown email, wrong password, inactive or locked agent — one
        message for all, so nobody learns which emails exist or which accounts are locked.
    """
    refused = Unauthorized(
        "Wrong email or password, or the account is locked for a while.", code="bad_credentials"
    )
    now = now or utcnow()
    agent = session.scalars(
        sa.select(Agent).where(Agent.email == email.strip().lower())
    ).one_or_none()
    # Hash even when there is no such agent or it is locked: timing tells nothing either.
    stored = agent.password_hash if agent is not None and agent.password_hash else _DUMMY_HASH
    password_ok = check_password_hash(stored, password)
    if agent is None or (agent.locked_until is not None and agent.locked_until > now):
        raise refused
    if not password_ok:
        _count_failure(session, agent, now)
        raise refused
    if not agent.active or not agent.password_hash:
        raise refused
    agent.failed_logins = 0
    agent.locked_until = None
    return agent


def _count_failure(session: Session, agent: Agent, now: dt.datetime) -> None:
    """One more failure, counted in the database so parallel guesses all count."""
    failures = session.scalar(
        sa.update(Agent)
        .where(Agent.id == agent.id)
        .values(failed_logins=Agent.failed_logins + 1)
        .returning(Agent.failed_logins)
    )
    if failures is not None and failures >= MAX_FAILURES:
        session.execute(
            sa.update(Agent)
            .where(Agent.id == agent.id)
            .values(failed_logins=0, locked_until=now + LOCK_FOR)
        )
        log.warning("agent %s locked out after %d failed sign-ins", agent.id, failures)


def agent_for_token(session: Session, token: str) -> Agent:
    """:raises Unauthorized: unknown, revoked, or its agent is inactive."""
    agent = session.scalars(
        sa.select(Agent)
        .join(ApiToken, ApiToken.agent_id == Agent.id)
        .where(ApiToken.token_hash == _digest(token), ApiToken.revoked_at.is_(None))
        .options(selectinload(Agent.jurisdictions))
    ).one_or_none()
    if agent is None or not agent.active:
        raise Unauthorized("Invalid or revoked token.", code="bad_token")
    return agent


def current_agent() -> Agent:
    agent: Agent = g.agent
    return agent


def jurisdiction_ids() -> list[int]:
    return [j.id for j in current_agent().jurisdictions]


def require_staff(role: Role = Role.AGENT) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: a valid bearer token of an agent with at least ``role``."""

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            header = request.headers.get("Authorization", "")
            scheme, _, token = header.partition(" ")
            if scheme.lower() != "bearer" or not token.strip():
                raise Unauthorized("Send 'Authorization: Bearer <token>'.", code="missing_token")
            agent = agent_for_token(get_session(), token.strip())
            if not agent.has_role(role):
                raise Forbidden(f"This needs the {role} role.", code="role_required")
            g.agent = agent
            return view(*args, **kwargs)

        return wrapper

    return decorator


def staff_jurisdiction(session: Session, slug: str | None) -> Jurisdiction:
    """The jurisdiction a staff request is about: named by ``slug``, or the staff's only one.

    :raises NotFound: a jurisdiction this staff member does not work for.
    :raises Invalid: several are possible and none was named.
    """
    mine = current_agent().jurisdictions
    if slug:
        for jurisdiction in mine:
            if jurisdiction.slug == slug:
                return jurisdiction
        raise NotFound(f'No jurisdiction "{slug}".', code="jurisdiction_not_found")
    if len(mine) == 1:
        return mine[0]
    raise Invalid(
        "You work for several jurisdictions: say which one with ?jurisdiction=<slug>.",
        code="jurisdiction_required",
        fields={"jurisdiction": "required"},
    )
