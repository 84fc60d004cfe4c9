"""Routing benchmark: 10,000 cases through 200 rules and 50 districts, then how soon a routed
case is offered to one of 500 agents, against the floor of the same path.

Run from the repository root::

    .venv/bin/python bench/routing/run.py [--cases 10000] [--rules 200] [--agents 500] ...

It creates a fresh PostgreSQL database and builds, through the admin functions city IT uses
(``import_districts``, ``save_queue``, ``save_sla_policy``, ``save_rule_set``,
``update_agent_routing``), a jurisdiction with 50 square districts (a 5 x 10 grid), 20 queues,
4 SLA policies, 200 rules and 500 agents spread over the queues with skills and languages,
half of them available. Then:

1. **decision** (in process, no database): for 10,000 generated cases, the district lookup
   (``DistrictIndex.containing``) plus ``CompiledRuleSet.decide``, each case timed on its
   own; p50/p95/p99 in microseconds (target: p99 < 1 ms).
2. **end to end** (PostgreSQL, Redis, a real ``contactcenter worker`` subprocess): cases are
   created through the service path (``open_case`` + ``route_case`` + commit, whose
   after-commit hook queues the dispatch job) at a fixed rate (open loop), and each case's
   latency runs from just before ``open_case`` to the moment its offer row is committed
   (visible to everyone): an ``AFTER INSERT`` trigger on ``offers``, added to this database
   only, calls ``pg_notify``, which PostgreSQL delivers at commit, to a listener process.
   The **floor** runs the same shape with nothing in it: one ``INSERT`` + ``COMMIT`` with
   psycopg, one job queued the app's way (``JobRunner.submit``), which the same worker runs
   as one ``SELECT pg_notify(...)`` + commit. Floor and app alternate phase by phase, at
   the same rates; the report gives app/floor ratios (target: app p95 < 100 ms).

Results go to ``bench/results/routing-<time>.json``; the database is dropped and the Redis
database flushed at the end (unless ``--keep``). A ratio benchmark, not a test: exit 0 when
the run worked even if a target is missed (``--enforce``: exit 2), 1 when it broke (cases
never offered, failed jobs).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import platform
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
RESULTS = ROOT / "bench" / "results"
PG = "127.0.0.1:5432"
ADMIN_URL = f"postgresql://postgres@{PG}/postgres"
OFFER_CHANNEL = "bench_routing_offer"
FLOOR_CHANNEL = "bench_routing_floor"

TARGET_DECISION_P99_US = 1000.0
TARGET_E2E_P95_MS = 100.0

# The district grid: COLUMNS x ROWS squares of CELL degrees, south-west corner in Ottawa.
WEST, SOUTH, CELL = -75.95, 45.25, 0.05
COLUMNS, ROWS = 10, 5

# Service types by group, with the department that owns the group.
GROUPS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Streets": ("PW", ("pothole", "streetlight", "sidewalk", "sinkhole", "road-damage")),
    "Waste": ("SAN", ("missed-pickup", "illegal-dumping", "bulky-item", "recycling-bin", "litter")),
    "Water": ("WTR", ("water-main", "sewer-backup", "hydrant", "flooding", "water-quality")),
    "Parks": ("PRK", ("fallen-tree", "park-upkeep", "playground", "park-graffiti", "pruning")),
    "Bylaw": ("BYL", ("noise", "parking", "property", "animal-control", "snow-clearing")),
    "Transit": ("TRN", ("bus-stop", "shelter", "signal-outage", "crosswalk", "bike-lane")),
}
DEPARTMENTS = {
    "311": "3-1-1",
    "EMG": "Emergency coordination",
    **{dept: f"{group} department" for group, (dept, _types) in GROUPS.items()},
}
# (code, department, skills the queue's rules may ask for)
QUEUES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("general", "311", ()),
    ("supervisors", "311", ()),
    ("emergency", "EMG", ("gas", "electrical")),
    ("streets", "PW", ()),
    ("potholes", "PW", ()),
    ("east-yard", "PW", ("snow",)),
    ("waste", "SAN", ()),
    ("recycling", "SAN", ()),
    ("water", "WTR", ("water",)),
    ("sewer", "WTR", ("water",)),
    ("parks", "PRK", ("trees",)),
    ("forestry", "PRK", ("trees",)),
    ("bylaw", "BYL", ("bylaw",)),
    ("animals", "BYL", ("animals",)),
    ("snow", "PW", ("snow",)),
    ("transit", "TRN", ()),
    ("accessibility", "311", ("accessibility",)),
    ("french-line", "311", ()),
    ("spanish-line", "311", ()),
    ("after-hours", "311", ()),
)
GROUP_QUEUES = {
    "Streets": "streets",
    "Waste": "waste",
    "Water": "water",
    "Parks": "parks",
    "Bylaw": "bylaw",
    "Transit": "transit",
}
SLA_POLICIES = ("standard-5d", "urgent-4h", "priority-1d", "info-10d")
KEYWORDS = (
    "gas leak", "smell of gas", "flooding", "needle", "fallen tree", "broken glass",
    "dead animal", "sinkhole", "live wire", "sewage", "injured", "blocked road",
    "fire hydrant", "abandoned car", "no heat", "black ice", "wheelchair", "mould",
)  # fmt: skip
CHANNELS = ("sms", "voice", "webchat", "email", "walk_in")
CHANNEL_WEIGHTS = (50, 20, 15, 10, 5)
LANGUAGES = ("en", "fr", "es")
LANGUAGE_WEIGHTS = (70, 20, 10)
CAPACITY = {"sms": 100, "voice": 100, "webchat": 100, "email": 100, "walk_in": 100}
"""High, so that offers never wait for room: the benchmark measures routing, not staffing."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=10_000, help="decision: generated cases")
    p.add_argument("--rules", type=int, default=200, help="rules in the rule set")
    p.add_argument("--agents", type=int, default=500, help="agents")
    p.add_argument("--available", type=float, default=0.5, help="share of agents available")
    p.add_argument(
        "--phase",
        action="append",
        metavar="RATE:COUNT",
        help="end to end: COUNT cases at RATE cases/s (repeatable; default 5:100 and 20:300)",
    )
    p.add_argument("--warmup", type=int, default=20, help="end to end: unmeasured cases")
    p.add_argument(
        "--dispatch-samples", type=int, default=50, help="dispatch timed alone, in process"
    )
    p.add_argument("--wait", type=float, default=30, help="seconds to wait for the last offers")
    p.add_argument("--workers", type=int, default=1, help="`contactcenter worker` processes")
    p.add_argument(
        "--worker-log-level", default="WARNING", help="LOG_LEVEL of the workers (INFO: every job)"
    )
    p.add_argument("--skip-e2e", action="store_true", help="decision only (no database work)")
    p.add_argument(
        "--redis-db",
        type=int,
        default=12,
        help="Redis database: must be empty (another run's jobs would mix with ours); flushed"
        " at the end",
    )
    p.add_argument("--seed", type=int, default=311)
    p.add_argument("--keep", action="store_true", help="keep the database and Redis data")
    p.add_argument("--enforce", action="store_true", help="exit 2 when a target is missed")
    p.add_argument("--out", type=Path, help="JSON result path (default: bench/results/...)")
    args = p.parse_args(argv)
    try:
        args.phases = [_phase_spec(text) for text in (args.phase or ["5:100", "20:300"])]
    except ValueError as exc:
        p.error(str(exc))
    if not 1 <= args.rules <= 1000 or not 1 <= args.cases <= 1_000_000:
        p.error("--rules must be 1..1000 and --cases 1..1000000")
    if not len(QUEUES) <= args.agents <= 20_000 or not 0 < args.available <= 1:
        p.error(f"--agents must be {len(QUEUES)}..20000 and --available in (0, 1]")
    if not 1 <= args.workers <= 8 or not 0 < args.wait <= 600:
        p.error("--workers must be 1..8 and --wait in (0, 600]")
    return args


