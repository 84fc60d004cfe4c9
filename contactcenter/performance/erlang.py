"""Erlang C: how many agents a queue needs for a service-level target, and what they achieve.

The model (M/M/N): contacts arrive at random (Poisson) and wait in an unlimited queue for one
of ``N`` agents; handle times are exponential with mean ``AHT``. The traffic ``A`` in Erlangs
is the work arriving per unit of time: ``contacts x AHT / interval``. Then

- the probability that a contact waits at all, ``Pw = C(N, A)`` (Erlang C);
- the service level, the share answered within ``t`` seconds: ``1 - Pw x e^(-(N - A) t / AHT)``;
- the average speed of answer (mean wait of every contact): ``Pw x AHT / (N - A)``;
- the occupancy, the share of the agents' time spent on contacts: ``A / N``.

With ``N <= A`` the queue grows without end: every contact waits (``Pw = 1``), the service
level is 0 and the average wait infinite.

The textbook formula's ``A^N / N!`` overflows a float past about 170 agents, which a large
contact centre reaches. Erlang B is computed instead by its recursion
``B(0) = 1, B(n) = A B(n-1) / (n + A B(n-1))``, every term of which lies in [0, 1], and
``C = N B / (N - A (1 - B))``: exact to the float's precision for thousands of Erlangs, and
one multiplication and one division per agent.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

MAX_TRAFFIC = 100_000.0
"""The largest traffic (Erlangs) the calculator takes: far above any real contact centre, low
enough that a search over the agents never runs for long."""
MAX_AGENTS = 200_000
"""The most agents the search starts from (a very low maximum occupancy asks for many)."""


def _number(name: str, value: float, *, low: float, high: float | None = None) -> float:
    """``value`` as a float, or :class:`ValueError` saying what ``name`` must be."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number.")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        bounds = f"at least {low:g}" if high is None else f"between {low:g} and {high:g}"
        raise ValueError(f"{name} must be {bounds}.")
    return number


def _traffic(traffic: float) -> float:
    return _number("traffic", traffic, low=0.0, high=MAX_TRAFFIC)


def _agents(agents: int) -> int:
    if isinstance(agents, bool) or not isinstance(agents, int) or agents < 0:
        raise ValueError("agents must be a whole number, 0 or more.")
    return agents


def _erlang_b(traffic: float, agents: int) -> float:
    """The blocking probability of ``agents`` servers without a queue (Erlang B)."""
    blocking = 1.0
    for n in range(1, agents + 1):
        blocking = traffic * blocking / (n + traffic * blocking)
    return blocking


def _c_from_b(traffic: float, agents: int, blocking: float) -> float:
    return agents * blocking / (agents - traffic * (1.0 - blocking))


def erlang_c(traffic: float, agents: int) -> float:
    """The probability that a contact waits (Erlang C), for ``traffic`` Erlangs and ``agents``.

    :raises ValueError: a negative, infinite or absurdly large traffic, or agents that are not
        a whole number of 0 or more.
    """
    traffic, agents = _traffic(traffic), _agents(agents)
    if traffic == 0.0:
        return 0.0
    if agents <= traffic:
        return 1.0
    return min(1.0, _c_from_b(traffic, agents, _erlang_b(traffic, agents)))


def _service_level(
    probability_waiting: float, traffic: float, agents: int, aht: float, target: float
) -> float:
    if agents <= traffic and traffic > 0.0:
        return 0.0
    return max(0.0, 1.0 - probability_waiting * math.exp(-(agents - traffic) * target / aht))


def _asa(probability_waiting: float, traffic: float, agents: int, aht: float) -> float:
    if traffic == 0.0:
        return 0.0
    if agents <= traffic:
        return math.inf
    return probability_waiting * aht / (agents - traffic)


def _aht(aht_seconds: float) -> float:
    aht = _number("aht_seconds", aht_seconds, low=0.0)
    if aht == 0.0:
        raise ValueError("aht_seconds must be more than 0.")
    return aht


def service_level(traffic: float, agents: int, aht_seconds: float, target_seconds: float) -> float:
    """The share (0-1) of contacts answered within ``target_seconds``."""
    aht = _aht(aht_seconds)
    target = _number("target_seconds", target_seconds, low=0.0)
    pw = erlang_c(traffic, agents)
    return _service_level(pw, float(traffic), agents, aht, target)


