"""Serves the description: ``GET /api/v1/openapi.json`` and ``/api/v1/openapi.yaml``.

Public (an API's description is no secret, and clients need it before they hold a token),
built once when the app starts and served from memory with an ETag.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import yaml
from flask import Blueprint, Flask, Response, current_app, request

from contactcenter.openapi.build import build_description

bp = Blueprint("openapi", __name__, url_prefix="/api/v1")

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
