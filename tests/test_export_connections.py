"""A streaming export holds no database connection, and no open transaction, while a page it
has read waits for the client."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contactcenter.db import get_db
from contactcenter.imports.export import nyc_csv, open311_json
from tests import factories
from tests.test_export_nyc import nyc

__all__ = ["nyc"]  # the fixture


@pytest.mark.parametrize("writer", [nyc_csv, open311_json], ids=["csv", "json"])
def test_no_connection_is_checked_out_between_pages(app, session, nyc, writer):
    for _ in range(7):
        factories.make_case(session, nyc, service_type=factories.service_type(session, nyc))
    session.commit()
    session.close()
    database = get_db(app)
    pool = database.engine.pool
    idle = pool.checkedout()  # type: ignore[attr-defined]

    held = []
    with database.session() as own:
        chunks = writer(own, own.get_one(type(nyc), nyc.id), page_size=3)
        for _chunk in chunks:
            held.append(pool.checkedout() - idle)  # type: ignore[attr-defined]
            assert not own.in_transaction()

    assert len(held) >= 4 and set(held) == {0}


def test_no_export_session_is_left_idle_in_a_transaction_on_postgresql(app, session, nyc):
    database = get_db(app)
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's pg_stat_activity")
    for _ in range(7):
        factories.make_case(session, nyc, service_type=factories.service_type(session, nyc))
    session.commit()

    def idle_in_transaction() -> int:
        with database.engine.connect() as watcher:
            return watcher.scalar(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE datname = current_database() AND state = 'idle in transaction'"
                    " AND pid <> pg_backend_pid()"
                )
            )

    before = idle_in_transaction()
    seen = []
    with database.session() as own:
        for _chunk in nyc_csv(own, own.get_one(type(nyc), nyc.id), page_size=3):
            seen.append(idle_in_transaction() - before)
    assert len(seen) >= 4 and set(seen) == {0}