def average_speed_of_answer(traffic: float, agents: int, aht_seconds: float) -> float:
    """The mean wait in seconds of every contact, answered at once or not (``inf`` when the
    agents cannot keep up)."""
    aht = _aht(aht_seconds)
    pw = erlang_c(traffic, agents)
    return _asa(pw, float(traffic), agents, aht)


@dataclass(frozen=True)
class Staffing:
    """What :func:`staffing` found: the agents needed on the floor (``agents``), the agents to
    schedule so that this many are there after shrinkage (``scheduled_agents``), and what the
    ``agents`` achieve."""

    agents: int
    scheduled_agents: int
    traffic_erlangs: float
    service_level: float
    probability_waiting: float
    asa_seconds: float
    occupancy: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _scheduled(agents: int, shrinkage: float) -> int:
    """``agents / (1 - shrinkage)`` rounded up; rounded to 9 places first, so that 14 agents
    at 30 % (14 / 0.7 = 20.000000000000004 in floats) make 20, not 21."""
    return math.ceil(round(agents / (1.0 - shrinkage), 9))


def staffing(
    *,
    contacts: float,
    interval_seconds: int = 1800,
    aht_seconds: float,
    target_seconds: float,
    target_percent: float,
    max_occupancy: float = 1.0,
    shrinkage: float = 0.0,
) -> Staffing:
    """The fewest agents that answer ``target_percent`` % of ``contacts`` (arriving over
    ``interval_seconds``) within ``target_seconds`` and are busy no more than ``max_occupancy``
    (0-1] of their time; then ``scheduled_agents = ceil(agents / (1 - shrinkage))``, shrinkage
    [0-1) being the share of paid time not on the floor (breaks, training, absence).

    No contacts need no agents. Erlang B is carried from one candidate to the next, so the
    search costs one step per agent, whatever the traffic.

    :raises ValueError: any input out of its range, with a message naming it.
    """
    volume = _number("contacts", contacts, low=0.0)
    if isinstance(interval_seconds, bool) or not isinstance(interval_seconds, int):
        raise ValueError("interval_seconds must be a whole number of seconds.")
    if interval_seconds < 1:
        raise ValueError("interval_seconds must be at least 1.")
    aht = _aht(aht_seconds)
    target = _number("target_seconds", target_seconds, low=0.0)
    percent = _number("target_percent", target_percent, low=0.0, high=100.0)
    if not 0.0 < percent < 100.0:
        raise ValueError("target_percent must be more than 0 and less than 100.")
    occupancy_cap = _number("max_occupancy", max_occupancy, low=0.0, high=1.0)
    if occupancy_cap == 0.0:
        raise ValueError("max_occupancy must be more than 0.")
    shrink = _number("shrinkage", shrinkage, low=0.0, high=1.0)
    if shrink >= 1.0:
        raise ValueError("shrinkage must be less than 1.")
    traffic = volume * aht / interval_seconds
    if traffic > MAX_TRAFFIC:
        raise ValueError(
            f"The traffic ({traffic:,.0f} Erlangs) is more than this calculator takes "
            f"({MAX_TRAFFIC:,.0f}): check the contacts, handle time and interval."
        )
    if traffic == 0.0:
        return Staffing(0, 0, 0.0, 1.0, 0.0, 0.0, 0.0)

    # The first candidate: more agents than Erlangs, and no busier than the cap allows.
    capped = traffic / occupancy_cap
    if capped > MAX_AGENTS:
        raise ValueError(
            f"max_occupancy is too low: {traffic:,.2f} Erlangs at most "
            f"{occupancy_cap:.2%} busy need more than {MAX_AGENTS:,} agents."
        )
    agents = max(math.floor(traffic) + 1, math.ceil(round(capped, 9)))
    blocking = _erlang_b(traffic, agents)
    goal = percent / 100.0
    while True:
        pw = min(1.0, _c_from_b(traffic, agents, blocking))
        level = _service_level(pw, traffic, agents, aht, target)
        if level >= goal:
            return Staffing(
                agents=agents,
                scheduled_agents=_scheduled(agents, shrink),
                traffic_erlangs=traffic,
                service_level=level,
                probability_waiting=pw,
                asa_seconds=_asa(pw, traffic, agents, aht),
                occupancy=traffic / agents,
            )
        agents += 1
        blocking = traffic * blocking / (agents + traffic * blocking)
