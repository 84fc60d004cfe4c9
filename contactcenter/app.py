"""The composition root: the only module that sees the core, the channels and the IVR."""

from __future__ import annotations

import os
import secrets
from typing import Any

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

from contactcenter import i18n, jobs, realtime
from contactcenter.config import Settings
from contactcenter.db import Database
from contactcenter.errors import register_error_handlers
from contactcenter.jurisdictions.directory import AddressDirectory
from contactcenter.logs import configure_logging


def create_app(settings: Settings | None = None, *, twilio_http_client: Any = None) -> Flask:
    """Build the application.

    :param settings: defaults to :meth:`Settings.from_env`.
    :param twilio_http_client: replaces the Twilio client's HTTP transport; tests pass one
        that records requests, so everything above that boundary runs for real.
    """
    import channels
    import ivr
    from ivr.runtime import IvrRuntime

    app = Flask(__name__, instance_relative_config=True)
    settings = (settings or Settings.from_env()).with_defaults(app.instance_path)
    if settings.database_url.startswith("sqlite"):
        os.makedirs(app.instance_path, exist_ok=True)
    if settings.app_env != "test":
        configure_logging(settings.log_level)
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_request_bytes,
        # Form fields alone are bounded too, so a huge urlencoded body is refused early.
        MAX_FORM_MEMORY_SIZE=settings.max_request_bytes,
        JSON_SORT_KEYS=False,
        # The console's signed-cookie session: no script reads it, HTTPS only outside a
        # developer's machine, a working day long.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.app_env not in {"development", "test"},
        PERMANENT_SESSION_LIFETIME=12 * 3600,
        WTF_CSRF_TIME_LIMIT=12 * 3600,
    )
    if settings.trusted_proxy_hops:
        # Behind N proxies (nginx, a load balancer), take scheme/host from their headers.
        hops = settings.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    Database(settings.database_url).init_app(app)
    app.extensions["directory"] = AddressDirectory()
    jobs.init_app(app, settings.redis_url)
    realtime.init_app(app, settings.redis_url)
    jobs.install_session_hooks()
    i18n.load_catalogs()
    app.extensions["channels"] = channels.build_registry(settings, twilio_http_client)
    app.extensions["call_control"] = channels.build_call_control(settings, twilio_http_client)
    app.extensions["ivr"] = IvrRuntime()

    from contactcenter.api import bp as api_bp

    app.register_blueprint(api_bp)
    from contactcenter.console import bp as console_bp

    app.register_blueprint(console_bp)
    from contactcenter.open311.views import bp as open311_bp

    app.register_blueprint(open311_bp)
    from contactcenter.performance.views import bp as public_bp

    app.register_blueprint(public_bp)
    from contactcenter.surveys.views import bp as surveys_bp

    app.register_blueprint(surveys_bp)
    for blueprint in channels.blueprints():
        app.register_blueprint(blueprint)
    for blueprint in ivr.blueprints():
        app.register_blueprint(blueprint)
    csrf = CSRFProtect(app)
    for name, blueprint in app.blueprints.items():
        # Bearer-token APIs and signed webhooks: no browser forms there (the console's and
        # the public survey page's forms are checked).
        if name not in {"console", "surveys"}:
            csrf.exempt(blueprint)
    register_error_handlers(app)

    @app.before_request
    def _request_id() -> None:
        g.request_id = request.headers.get("X-Request-Id", "")[:64] or secrets.token_hex(6)

    @app.after_request
    def _security_headers(response: Response) -> Response:
        # Resident-typed text travels in these responses; never let a browser sniff it as HTML.
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/")
    def index() -> dict[str, object]:
        return {
            "service": "3-1-1 contact center",
            "endpoints": {
                "health": "/health",
                "staff_api": "/api/v1 (Authorization: Bearer <token>)",
                "api_description": "/api/v1/openapi.json (OpenAPI 3.1, .yaml too; page: /docs/api)",
                "console": "/console/",
                "open311": "/open311/v2/discovery.json (GeoReport v2, XML and JSON)",
                "public_performance": "/public/<jurisdiction slug>/performance (also .json, .csv)",
                "satisfaction_survey": "/survey/<token> (the link a survey email carries)",
                "sms_inbound_webhook": "/sms/inbound",
                "sms_status_callback": "/sms/status",
                "voice_incoming_webhook": "/voice/incoming",
                "voice_status_callback": "/voice/status",
                "voice_fallback_url": "/voice/fallback",
                "email_inbound_webhook": "/email/inbound/mime",
                "chat_widget": "/chat/widget.js (data-key: the jurisdiction's chat key)",
            },
        }

    from contactcenter import openapi

    openapi.init_app(app)  # last: it describes every route registered above
    return app
