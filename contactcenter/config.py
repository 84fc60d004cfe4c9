"""Settings: read from the environment once, validated at start-up, immutable afterwards.

Every field here is an environment variable documented in README.md (a test checks that).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

DEV_SECRET_KEY = "dev-secret-key-not-for-production"  # noqa: S105 - refused in production
DEV_TWILIO_AUTH_TOKEN = "dev-twilio-auth-token"  # noqa: S105 - a published development default
E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")


class ConfigError(ValueError):
    """The environment does not describe a service that can start."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"expected a boolean (true/false), got {value!r}")


@dataclass(frozen=True)
class Settings:
    """One field per environment variable (upper-cased name)."""

    app_env: str = "development"
    database_url: str = ""
    redis_url: str = ""
    secret_key: str = ""
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_key: str = ""
    twilio_api_secret: str = ""
    twilio_twiml_app_sid: str = ""
    public_base_url: str = ""
    trusted_proxy_hops: int = 0
    sms_conversation_minutes: int = 120
    sms_keyword_replies: bool = True
    voice_fallback_number: str = ""
    voice_callback_offer_seconds: int = 90
    max_request_bytes: int = 64 * 1024
    smtp_url: str = ""
    smtp_listen: str = "127.0.0.1:2525"
    email_max_bytes: int = 60 * 1024 * 1024
    email_attachment_max_bytes: int = 25 * 1024 * 1024
    email_process_seconds: int = 120
    email_ack_limit_per_hour: int = 5
    inbound_email_signing_key: str = ""
    chat_max_wait_seconds: int = 120
    chat_messages_rate: str = "30/minute"
    chat_sessions_rate: str = "10/hour"
    log_level: str = "INFO"
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def env_names(cls) -> list[str]:
        return [f.name.upper() for f in fields(cls) if f.name != "extra"]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = f.name.upper()
            if f.name == "extra" or name not in environ:
                continue
            raw = environ[name]
            try:
                if f.type == "int":
                    values[f.name] = int(raw)
                elif f.type == "bool":
                    values[f.name] = _bool(raw)
                else:
                    values[f.name] = raw.strip()
            except ValueError as exc:
                raise ConfigError(f"{name}: {exc}") from exc
        return cls(**values).validated()

    def with_defaults(self, instance_path: str) -> Settings:
        """Fill the development defaults that depend on where the app lives."""
        changes: dict[str, Any] = {}
        if not self.database_url:
            changes["database_url"] = f"sqlite:///{os.path.join(instance_path, 'contactcenter.db')}"
        if self.app_env != "production":
            if not self.secret_key:
                changes["secret_key"] = DEV_SECRET_KEY
            if not self.twilio_auth_token:
                changes["twilio_auth_token"] = DEV_TWILIO_AUTH_TOKEN
        return replace(self, **changes).validated()

    def validated(self) -> Settings:
        if self.app_env not in {"development", "production", "test"}:
            raise ConfigError("APP_ENV must be development, production or test")
        if self.app_env == "production":
            missing = [
                name
                for name, value in (
                    ("SECRET_KEY", self.secret_key),
                    ("DATABASE_URL", self.database_url),
                    ("TWILIO_ACCOUNT_SID", self.twilio_account_sid),
                    ("TWILIO_AUTH_TOKEN", self.twilio_auth_token),
                    ("PUBLIC_BASE_URL", self.public_base_url),
                )
                if not value
            ]
            if missing:
                raise ConfigError("production needs " + ", ".join(missing))
            if self.secret_key == DEV_SECRET_KEY:
                raise ConfigError("SECRET_KEY is the development default")
        if self.public_base_url and not self.public_base_url.startswith(("http://", "https://")):
            raise ConfigError("PUBLIC_BASE_URL must start with http:// or https://")
        if self.trusted_proxy_hops < 0:
            raise ConfigError("TRUSTED_PROXY_HOPS must be 0 or more")
        if self.sms_conversation_minutes < 0:
            raise ConfigError("SMS_CONVERSATION_MINUTES must be 0 or more")
        if self.max_request_bytes < 1024:
            raise ConfigError("MAX_REQUEST_BYTES must be at least 1024")
        # Swapped values are the usual mistake; caught here, not when an agent's phone stays dead.
        if self.twilio_api_key and not self.twilio_api_key.startswith("SK"):
            raise ConfigError("TWILIO_API_KEY is an API key SID (SK...), not the account SID")
        if self.twilio_twiml_app_sid and not self.twilio_twiml_app_sid.startswith("AP"):
            raise ConfigError("TWILIO_TWIML_APP_SID must be a TwiML App SID (AP...)")
        if self.voice_fallback_number and not E164.match(self.voice_fallback_number):
            raise ConfigError("VOICE_FALLBACK_NUMBER must be in E.164 form, e.g. +16135550123")
        if self.voice_callback_offer_seconds < 0:
            raise ConfigError("VOICE_CALLBACK_OFFER_SECONDS must be 0 or more")
        if self.smtp_url and not self.smtp_url.startswith(("smtp://", "smtps://")):
            raise ConfigError("SMTP_URL must start with smtp:// (STARTTLS) or smtps:// (TLS)")
        if not re.match(r"^[^:]+:[0-9]{1,5}$", self.smtp_listen):
            raise ConfigError("SMTP_LISTEN must be host:port, e.g. 0.0.0.0:2525")
        if self.email_max_bytes < 1024 or self.email_attachment_max_bytes < 0:
            raise ConfigError("EMAIL_MAX_BYTES must be at least 1024")
        if self.email_process_seconds < 1 or self.email_ack_limit_per_hour < 0:
            raise ConfigError("EMAIL_PROCESS_SECONDS must be 1 or more")
        if self.chat_max_wait_seconds < 0:
            raise ConfigError("CHAT_MAX_WAIT_SECONDS must be 0 or more")
        for name, rate in (
            ("CHAT_MESSAGES_RATE", self.chat_messages_rate),
            ("CHAT_SESSIONS_RATE", self.chat_sessions_rate),
        ):
            if not re.match(r"^[0-9]+ */ *(second|minute|hour|day)$", rate):
                raise ConfigError(f"{name} must look like 30/minute")
        return self

    @property
    def uses_dev_twilio(self) -> bool:
        """No Twilio account: outbound messages go to the development outbox, not Twilio."""
        return not self.twilio_account_sid
