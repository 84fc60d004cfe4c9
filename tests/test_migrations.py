"""Migrations are what builds the schema, so they must be linear, reversible and complete."""

import os
import secrets

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

import contactcenter.models  # noqa: F401 - all tables on the metadata
from contactcenter import migrate
from contactcenter.db import Base, make_engine
from tests.conftest import _create_postgres_database, _drop_postgres_database


def _fresh_database_url(tmp_path) -> tuple[str, str | None]:
    server = os.environ.get("TEST_DATABASE_URL", "")
    if server:
        return _create_postgres_database(server), server
    return f"sqlite:///{tmp_path / f'm{secrets.token_hex(3)}.db'}", None


def test_there_is_a_single_head():
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert len(script.get_heads()) == 1


def test_upgrade_downgrade_upgrade_round_trips(tmp_path):
    url, server = _fresh_database_url(tmp_path)
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        engine = make_engine(url, pooled=False)
        with engine.connect() as conn:
            assert set(sa.inspect(conn).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(url)
        with engine.connect() as conn:
            assert {"cases", "interactions", "residents"} <= set(sa.inspect(conn).get_table_names())
        engine.dispose()
    finally:
        if server:
            _drop_postgres_database(server, url)


def test_models_and_migrations_do_not_drift(database_url):
    """What `alembic check` does: the migrated schema equals the models' metadata."""
    engine = make_engine(database_url, pooled=False)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert diff == []


def test_offline_sql_can_be_generated_for_a_dba(capsys):
    """Cities' DBAs often want the SQL script rather than a live migration."""
    config = migrate.alembic_config("postgresql+psycopg://example/db")
    command.upgrade(config, "head", sql=True)
    assert "CREATE TABLE cases" in capsys.readouterr().out
