"""The supervisors' staffing page (``/console/staffing``): forecast against actual, the agents
each half-hour needs, and a one-off Erlang C calculator.

Everything is rendered on the server from two GET forms, so the page works without
JavaScript; ``staffing.js`` only draws the chart (the vendored Chart.js, served by the public
blueprint) from the same figures, embedded as JSON. The plan's form and the calculator's carry
each other's values in hidden fields, so using one keeps what the other shows.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from flask import render_template, request, url_for
from flask.typing import ResponseReturnValue

from contactcenter.agents.models import Role
from contactcenter.auth import current_agent, staff_jurisdiction
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session, utcnow
from contactcenter.errors import Invalid
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance import erlang
from contactcenter.performance.figures import CHANNEL_LABELS, local_today
from contactcenter.performance.forecast import DEFINITIONS as FORECAST_DEFINITIONS
from contactcenter.performance.forecast import FIRST_DAY, LAST_DAY, MAX_WEEKS
from contactcenter.performance.staffing import (
    DEFAULT_MAX_OCCUPANCY,
    DEFAULT_SHRINKAGE,
    DEFINITIONS,
    StaffingPlan,
    StaffingRow,
    staffing_plan,
    week_start,
)
from contactcenter.performance.targets import MAX_TARGET_SECONDS, service_target
from contactcenter.routing.models import Queue

CHART_JS = "vendor/chart-4.6.1.umd.min.js"
MAX_AHT_SECONDS = 7 * 24 * 3600
MAX_CONTACTS = 1_000_000
MAX_QUEUES = 500
CHANNELS = {channel.value: CHANNEL_LABELS.get(channel, channel.value) for channel in Channel}


def _plain(value: float) -> str:
    """1000000 as "1,000,000", 0.5 as "0.5"."""
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


@dataclass(frozen=True)
class Field:
    """One number a form takes: its bounds (``open_low``: the low bound itself is refused)."""

    name: str
    label: str
    low: float
    high: float
    whole: bool = False
    open_low: bool = False
    open_high: bool = False

    def read(self, raw: str) -> float:
        """The value typed, or :class:`ValueError` with a message for the form."""
        try:
            value = float(raw)
        except ValueError:
            raise ValueError(f"{self.label}: enter a number.") from None
        if not math.isfinite(value):
            raise ValueError(f"{self.label}: enter a number.")
        if self.whole and value != int(value):
            raise ValueError(f"{self.label}: enter a whole number.")
        too_low = value <= self.low if self.open_low else value < self.low
        too_high = value >= self.high if self.open_high else value > self.high
        if too_low or too_high:
            low = "more than" if self.open_low else "at least"
            high = "less than" if self.open_high else "at most"
            raise ValueError(
                f"{self.label}: {low} {_plain(self.low)} and {high} {_plain(self.high)}."
            )
        return value


PLAN_FIELDS = {
    f.name: f
    for f in (
        Field("weeks", "Weeks", 1, MAX_WEEKS, whole=True),
        Field("aht_seconds", "Handle time (s)", 0, MAX_AHT_SECONDS, open_low=True),
        Field("target_seconds", "Target time (s)", 0, MAX_TARGET_SECONDS, whole=True),
        Field("target_percent", "Target share (%)", 1, 99, whole=True),
        Field("max_occupancy", "Maximum occupancy (%)", 0, 100, open_low=True),
        Field("shrinkage", "Shrinkage (%)", 0, 100, open_high=True),
    )
}
CALC_FIELDS = {
    f.name: f
    for f in (
        Field("contacts", "Contacts", 0, MAX_CONTACTS),
        Field("interval_minutes", "In minutes", 1, 24 * 60, whole=True),
        Field("calc_aht", "Handle time (s)", 0, MAX_AHT_SECONDS, open_low=True),
        Field("calc_target_seconds", "Target time (s)", 0, MAX_TARGET_SECONDS),
        Field("calc_target_percent", "Target share (%)", 0, 100, open_low=True, open_high=True),
        Field("calc_max_occupancy", "Maximum occupancy (%)", 0, 100, open_low=True),
        Field("calc_shrinkage", "Shrinkage (%)", 0, 100, open_high=True),
    )
}
CALC_DEFAULTS = {
    "interval_minutes": "30",
    "calc_aht": "180",
    "calc_target_seconds": "20",
    "calc_target_percent": "80",
    "calc_max_occupancy": "85",
    "calc_shrinkage": "30",
}
PLAN_DEFAULTS = {
    "weeks": "2",
    "max_occupancy": f"{DEFAULT_MAX_OCCUPANCY * 100:g}",
    "shrinkage": f"{DEFAULT_SHRINKAGE * 100:g}",
}


def _numbers(
    args: Mapping[str, str], fields: Mapping[str, Field], errors: dict[str, str]
) -> dict[str, float]:
    """The fields filled in, read; each refusal's message in ``errors`` by field."""
    values: dict[str, float] = {}
    for name, spec in fields.items():
        raw = args.get(name, "").strip()
        if not raw:
            continue
        try:
            values[name] = spec.read(raw)
        except ValueError as exc:
            errors[name] = str(exc)
    return values


