"""The Open311 GeoReport v2 HTTP API at ``/open311/v2``, in XML and JSON.

Handlers parse the parameters, call one query or service, and render; every error, from a
bad date to an unknown format, is answered in the standard's error format (``errors/error``
with ``code`` and ``description``) in the format asked for (XML when it is not one we speak).
GET responses are public open data: any origin may read them, and no cookie is ever set.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from flask import Blueprint, Response, current_app, request
from werkzeug.exceptions import HTTPException

from contactcenter.cases.models import CaseStatus
from contactcenter.db import get_session, utcnow
from contactcenter.errors import DomainError, Forbidden, Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.jurisdictions.service import service_type_by_code
from contactcenter.open311 import formats, params, queries
from contactcenter.open311.attributes import attributes_of
from contactcenter.open311.batch import submission_by_token
from contactcenter.open311.clients import (
    authenticate,
    check_bad_keys,
    check_rate,
    count_bad_key,
)
from contactcenter.open311.discovery import discovery_document
from contactcenter.open311.filing import FIELDS
from contactcenter.open311.models import SubmissionState
from contactcenter.open311.serialize import (
    STATUS_NOTES,
    iso_time,
    public_request,
    public_service,
    service_definition,
    service_notice,
    zone_of,
)
from contactcenter.open311.submit import submit_request

log = logging.getLogger(__name__)

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

_ATTRIBUTE_FIELD = re.compile(r"^attribute\[([^\[\]]{1,64})\](\[\])?$")
UPDATE_STATUSES = {
    "new": "open",
    "open": "open",
    "in_progress": "in_progress",
    "resolved": "fixed",
    "closed": "closed",
}
"""Our lifecycle as mySociety's update statuses (FixMyStreet maps these to its states)."""


def _format() -> str:
    """The format the request asked for: the path's extension, else XML (the required one)."""
    fmt = (request.view_args or {}).get("fmt")
    if fmt is None:
        _, _, fmt = request.path.rpartition(".")
    return fmt if formats.is_format(fmt) else formats.DEFAULT_FORMAT


def _require_format(fmt: str) -> None:
    if not formats.is_format(fmt):
        raise NotFound(f"Unknown format {fmt[:20]!r}: use .xml or .json.")


def _jurisdiction() -> Jurisdiction:
    source = request.form if request.method == "POST" else request.args
    slug = source.get("jurisdiction_id") or request.args.get("jurisdiction_id")
    return queries.resolve_jurisdiction(get_session(), (slug or "").strip() or None)


