"""POST service request: what the Open311 route calls once the client is authenticated.

A realtime service type's request becomes a case at once; a batch one is stored and answered
with a token, and a job turns it into a case (:mod:`contactcenter.open311.batch`). Either way
the fields are checked here first, so a client hears about bad input in the POST's answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from contactcenter.cases.models import Case
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.open311 import batch
from contactcenter.open311.filing import open_request, validate_request
from contactcenter.open311.models import Open311Client, Open311Submission

BATCH = "batch"


@dataclass(frozen=True)
class SubmitResult:
    """The case opened (realtime), or the submission waiting for its job (batch)."""

    case: Case | None
    submission: Open311Submission | None


def submit_request(
    session: Session,
    jurisdiction: Jurisdiction,
    client: Open311Client,
    fields: Mapping[str, str],
    attributes: Mapping[str, list[str]],
) -> SubmitResult:
    """File one POSTed request (does not commit: the route does, once).

    ``fields`` are the spec's POST fields by name; ``attributes`` the ``attribute[code]``
    answers by code, each a list of the values posted.

    :raises NotFound: no active service with that service_code in this jurisdiction.
    :raises Invalid: anything else wrong, with ``fields`` naming each problem.
    """
    request = validate_request(session, jurisdiction, fields, attributes)
    if request.service_type.open311_type == BATCH:
        return SubmitResult(
            None, batch.store_submission(session, jurisdiction, client, fields, attributes)
        )
    return SubmitResult(open_request(session, jurisdiction, client, request), None)