def _day(raw: str, errors: dict[str, str]) -> dt.date | None:
    if not raw.strip():
        return None
    try:
        day = dt.date.fromisoformat(raw.strip())
    except ValueError:
        errors["start"] = "First day: enter a date (YYYY-MM-DD)."
        return None
    if not FIRST_DAY <= day <= LAST_DAY:
        errors["start"] = f"First day: between {FIRST_DAY} and {LAST_DAY}."
        return None
    return day


@dataclass
class DaySummary:
    """One local day of the plan: its contacts and the most agents any half-hour needs."""

    day: dt.date
    forecast: float
    actual: int | None
    peak_agents: int
    peak_scheduled: int
    scheduled_hours: float
    rows: list[StaffingRow]


def _days(plan: StaffingPlan) -> list[DaySummary]:
    days: dict[dt.date, DaySummary] = {}
    for row in plan.rows:
        day = days.get(row.start.date())
        if day is None:
            day = days[row.start.date()] = DaySummary(row.start.date(), 0.0, None, 0, 0, 0.0, [])
        day.rows.append(row)
        day.forecast += row.forecast
        if row.actual is not None:
            day.actual = (day.actual or 0) + row.actual
        day.peak_agents = max(day.peak_agents, row.staffing.agents)
        day.peak_scheduled = max(day.peak_scheduled, row.staffing.scheduled_agents)
        day.scheduled_hours += row.staffing.scheduled_agents / 2
    return list(days.values())


def _chart(plan: StaffingPlan) -> dict[str, Any]:
    """What ``staffing.js`` draws: the same figures as the tables."""
    return {
        "labels": [row.start.strftime("%a %d %b %H:%M") for row in plan.rows],
        "forecast": [row.forecast for row in plan.rows],
        "actual": [row.actual for row in plan.rows],
        "scheduled": [row.staffing.scheduled_agents for row in plan.rows],
    }


def _calculator(args: Mapping[str, str]) -> dict[str, Any]:
    """The one-off calculation, when its form was sent: the result and a few agents either
    side, or the messages saying what to correct."""
    errors: dict[str, str] = {}
    values = _numbers(args, CALC_FIELDS, errors)
    if "contacts" not in values and "contacts" not in errors:
        return {"errors": errors, "result": None, "around": []}
    if errors:
        return {"errors": errors, "result": None, "around": []}
    read = {name: values.get(name, float(CALC_DEFAULTS.get(name, "0"))) for name in CALC_FIELDS}
    try:
        result = erlang.staffing(
            contacts=read["contacts"],
            interval_seconds=int(read["interval_minutes"]) * 60,
            aht_seconds=read["calc_aht"],
            target_seconds=read["calc_target_seconds"],
            target_percent=read["calc_target_percent"],
            max_occupancy=read["calc_max_occupancy"] / 100,
            shrinkage=read["calc_shrinkage"] / 100,
        )
    except ValueError as exc:
        return {"errors": {"contacts": str(exc)}, "result": None, "around": []}
    around = []
    traffic = result.traffic_erlangs
    aht, target = read["calc_aht"], read["calc_target_seconds"]
    for agents in range(max(1, result.agents - 3), result.agents + 3):
        around.append(
            {
                "agents": agents,
                "service_level": erlang.service_level(traffic, agents, aht, target),
                "probability_waiting": erlang.erlang_c(traffic, agents),
                "asa_seconds": erlang.average_speed_of_answer(traffic, agents, aht),
                "occupancy": min(1.0, traffic / agents),
                "chosen": agents == result.agents,
            }
        )
    return {"errors": {}, "result": result, "around": around}