@bp.before_request
def _no_nul_characters() -> None:
    """NUL can be neither stored nor compared in PostgreSQL text: refuse it up front."""
    if "\x00" in request.path:
        raise Invalid("The path must not contain NUL characters.")
    pairs = list(request.args.items(multi=True))
    if request.method == "POST":
        pairs.extend(request.form.items(multi=True))
    for name, value in pairs:
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "")[:64]
            raise Invalid(f"{shown} must not contain NUL characters.", fields={shown: "NUL"})


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Response:
    log.info("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
    response = formats.error(_format(), exc.status, exc.message)
    retry_after = getattr(exc, "retry_after", None) or exc.fields.get("retry_after")
    if exc.status == 429 and retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    return formats.error(_format(), exc.code or 400, exc.description or exc.name)


@bp.errorhandler(Exception)
def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error in the Open311 API")
    return formats.error(_format(), 500, "Something went wrong on our side.")


@bp.after_request
def _public_data(response: Response) -> Response:
    if request.method in {"GET", "HEAD"}:
        response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers.setdefault("Cache-Control", "no-cache")
    return response


@bp.get("/discovery.<fmt>")
def discovery(fmt: str) -> Response:
    _require_format(fmt)
    try:
        jurisdiction: Jurisdiction | None = _jurisdiction()
    except Invalid:  # several jurisdictions, none named: the endpoint is still discoverable
        jurisdiction = None
    settings = current_app.config["SETTINGS"]
    base = (settings.public_base_url or request.host_url).rstrip("/")
    document = discovery_document(f"{base}{bp.url_prefix}", jurisdiction)
    return formats.render(fmt, "discovery", document)


@bp.get("/services.<fmt>")
def services(fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    service_types = queries.active_services(session, jurisdiction.id)
    attributes = attributes_of(session, [s.id for s in service_types])
    return formats.render(
        fmt,
        "services",
        [public_service(s, has_attributes=bool(attributes.get(s.id))) for s in service_types],
    )


@bp.get("/services/<service_code>.<fmt>")
def service(service_code: str, fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    service_type = service_type_by_code(session, jurisdiction.id, service_code)
    if service_type is None:
        raise NotFound(
            f"service_code {service_code[:64]!r} was not found.",
            fields={"service_code": "unknown"},
        )
    attributes = attributes_of(session, [service_type.id])[service_type.id]
    return formats.render(fmt, "service_definition", service_definition(service_type, attributes))


@bp.get("/requests.<fmt>")
def requests(fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    args = request.args
    query = params.RequestFilter(
        ids=params.comma_list(args.getlist("service_request_id"), name="service_request_id"),
        service_codes=params.comma_list(args.getlist("service_code"), name="service_code"),
        statuses=params.parse_statuses(args.getlist("status")),
        window=params.parse_window(
            args.get("start_date"),
            args.get("end_date"),
            args.get("page"),
            args.get("page_size"),
            zone=zone_of(jurisdiction),
            now=utcnow(),
        ),
        extensions=params.parse_bool(args.get("extensions")),
    )
    page = queries.find_requests(session, jurisdiction, query)
    return _render_requests(fmt, page, extensions=query.extensions)


@bp.get("/requests/<service_request_id>.<fmt>")
def one_request(service_request_id: str, fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    extensions = params.parse_bool(request.args.get("extensions"))
    page = queries.request_by_id(session, jurisdiction, service_request_id, extensions=extensions)
    return _render_requests(fmt, page, extensions=extensions)


def _render_requests(fmt: str, page: queries.RequestPage, *, extensions: bool) -> Response:
    return formats.render(
        fmt,
        "service_requests",
        [
            public_request(
                case,
                service=page.service_of(case),
                department=page.department_of(case),
                extensions=extensions,
                attributes=page.attributes_of(case),
            )
            for case in page.cases
        ],
    )


@bp.get("/tokens/<token>.<fmt>")
def token(token: str, fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    submission = submission_by_token(session, jurisdiction, token)
    if submission is None:
        raise NotFound(f"Token {token[:64]!r} was not found.", fields={"token": "unknown"})
    if submission.state == SubmissionState.FAILED:
        # The spec's token answer has no room for a failure; a 404 saying why tells the
        # client to stop polling and what to fix before posting again.
        raise NotFound(
            f"The request for this token could not be filed: {submission.error or 'unknown'}",
            code="submission_failed",
            fields={"token": "failed"},
        )
    tracking = ""
    if submission.case_id is not None:
        page = queries.cases_by_ids(session, jurisdiction, [submission.case_id])
        tracking = page.cases[0].tracking_number if page.cases else ""
    return formats.render(
        fmt, "service_requests", [{"service_request_id": tracking, "token": submission.token}]
    )


@bp.post("/requests.<fmt>")
def post_request(fmt: str) -> Response:
    _require_format(fmt)
    session = get_session()
    form = request.form
    jurisdiction = _jurisdiction()
    check_bad_keys(jurisdiction, request.remote_addr)
    try:
        client = authenticate(session, jurisdiction, form.get("api_key") or None)
    except Forbidden:
        count_bad_key(jurisdiction, request.remote_addr)
        raise
    check_rate(client)
    fields = {name: form[name] for name in FIELDS if form.get(name)}
    result = submit_request(session, jurisdiction, client, fields, _attribute_answers())
    session.commit()
    answer: dict[str, Any] = {}
    if result.submission is not None:
        answer["token"] = result.submission.token
    elif result.case is not None:
        service_type = result.case.service_type
        if service_type is None or service_type.open311_type != "blackbox":
            answer["service_request_id"] = result.case.tracking_number
        answer["service_notice"] = service_notice(service_type)
    answer["account_id"] = fields.get("account_id") or None
    # 200 as the shared GeoReport swagger gives it (clients test for it), not 201.
    return formats.render(fmt, "service_requests", [answer])


def _attribute_answers() -> dict[str, list[str]]:
    """``attribute[code]=v`` and ``attribute[code][]=v1&attribute[code][]=v2`` by code.

    :raises Invalid: a field that starts like an attribute but is not one of these forms
        (``attribute[a][b]``, ``attribute[]``): its answer would otherwise be lost unseen.
    """
    answers: dict[str, list[str]] = {}
    for name in request.form:
        match = _ATTRIBUTE_FIELD.match(name)
        if match:
            values = [v for v in request.form.getlist(name) if v != ""]
            answers.setdefault(match.group(1), []).extend(values)
        elif name.startswith("attribute["):
            shown = name[:80]
            raise Invalid(
                f"{shown} is not an attribute field: use attribute[code] or attribute[code][].",
                code="invalid_request",
                fields={shown: "not attribute[code] or attribute[code][]"},
            )
    return answers


@bp.get("/servicerequestupdates.<fmt>")
def service_request_updates(fmt: str) -> Response:
    """mySociety's status updates within the window, oldest first. Without ``page`` a window
    holding more than 1000 updates (page_size when smaller) is a 400 asking for a narrower
    window or pages, rather than an answer silently cut at the cap."""
    _require_format(fmt)
    session = get_session()
    jurisdiction = _jurisdiction()
    zone = zone_of(jurisdiction)
    args = request.args
    window = params.parse_window(
        args.get("start_date"),
        args.get("end_date"),
        args.get("page"),
        args.get("page_size"),
        zone=zone,
        now=utcnow(),
    )
    # Without page the window is answered whole or refused (400), never silently cut.
    paged = bool((args.get("page") or "").strip())
    updates = queries.status_updates(session, jurisdiction, window, paged=paged)
    return formats.render(
        fmt,
        "service_requests_updates",
        [
            {
                "update_id": str(update.event_id),
                "service_request_id": update.tracking_number,
                "status": UPDATE_STATUSES.get(update.new_status, "open"),
                "updated_datetime": iso_time(update.created_at, zone),
                "description": _update_description(update.new_status),
                "media_url": None,
                "external_status_code": update.new_status,
            }
            for update in updates
        ],
    )


def _update_description(status: str) -> str:
    """A fixed public wording of the change: notes staff wrote with it are never published."""
    try:
        return f"Status changed to {STATUS_NOTES[CaseStatus(status)].lower()}."
    except (KeyError, ValueError):
        return "Status changed."


@bp.route("/<path:anything>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def not_found(anything: str) -> Response:
    """Anything else under the prefix: 404 (405 for a known path's other methods), in the
    Open311 error format rather than the staff API's."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    try:
        endpoint, _ = adapter.match(method="GET")
        known_for_get = endpoint != "open311.not_found"
    except HTTPException:
        known_for_get = False
    if known_for_get and request.method not in {"GET", "HEAD"}:
        return formats.error(_format(), 405, f"{request.method} is not allowed here.")
    return formats.error(_format(), 404, f"No such Open311 resource: /{anything[:100]}")
