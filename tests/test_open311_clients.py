"""Open311 client keys: issued once, stored hashed, scoped to a jurisdiction, rate-limited."""

from __future__ import annotations

import datetime as dt
import hashlib

import pytest
import sqlalchemy as sa

from contactcenter.errors import Forbidden, Invalid, NotFound
from contactcenter.open311.clients import (
    LAST_USED_EVERY,
    RateLimited,
    authenticate,
    check_rate,
    issue_key,
    list_clients,
    revoke_key,
)
from contactcenter.open311.models import Open311Client


def test_an_issued_key_is_shown_once_and_only_its_hash_is_stored(session, jurisdiction):
    client, key = issue_key(session, jurisdiction, name="City app", contact_email="dev@app.example")
    session.commit()
    assert key.startswith("o311_") and len(key) > 40
    row = session.get_one(Open311Client, client.id)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert row.key_prefix == key[:12]
    assert key not in {row.key_hash, row.key_prefix, row.name, row.contact_email}
    assert row.requests_per_minute == 60 and row.revoked_at is None


def test_two_keys_are_never_the_same(session, jurisdiction):
    _, first = issue_key(session, jurisdiction, name="A")
    _, second = issue_key(session, jurisdiction, name="B")
    assert first != second


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"name": "  "}, "name"),
        ({"name": "x" * 201}, "name"),
        ({"name": "App", "contact_email": "not-an-email"}, "contact_email"),
        ({"name": "App", "requests_per_minute": 0}, "requests_per_minute"),
        ({"name": "App", "key": "short"}, "key"),
        ({"name": "App\x00"}, "name"),
        ({"name": "App", "contact_email": "a\x00@b.example"}, "contact_email"),
    ],
)
def test_issuing_a_key_with_bad_details_names_the_field(session, jurisdiction, options, field):
    with pytest.raises(Invalid) as refused:
        issue_key(session, jurisdiction, **options)
    assert field in refused.value.fields


def test_a_key_authenticates_its_own_jurisdiction(session, jurisdiction):
    client, key = issue_key(session, jurisdiction, name="App")
    session.commit()
    assert authenticate(session, jurisdiction, key).id == client.id


@pytest.mark.parametrize("api_key", [None, "", "o311_unknown-key", "x" * 5000])
def test_missing_or_unknown_keys_are_forbidden(session, jurisdiction, api_key):
    issue_key(session, jurisdiction, name="App")
    session.commit()
    with pytest.raises(Forbidden) as refused:
        authenticate(session, jurisdiction, api_key)
    assert refused.value.status == 403


def test_a_revoked_key_is_forbidden_at_once(session, jurisdiction):
    client, key = issue_key(session, jurisdiction, name="App")
    session.commit()
    revoke_key(session, [jurisdiction.id], client.id)
    session.commit()
    with pytest.raises(Forbidden):
        authenticate(session, jurisdiction, key)


def test_another_jurisdictions_key_is_forbidden_with_the_same_answer(
    session, jurisdiction, other_city
):
    _, theirs = issue_key(session, other_city, name="Their app")
    session.commit()
    with pytest.raises(Forbidden) as other:
        authenticate(session, jurisdiction, theirs)
    with pytest.raises(Forbidden) as unknown:
        authenticate(session, jurisdiction, "o311_nobody")
    assert other.value.message == unknown.value.message
    assert other.value.code == unknown.value.code


def test_last_use_is_recorded_at_most_once_a_minute(session, jurisdiction):
    client, key = issue_key(session, jurisdiction, name="App")
    session.commit()
    authenticate(session, jurisdiction, key)
    session.commit()
    first = session.get_one(Open311Client, client.id).last_used_at
    assert first is not None
    authenticate(session, jurisdiction, key)
    assert not session.dirty, "a second request within the minute writes nothing"
    client.last_used_at = first - LAST_USED_EVERY - dt.timedelta(seconds=1)
    session.commit()
    authenticate(session, jurisdiction, key)
    session.commit()
    assert session.get_one(Open311Client, client.id).last_used_at > first


def test_a_key_over_its_rate_gets_429_with_when_to_retry(app, session, jurisdiction):
    client, _ = issue_key(session, jurisdiction, name="Chatty", requests_per_minute=3)
    other, _ = issue_key(session, jurisdiction, name="Quiet", requests_per_minute=3)
    session.commit()
    with app.app_context():
        for _ in range(3):
            check_rate(client)
        with pytest.raises(RateLimited) as limited:
            check_rate(client)
        check_rate(other)  # each key has its own allowance
    assert limited.value.status == 429
    assert 1 <= limited.value.retry_after <= 60
    assert limited.value.fields == {"retry_after": limited.value.retry_after}


def test_clients_are_listed_per_jurisdiction(session, jurisdiction, other_city):
    mine, _ = issue_key(session, jurisdiction, name="Mine")
    issue_key(session, other_city, name="Theirs")
    session.commit()
    assert [c.id for c in list_clients(session, [jurisdiction.id])] == [mine.id]


def test_revoking_is_idempotent_and_scoped(session, jurisdiction, other_city):
    client, _ = issue_key(session, jurisdiction, name="App")
    session.commit()
    revoked = revoke_key(session, [jurisdiction.id], client.id)
    session.commit()
    when = revoked.revoked_at
    assert revoke_key(session, [jurisdiction.id], client.id).revoked_at == when
    with pytest.raises(NotFound):
        revoke_key(session, [other_city.id], client.id)
    with pytest.raises(NotFound):
        revoke_key(session, [jurisdiction.id], 2**70)
    assert session.scalar(sa.select(sa.func.count()).select_from(Open311Client)) == 1
