"""Batch service types: a POST is answered with a token, and a job opens the case later.

The submission keeps what was posted until its job has run; then the case holds it all and
the payload (with the resident's contact details) is emptied. A submission its job could not
file (the service was retired meanwhile, an attribute changed) is marked ``failed`` with why,
and its payload is emptied too but for the service_code; its token then answers 404 saying
the request could not be filed, and why (GET tokens has no field for a failure).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Mapping

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.db import get_db, utcnow
from contactcenter.errors import DomainError
from contactcenter.jobs import enqueue_after_commit
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.open311.filing import FIELDS, open_request, validate_request
from contactcenter.open311.models import Open311Client, Open311Submission, SubmissionState

log = logging.getLogger(__name__)

MAX_TOKEN = 64
PROCESS_RETRIES = 3


def store_submission(
    session: Session,
    jurisdiction: Jurisdiction,
    client: Open311Client,
    fields: Mapping[str, str],
    attributes: Mapping[str, list[str]],
) -> Open311Submission:
    """Keep an (already checked) request and queue its filing after the commit."""
    submission = Open311Submission(
        jurisdiction_id=jurisdiction.id,
        client_id=client.id,
        token=secrets.token_urlsafe(24),
        state=SubmissionState.PENDING,
        payload={
            "fields": {name: fields[name] for name in FIELDS if fields.get(name)},
            "attributes": {code: list(values) for code, values in attributes.items()},
        },
        created_at=utcnow(),
    )
    session.add(submission)
    session.flush()
    enqueue_after_commit(session, process_submission, submission.id, retries=PROCESS_RETRIES)
    return submission


def submission_by_token(
    session: Session, jurisdiction: Jurisdiction, token: str
) -> Open311Submission | None:
    """The jurisdiction's submission with this token (another jurisdiction's is None)."""
    if not token or len(token) > MAX_TOKEN:
        return None
    return session.scalars(
        sa.select(Open311Submission).where(
            Open311Submission.token == token, Open311Submission.jurisdiction_id == jurisdiction.id
        )
    ).one_or_none()


def process_submission(submission_id: int) -> None:
    """Job: file one pending submission as a case, exactly once (the row is locked, and a
    submission no longer pending is left alone)."""
    with get_db().session() as session:
        submission = session.scalars(
            sa.select(Open311Submission)
            .where(
                Open311Submission.id == submission_id,
                Open311Submission.state == SubmissionState.PENDING,
            )
            .with_for_update()
        ).one_or_none()
        if submission is None:
            return
        file_submission(session, submission)
        session.commit()


def file_submission(session: Session, submission: Open311Submission) -> None:
    """Open the submission's case and mark it done, or mark it failed saying why."""
    jurisdiction = session.get_one(Jurisdiction, submission.jurisdiction_id)
    client = session.get(Open311Client, submission.client_id) if submission.client_id else None
    payload = submission.payload or {}
    try:
        with session.begin_nested():
            request = validate_request(
                session, jurisdiction, payload.get("fields", {}), payload.get("attributes", {})
            )
            case = open_request(session, jurisdiction, client, request)
            session.flush()
    except DomainError as exc:
        submission.state = SubmissionState.FAILED
        submission.error = exc.message[:500]
        # No case will ever hold it: the resident's details are not kept "just in case".
        code = (payload.get("fields") or {}).get("service_code")
        submission.payload = {"fields": {"service_code": code}} if code else {}
        log.info("open311 submission %s failed: %s", submission.id, exc.code)
    else:
        submission.state = SubmissionState.DONE
        submission.case_id = case.id
        submission.payload = {}  # the case holds it now, contact details included
    submission.processed_at = utcnow()


def requeue_pending(session: Session, *, older_than: dt.timedelta, limit: int = 1000) -> list[int]:
    """Queue filing again for submissions still pending after ``older_than`` (their job was
    lost, say Redis was down at the commit) and commit. Safe at any time: filing is once only.
    """
    ids = list(
        session.scalars(
            sa.select(Open311Submission.id)
            .where(
                Open311Submission.state == SubmissionState.PENDING,
                Open311Submission.created_at < utcnow() - older_than,
            )
            .order_by(Open311Submission.id)
            .limit(limit)
        )
    )
    for submission_id in ids:
        enqueue_after_commit(session, process_submission, submission_id, retries=PROCESS_RETRIES)
    session.commit()
    return ids
