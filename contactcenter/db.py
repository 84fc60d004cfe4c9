"""Database plumbing: declarative base, engine per app, one session per request.

We own the sessionmaker (instead of Flask-SQLAlchemy's scoped session) so that handlers,
jobs and tests all create sessions the same explicit way; the edge that opens a session
commits it.
"""

from __future__ import annotations

import datetime as dt
import os
import weakref
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on every engine.

    SQLite has no time zone type and hands back naive values; PostgreSQL keeps the zone.
    Storing UTC and re-attaching it on read keeps comparisons identical on both.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use contactcenter.db.utcnow()")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def str_enum(cls: type[StrEnum]) -> sa.Enum:
    """A StrEnum stored as its values in a VARCHAR(16): portable, and a new member needs no
    ALTER TYPE."""
    return sa.Enum(
        cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
    )


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def make_engine(url: str, *, pooled: bool = True) -> Engine:
    """An engine for ``url``; ``pooled=False`` for one-off work (migrations, CLI)."""
    pool_args: dict[str, Any] = {} if pooled else {"poolclass": sa.pool.NullPool}
    if url.startswith("sqlite"):
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **pool_args)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if pooled:
        # No pre-ping: it costs a round trip on every request. A connection that died (a
        # database restart) fails one request and SQLAlchemy then discards the whole pool.
        pool_args = {"pool_size": 10, "max_overflow": 10}
    return sa.create_engine(url, **pool_args)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL lets readers and one writer work at once; busy_timeout makes writers wait, not fail."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """The engine and session factory of one application."""

    def __init__(self, url: str) -> None:
        self.engine = make_engine(url)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)
        # rq forks a work horse per job; a forked child must not reuse the parent's pooled
        # sockets (SQLAlchemy's "Using Connection Pools with Multiprocessing").
        engine_ref = weakref.ref(self.engine)
        os.register_at_fork(after_in_child=lambda: _forget_pool(engine_ref))

    def session(self) -> Session:
        return self.sessionmaker()

    def init_app(self, app: Flask) -> None:
        app.extensions["db"] = self
        app.teardown_appcontext(_close_session)


def _forget_pool(engine_ref: weakref.ref[Engine]) -> None:
    engine = engine_ref()
    if engine is not None:
        engine.dispose(close=False)


def get_db(app: Flask | None = None) -> Database:
    db: Database = (app or current_app).extensions["db"]
    return db


def get_session() -> Session:
    """The session of the current request or job (opened on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = get_db().session()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()
