"""Console sign-in: a signed-cookie session, lock-out after repeated failures, and the
``login_required`` decorator every console page wears.

The cookie holds the agent's id and a value derived from their password hash, so changing the
password signs every other browser out. Every refusal reads the same, so nobody can learn from
the sign-in form which emails exist or which accounts are locked.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Response, abort, current_app, g, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session, selectinload

from contactcenter.agents.models import Agent, Role
from contactcenter.auth import authenticate_password
from contactcenter.db import get_session
from contactcenter.errors import Unauthorized

log = logging.getLogger(__name__)

P = ParamSpec("P")

SIGN_IN_REFUSED = "Email or password is not right, or the account is locked for a while."


class SignInRefused(Exception):
    """Unknown email, wrong password, inactive or locked agent: deliberately one error."""


def sign_in(db: Session, email: str, password: str, now: dt.datetime | None = None) -> Agent:
    """The agent behind ``email`` and ``password``; the caller commits (failures count too).
    The lock-out is the API's too: :func:`contactcenter.auth.authenticate_password`.

    :raises SignInRefused: for every reason, with no hint of which.
    """
    try:
        return authenticate_password(db, email, password, now)
    except Unauthorized as exc:
        raise SignInRefused from exc


def session_auth(agent: Agent) -> str:
    """What the cookie carries besides the id: changes whenever the password does, and at
    every sign-out (so a copied cookie dies with the session it was copied from).

    A keyed digest, not the hash itself: the cookie is signed, not encrypted.
    """
    key = str(current_app.config["SECRET_KEY"]).encode()
    message = f"{agent.id}:{agent.password_hash}:{agent.session_epoch}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def start_session(agent: Agent) -> None:
    """A fresh session for ``agent`` (nothing of the anonymous one carries over)."""
    session.clear()
    session.permanent = True
    session["agent_id"] = agent.id
    session["auth"] = session_auth(agent)


def signed_in_agent() -> Agent | None:
    """The agent of this browser's session, or None (and the session is dropped) if it no
    longer holds: unknown or inactive agent, or the password changed since."""
    agent_id = session.get("agent_id")
    if not isinstance(agent_id, int):
        return None
    agent = (
        get_session()
        .scalars(
            sa.select(Agent).where(Agent.id == agent_id).options(selectinload(Agent.jurisdictions))
        )
        .one_or_none()
    )
    expected = session_auth(agent) if agent is not None else ""
    if (
        agent is None
        or not agent.active
        or not hmac.compare_digest(str(session.get("auth", "")), expected)
    ):
        session.clear()
        return None
    return agent


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None: no open redirects.

    Browsers read ``/\\host`` and ``/<tab>/host`` as ``//host``, so those are refused too.
    """
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def login_required(
    role: Role | None = None, *, fragment: bool = False
) -> Callable[[Callable[P, ResponseReturnValue]], Callable[P, ResponseReturnValue]]:
    """Route decorator: a signed-in agent (with at least ``role``) in ``g.agent``.

    Pages redirect to the sign-in page with ``next`` (GET only: a form's target cannot be
    re-sent). Fragments fetched by script answer 401 instead, so a login page is never
    inserted into the page that asked.
    """

    def decorator(view: Callable[P, ResponseReturnValue]) -> Callable[P, ResponseReturnValue]:
        @wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> ResponseReturnValue:
            agent = signed_in_agent()
            if agent is None:
                if fragment:
                    return Response("", status=401)
                target = request.full_path if request.query_string else request.path
                next_path = safe_next(target) if request.method == "GET" else None
                return redirect(url_for("console.login", next=next_path))
            if role is not None and not agent.has_role(role):
                abort(403)
            g.agent = agent
            return view(*args, **kwargs)

        return wrapper

    return decorator
