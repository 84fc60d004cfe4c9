"""Staff API: a jurisdiction's cases as open data (``/api/v1/exports``), for supervisors.

``cases.csv`` is New York's 311 layout, ``cases.json`` a JSON array of Open311 requests;
``?jurisdiction=<slug>&from=YYYY-MM-DD&to=YYYY-MM-DD`` (days in the jurisdiction's time, both
included). Responses stream: the generator reads through its own session, opened when the
body starts and closed when it ends, so neither the request's session nor a page of cases
outlives its use. No personal data, ever (see :mod:`contactcenter.imports.export`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator

from flask import Response, request, stream_with_context

from contactcenter.agents.models import Role
from contactcenter.api.views import bp
from contactcenter.auth import require_staff, staff_jurisdiction
from contactcenter.db import get_db, get_session
from contactcenter.errors import Invalid
from contactcenter.imports.export import ExportWindow, nyc_csv, open311_json
from contactcenter.jurisdictions.models import Jurisdiction

Writer = Callable[..., Iterator[str]]


def _day(name: str) -> dt.date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Invalid(
            f"'{name}' must be a date (YYYY-MM-DD).",
            code="invalid_fields",
            fields={name: "not a date"},
        ) from None


def _export(writer: Writer, mimetype: str, extension: str, **options: bool) -> Response:
    session = get_session()
    jurisdiction = staff_jurisdiction(session, request.args.get("jurisdiction"))
    first, last = _day("from"), _day("to")
    if first and last and first > last:
        raise Invalid("'from' is after 'to'.", code="invalid_fields", fields={"from": "after to"})
    window = ExportWindow.of(jurisdiction, first, last)
    jurisdiction_id, slug = jurisdiction.id, jurisdiction.slug
    database = get_db()
    session.close()  # the body reads through its own session; this one would idle meanwhile

    def body() -> Iterator[str]:
        with database.session() as own:
            city = own.get_one(Jurisdiction, jurisdiction_id)
            yield from writer(own, city, window, **options)

    response = Response(stream_with_context(body()), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{slug}-cases.{extension}"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/exports/cases.csv")
@require_staff(Role.SUPERVISOR)
def export_cases_csv() -> Response:
    return _export(nyc_csv, "text/csv", "csv")


@bp.get("/exports/cases.json")
@require_staff(Role.SUPERVISOR)
def export_cases_json() -> Response:
    extensions = request.args.get("extensions", "").lower() in ("1", "true", "yes")
    return _export(open311_json, "application/json", "json", extensions=extensions)
