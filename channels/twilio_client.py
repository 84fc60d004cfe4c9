"""The Twilio REST client, and the signature check every Twilio webhook goes through."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from functools import wraps
from typing import ParamSpec, TypeVar

from flask import current_app, request
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator, get_signature_algorithm
from twilio.rest import Client
from werkzeug.datastructures import MultiDict

from channels.dev_outbox import DevOutboxHttpClient
from contactcenter.config import Settings
from contactcenter.errors import Forbidden

P = ParamSpec("P")
R = TypeVar("R")

DEV_ACCOUNT_SID = "AC" + "0" * 32


def make_client(settings: Settings, http_client: HttpClient | None = None) -> Client:
    """A Twilio client; without an account (development) it talks to the dev outbox."""
    if http_client is None and settings.uses_dev_twilio:
        http_client = DevOutboxHttpClient()
    return Client(
        settings.twilio_account_sid or DEV_ACCOUNT_SID,
        settings.twilio_auth_token,
        http_client=http_client,
    )


def public_url() -> str:
    """The URL Twilio requested, as Twilio saw it.

    Twilio signs the public URL. Behind a proxy or tunnel the Host and scheme we see differ,
    so when PUBLIC_BASE_URL is set the signature is checked against it.
    """
    settings: Settings = current_app.config["SETTINGS"]
    if settings.public_base_url:
        path = request.full_path if request.query_string else request.path
        return settings.public_base_url.rstrip("/") + path
    return request.url


def signature_is_valid(
    auth_token: str,
    url: str,
    form: MultiDict[str, str],
    signature: str,
    signature_settings: str | None = None,
) -> bool:
    """Twilio's own validator, with the algorithm its signature-settings header names."""
    if not signature:
        return False
    algorithm = get_signature_algorithm(signature_settings)
    validator = RequestValidator(auth_token)
    # Fast path: the signature of the URL exactly as given. `validate` always computes two
    # (with and without the default port); it is still the judge whenever this one differs.
    computed = validator.compute_signature(url, form, algorithm)
    if hmac.compare_digest(computed.encode(), signature.encode()):
        return True
    return bool(validator.validate(url, form, signature, algorithm=algorithm))


def require_twilio_signature(view: Callable[P, R]) -> Callable[P, R]:
    """403 unless ``X-Twilio-Signature`` matches this request under our auth token."""

    @wraps(view)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        settings: Settings = current_app.config["SETTINGS"]
        if not signature_is_valid(
            settings.twilio_auth_token,
            public_url(),
            request.form,
            request.headers.get("X-Twilio-Signature", ""),
            request.headers.get("X-Twilio-Webhooks-Signature-Settings"),
        ):
            current_app.logger.warning("rejected webhook with a bad signature: %s", request.path)
            raise Forbidden("Invalid Twilio signature.", code="bad_signature")
        return view(*args, **kwargs)

    return wrapper
