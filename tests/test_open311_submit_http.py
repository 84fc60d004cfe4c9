"""The POST route over HTTP, for what submissions add: keys, rate limits, attributes, batch."""

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


def test_a_post_with_list_answers_files_a_case_with_them(client, session, key):
    answer = client.post(POST, data=_form(key))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    [body] = answer.get_json()
    case = session.scalars(
        sa.select(Case).where(Case.tracking_number == body["service_request_id"])
    ).one()
    assert case.attributes == {"surface": ["road", "bike"]}
    assert body["service_notice"] == "Expected response within 5 days."
    assert "613" not in answer.get_data(as_text=True)


def test_a_bad_key_is_403_in_the_error_format(client, key):
    answer = client.post("/open311/v2/requests.xml", data=_form("o311_wrong"))
    assert answer.status_code == 403
    assert b"<code>403</code>" in answer.data


def test_a_bad_answer_is_400_naming_the_attribute(client, key):
    answer = client.post(POST, data=_form(key, **{"attribute[surface][]": "sky"}))
    assert answer.status_code == 400
    [error] = answer.get_json()
    assert error["code"] == 400 and "attribute[surface]" in error["description"]


def test_a_key_over_its_rate_is_429_with_retry_after(client, key):
    for _ in range(3):
        assert client.post(POST, data=_form(key, lat="99")).status_code == 400  # counted too
    answer = client.post(POST, data=_form(key))
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["Retry-After"]) <= 60
    assert answer.get_json()[0]["code"] == 429


def test_a_batch_post_gives_a_token_that_leads_to_the_case(
    client, session, jurisdiction, key, run_jobs
):
    factories.service_type(session, jurisdiction).open311_type = "batch"
    session.commit()
    posted = client.post(POST, data=_form(key))
    assert posted.status_code == 201, posted.get_data(as_text=True)
    [body] = posted.get_json()
    assert set(body) >= {"token"} and "service_request_id" not in body
    run_jobs()
    found = client.get(f"/open311/v2/tokens/{body['token']}.json")
    assert found.status_code == 200
    [entry] = found.get_json()
    assert entry["token"] == body["token"] and entry["service_request_id"]
    request = client.get(f"/open311/v2/requests/{entry['service_request_id']}.json")
    assert request.status_code == 200
    assert request.get_json()[0]["service_code"] == "pothole"


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
    assert statuses == [201] * len(keys)
    assert session.scalar(sa.select(sa.func.count()).select_from(Case)) == len(keys)
    assert session.scalar(sa.select(sa.func.count()).select_from(Resident)) == 1
    assert session.scalar(sa.select(sa.func.count()).select_from(ContactPoint)) == 2
