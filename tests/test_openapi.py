"""The app publishes an OpenAPI 3.1 description of its staff and Open311 APIs that is valid,
complete (every route, nothing more) and built from the same models the handlers validate with.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from openapi_spec_validator import validate
from werkzeug.routing import Rule

from contactcenter.api import routing_schemas, schemas
from contactcenter.openapi import build
from contactcenter.openapi.views import EXTENSION


@pytest.fixture(scope="module")
def document(app: Flask) -> dict[str, Any]:
    published: dict[str, Any] = app.extensions[EXTENSION].document
    return published


def _rules(app: Flask) -> list[Rule]:
    return [
        r
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/api/v1", "/open311/v2")) and not build.is_fallback(r)
    ]


def _template(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule)


def test_the_description_is_public_json_with_a_validator(client: FlaskClient) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert response.get_json()["openapi"] == "3.1.0"
    assert response.headers["ETag"]
    assert "public" in response.headers["Cache-Control"]
    again = client.get("/api/v1/openapi.json", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_the_yaml_form_says_the_same_as_the_json(client: FlaskClient) -> None:
    as_json = client.get("/api/v1/openapi.json").get_json()
    response = client.get("/api/v1/openapi.yaml")
    assert response.status_code == 200
    assert response.mimetype == "application/yaml"
    assert yaml.safe_load(response.data) == as_json


def test_the_description_is_valid_openapi(document: dict[str, Any]) -> None:
    validate(document)


def test_every_staff_and_open311_route_is_described_with_its_methods(
    app: Flask, document: dict[str, Any]
) -> None:
    served = {
        (_template(r.rule), m.lower())
        for r in _rules(app)
        for m in r.methods or ()
        if m not in {"HEAD", "OPTIONS"}
    }
    described = {
        (path, method)
        for path, item in document["paths"].items()
        for method in item
        if method in {"get", "put", "post", "patch", "delete"}
    }
    assert described == served
    assert ("/api/v1/cases/{case_id}", "get") in described
    assert ("/api/v1/openapi.json", "get") in described


def test_open311_catch_all_is_the_only_route_left_out(app: Flask) -> None:
    """Only a ``<path:...>`` catch-all (a 404 in the API's error format) is not an operation."""
    left_out = [
        r.rule
        for r in app.url_map.iter_rules()
        if r.rule.startswith(("/api/v1", "/open311/v2")) and build.is_fallback(r)
    ]
    assert all("<path:" in rule for rule in left_out)


def test_open311_paths_have_their_format_as_json_or_xml(document: dict[str, Any]) -> None:
    open311 = {p: item for p, item in document["paths"].items() if p.startswith("/open311/v2/")}
    if not open311:
        pytest.skip("the Open311 routes are not registered in this build")
    for path, item in open311.items():
        for operation in item.values():
            assert operation["security"] == []
            for param in operation.get("parameters", ()):
                if param["in"] == "path" and path.endswith("{" + param["name"] + "}"):
                    assert param["schema"]["enum"] == ["json", "xml"]
            errors = operation["responses"]["404"]["content"]
            assert all(c["schema"]["$ref"].endswith("/Open311Errors") for c in errors.values())


def test_staff_routes_ask_for_a_bearer_token_except_the_public_ones(
    document: dict[str, Any],
) -> None:
    public = set()
    for path, item in document["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            if operation["security"] == []:
                public.add((method, path))
            else:
                assert operation["security"] == [{"bearerAuth": []}]
                assert operation["x-required-role"] in {"agent", "supervisor", "admin"}
                assert "401" in operation["responses"]
    assert public == {
        ("post", "/api/v1/tokens"),
        ("get", "/api/v1/openapi.json"),
        ("get", "/api/v1/openapi.yaml"),
    }
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_roles_are_read_from_the_routes(document: dict[str, Any]) -> None:
    paths = document["paths"]
    assert paths["/api/v1/cases"]["get"]["x-required-role"] == "agent"
    assert paths["/api/v1/calls"]["get"]["x-required-role"] == "supervisor"
    assert paths["/api/v1/routing/rules"]["put"]["x-required-role"] == "admin"


def test_request_bodies_are_the_pydantic_models_json_schemas(document: dict[str, Any]) -> None:
    components = document["components"]["schemas"]
    body = document["paths"]["/api/v1/cases/{case_id}/status"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/StatusChange"
    }
    expected = schemas.StatusChange.model_json_schema(ref_template=build.REF)
    expected.pop("$defs", None)
    assert components["StatusChange"] == expected
    assert "CaseStatus" in components
    expected = routing_schemas.QueueBody.model_json_schema(ref_template=build.REF)
    assert expected.pop("$defs")["Strategy"] == components["Strategy"]
    assert components["QueueBody"] == expected
    assert components["QueueBody"]["properties"]["offer_timeout_seconds"]["maximum"] == 3600


def test_query_strings_are_the_query_models_fields(document: dict[str, Any]) -> None:
    params = {p["name"]: p for p in document["paths"]["/api/v1/cases"]["get"]["parameters"]}
    assert set(params) == set(schemas.CaseListQuery.model_fields)
    assert params["page"]["schema"]["maximum"] == 100_000
    assert params["status"]["schema"] == {"$ref": "#/components/schemas/CaseStatus"}


def test_staff_errors_have_the_one_error_shape(document: dict[str, Any]) -> None:
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message"]
    assert set(error["properties"]["error"]["properties"]) == {"code", "message", "fields"}
    not_found = document["paths"]["/api/v1/cases/{case_id}"]["get"]["responses"]["404"]
    assert not_found["content"]["application/json"]["schema"]["$ref"].endswith("/Error")


def test_the_description_is_built_once_not_per_request(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from contactcenter.openapi import views

    def fail(*args: Any) -> None:
        raise AssertionError("the description was rebuilt for a request")

    monkeypatch.setattr(views, "build_description", fail)
    published = app.extensions[EXTENSION]
    first = client.get("/api/v1/openapi.json").data
    assert client.get("/api/v1/openapi.json").data == first == published.json
    assert json.loads(first) == published.document


def test_a_route_without_metadata_is_still_described_from_its_rule() -> None:
    """A route added without an entry in the tables keeps the description complete and true."""
    from flask import Blueprint

    from contactcenter.auth import require_staff

    app = Flask(__name__)
    extra = Blueprint("extra", __name__, url_prefix="/api/v1")

    @extra.post("/widgets/<int:widget_id>/polish")
    @require_staff()
    def polish(widget_id: int) -> dict[str, Any]:
        """Polish a widget."""
        return {}

    app.register_blueprint(extra)
    document = build.build_description(app)
    validate(document)
    operation = document["paths"]["/api/v1/widgets/{widget_id}/polish"]["post"]
    assert operation["summary"] == "Polish a widget."
    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["parameters"][0]["schema"] == {"type": "integer", "minimum": 0}


def test_the_docs_page_reads_the_description_with_a_vendored_viewer_and_no_cdn(
    client: FlaskClient,
) -> None:
    page = client.get("/docs/api")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'spec-url="/api/v1/openapi.json"' in html
    assert 'load-fonts="false"' in html  # RapiDoc would fetch its fonts from a font service
    scripts = re.findall(r'src="([^"]+)"', html)
    assert scripts == ["/docs/static/vendor/rapidoc-9.3.8.min.js"]
    assert "http" not in html
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    viewer = client.get(scripts[0])
    assert viewer.status_code == 200
    assert viewer.data.startswith(b"/*! RapiDoc 9.3.8")
    viewer.close()
    licence = client.get("/docs/static/vendor/rapidoc-9.3.8.LICENSE")
    assert b"MIT License" in licence.data
    licence.close()


def test_the_docs_page_loads_in_a_browser_without_leaving_the_host(
    browser_page: Any, live_server: str
) -> None:
    requests: list[str] = []
    browser_page.on("request", lambda request: requests.append(request.url))
    browser_page.goto("/docs/api")
    browser_page.wait_for_function(
        "() => { const el = document.querySelector('rapi-doc');"
        " return el && el.shadowRoot && el.shadowRoot.textContent.includes('GeoReport v2'); }"
    )
    assert f"{live_server}/api/v1/openapi.json" in requests
    assert all(url.startswith(live_server) for url in requests), requests
