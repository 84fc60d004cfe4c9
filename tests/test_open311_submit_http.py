"""The POST route over HTTP under concurrency (each method is tested in test_open311_api.py)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from contactcenter.cases.models import Case
from contactcenter.open311.attributes import set_attributes
from contactcenter.open311.clients import issue_key
from tests import factories

POST = "/open311/v2/requests.json"


@pytest.fixture
def key(session, jurisdiction):
    set_attributes(
        session,
        factories.service_type(session, jurisdiction),
        [
            {
                "code": "surface",
                "datatype": "multivaluelist",
                "description": "Where?",
                "required": True,
                "values": [{"key": "road", "name": "Road"}, {"key": "bike", "name": "Bike lane"}],
            }
        ],
    )
    _client, plain = issue_key(session, jurisdiction, name="FixMyCity", requests_per_minute=3)
    session.commit()
    return plain


def _form(key: str, **extra: str) -> dict[str, object]:
    return {
        "api_key": key,
        "service_code": "pothole",
        "lat": "45.42",
        "long": "-75.69",
        "description": "Pothole, call me at 613-555-0100",
        "phone": "613-555-0100",
        "attribute[surface][]": ["road", "bike"],
        **extra,
    }


def test_simultaneous_posts_from_a_new_resident_make_one_resident(app, session, jurisdiction, key):
    """Two apps (or one retrying) post at once with the same new phone and email."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from contactcenter.residents.models import ContactPoint, Resident

    _other, second_key = issue_key(session, jurisdiction, name="Other app")
    session.commit()
    keys = [key, key, key, second_key, second_key, second_key]

    def post(api_key: str) -> int:
        time.sleep(0.01)
        form = _form(api_key, phone="+1 613 555 0177", email="new@example.org")
        return app.test_client().post(POST, data=form).status_code

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        statuses = list(pool.map(post, keys))
    assert statuses == [200] * len(keys)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == len(keys)
    assert session.scalar(sa.select(sa.func.count()).select_from(Resident)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactPoint)) == 2
