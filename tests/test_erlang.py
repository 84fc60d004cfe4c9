"""Erlang C (:mod:`contactcenter.performance.erlang`): the published worked example, the edges
(no traffic, too few agents), large traffic without overflow, and refusals of bad input.

The worked example is Call Centre Helper's ("Erlang C Formula - Made Simple With an Easy
Worked Example"): 100 calls in 30 minutes, 180 s handle time, 80 % in 20 s, 85 % maximum
occupancy, 30 % shrinkage -> 10 Erlangs, 14 agents, 20 scheduled after shrinkage. The figures
along the way (11 agents: Pw 0.6821, service level 39.0 %; 14 agents: Pw 0.1741, service level
88.8 %, ASA 7.8 s, occupancy 71.4 %) are the formula's, checked against the textbook formula
in exact fractions below.
"""

from __future__ import annotations

import math
import time
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactcenter.performance.erlang import (
    average_speed_of_answer,
    erlang_c,
    service_level,
    staffing,
)

EXAMPLE = {"contacts": 100, "aht_seconds": 180, "target_seconds": 20, "target_percent": 80}


def _textbook_c(traffic: int, agents: int) -> float:
    """Erlang C by its textbook formula, in exact fractions (small inputs only)."""
    a = Fraction(traffic)
    top = a**agents / math.factorial(agents) * agents / (agents - a)
    bottom = sum(a**k / math.factorial(k) for k in range(agents)) + top
    return float(top / bottom)


def test_the_published_example_needs_14_agents_and_20_after_30_percent_shrinkage() -> None:
    result = staffing(**EXAMPLE, max_occupancy=0.85, shrinkage=0.3)
    assert result.agents == 14
    assert result.scheduled_agents == 20
    assert result.traffic_erlangs == pytest.approx(10.0)
    assert result.probability_waiting == pytest.approx(0.1741, abs=5e-5)
    assert result.service_level == pytest.approx(0.888, abs=5e-4)
    assert result.asa_seconds == pytest.approx(7.8, abs=0.05)
    assert result.occupancy == pytest.approx(0.714, abs=5e-4)


def test_the_published_example_step_by_step() -> None:
    assert erlang_c(10, 11) == pytest.approx(0.6821, abs=5e-5)
    assert service_level(10, 11, 180, 20) == pytest.approx(0.3896, abs=5e-4)
    assert service_level(10, 13, 180, 20) < 0.80 <= service_level(10, 14, 180, 20)
    assert average_speed_of_answer(10, 14, 180) == pytest.approx(7.836, abs=1e-3)


def test_without_shrinkage_the_agents_are_the_schedule() -> None:
    assert staffing(**EXAMPLE).scheduled_agents == 14


def test_the_occupancy_cap_adds_agents_the_service_level_alone_would_not() -> None:
    # 10 Erlangs at 14 agents is 71 % busy: a 60 % cap needs 17.
    capped = staffing(**EXAMPLE, max_occupancy=0.6)
    assert capped.agents == 17
    assert capped.occupancy <= 0.6


def test_no_more_agents_than_erlangs_means_every_contact_waits() -> None:
    for agents in (0, 5, 10):
        assert erlang_c(10, agents) == 1.0
        assert service_level(10, agents, 180, 20) == 0.0
        assert average_speed_of_answer(10, agents, 180) == math.inf


def test_no_traffic_waits_for_nothing_and_needs_no_agents() -> None:
    assert erlang_c(0, 0) == 0.0
    assert erlang_c(0, 3) == 0.0
    assert average_speed_of_answer(0, 0, 180) == 0.0
    result = staffing(**{**EXAMPLE, "contacts": 0}, shrinkage=0.3)
    assert (result.agents, result.scheduled_agents, result.service_level) == (0, 0, 1.0)


@pytest.mark.parametrize(("traffic", "agents"), [(1, 2), (2, 3), (5, 7), (10, 14), (30, 35)])
def test_the_recursion_agrees_with_the_textbook_formula(traffic: int, agents: int) -> None:
    assert erlang_c(traffic, agents) == pytest.approx(_textbook_c(traffic, agents), rel=1e-12)


