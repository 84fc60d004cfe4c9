"""Serves the description: ``GET /api/v1/openapi.json`` and ``/api/v1/openapi.yaml``, and a
page to read it at ``/docs/api`` (RapiDoc, vendored by scripts/vendor.sh: no CDN).

Public (an API's description is no secret, and clients need it before they hold a token),
built once when the app starts and served from memory with an ETag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import yaml
from flask import Blueprint, Flask, Response, current_app, request, url_for

from contactcenter.openapi.build import build_description

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")
docs_bp = Blueprint(
    "openapi_docs",
    __name__,
    url_prefix="/docs",
    static_folder="static",
    static_url_path="/static",
)

EXTENSION = "openapi"
CACHE_CONTROL = "public, max-age=300"


@dataclass(frozen=True)
class Published:
    """The description as served: its bytes in both forms and their validator."""

    document: dict[str, object]
    json: bytes
    yaml: bytes
    etag: str


def init_app(app: Flask) -> None:
    """Register the routes, then build the description of every route registered so far
    (these two included): call it last in ``create_app``."""
    app.register_blueprint(bp)
    app.register_blueprint(docs_bp)
    document = build_description(app)
    as_json = json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
    as_yaml = yaml.safe_dump(document, sort_keys=False, allow_unicode=True).encode()
    app.extensions[EXTENSION] = Published(
        document, as_json, as_yaml, hashlib.sha256(as_json).hexdigest()[:32]
    )


def _serve(body: bytes, mimetype: str) -> Response:
    published: Published = current_app.extensions[EXTENSION]
    response = Response(body, mimetype=mimetype)
    response.set_etag(published.etag)
    response.headers["Cache-Control"] = CACHE_CONTROL
    response.headers["Access-Control-Allow-Origin"] = "*"  # API explorers run on other sites
    response.make_conditional(request)
    return response


@bp.get("/openapi.json")
def description_json() -> Response:
    """This description (OpenAPI 3.1, JSON)."""
    return _serve(current_app.extensions[EXTENSION].json, "application/json")


@bp.get("/openapi.yaml")
def description_yaml() -> Response:
    """This description (OpenAPI 3.1, YAML)."""
    return _serve(current_app.extensions[EXTENSION].yaml, "application/yaml")


RAPIDOC = "vendor/rapidoc-9.3.8.min.js"
DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>3-1-1 contact center API</title>
<script type="module" src="{script}"></script>
</head>
<body>
<rapi-doc spec-url="{spec}" load-fonts="false" render-style="read" show-header="false"
  allow-server-selection="false" schema-description-expanded="true"></rapi-doc>
</body>
</html>
"""
# Everything from this host: the page can reach no CDN, font service or other site.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)


@docs_bp.get("/api")
def docs_page() -> Response:
    """The description, readable (and tried out, with a token) in a browser."""
    html = DOCS_PAGE.format(
        script=url_for("openapi_docs.static", filename=RAPIDOC),
        spec=url_for("openapi.description_json"),
    )
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response