def _phase_spec(text: str) -> tuple[float, int]:
    rate, _, count = text.partition(":")
    value = (float(rate), int(count))
    if not (0 < value[0] <= 500 and 1 <= value[1] <= 20_000):
        raise ValueError(f"--phase {text}: RATE must be in (0, 500] and COUNT 1..20000")
    return value


# --- measurement helpers -------------------------------------------------------------------


def percentile(sorted_values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return float("nan")
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def distribution(values: Sequence[float], digits: int = 1) -> dict[str, float]:
    """min/p50/p95/p99/p99.9/max/mean of ``values``; infinities (never happened) sort last."""
    ordered = sorted(values)
    finite = [v for v in ordered if math.isfinite(v)]
    return {
        "count": len(ordered),
        "min": round(ordered[0], digits) if ordered else float("nan"),
        "p50": round(percentile(ordered, 50), digits),
        "p95": round(percentile(ordered, 95), digits),
        "p99": round(percentile(ordered, 99), digits),
        "p99_9": round(percentile(ordered, 99.9), digits),
        "max": round(ordered[-1], digits) if ordered else float("nan"),
        "mean": round(sum(finite) / len(finite), digits) if finite else float("nan"),
    }


def machine_cpu() -> tuple[float, float, float]:
    """(busy, steal, total) jiffies of all cores since boot; busy excludes steal."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values[:8]) - idle - values[7], values[7], sum(values[:8])


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of one process (0 if it is gone)."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = data[data.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its children (a worker's rq scheduler)."""
    total = proc_cpu(pid)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                data = (entry / "stat").read_text()
                if int(data[data.rfind(")") + 2 :].split()[1]) == pid:
                    total += tree_cpu(int(entry.name))
    return total


# --- the world: districts, queues, rules, agents, cases ------------------------------------


def district_code(column: int, row: int) -> str:
    return f"d-{column}-{row}"


def districts_geojson() -> dict[str, Any]:
    """COLUMNS x ROWS squares; neighbours share their edges exactly, as a GIS export has it."""

    def lon(column: int) -> float:
        return round(WEST + column * CELL, 6)

    def lat(row: int) -> float:
        return round(SOUTH + row * CELL, 6)

    features = []
    for column in range(COLUMNS):
        for row in range(ROWS):
            w, e, s, n = lon(column), lon(column + 1), lat(row), lat(row + 1)
            features.append(
                {
                    "type": "Feature",
                    "properties": {
                        "code": district_code(column, row),
                        "name": f"District {column}-{row}",
                    },
                    "geometry": {
                        "type": "Polygon",
                        "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]],
                    },
                }
            )
    return {"type": "FeatureCollection", "features": features}


ALL_DISTRICTS = tuple(district_code(c, r) for c in range(COLUMNS) for r in range(ROWS))
ALL_TYPES = tuple(code for _dept, codes in GROUPS.values() for code in codes)
GROUP_OF = {code: group for group, (_dept, codes) in GROUPS.items() for code in codes}
QUEUE_SKILLS = {code: skills for code, _dept, skills in QUEUES}
QUEUE_DEPARTMENT = {code: dept for code, dept, _skills in QUEUES}
WINDOWS = (
    {"from": "22:00", "to": "06:00"},
    {"from": "17:00", "to": "08:00"},
    {"from": "12:00", "to": "13:00"},
    {"from": "06:00", "to": "09:30"},
)
EXPRESSIONS = (
    'service_group == "Streets" and hour >= 20',
    'priority == "high" and channel == "voice"',
    '"d-0-0" in districts or "d-9-4" in districts',
    'weekday == "sun" and language != "en"',
    'description =~ ".*\\\\b(urgent|asap)\\\\b.*" and channel == "email"',
)


def _when(rng: random.Random) -> dict[str, Any]:
    """Conditions for one rule: selective on their own, or two or three that must all hold."""
    single = ("service_types", "keywords", "districts", "priorities")
    kinds = (
        "service_types", "service_groups", "channels", "languages", "priorities", "keywords",
        "districts", "time_of_day", "days",
    )  # fmt: skip
    chosen = [rng.choice(single)] if rng.random() < 0.35 else rng.sample(kinds, rng.choice((2, 3)))
    when: dict[str, Any] = {}
    for kind in chosen:
        if kind == "service_types":
            when[kind] = rng.sample(ALL_TYPES, rng.randint(1, 2))
        elif kind == "service_groups":
            when[kind] = [rng.choice(tuple(GROUPS))]
        elif kind == "channels":
            when[kind] = rng.sample(CHANNELS, rng.randint(1, 2))
        elif kind == "languages":
            when[kind] = [rng.choice(("fr", "es"))]
        elif kind == "priorities":
            when[kind] = rng.choice((["urgent"], ["high", "urgent"], ["low"]))
        elif kind == "keywords":
            when[kind] = rng.sample(KEYWORDS, rng.randint(1, 3))
        elif kind == "districts":
            when[kind] = rng.sample(ALL_DISTRICTS, rng.randint(1, 4))
        elif kind == "time_of_day":
            when[kind] = dict(rng.choice(WINDOWS))
        else:
            when[kind] = rng.choice((["sat", "sun"], ["mon"], ["fri", "sat"]))
    return when


def _then(rng: random.Random, queue: str) -> dict[str, Any]:
    """Actions sending work to ``queue``; skills only those the queue's agents are given."""
    then: dict[str, Any] = {"department": QUEUE_DEPARTMENT[queue]}
    skills = QUEUE_SKILLS[queue]
    if rng.random() < 0.25:
        then["targets"] = [{"queue": queue, "timeout": 300}, {"queue": "supervisors"}]
    else:
        then["queue"] = queue
    if skills and rng.random() < 0.5:
        then["skills"] = rng.sample(skills, rng.randint(1, len(skills)))
    if rng.random() < 0.2:
        then["priority"] = rng.choice(("high", "urgent", "low"))
    if rng.random() < 0.2:
        then["language"] = "case"
    if rng.random() < 0.3:
        then["sla"] = rng.choice(SLA_POLICIES)
    return then


def make_rule_set(rng: random.Random, count: int) -> dict[str, Any]:
    """``count`` rules, most of which a given case does not meet, and a default.

    Specific rules first (gas leaks, live wires), then a broad mix of two or three
    conditions, a few rule-engine expressions, and last one rule per service group: a typical
    case is checked against most of the list before a rule decides.
    """
    rules: list[dict[str, Any]] = [
        {
            "name": "gas leaks",
            "when": {"keywords": ["gas leak", "smell of gas"]},
            "then": {
                "department": "EMG",
                "targets": [{"queue": "emergency", "timeout": 120}, {"queue": "supervisors"}],
                "priority": "urgent",
                "skills": ["gas"],
                "sla": "urgent-4h",
            },
        },
        {
            "name": "live wires",
            "when": {"keywords": ["live wire"], "service_groups": ["Streets", "Transit"]},
            "then": {"queue": "emergency", "priority": "urgent", "skills": ["electrical"]},
        },
        {
            "name": "French after hours",
            "when": {"languages": ["fr"], "time_of_day": {"from": "20:00", "to": "07:00"}},
            "then": {"queue": "french-line", "language": "fr"},
        },
        {
            "name": "Spanish",
            "when": {"languages": ["es"], "channels": ["voice", "walk_in"]},
            "then": {"queue": "spanish-line", "language": "es"},
        },
    ]
    group_rules = [
        {
            "name": f"{group} by group",
            "when": {"service_groups": [group]},
            "then": {"queue": queue, "department": GROUPS[group][0]},
        }
        for group, queue in GROUP_QUEUES.items()
    ]
    middle = count - len(rules) - len(group_rules)
    queues = [code for code, _dept, _skills in QUEUES if code not in ("general", "supervisors")]
    for index in range(max(0, middle)):
        name = f"rule {index + 1:03d}"
        if index % 40 == 39:
            expression = EXPRESSIONS[(index // 40) % len(EXPRESSIONS)]
            rules.append(
                {"name": name, "when": {"expression": expression}, "then": {"queue": "general"}}
            )
            continue
        rules.append({"name": name, "when": _when(rng), "then": _then(rng, rng.choice(queues))})
    rules.extend(group_rules)
    return {
        "rules": rules[:count],
        "default": {"department": "311", "queue": "general", "sla": "standard-5d"},
    }


@dataclass(frozen=True)
class AgentSpec:
    queues: tuple[str, ...]
    skills: tuple[str, ...]
    languages: tuple[str, ...]
    available: bool


def make_agents(rng: random.Random, count: int, available: float) -> list[AgentSpec]:
    """Agents in one to three queues, with most of their queues' skills; ``available`` of
    them available.

    Every queue gets four available agents with all its skills and all three languages, so
    every routed item has someone to be offered to (a case never offered would measure
    staffing, not routing); the other agents are available at random up to the share.
    """
    queue_codes = [code for code, _dept, _skills in QUEUES]
    covering = {(position * 4 + k) * 7 % count for position in range(len(QUEUES)) for k in range(4)}
    others = [n for n in range(count) if n not in covering]
    wanted = max(0, round(count * available) - len(covering))
    available_set = covering | set(rng.sample(others, min(wanted, len(others))))
    agents: list[AgentSpec] = []
    for n in range(count):
        queues = {rng.choice(queue_codes) for _ in range(rng.randint(1, 3))}
        if rng.random() < 0.3:
            queues.add("general")
        skills = {s for q in queues for s in QUEUE_SKILLS[q] if rng.random() < 0.7}
        languages = ["en"] + [
            code for code, share in (("fr", 0.4), ("es", 0.15)) if rng.random() < share
        ]
        agents.append(
            AgentSpec(
                tuple(sorted(queues)), tuple(sorted(skills)), tuple(languages),
                n in available_set,
            )
        )  # fmt: skip
    for position, code in enumerate(queue_codes):
        for k in range(4):
            n = (position * 4 + k) * 7 % count
            spec = agents[n]
            agents[n] = AgentSpec(
                tuple(sorted({*spec.queues, code})),
                tuple(sorted({*spec.skills, *QUEUE_SKILLS[code]})),
                LANGUAGES,
                True,
            )
    return agents


@dataclass(frozen=True)
class CaseSpec:
    service_type: str | None
    channel: str
    language: str
    priority: str
    description: str
    latitude: float | None
    longitude: float | None
    at: dt.datetime

    @property
    def service_group(self) -> str | None:
        return GROUP_OF[self.service_type] if self.service_type else None


STREETS = ("Main St", "Bank St", "Elgin St", "rue Rideau", "Carling Ave", "Montreal Rd")
OPENINGS = {
    "en": "There is a problem with a {thing} near {street}.",
    "fr": "Il y a un problème de {thing} près de {street}.",
    "es": "Hay un problema con {thing} cerca de {street}.",
}
FILLER = (
    "It has been like this for a few days.",
    "Please send someone soon.",
    "My neighbours noticed it too.",
    "It is getting worse every day, asap please.",
    "",
)


def make_cases(rng: random.Random, count: int, start: dt.datetime) -> list[CaseSpec]:
    """Cases as the intake would route them: mostly classified, mostly located in the grid,
    in three languages over five channels, spread over a week (so clock rules match too)."""
    cases = []
    for _ in range(count):
        service_type = rng.choice(ALL_TYPES) if rng.random() < 0.9 else None
        language = rng.choices(LANGUAGES, LANGUAGE_WEIGHTS)[0]
        thing = (service_type or "something").replace("-", " ")
        text = OPENINGS[language].format(thing=thing, street=rng.choice(STREETS))
        if rng.random() < 0.25:
            text += f" {rng.choice(KEYWORDS).capitalize()}!"
        text += " " + rng.choice(FILLER)
        where = rng.random()
        lat: float | None
        lon: float | None
        if where < 0.9:
            lat = SOUTH + rng.random() * ROWS * CELL
            lon = WEST + rng.random() * COLUMNS * CELL
        elif where < 0.95:
            lat, lon = SOUTH - 0.3 * rng.random(), WEST - 0.3 * rng.random()  # outside the city
        else:
            lat = lon = None  # asked for later
        cases.append(
            CaseSpec(
                service_type=service_type,
                channel=rng.choices(CHANNELS, CHANNEL_WEIGHTS)[0],
                language=language,
                priority=rng.choices(("normal", "high", "urgent", "low"), (85, 8, 2, 5))[0],
                description=text.strip(),
                latitude=lat,
                longitude=lon,
                at=start + dt.timedelta(seconds=rng.uniform(0, 7 * 86_400)),
            )
        )
    return cases


# --- building the jurisdiction -------------------------------------------------------------


def build_world(session: Any, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    """Everything through the admin functions (each validates and bumps the routing version)."""
    from contactcenter.agents.models import Agent, Presence
    from contactcenter.jurisdictions.models import Department, Jurisdiction, ServiceType
    from contactcenter.routing.admin import (
        import_districts,
        save_queue,
        save_rule_set,
        save_sla_policy,
        update_agent_routing,
    )

    jurisdiction = Jurisdiction(
        slug="benchville", name="Benchville", timezone="America/Toronto", country="CA",
        languages=list(LANGUAGES),
    )  # fmt: skip
    session.add(jurisdiction)
    session.flush()
    departments = {
        code: Department(
            jurisdiction_id=jurisdiction.id, code=code, name=name, is_default=code == "311"
        )
        for code, name in DEPARTMENTS.items()
    }
    session.add_all(departments.values())
    session.flush()
    session.add_all(
        ServiceType(
            jurisdiction_id=jurisdiction.id,
            code=code,
            name=code.replace("-", " ").capitalize(),
            group=group,
            department_id=departments[dept].id,
            target_days=5,
            keywords=[code.replace("-", " ")],
        )
        for group, (dept, codes) in GROUPS.items()
        for code in codes
    )
    import_districts(session, jurisdiction, districts_geojson())
    for code, dept, _skills in QUEUES:
        save_queue(
            session, jurisdiction, code, name=code.replace("-", " ").title(), department=dept,
            offer_timeout_seconds=3600, is_default=code == "general",
            is_supervisor=code == "supervisors",
        )  # fmt: skip
    minutes = {"standard-5d": 7200, "urgent-4h": 240, "priority-1d": 1440, "info-10d": 14_400}
    for code in SLA_POLICIES:
        save_sla_policy(
            session, jurisdiction, code, name=code, first_response_minutes=60,
            resolution_minutes=minutes[code], escalate_queue="supervisors",
            is_default=code == "standard-5d",
        )  # fmt: skip
    raw_rules = make_rule_set(rng, args.rules)
    save_rule_set(session, jurisdiction, raw_rules, None)
    specs = make_agents(rng, args.agents, args.available)
    agents = [
        Agent(
            email=f"agent{n}@benchville.example",
            name=f"Agent {n}",
            presence=Presence.AVAILABLE if spec.available else Presence.OFFLINE,
            jurisdictions=[jurisdiction],
        )
        for n, spec in enumerate(specs)
    ]
    session.add_all(agents)
    session.flush()
    for agent, spec in zip(agents, specs, strict=True):
        update_agent_routing(
            session, agent, [jurisdiction.id], skills=list(spec.skills),
            languages=list(spec.languages), capacity=dict(CAPACITY), queues=list(spec.queues),
        )  # fmt: skip
    session.commit()
    conditions = Counter(kind for rule in raw_rules["rules"] for kind in rule.get("when", {}))
    return {
        "jurisdiction_id": jurisdiction.id,
        "districts": COLUMNS * ROWS,
        "queues": len(QUEUES),
        "service_types": len(ALL_TYPES),
        "sla_policies": len(SLA_POLICIES),
        "rules": len(raw_rules["rules"]),
        "rule_conditions": dict(sorted(conditions.items())),
        "agents": len(specs),
        "agents_available": sum(spec.available for spec in specs),
        "agent_queue_memberships": sum(len(spec.queues) for spec in specs),
    }


# --- 1. the decision -----------------------------------------------------------------------


def run_decisions(context: Any, cases: list[CaseSpec], warmup: int) -> dict[str, Any]:
    """Each case timed on its own: district lookup + facts + ``decide``; then each part."""
    from contactcenter.routing.rules import CaseFacts

    rules, index = context.rules, context.districts

    def facts_of(case: CaseSpec, districts: tuple[str, ...]) -> Any:
        return CaseFacts(
            service_type=case.service_type,
            service_group=case.service_group,
            channel=case.channel,
            language=case.language,
            priority=case.priority,
            description=case.description,
            districts=frozenset(districts),
            at=case.at,
        )

    def located(case: CaseSpec) -> tuple[str, ...]:
        if case.latitude is None or case.longitude is None:
            return ()
        found: tuple[str, ...] = index.containing(case.latitude, case.longitude)
        return found

    for case in cases[:warmup]:
        rules.decide(facts_of(case, located(case)))
    clock = time.perf_counter_ns
    whole: list[float] = []
    matched: list[int | None] = []
    for case in cases:
        t0 = clock()
        decision = rules.decide(facts_of(case, located(case)))
        whole.append((clock() - t0) / 1000)
        matched.append(decision.rule_index)
    lookup: list[float] = []
    prepared = []
    for case in cases:
        t0 = clock()
        districts = located(case)
        lookup.append((clock() - t0) / 1000)
        prepared.append(facts_of(case, districts))
    decide: list[float] = []
    for facts in prepared:
        t0 = clock()
        rules.decide(facts)
        decide.append((clock() - t0) / 1000)
    by_rule = [i for i in matched if i is not None]
    return {
        "cases": len(cases),
        "whole_us": distribution(whole, 1),
        "district_lookup_us": distribution(lookup, 1),
        "decide_us": distribution(decide, 1),
        "default_share": round(1 - len(by_rule) / max(1, len(matched)), 3),
        "matched_rule_index_mean": round(sum(by_rule) / len(by_rule), 1) if by_rule else None,
        "distinct_rules_matched": len(set(by_rule)),
        "located_in_a_district": round(
            sum(1 for f in prepared if f.districts) / max(1, len(prepared)), 3
        ),
    }


# --- 2. end to end -------------------------------------------------------------------------


def floor_job(token: str) -> None:
    """The floor's rq job: one trivial statement and a commit, the shape of ``dispatch_job``
    with no work in it. Imported by the worker as ``bench.routing.run.floor_job``."""
    import sqlalchemy as sa

    from contactcenter.db import get_db

    with get_db().session() as session:
        session.execute(sa.select(sa.func.pg_notify(FLOOR_CHANNEL, token)))
        session.commit()


def listen(dsn: str, pipe: Connection) -> None:
    """Listener process: every notification with the wall-clock time it arrived.

    A process of its own, so that the producer's CPU work (it holds the GIL while routing)
    cannot delay the timestamps. Notifications are delivered when the notifying transaction
    commits, so "arrived" is "the row is visible to every session" (plus loopback latency).
    """
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"LISTEN {OFFER_CHANNEL}")
        conn.execute(f"LISTEN {FLOOR_CHANNEL}")
        pipe.send("ready")
        while not pipe.poll():
            for notify in conn.notifies(timeout=0.05):
                pipe.send((notify.channel, notify.payload, time.time()))
    pipe.close()


class Listener:
    """The listener process and a thread collecting what it reports."""

    def __init__(self, dsn: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.pipe, child = context.Pipe()
        self.proc = context.Process(target=listen, args=(dsn, child), daemon=True)
        self.proc.start()
        if not self.pipe.poll(30) or self.pipe.recv() != "ready":
            raise RuntimeError("the listener did not start")
        self.seen: dict[str, dict[str, float]] = {OFFER_CHANNEL: {}, FLOOR_CHANNEL: {}}
        self.duplicates = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._collect, daemon=True)
        self.thread.start()

    def _collect(self) -> None:
        with contextlib.suppress(EOFError, OSError):
            while True:
                channel, payload, at = self.pipe.recv()
                box = self.seen[channel]
                if payload in box:
                    self.duplicates += 1  # a second offer for one item (an expiry, a decline)
                else:
                    box[payload] = at

    def wait_for(self, channel: str, keys: Sequence[str], timeout: float) -> int:
        """Wait until every key has been seen (or the timeout); how many are missing."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            missing = sum(1 for key in keys if key not in self.seen[channel])
            if not missing:
                return 0
            time.sleep(0.05)
        return sum(1 for key in keys if key not in self.seen[channel])

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.pipe.send("stop")
        self.proc.join(timeout=5)
        if self.proc.is_alive():
            self.proc.kill()


class Workers:
    """``contactcenter worker`` processes (jobs run in process, rq's SimpleWorker)."""

    def __init__(self, count: int, env: dict[str, str], stem: str) -> None:
        self.env = env
        self.procs: list[subprocess.Popen[bytes]] = []
        self.logs = [RESULTS / f"{stem}-worker-{i}.log" for i in range(count)]

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
        env.update(self.env)
        command = [str(Path(sys.executable).parent / "contactcenter"), "worker"]
        for path in self.logs:
            with path.open("wb") as log:
                self.procs.append(
                    subprocess.Popen(command, env=env, cwd=ROOT, stdout=log, stderr=log)
                )

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)

    def problems(self) -> list[str]:
        lines: list[str] = []
        for path in self.logs:
            with contextlib.suppress(OSError):
                lines += [
                    line
                    for line in path.read_text(errors="replace").splitlines()
                    if "Traceback" in line or "ERROR" in line or "Exception" in line
                ]
        return lines[:20]


@dataclass
class Sent:
    """One case (or floor round) as the producer saw it; times are wall-clock seconds."""

    key: str
    started: float
    committed: float
    due: float
    case_id: int | None = None
    rule: str | None = None


@dataclass
class Phase:
    name: str
    channel: str
    """The notification channel that says a round is done."""
    rate: float
    sent: list[Sent] = field(default_factory=list)
    missing: int = 0
    cpu_busy_pct: float = 0.0
    cpu_steal_pct: float = 0.0
    other_cpu_pct: float = 0.0
    """Busy CPU that neither this benchmark's processes nor its database backends used."""


TRIGGER_SQL = f"""
CREATE FUNCTION bench_offer_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{OFFER_CHANNEL}', NEW.work_item_id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER bench_offer_notify AFTER INSERT ON offers
    FOR EACH ROW EXECUTE FUNCTION bench_offer_notify();
CREATE TABLE bench_floor (
    id bigserial PRIMARY KEY,
    token text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
"""


class EndToEnd:
    """The producer side: routes cases the service's way, and runs the floor's rounds."""

    def __init__(self, app: Any, jurisdiction_id: int, dsn: str, listener: Listener) -> None:
        import psycopg
        import sqlalchemy as sa

        from contactcenter.db import get_db
        from contactcenter.jurisdictions.models import ServiceType

        self.app = app
        self.db = get_db(app)
        self.jurisdiction_id = jurisdiction_id
        self.listener = listener
        self.floor_conn = psycopg.connect(dsn)
        self.stats_conn = psycopg.connect(dsn, autocommit=True)
        self.worker_pids: list[int] = []
        with self.db.session() as session:
            self.service_type_ids: dict[str, int] = dict(
                session.execute(
                    sa.select(ServiceType.code, ServiceType.id).where(
                        ServiceType.jurisdiction_id == jurisdiction_id
                    )
                ).all()
            )
        sys.path.insert(0, str(ROOT))
        from bench.routing.run import floor_job as importable_floor_job

        self.floor_func = importable_floor_job  # `bench.routing.run.floor_job`, not __main__'s

    def route_one(self, spec: CaseSpec, due: float) -> Sent:
        """One case through the service path: open, route, commit (which queues dispatch)."""
        from contactcenter.cases.service import open_case
        from contactcenter.jurisdictions.models import Jurisdiction, ServiceType
        from contactcenter.messages import Channel
        from contactcenter.routing.service import route_case

        started = time.time()
        with self.db.session() as session:
            jurisdiction = session.get_one(Jurisdiction, self.jurisdiction_id)
            service_type = (
                session.get(ServiceType, self.service_type_ids[spec.service_type])
                if spec.service_type
                else None
            )
            case = open_case(
                session,
                jurisdiction=jurisdiction,
                resident=None,
                channel=Channel(spec.channel),
                description=spec.description,
                service_type=service_type,
                department=None,
                address_text="12 Main St" if spec.latitude is not None else "",
                latitude=spec.latitude,
                longitude=spec.longitude,
                language=spec.language,
            )
            outcome = route_case(session, case)
            session.commit()
            committed = time.time()
            item = outcome.work_item
            key = str(item.id) if item is not None else f"unrouted-{case.id}"
            return Sent(key, started, committed, due, case.id, case.routing_rule)

    def floor_one(self, due: float) -> Sent:
        """The floor: INSERT + COMMIT, then one job queued the way after-commit jobs are."""
        from contactcenter.jobs import PendingJob

        token = secrets.token_hex(8)
        started = time.time()
        with self.floor_conn.cursor() as cursor:
            cursor.execute("INSERT INTO bench_floor (token) VALUES (%s)", (token,))
        self.floor_conn.commit()
        self.app.extensions["jobs"].submit([PendingJob(self.floor_func, (token,), 0)])
        return Sent(token, started, time.time(), due)

    def run_phase(
        self,
        name: str,
        channel: str,
        rate: float,
        count: int,
        make: Callable[[int, float], Sent],
        wait: float,
    ) -> Phase:
        """Open loop: item i is due at start + i/rate whatever happened before it."""
        phase = Phase(name, channel, rate)
        ours0 = self.our_cpu()
        busy0, steal0, total0 = machine_cpu()
        start = time.time() + 0.05
        for i in range(count):
            due = start + i / rate
            delay = due - time.time()
            if delay > 0:
                time.sleep(delay)
            phase.sent.append(make(i, due))
        phase.missing = self.listener.wait_for(channel, [s.key for s in phase.sent], wait)
        busy1, steal1, total1 = machine_cpu()
        ours = self.our_cpu() - ours0
        span = max(1, total1 - total0)
        tick = os.sysconf("SC_CLK_TCK")
        phase.cpu_busy_pct = round(100 * (busy1 - busy0) / span, 1)
        phase.cpu_steal_pct = round(100 * (steal1 - steal0) / span, 1)
        phase.other_cpu_pct = round(
            100 * max(0.0, (busy1 - busy0) / tick - ours) / (span / tick), 1
        )
        return phase

    def our_cpu(self) -> float:
        """CPU seconds of this process, the listener, the workers and this database's
        PostgreSQL backends: the rest of the machine's CPU is someone else's."""
        pids = [os.getpid(), self.listener.proc.pid or 0, *self.worker_pids]
        backends = self.stats_conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()"
        ).fetchall()
        return sum(tree_cpu(pid) for pid in pids) + sum(proc_cpu(pid) for (pid,) in backends)

    def close(self) -> None:
        self.floor_conn.close()
        self.stats_conn.close()


def time_dispatch(e2e: EndToEnd, specs: list[CaseSpec]) -> dict[str, Any]:
    """``dispatch`` alone, in this process, each time with one routed case waiting: what the
    dispatch job costs inside the worker without rq around it, and how many SQL statements.

    Runs with the workers stopped; the jobs the routing commits queue stay in Redis, which is
    flushed at the end.
    """
    import sqlalchemy as sa

    from contactcenter.routing.work import dispatch

    counted = [0]

    def count(*_args: Any) -> None:
        counted[0] += 1

    engine = e2e.db.engine
    times: list[float] = []
    statements: list[int] = []
    offered = 0
    for spec in specs:
        e2e.route_one(spec, time.time())
        counted[0] = 0
        sa.event.listen(engine, "before_cursor_execute", count)
        t0 = time.perf_counter()
        with e2e.db.session() as session:
            offered += len(dispatch(session, e2e.jurisdiction_id))
            session.commit()
        times.append((time.perf_counter() - t0) * 1000)
        sa.event.remove(engine, "before_cursor_execute", count)
        statements.append(counted[0])
    return {
        "samples": len(specs),
        "offers_made": offered,
        "dispatch_ms": distribution(times, 2),
        "statements_p50": sorted(statements)[len(statements) // 2] if statements else None,
    }


def summarize_phase(phase: Phase, seen: dict[str, float], wait: float) -> dict[str, Any]:
    """Latencies in ms; a case never offered counts as slower than every other one."""
    total, producer, after_commit, late = [], [], [], []
    for sent in phase.sent:
        arrived = seen.get(sent.key)
        total.append((arrived - sent.started) * 1000 if arrived else math.inf)
        producer.append((sent.committed - sent.started) * 1000)
        after_commit.append((arrived - sent.committed) * 1000 if arrived else math.inf)
        late.append(max(0.0, sent.started - sent.due) * 1000)
    rules = Counter(sent.rule for sent in phase.sent if sent.rule is not None)
    return {
        "name": phase.name,
        "rate": phase.rate,
        "count": len(phase.sent),
        "never_seen": phase.missing,
        "wait_s": wait,
        "latency_ms": distribution(total, 2),
        "until_commit_ms": distribution(producer, 2),
        "commit_to_visible_ms": distribution(after_commit, 2),
        "producer_late_ms": distribution(late, 2),
        "cpu_busy_pct": phase.cpu_busy_pct,
        "cpu_steal_pct": phase.cpu_steal_pct,
        "other_cpu_pct": phase.other_cpu_pct,
        **({"default_share": round(rules.get("default", 0) / len(phase.sent), 3)} if rules else {}),
    }


def offer_stamps(dsn: str, case_ids: list[int]) -> dict[str, float]:
    """offers.created_at - cases.created_at (ms) as the database records them.

    ``dispatch`` stamps its offers with the time it *started*, before its lock, its queries
    and its commit, so this understates the wait a case sees; it is even negative when a
    dispatch that started before the case was created picked the case up. Shown to compare.
    """
    import psycopg

    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT EXTRACT(EPOCH FROM (o.created_at - c.created_at)) * 1000"
            " FROM cases c JOIN work_items w ON w.case_id = c.id"
            " JOIN offers o ON o.work_item_id = w.id WHERE c.id = ANY(%s)",
            (case_ids,),
        ).fetchall()
    gaps = [float(r[0]) for r in rows]
    return {**distribution(gaps, 2), "offers_stamped_before_their_case": sum(g < 0 for g in gaps)}


def run_end_to_end(
    args: argparse.Namespace, app: Any, world: dict[str, Any], db_name: str, redis_url: str
) -> dict[str, Any]:
    import psycopg
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry

    dsn = f"postgresql://postgres@{PG}/{db_name}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(TRIGGER_SQL)
        conn.execute("ANALYZE")  # planner statistics, as a database in service has them
    listener = Listener(dsn)
    workers = Workers(
        args.workers,
        {
            "APP_ENV": "development",
            "DATABASE_URL": f"postgresql+psycopg://postgres@{PG}/{db_name}",
            "REDIS_URL": redis_url,
            "LOG_LEVEL": args.worker_log_level,
            "PYTHONPATH": str(ROOT),
            "PYTHONDONTWRITEBYTECODE": "1",
        },
        args.stem,
    )
    e2e = EndToEnd(app, world["jurisdiction_id"], dsn, listener)
    rng = random.Random(args.seed + 1)
    try:
        workers.start()
        e2e.worker_pids = [proc.pid for proc in workers.procs]
        needed = args.warmup + sum(n for _r, n in args.phases) + args.dispatch_samples
        pool = make_cases(rng, needed, dt.datetime.now(dt.UTC))
        specs = iter(pool)

        def route(_i: int, due: float) -> Sent:
            return e2e.route_one(next(specs), due)

        def floor(_i: int, due: float) -> Sent:
            return e2e.floor_one(due)

        print(f"end to end: {args.workers} worker(s) started; warm-up ...", flush=True)
        warm = [
            e2e.run_phase("warm-up floor", FLOOR_CHANNEL, 10, args.warmup, floor, 60),
            e2e.run_phase("warm-up app", OFFER_CHANNEL, 10, args.warmup, route, 60),
        ]
        if any(p.missing for p in warm):
            raise RuntimeError(
                f"warm-up: no offer/notification for {[p.missing for p in warm]} rounds; see"
                f" {workers.logs[0]}"
            )
        phases: list[dict[str, Any]] = []
        for rate, count in args.phases:
            for name, channel, make in (
                (f"floor @{rate:g}/s", FLOOR_CHANNEL, floor),
                (f"app @{rate:g}/s", OFFER_CHANNEL, route),
            ):
                phase = e2e.run_phase(name, channel, rate, count, make, args.wait)
                summary = summarize_phase(phase, listener.seen[channel], args.wait)
                if make is route:
                    ids = [s.case_id for s in phase.sent if s.case_id is not None]
                    summary["db_offer_minus_case_created_ms"] = offer_stamps(dsn, ids)
                phases.append(summary)
                lat = summary["latency_ms"]
                print(
                    f"  {name:16} {summary['count']:5} sent  p50 {lat['p50']:8.2f} ms"
                    f"  p95 {lat['p95']:8.2f} ms  p99 {lat['p99']:8.2f} ms"
                    f"  max {lat['max']:8.2f} ms  never seen {summary['never_seen']}"
                    f"  (CPU busy {summary['cpu_busy_pct']}%, steal {summary['cpu_steal_pct']}%,"
                    f" other {summary['other_cpu_pct']}%)",
                    flush=True,
                )
        rds = Redis.from_url(redis_url)
        failed = sum(
            FailedJobRegistry(queue=Queue(name, connection=rds)).count
            for name in ("default", "outbound")
        )
        problems = workers.problems()
        workers.stop()  # from here on, dispatch runs here only
        alone = time_dispatch(e2e, [next(specs) for _ in range(args.dispatch_samples)])
        print(
            f"  dispatch alone (in process, one waiting item): p50 {alone['dispatch_ms']['p50']}"
            f" ms, p95 {alone['dispatch_ms']['p95']} ms, {alone['statements_p50']} statements",
            flush=True,
        )
        ratios = []
        for rate, _count in args.phases:
            floor_s = next(p for p in phases if p["name"] == f"floor @{rate:g}/s")
            app_s = next(p for p in phases if p["name"] == f"app @{rate:g}/s")
            ratios.append(
                {
                    "rate": rate,
                    **{
                        f"{key}_ratio": round(
                            app_s["latency_ms"][key] / max(1e-9, floor_s["latency_ms"][key]), 2
                        )
                        for key in ("p50", "p95", "p99")
                    },
                    "p95_ok": app_s["latency_ms"]["p95"] < TARGET_E2E_P95_MS,
                }
            )
        return {
            "phases": phases,
            "ratios": ratios,
            "warmup": [summarize_phase(p, listener.seen[p.channel], 60) for p in warm],
            "failed_jobs": failed,
            "second_offers_for_an_item": listener.duplicates,
            "worker_log_problems": problems,
            "worker_logs": [str(path.relative_to(ROOT)) for path in workers.logs],
            "dispatch_alone": alone,
            "worker_command": "contactcenter worker",
            "workers": args.workers,
        }
    finally:
        e2e.close()
        workers.stop()
        listener.stop()


# --- bookkeeping ---------------------------------------------------------------------------


def machine_info() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "loadavg_at_start": os.getloadavg(),
    }


def versions() -> dict[str, str]:
    from importlib.metadata import version

    out = {}
    for name in ("sqlalchemy", "psycopg", "rq", "redis", "shapely", "rule-engine", "flask"):
        with contextlib.suppress(Exception):
            out[name] = version(name)
    return out


def git(*command: str) -> str:
    with contextlib.suppress(Exception):
        return subprocess.run(
            ["git", *command], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    return ""


def print_report(result: dict[str, Any]) -> None:
    d = result["decision"]
    w = result["world"]
    print()
    print(
        f"ROUTING - {w['rules']} rules, {w['districts']} districts, {w['queues']} queues,"
        f" {w['agents']} agents ({w['agents_available']} available)"
    )
    print(
        f"decision, {d['cases']:,} cases (district lookup + facts + decide, each timed):"
        f" p50 {d['whole_us']['p50']} us, p95 {d['whole_us']['p95']} us,"
        f" p99 {d['whole_us']['p99']} us, max {d['whole_us']['max']} us"
        f"   (target p99 < {TARGET_DECISION_P99_US:g} us)"
        f"  {'PASS' if d['whole_us']['p99'] < TARGET_DECISION_P99_US else 'MISS'}"
    )
    print(
        f"  district lookup p50/p99 {d['district_lookup_us']['p50']}/"
        f"{d['district_lookup_us']['p99']} us; decide p50/p99 {d['decide_us']['p50']}/"
        f"{d['decide_us']['p99']} us; default for {100 * d['default_share']:.1f} % of cases,"
        f" else rule #{d['matched_rule_index_mean']} on average"
        f" ({d['distinct_rules_matched']} distinct rules matched)"
    )
    e2e = result.get("end_to_end")
    if e2e:
        print()
        print(
            "end to end, case created -> offer committed (floor: INSERT+COMMIT -> rq job"
            " -> notify):"
        )
        print(
            f"  {'phase':16}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}"
            f"{'to commit':>11}{'after':>9}{'unseen':>8}{'busy %':>8}{'other %':>9}"
        )
        for p in e2e["phases"]:
            lat = p["latency_ms"]
            print(
                f"  {p['name']:16}{p['count']:>6}{lat['p50']:>10.2f}{lat['p95']:>10.2f}"
                f"{lat['p99']:>10.2f}{lat['max']:>10.2f}{p['until_commit_ms']['p50']:>11.2f}"
                f"{p['commit_to_visible_ms']['p50']:>9.2f}{p['never_seen']:>8}"
                f"{p['cpu_busy_pct']:>8}{p['other_cpu_pct']:>9}"
            )
        for r in e2e["ratios"]:
            print(
                f"  ratio app/floor @{r['rate']:g}/s: p50 {r['p50_ratio']}x, p95 {r['p95_ratio']}x,"
                f" p99 {r['p99_ratio']}x;  app p95 target < {TARGET_E2E_P95_MS:g} ms:"
                f" {'PASS' if r['p95_ok'] else 'MISS'}"
            )
        alone = e2e["dispatch_alone"]
        print(
            f"  dispatch alone, in process, one case waiting ({alone['samples']} samples):"
            f" p50 {alone['dispatch_ms']['p50']} ms, p95 {alone['dispatch_ms']['p95']} ms,"
            f" {alone['statements_p50']} SQL statements"
        )
        early = sum(
            p["db_offer_minus_case_created_ms"]["offers_stamped_before_their_case"]
            for p in e2e["phases"]
            if "db_offer_minus_case_created_ms" in p
        )
        print(f"  offers whose created_at is earlier than their case's created_at: {early}")
        print(
            f"  failed jobs {e2e['failed_jobs']}, second offers {e2e['second_offers_for_an_item']},"
            f" worker log problems {len(e2e['worker_log_problems'])}"
        )
    print(f"results: {result['path']}")


# --- main ----------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    RESULTS.mkdir(parents=True, exist_ok=True)
    started_at = dt.datetime.now(dt.UTC)
    db_name = f"bench_routing_{os.getpid()}"
    url = f"postgresql+psycopg://postgres@{PG}/{db_name}"
    redis_url = f"redis://127.0.0.1:6379/{args.redis_db}"
    args.stem = f"routing-{started_at:%Y%m%dT%H%M%SZ}"

    import psycopg
    from redis import Redis

    from contactcenter import migrate
    from contactcenter.app import create_app
    from contactcenter.config import Settings
    from contactcenter.db import get_db
    from contactcenter.jurisdictions.models import Jurisdiction
    from contactcenter.routing.context import routing_context

    rds = Redis.from_url(redis_url)
    if rds.dbsize():
        # A test run or another benchmark is using it: its workers would run our jobs against
        # its database (and ours its jobs against ours), and flushing would break its run.
        print(
            f"Redis database {args.redis_db} is not empty ({rds.dbsize()} keys): someone is using"
            " it; choose another with --redis-db",
            file=sys.stderr,
        )
        return 1
    admin = psycopg.connect(ADMIN_URL, autocommit=True)
    app = None
    try:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db_name}"')
        migrate.upgrade(url)
        app = create_app(
            Settings(
                app_env="development", database_url=url, redis_url=redis_url, log_level="WARNING"
            )
        )
        rng = random.Random(args.seed)
        with app.app_context():
            t0 = time.perf_counter()
            with get_db(app).session() as session:
                world = build_world(session, args, rng)
            world["build_seconds"] = round(time.perf_counter() - t0, 1)
            print(
                f"built {db_name}: {world['rules']} rules, {world['districts']} districts,"
                f" {world['queues']} queues, {world['agents']} agents in"
                f" {world['build_seconds']} s",
                flush=True,
            )
            with get_db(app).session() as session:
                jurisdiction = session.get_one(Jurisdiction, world["jurisdiction_id"])
                t0 = time.perf_counter()
                context = routing_context(session, jurisdiction)
                world["context_build_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            cases = make_cases(rng, args.cases, dt.datetime(2026, 6, 8, tzinfo=dt.UTC))
            decision = run_decisions(context, cases, warmup=min(500, args.cases))
            whole = decision["whole_us"]
            print(
                f"decision: p50 {whole['p50']} us, p95 {whole['p95']} us, p99 {whole['p99']} us",
                flush=True,
            )
            end_to_end = (
                {} if args.skip_e2e else run_end_to_end(args, app, world, db_name, redis_url)
            )
        out = args.out or RESULTS / f"{args.stem}.json"
        result = {
            "benchmark": "routing",
            "started_at": started_at.isoformat(timespec="seconds"),
            "git_commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted_app_changes": git(
                "status", "--porcelain", "--", "contactcenter", "migrations"
            ).splitlines(),
            "command": " ".join([".venv/bin/python", "bench/routing/run.py", *sys.argv[1:]]),
            "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "machine": machine_info(),
            "versions": versions(),
            "world": world,
            "decision": decision,
            "end_to_end": end_to_end,
            "path": str(out.relative_to(ROOT) if out.is_relative_to(ROOT) else out),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        print_report(result)
        broken = bool(end_to_end) and (
            end_to_end["failed_jobs"] > 0 or any(p["never_seen"] for p in end_to_end["phases"])
        )
        missed = whole["p99"] >= TARGET_DECISION_P99_US or not all(
            r["p95_ok"] for r in end_to_end.get("ratios", [])
        )
        if broken:
            return 1
        return 2 if args.enforce and missed else 0
    finally:
        if app is not None:
            get_db(app).engine.dispose()
        if not args.keep:
            with contextlib.suppress(Exception):
                admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            with contextlib.suppress(Exception):
                rds.flushdb()
        admin.close()


if __name__ == "__main__":
    sys.exit(main())