@pytest.mark.parametrize("traffic", [500.0, 5000.0])
def test_large_traffic_is_finite_monotonic_and_fast(traffic: float) -> None:
    started = time.perf_counter()
    previous = 1.0
    for agents in range(int(traffic), int(traffic * 1.15)):
        pw = erlang_c(traffic, agents)
        assert math.isfinite(pw) and 0.0 <= pw <= previous
        previous = pw
    assert previous < 1e-3
    result = staffing(contacts=traffic * 10, aht_seconds=180, target_seconds=20, target_percent=80)
    assert traffic < result.agents < traffic * 1.05
    assert result.service_level >= 0.8
    assert service_level(traffic, result.agents - 1, 180, 20) < 0.8
    assert time.perf_counter() - started < 5.0
    timed = time.perf_counter()
    staffing(contacts=traffic * 10, aht_seconds=180, target_seconds=20, target_percent=80)
    assert time.perf_counter() - timed < 0.1


@settings(max_examples=200, deadline=None)
@given(
    traffic=st.floats(min_value=0.01, max_value=2000, allow_nan=False),
    extra=st.integers(min_value=1, max_value=60),
)
def test_more_agents_never_serve_worse(traffic: float, extra: int) -> None:
    agents = math.floor(traffic) + extra
    assert erlang_c(traffic, agents + 1) <= erlang_c(traffic, agents) <= 1.0
    assert service_level(traffic, agents + 1, 300, 30) >= service_level(traffic, agents, 300, 30)
    assert average_speed_of_answer(traffic, agents + 1, 300) <= average_speed_of_answer(
        traffic, agents, 300
    )


@settings(max_examples=200, deadline=None)
@given(
    contacts=st.floats(min_value=0.1, max_value=20_000, allow_nan=False),
    aht=st.floats(min_value=5, max_value=1200, allow_nan=False),
    target=st.floats(min_value=0, max_value=600, allow_nan=False),
    percent=st.floats(min_value=1, max_value=99, allow_nan=False),
    occupancy=st.floats(min_value=0.3, max_value=1.0, allow_nan=False),
    shrinkage=st.floats(min_value=0, max_value=0.6, allow_nan=False),
)
def test_the_staffing_found_is_the_fewest_that_meets_every_target(
    contacts: float, aht: float, target: float, percent: float, occupancy: float, shrinkage: float
) -> None:
    result = staffing(
        contacts=contacts,
        aht_seconds=aht,
        target_seconds=target,
        target_percent=percent,
        max_occupancy=occupancy,
        shrinkage=shrinkage,
    )
    traffic = contacts * aht / 1800
    assert result.agents > traffic
    assert result.service_level >= percent / 100
    assert result.occupancy <= occupancy + 1e-9
    assert result.scheduled_agents >= result.agents
    assert result.scheduled_agents * (1 - shrinkage) >= result.agents - 1e-6
    fewer = result.agents - 1
    assert (
        fewer <= traffic
        or fewer * occupancy < traffic - 1e-9
        or service_level(traffic, fewer, aht, target) < percent / 100
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"contacts": -1}, "contacts must be at least 0"),
        ({"contacts": math.nan}, "contacts must be at least 0"),
        ({"contacts": "ten"}, "contacts must be a number"),
        ({"aht_seconds": 0}, "aht_seconds must be more than 0"),
        ({"target_seconds": -5}, "target_seconds must be at least 0"),
        ({"target_percent": 100}, "target_percent must be more than 0 and less than 100"),
        ({"target_percent": 0}, "target_percent must be more than 0 and less than 100"),
        ({"max_occupancy": 0}, "max_occupancy must be more than 0"),
        ({"max_occupancy": 1.5}, "max_occupancy must be between 0 and 1"),
        ({"shrinkage": 1}, "shrinkage must be less than 1"),
        ({"shrinkage": -0.1}, "shrinkage must be between 0 and 1"),
        ({"interval_seconds": 0}, "interval_seconds must be at least 1"),
        ({"interval_seconds": 1.5}, "interval_seconds must be a whole number"),
        ({"contacts": 1e12}, "more than this calculator takes"),
        ({"max_occupancy": 5e-324}, "max_occupancy is too low"),
        ({"contacts": 1e-9, "max_occupancy": 1e-300}, "max_occupancy is too low"),
    ],
)
def test_bad_input_is_refused_with_a_message_naming_it(
    change: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        staffing(**{**EXAMPLE, **change})  # type: ignore[arg-type]


def test_bad_traffic_or_agents_are_refused() -> None:
    with pytest.raises(ValueError, match="traffic must be between"):
        erlang_c(-1, 3)
    with pytest.raises(ValueError, match="traffic must be between"):
        erlang_c(math.inf, 3)
    with pytest.raises(ValueError, match="agents must be a whole number"):
        erlang_c(1, 2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="agents must be a whole number"):
        erlang_c(1, -1)