def _percent(value: float | None, places: int = 1) -> str:
    return "—" if value is None else f"{value * 100:.{places}f} %"


def _seconds(value: float) -> str:
    return "never" if math.isinf(value) else f"{value:,.1f} s"


@bp.get("/staffing")
@login_required(Role.SUPERVISOR)
def staffing_page() -> ResponseReturnValue:
    """The plan for one channel of one jurisdiction; a supervisor of several first picks."""
    session = get_session()
    try:
        jurisdiction = staff_jurisdiction(session, request.args.get("jurisdiction"))
    except Invalid:
        choices = sorted(current_agent().jurisdictions, key=lambda j: j.name)
        return render_template("console/staffing.html", active="staffing", choices=choices)
    return _render(jurisdiction)


def _render(jurisdiction: Jurisdiction) -> ResponseReturnValue:
    args = {key: value[:64] for key, value in request.args.items()}
    errors: dict[str, str] = {}
    channel = args.get("channel") or Channel.VOICE.value
    if channel not in CHANNELS:
        errors["channel"] = "Channel: choose one from the list."
        channel = Channel.VOICE.value
    queues = (
        get_session()
        .scalars(
            sa.select(Queue)
            .where(Queue.jurisdiction_id == jurisdiction.id)
            .order_by(Queue.name, Queue.id)
            .limit(MAX_QUEUES)
        )
        .all()
    )
    queue = None
    if args.get("queue"):
        queue = next((q for q in queues if str(q.id) == args["queue"]), None)
        if queue is None:
            errors["queue"] = "Queue: choose one from the list."
    today = local_today(jurisdiction, utcnow())
    start = _day(args.get("start", ""), errors) or week_start(today)
    values = _numbers(args, PLAN_FIELDS, errors)
    target = service_target(None if queue is None else queue.service_targets, channel)
    plan = None
    if not errors:
        try:
            plan = staffing_plan(
                get_session(),
                jurisdiction,
                channel=channel,
                start=start,
                weeks=int(values.get("weeks", float(PLAN_DEFAULTS["weeks"]))),
                aht_seconds=values.get("aht_seconds"),
                target_seconds=values.get("target_seconds"),
                target_percent=values.get("target_percent"),
                max_occupancy=values.get("max_occupancy", DEFAULT_MAX_OCCUPANCY * 100) / 100,
                shrinkage=values.get("shrinkage", DEFAULT_SHRINKAGE * 100) / 100,
                queue=queue,
            )
        except ValueError as exc:
            errors["plan"] = str(exc)
    days = _days(plan) if plan is not None else []
    calculator = _calculator(args)
    form = {**PLAN_DEFAULTS, **CALC_DEFAULTS, **args, "channel": channel}
    form["start"] = args.get("start") or start.isoformat()
    status = 400 if errors or calculator["errors"] else 200
    return render_template(
        "console/staffing.html",
        active="staffing",
        jurisdiction=jurisdiction,
        channels=CHANNELS,
        channel=channel,
        queues=queues,
        queue=queue,
        channel_target=target,
        form=form,
        plan_fields=list(PLAN_FIELDS),
        calc_fields=list(CALC_FIELDS),
        errors=errors,
        plan=plan,
        days=days,
        open_day=today if any(d.day == today for d in days) else (days[0].day if days else None),
        chart=_chart(plan) if plan is not None else None,
        calculator=calculator,
        definitions={**FORECAST_DEFINITIONS, **DEFINITIONS},
        percent=_percent,
        seconds=_seconds,
        chart_js=url_for("public.static", filename=CHART_JS),
    ), status
