"""Settings are read once, validated at start-up, and every one is documented."""

import re
from pathlib import Path

import pytest

from contactcenter.config import ConfigError, Settings

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_environment_variable_is_documented_in_the_readme():
    documented = set(re.findall(r"`([A-Z][A-Z0-9_]+)`", README.read_text()))
    missing = [name for name in Settings.env_names() if name not in documented]
    assert missing == []


def test_values_are_parsed_from_the_environment():
    settings = Settings.from_env(
        {"SMS_CONVERSATION_MINUTES": "30", "SMS_KEYWORD_REPLIES": "false", "REDIS_URL": " r "}
    )
    assert settings.sms_conversation_minutes == 30
    assert settings.sms_keyword_replies is False
    assert settings.redis_url == "r"


@pytest.mark.parametrize(
    "environ",
    [
        {"SMS_CONVERSATION_MINUTES": "soon"},
        {"SMS_KEYWORD_REPLIES": "maybe"},
        {"APP_ENV": "staging"},
        {"PUBLIC_BASE_URL": "311.city.example"},
        {"MAX_REQUEST_BYTES": "10"},
    ],
)
def test_bad_values_stop_the_start_with_a_message(environ):
    with pytest.raises(ConfigError):
        Settings.from_env(environ)


def test_production_refuses_to_start_without_secrets():
    with pytest.raises(ConfigError, match=r"SECRET_KEY.*TWILIO_AUTH_TOKEN"):
        Settings.from_env({"APP_ENV": "production", "DATABASE_URL": "postgresql://x/y"})


def test_development_fills_safe_defaults(tmp_path):
    settings = Settings.from_env({}).with_defaults(str(tmp_path))
    assert settings.database_url == f"sqlite:///{tmp_path / 'contactcenter.db'}"
    assert settings.secret_key and settings.twilio_auth_token
    assert settings.uses_dev_twilio


def test_embedded_sqlite_survives_concurrent_writers(tmp_path):
    """WAL lets readers work during a write; the busy timeout makes writers wait, not fail."""
    from contactcenter.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()
