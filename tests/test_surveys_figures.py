"""survey_figures on a small hand-built history whose right answers are known."""

from __future__ import annotations

import datetime as dt
import secrets

import pytest
from sqlalchemy.orm import Session

from contactcenter.cases.models import DeliveryStatus, Interaction
from contactcenter.db import utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel, Direction
from contactcenter.surveys.figures import SURVEY_DEFINITIONS
from contactcenter.surveys.models import Survey, SurveyState
from contactcenter.surveys.service import survey_figures
from tests.factories import make_case

# Toronto is UTC-5 in November: local 2026-11-10 runs from 05:00 UTC to 05:00 UTC the next day.
DAY = dt.date(2026, 11, 10)
MORNING = dt.datetime(2026, 11, 10, 14, 0, tzinfo=dt.UTC)


def _survey(
    session: Session,
    city: Jurisdiction,
    *,
    channel: Channel = Channel.SMS,
    state: SurveyState = SurveyState.SENT,
    score: int | None = None,
    sent_at: dt.datetime = MORNING,
    expires_at: dt.datetime | None = None,
    delivery: DeliveryStatus | None = None,
) -> Survey:
    case = make_case(session, city, channel=channel)
    interaction = None
    if delivery is not None:
        interaction = Interaction(
            jurisdiction_id=city.id,
            case=case,
            channel=channel,
            direction=Direction.OUTBOUND,
            from_address="+16135550311",
            to_address="+16135550100",
            body="How did we do?",
            delivery_status=delivery,
        )
        session.add(interaction)
        session.flush()
    survey = Survey(
        jurisdiction_id=city.id,
        case=case,
        channel=channel,
        address="+16135550100",
        token=secrets.token_urlsafe(16),
        state=state,
        score=score,
        sent_at=sent_at,
        expires_at=expires_at or utcnow() + dt.timedelta(days=7),
        interaction_id=interaction.id if interaction else None,
    )
    session.add(survey)
    session.flush()
    return survey


@pytest.fixture
def history(session: Session, jurisdiction: Jurisdiction, other_city: Jurisdiction) -> None:
    city = jurisdiction
    for score in (5, 5, 4, 2):
        _survey(session, city, state=SurveyState.ANSWERED, score=score)
    _survey(session, city, channel=Channel.EMAIL, state=SurveyState.ANSWERED, score=1)
    _survey(session, city, channel=Channel.WEBCHAT, state=SurveyState.ANSWERED, score=4)
    _survey(session, city)  # still open
    _survey(session, city, channel=Channel.EMAIL, state=SurveyState.EXPIRED)
    _survey(session, city, expires_at=utcnow() - dt.timedelta(hours=1))  # lapsed, not written
    _survey(session, city, state=SurveyState.SUPPRESSED)
    _survey(session, city, channel=Channel.EMAIL, state=SurveyState.SUPPRESSED)  # bounced
    _survey(session, city, delivery=DeliveryStatus.DELIVERED)
    # Outside the local day, on both sides, and another city's: none of them count.
    _survey(session, city, state=SurveyState.ANSWERED, score=1, sent_at=MORNING.replace(hour=4))
    _survey(
        session,
        city,
        state=SurveyState.ANSWERED,
        score=1,
        sent_at=dt.datetime(2026, 11, 11, 5, 0, tzinfo=dt.UTC),
    )
    _survey(session, other_city, state=SurveyState.ANSWERED, score=1)
    session.commit()


def test_the_figures_of_a_day(session, jurisdiction, history, count_queries):
    with count_queries() as counter:
        figures = survey_figures(session, jurisdiction, start=DAY, end=DAY)

    assert counter.count == 1
    # Sent: 6 answered + 1 open + 2 expired + 1 delivered; suppressed: 1 + 1 bounced.
    assert (figures.sent, figures.answered, figures.suppressed, figures.expired) == (10, 6, 2, 2)
    assert figures.response_rate == pytest.approx(0.6)
    assert figures.average == pytest.approx((5 + 5 + 4 + 2 + 1 + 4) / 6)
    assert figures.distribution == {1: 1, 2: 1, 3: 0, 4: 2, 5: 2}
    assert figures.satisfied_rate == pytest.approx(4 / 6)
    sms = figures.by_channel["sms"]
    assert (sms["sent"], sms["answered"], sms["suppressed"], sms["expired"]) == (7, 4, 1, 1)
    assert sms["average"] == pytest.approx(4.0)
    assert sms["distribution"] == {"1": 0, "2": 1, "3": 0, "4": 1, "5": 2}
    email = figures.by_channel["email"]
    assert (email["sent"], email["answered"], email["suppressed"], email["expired"]) == (2, 1, 1, 1)
    assert email["response_rate"] == pytest.approx(0.5)
    assert figures.by_channel["webchat"]["average"] == 4.0
    shown = figures.as_dict()
    assert shown["distribution"] == {"1": 1, "2": 1, "3": 0, "4": 2, "5": 2}
    assert shown["definitions"] == SURVEY_DEFINITIONS
    assert shown["start"] == shown["end"] == "2026-11-10"


def test_a_longer_period_takes_in_the_neighbouring_days(session, jurisdiction, history):
    figures = survey_figures(
        session, jurisdiction, start=DAY - dt.timedelta(days=1), end=DAY + dt.timedelta(days=1)
    )
    assert (figures.sent, figures.answered) == (12, 8)
    assert figures.distribution[1] == 3


def test_an_empty_period_has_zeros_and_no_ratios(session, jurisdiction, history):
    figures = survey_figures(
        session, jurisdiction, start=dt.date(2025, 1, 1), end=dt.date(2025, 1, 31)
    )
    assert (figures.sent, figures.answered, figures.suppressed, figures.expired) == (0, 0, 0, 0)
    assert figures.response_rate is None and figures.average is None
    assert figures.satisfied_rate is None
    assert figures.distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert figures.by_channel == {}
    assert figures.as_dict()["response_rate"] is None


def test_a_period_that_ends_before_it_starts_is_refused(session, jurisdiction):
    with pytest.raises(Invalid):
        survey_figures(session, jurisdiction, start=DAY, end=DAY - dt.timedelta(days=1))
