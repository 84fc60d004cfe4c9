"""The ``public`` blueprint: the performance review of each jurisdiction, open to everyone.

``/public/<slug>/performance`` (HTML tables, charts drawn by the vendored Chart.js from the
JSON), ``.json`` and ``.csv``: the same figures three ways. No login, no personal data; cached
by browsers and proxies for a few minutes, with an ETag.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from flask import Blueprint, Response, jsonify, render_template, request, url_for

from contactcenter.db import get_session, utcnow
from contactcenter.errors import DomainError, NotFound
from contactcenter.performance.csvfile import figures_csv
from contactcenter.performance.figures import (
    MAX_MONTHS,
    Figures,
    jurisdiction_by_slug,
    local_today,
    parse_period,
    performance_figures,
)

bp = Blueprint(
    "public",
    __name__,
    url_prefix="/public",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

CHART_JS = "vendor/chart-4.6.1.umd.min.js"
MAX_AGE = 300
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


# What a slug can be (the column holds at most 64 characters); anything else, e.g. a NUL byte
# that PostgreSQL refuses in text, is no jurisdiction and is answered before any query.
SLUG = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


def _figures(slug: str) -> Figures:
    if not SLUG.fullmatch(slug):
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    session = get_session()
    jurisdiction = jurisdiction_by_slug(session, slug)
    if jurisdiction is None:
        raise NotFound("No such jurisdiction.", code="jurisdiction_not_found")
    today = local_today(jurisdiction, utcnow())
    period = parse_period(request.args.get("from"), request.args.get("to"), today)
    return performance_figures(session, jurisdiction, period, today)


def _public(response: Response) -> Response:
    response.headers["Cache-Control"] = f"public, max-age={MAX_AGE}"
    response.headers["Content-Security-Policy"] = PAGE_POLICY
    response.headers["Referrer-Policy"] = "same-origin"
    response.set_etag(hashlib.sha256(response.get_data()).hexdigest()[:32])
    response.make_conditional(request)
    return response


@bp.get("/<slug>/performance")
def performance_page(slug: str) -> Response:
    try:
        figures = _figures(slug)
    except DomainError as exc:
        html = render_template("performance/error.html", message=exc.message, status=exc.status)
        response = Response(html, status=exc.status, mimetype="text/html")
        response.headers["Content-Security-Policy"] = PAGE_POLICY
        return response
    params: dict[str, Any] = dict(figures.period.as_params())
    html = render_template(
        "performance/page.html",
        f=figures,
        max_months=MAX_MONTHS,
        json_url=url_for("public.performance_json", slug=slug, **params),
        csv_url=url_for("public.performance_csv", slug=slug, **params),
        chart_js=url_for("public.static", filename=CHART_JS),
    )
    return _public(Response(html, mimetype="text/html"))


@bp.get("/<slug>/performance.json")
def performance_json(slug: str) -> Response:
    return _public(jsonify(_figures(slug).as_dict()))


@bp.get("/<slug>/performance.csv")
def performance_csv(slug: str) -> Response:
    figures = _figures(slug)
    period = figures.period.as_params()
    slug_part = re.sub(r"[^A-Za-z0-9_.-]", "_", figures.jurisdiction_slug)
    name = f"{slug_part}-performance-{period['from']}-to-{period['to']}.csv"
    response = Response(figures_csv(figures), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return _public(response)
