"""Hand-made requests to the console: odd digits, huge ids, offers of a city one has left."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from contactcenter.errors import NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.routing.models import Offer
from contactcenter.routing.work import accept_offer, dispatch
from tests import factories
from tests.test_console import post_form, sign_in

HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "path", [f"/console/offers/{HUGE}/accept", f"/console/offers/{HUGE}/decline"]
)
def test_huge_ids_are_not_found_not_errors(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction, path: str
) -> None:
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    sign_in(client, agent.email)
    response = post_form(client, path)
    assert response.status_code in (302, 404)  # a flash and back, or not found: never a 500


def test_an_agent_who_left_a_city_cannot_take_its_offer(
    session: Session, jurisdiction: Jurisdiction
) -> None:
    queue = factories.make_queue(session, jurisdiction, is_default=True)
    agent, _ = factories.make_available_agent(session, jurisdiction, [queue])
    factories.make_case(session, jurisdiction)
    session.commit()
    factories.make_work(session, jurisdiction, queue)
    session.commit()
    dispatch(session, jurisdiction.id)
    session.commit()
    offer = session.scalars(sa.select(Offer)).one()
    elsewhere = factories.make_jurisdiction(session, slug="shelbyville")
    agent.jurisdictions = [elsewhere]
    session.commit()
    with pytest.raises(NotFound):
        accept_offer(session, offer.id, agent)


def test_a_cookie_copied_before_sign_out_no_longer_works(
    client: FlaskClient, session: Session, jurisdiction: Jurisdiction
) -> None:
    agent, _ = factories.make_agent(session, [jurisdiction])
    session.commit()
    sign_in(client, agent.email)
    copied = client.get_cookie("session")
    assert copied is not None
    assert client.get("/console/").status_code == 200
    post_form(client, "/console/logout")
    client.set_cookie("session", copied.value)
    assert client.get("/console/").status_code == 302  # back to the sign-in page
