"""The performance screens: the supervisors' dashboard, the director's scorecard, the
drill-down from any figure to the cases behind it, and their CSV exports.

Each page reads one service (:mod:`contactcenter.performance.dashboard` or
:mod:`~contactcenter.performance.drilldown`) and renders its figures as tables, so everything is
there without JavaScript; ``dashboard.js`` draws the charts from the same figures (embedded as
JSON) and reloads the figures in place when a control changes. Every figure links to its
drill-down; the CSV exports are console routes (the staff API wants a bearer token, the console
a session) streaming :mod:`~contactcenter.performance.exports`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from flask import Response, render_template, request, stream_with_context, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from contactcenter.agents.models import Role
from contactcenter.auth import current_agent, staff_jurisdiction
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.console.performance_display import Figure, figure, number, show
from contactcenter.console.performance_params import (
    DIMENSIONS,
    DRILL_FIGURES,
    GRAIN_LABELS,
    NONE,
    PRESETS,
    Period,
    parse_channels,
    parse_dimension,
    parse_drill_filters,
    parse_figure,
    parse_grain,
    parse_interval,
    parse_page,
    parse_period,
    parse_queue_ids,
)
from contactcenter.console.views import label, local_time
from contactcenter.db import get_db, get_session, utcnow
from contactcenter.errors import Invalid, NotFound
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.messages import Channel
from contactcenter.performance.dashboard import (
    SATISFIED_GOAL,
    WITHIN_TARGET_GOAL,
    director_scorecard,
    supervisor_dashboard,
)
from contactcenter.performance.drilldown import FIGURES as DRILL_DEFINITIONS
from contactcenter.performance.drilldown import DrilldownError, DrilldownRow, drilldown
from contactcenter.performance.exports import cases_csv, contacts_csv, interactions_csv
from contactcenter.performance.figures import CHANNEL_LABELS, local_today
from contactcenter.performance.period import Period as Days
from contactcenter.performance.period import close_time_caveats
from contactcenter.performance.targets import DEFAULT_TARGETS
from contactcenter.routing.models import Queue
from contactcenter.surveys.figures import SURVEY_DEFINITIONS

CHART_JS = "vendor/chart-4.6.1.umd.min.js"
PER_PAGE = 50
MAX_CHART_ROWS = 20
DEFINITION_ALIASES = {
    "p90_days": "median_days",
    "reopen_rate": "rates",
    "sat_average": "satisfaction",
    "sat_responses": "satisfaction",
    "sat_satisfied_rate": "satisfaction",
    "declined": "offers",
    "timed_out": "offers",
}
"""Figures whose definition is written under another name (one text defines both)."""
CHANNELS = frozenset(channel.value for channel in Channel)
MAX_QUEUES = 500
EXPORTS: dict[str, Callable[[Session, Jurisdiction, dt.date, dt.date], Iterator[str]]] = {
    "cases": cases_csv,
    "contacts": contacts_csv,
    "interactions": interactions_csv,
}


def _jurisdiction_or_choices(page: str) -> Jurisdiction | ResponseReturnValue:
    """The jurisdiction asked for, or the page asking a supervisor of several which one."""
    try:
        return staff_jurisdiction(get_session(), request.args.get("jurisdiction"))
    except Invalid:
        choices = sorted(current_agent().jurisdictions, key=lambda j: j.name)
        return render_template(
            "console/performance_pick.html", active=page, choices=choices, endpoint=page
        )


def _today(jurisdiction: Jurisdiction) -> dt.date:
    return local_today(jurisdiction, utcnow())


def _queues(jurisdiction: Jurisdiction) -> dict[int, str]:
    rows = get_session().execute(
        sa.select(Queue.id, Queue.name)
        .where(Queue.jurisdiction_id == jurisdiction.id)
        .order_by(Queue.name, Queue.id)
        .limit(MAX_QUEUES)
    )
    return {queue_id: name for queue_id, name in rows}


def _definitions(data: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """The definitions of each section's figures (contacts, agents, service, surveys), each
    also under the names of the figures it covers (``p90_days`` under ``median_days``...)."""
    given = _dict(data.get("definitions"))
    surveys = _dict(_dict(_dict(data.get("satisfaction")).get("current")).get("definitions"))
    sections = {
        "contacts": _dict(given.get("contacts")),
        "agents": _dict(given.get("agents")),
        "service": _dict(given.get("service")),
        "surveys": surveys or dict(SURVEY_DEFINITIONS),
    }
    for section in sections.values():
        for name, covered_by in DEFINITION_ALIASES.items():
            if name not in section and covered_by in section:
                section[name] = section[covered_by]
    return sections


def _dict(value: object) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _drill_url(
    figure_name: str, jurisdiction: Jurisdiction, start: dt.date, end: dt.date, **filters: Any
) -> str:
    """The drill-down of ``figure_name``; a filter given a list (several queues or channels,
    as the figures take them) is repeated in the address, one value each."""
    params: dict[str, Any] = {
        "figure": figure_name,
        "jurisdiction": jurisdiction.slug,
        "range": "custom",
        "from": start.isoformat(),
        "to": end.isoformat(),
    }
    params.update(
        (name, value) for name, value in filters.items() if value not in (None, "", [], ())
    )
    return url_for("console.performance_cases", **params)


def _with_period_caveats(figures: list[Figure], start: dt.date, end: dt.date) -> list[Figure]:
    """Service figures as they can honestly be compared with the previous period's.

    The median and 90th percentile come from monthly histograms: they are written as "over
    <months>" when the period is not whole months, and the previous period's is not shown
    when it reads the same months (it would be the same number). The backlog is the cases
    open now, whatever the period: the previous period has none of its own ("—").
    """
    period = Days(start, end)
    note, comparable = close_time_caveats(period, period.previous())
    shown: list[Figure] = []
    for f in figures:
        if f.key in ("median_days", "p90_days"):
            f = dataclasses.replace(f, note=note, previous=f.previous if comparable else None)
        elif f.key == "backlog":
            f = dataclasses.replace(f, previous=None)
        shown.append(f)
    return shown


# --- Supervisor dashboard ---------------------------------------------------------------------


def _contact_figures(
    now: Mapping[str, Any],
    before: Mapping[str, Any],
    definitions: Mapping[str, str],
    sl_target: float | None,
) -> list[Figure]:
    def f(key: str, label: str, unit: Any, **kw: Any) -> Figure:
        return figure(key, label, unit, now, before, definitions, **kw)

    return [
        f("offered", "Offered", "count", drill="offered"),
        f("answered", "Answered", "count", higher_is_better=True, drill="answered"),
        f("abandoned", "Abandoned", "count", higher_is_better=False, drill="abandoned"),
        f("abandonment_rate", "Abandonment rate", "percent", higher_is_better=False),
        f(
            "service_level",
            "Service level",
            "percent",
            higher_is_better=True,
            drill="answered_late",
            target=sl_target,
            target_label="target",
        ),
        f("asa_seconds", "Average speed of answer", "seconds", higher_is_better=False),
        f("aht_seconds", "Average handle time", "seconds"),
        f("fcr_rate", "First-contact resolution", "percent", higher_is_better=True),
        f("transfers", "Transfers", "count", higher_is_better=False, drill="transferred"),
        f("callbacks_requested", "Callbacks requested", "count", drill="callbacks"),
        f("callbacks_completed", "Callbacks completed", "count", higher_is_better=True),
        f("self_served", "Self-served in the phone menu", "count", drill="self_served"),
    ]


def _common_percent(targets: Mapping[str, Any], channels: Sequence[str]) -> float | None:
    """The service-level target share the chart's line shows: the one every shown channel
    shares (as a fraction), or None when they differ."""
    shares = {
        number(_dict(target).get("percent"))
        for channel, target in targets.items()
        if not channels or channel in channels
    }
    shares.discard(None)
    if len(shares) != 1:
        return None
    share = shares.pop()
    return share / 100 if share is not None else None


def _series_label(start: str, grain: str) -> str:
    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError:
        return start
    if grain in ("15min", "hour"):
        return moment.strftime("%a %d %b %H:%M")
    if grain == "month":
        return moment.strftime("%b %Y")
    if grain == "week":
        return "Week of " + moment.strftime("%d %b %Y")
    return moment.strftime("%a %d %b %Y")


INTERVAL_LENGTHS = {"15min": dt.timedelta(minutes=15), "hour": dt.timedelta(hours=1)}


def _series_interval(start: str, grain: str) -> dict[str, str]:
    """A 15-minute or hourly interval's bounds for its drill-down (``start_at``/``end_at``,
    UTC), so its row opens exactly its contacts; nothing for whole days, weeks or months."""
    length = INTERVAL_LENGTHS.get(grain)
    if length is None:
        return {}
    try:
        moment = dt.datetime.fromisoformat(start)
    except ValueError:
        return {}
    if moment.utcoffset() is None:
        return {}
    first = moment.astimezone(dt.UTC)
    return {
        "start_at": first.isoformat().replace("+00:00", "Z"),
        "end_at": (first + length).isoformat().replace("+00:00", "Z"),
    }


def _series_days(start: str, grain: str, period: Period) -> tuple[dt.date, dt.date]:
    """The local days an interval covers, clipped to the period (for its drill-down)."""
    try:
        first = dt.date.fromisoformat(start[:10])
    except ValueError:
        return period.start, period.end
    if grain == "week":
        last = first + dt.timedelta(days=6)
    elif grain == "month":
        last = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(days=1)
    else:
        last = first
    return max(first, period.start), min(last, period.end)


def _dashboard_context(
    jurisdiction: Jurisdiction,
    period: Period,
    grain: str,
    queue_ids: list[int],
    channels: list[str],
    queues: dict[int, str],
) -> dict[str, Any]:
    data = supervisor_dashboard(
        get_session(),
        jurisdiction,
        start=period.start,
        end=period.end,
        grain=grain,  # type: ignore[arg-type]
        queue_ids=queue_ids or None,
        channels=channels or None,
    )
    definitions = _definitions(data)
    contacts = _dict(data.get("contacts"))
    current = _dict(contacts.get("current"))
    previous = _dict(contacts.get("previous"))
    now_totals = _dict(current.get("totals"))
    before_totals = _dict(previous.get("totals"))
    targets = _dict(data.get("targets") or current.get("targets")) or {
        channel: target.as_dict() for channel, target in DEFAULT_TARGETS.items()
    }
    sl_target = _common_percent(targets, channels)

    def drill(
        name: str, start: dt.date = period.start, end: dt.date = period.end, **kw: Any
    ) -> str:
        """A contact figure's records, under the queue and channel filters the figures have."""
        base: dict[str, Any] = {"queue": queue_ids, "channel": channels}
        return _drill_url(name, jurisdiction, start, end, **{**base, **kw})

    def case_drill(name: str, **kw: Any) -> str:
        """A figure the queue and channel filters do not narrow (cases, satisfaction, agents):
        its records, unfiltered by them, as the figure counts them."""
        return _drill_url(name, jurisdiction, period.start, period.end, **kw)

    series: list[dict[str, Any]] = []
    for raw in current.get("series") or []:
        start, point = _point(raw)
        first, last = _series_days(start, grain, period)
        interval = _series_interval(start, grain)
        series.append(
            {
                "label": _series_label(start, grain),
                "totals": point,
                "offered_url": drill("offered", first, last, **interval),
                "abandoned_url": drill("abandoned", first, last, **interval),
            }
        )
    by_queue: list[dict[str, Any]] = []
    for queue_id, totals in _breakdown(current.get("by_queue"), "queue_id"):
        number_id = int(queue_id) if str(queue_id).isdigit() else 0
        name = queues.get(number_id) or str(totals.get("name") or "")
        by_queue.append(
            {
                "id": number_id,
                "name": name or ("No queue" if number_id == 0 else f"Queue {number_id}"),
                "totals": totals,
            }
        )
    by_channel = [
        {
            "channel": str(channel),
            "label": CHANNEL_LABELS.get(Channel(channel), channel)
            if channel in CHANNELS
            else str(channel),
            "totals": totals,
            "target": _dict(targets.get(channel)),
        }
        for channel, totals in _breakdown(current.get("by_channel"), "channel")
    ]
    service = _dict(data.get("service"))
    satisfaction = _dict(data.get("satisfaction"))
    chart = {
        "labels": [point["label"] for point in series],
        "offered": [_dict(p["totals"]).get("offered") for p in series],
        "answered": [_dict(p["totals"]).get("answered") for p in series],
        "abandoned": [_dict(p["totals"]).get("abandoned") for p in series],
        "service_level": [_percent(_dict(p["totals"]).get("service_level")) for p in series],
        "service_level_target": _percent(sl_target),
        "drill": [p["offered_url"] for p in series],
        "queues": {
            "labels": [row["name"] for row in by_queue],
            "offered": [row["totals"].get("offered") for row in by_queue],
            "abandoned": [row["totals"].get("abandoned") for row in by_queue],
            "drill": [drill("offered", queue=row["id"]) if row["id"] else None for row in by_queue],
        },
    }
    return {
        "data": data,
        "definitions": definitions,
        "figures": _contact_figures(now_totals, before_totals, definitions["contacts"], sl_target),
        "service_figures": _with_period_caveats(
            _service_headline(
                _dict(service.get("current")),
                _dict(service.get("previous")),
                definitions["service"],
                within_target_goal=WITHIN_TARGET_GOAL,
            ),
            period.start,
            period.end,
        ),
        "satisfaction_figures": _satisfaction_figures(
            _dict(satisfaction.get("current")),
            _dict(satisfaction.get("previous")),
            _dict(service.get("current")),
            _dict(service.get("previous")),
            definitions,
            SATISFIED_GOAL,
        ),
        "series": series,
        "by_queue": by_queue,
        "by_channel": by_channel,
        "agents": [_dict(agent) for agent in data.get("agents") or []],
        "previous_period": _dict(data.get("previous_period")),
        "chart": chart,
        "drill": drill,
        "case_drill": case_drill,
    }


def _breakdown(raw: object, key: str) -> list[tuple[Any, dict[str, Any]]]:
    """A breakdown, ``[{key: ..., **totals}]`` or ``{value: totals}``, as (value, totals)."""
    if isinstance(raw, Mapping):
        return [(value, _dict(totals)) for value, totals in raw.items()]
    if isinstance(raw, list | tuple):
        return [(_dict(row).get(key), _dict(row)) for row in raw]
    return []


def _point(raw: object) -> tuple[str, dict[str, Any]]:
    """A series point, ``{"start": ..., **totals}``, ``{"start": ..., "totals": {...}}`` or
    ``[start, totals]``, as its start and its totals."""
    if isinstance(raw, list | tuple) and len(raw) == 2:
        return str(raw[0]), _dict(raw[1])
    point = _dict(raw)
    return str(point.get("start", "")), _dict(point.get("totals")) or point


def _triple(raw: object, names: tuple[str, ...]) -> tuple[Any, ...]:
    """``raw`` (a sequence, or a mapping with ``names``) as a tuple in the order of ``names``."""
    if isinstance(raw, list | tuple):
        return tuple(raw[: len(names)])
    point = _dict(raw)
    return tuple(point.get(name) for name in names)


def _percent(value: object) -> float | None:
    amount = number(value)
    return None if amount is None else round(amount * 100, 1)


def _service_headline(
    now: Mapping[str, Any],
    before: Mapping[str, Any],
    definitions: Mapping[str, str],
    *,
    within_target_goal: float | None = None,
) -> list[Figure]:
    def f(key: str, label: str, unit: Any, **kw: Any) -> Figure:
        return figure(key, label, unit, now, before, definitions, **kw)

    return [
        f("opened", "Cases opened", "count", drill="opened"),
        f("closed", "Cases closed", "count", higher_is_better=True, drill="closed"),
        f("backlog", "Backlog (open now)", "count", higher_is_better=False, drill="backlog"),
        f(
            "within_target_rate",
            "Closed within target",
            "percent",
            higher_is_better=True,
            drill="closed_late",
            target=within_target_goal,
            target_label="goal",
        ),
        f("median_days", "Median time to close", "days", higher_is_better=False),
        f("p90_days", "90th percentile time to close", "days", higher_is_better=False),
        f("sla_breached", "SLA breaches", "count", higher_is_better=False, drill="sla_breached"),
        f("reopen_rate", "Reopen rate", "percent", higher_is_better=False, drill="reopened"),
        f("duplicates", "Duplicates", "count", drill="duplicates"),
    ]


def _satisfaction_figures(
    surveys_now: Mapping[str, Any],
    surveys_before: Mapping[str, Any],
    service_now: Mapping[str, Any],
    service_before: Mapping[str, Any],
    definitions: Mapping[str, Mapping[str, str]],
    satisfied_goal: float | None = None,
) -> list[Figure]:
    def f(key: str, label: str, unit: Any, **kw: Any) -> Figure:
        return figure(key, label, unit, surveys_now, surveys_before, definitions["surveys"], **kw)

    def closed(key: str, label: str, unit: Any, **kw: Any) -> Figure:
        return figure(key, label, unit, service_now, service_before, definitions["service"], **kw)

    # Surveys: those sent in the period. Satisfaction: the answers of the cases closed in the
    # period (the rollup's), whose records are the drill-down "rated".
    return [
        f("sent", "Surveys sent", "count", drill="surveyed"),
        f("answered", "Surveys answered", "count", higher_is_better=True),
        f("response_rate", "Response rate", "percent", higher_is_better=True),
        closed("sat_responses", "Answers (cases closed)", "count", drill="rated"),
        closed("sat_average", "Average score", "score", higher_is_better=True, drill="rated"),
        closed(
            "sat_satisfied_rate",
            "Satisfied (4 or 5 of 5)",
            "percent",
            higher_is_better=True,
            drill="rated",
            target=satisfied_goal,
            target_label="goal",
        ),
    ]


def _controls(
    jurisdiction: Jurisdiction, period: Period, endpoint: str, **extra: Any
) -> dict[str, Any]:
    return {
        "jurisdiction": jurisdiction,
        "period": period,
        "presets": PRESETS,
        "grains": GRAIN_LABELS,
        "channel_choices": [(c.value, CHANNEL_LABELS.get(c, c.value)) for c in Channel],
        "chart_js": url_for("public.static", filename=CHART_JS),
        "page_url": url_for(endpoint),
        "fmt": show,
        **extra,
    }


@bp.get("/performance")
@login_required(Role.SUPERVISOR)
def performance_page() -> ResponseReturnValue:
    """Contact-center figures of one jurisdiction: by interval, queue, channel and agent."""
    chosen = _jurisdiction_or_choices("console.performance_page")
    if not isinstance(chosen, Jurisdiction):
        return chosen
    jurisdiction = chosen
    period = parse_period(request.args, _today(jurisdiction), default="today")
    grain = parse_grain(request.args.get("grain"), period)
    queue_ids = parse_queue_ids(request.args)
    channels = parse_channels(request.args)
    queues = _queues(jurisdiction)
    unknown = [queue_id for queue_id in queue_ids if queue_id not in queues]
    if unknown:
        raise NotFound("No such queue.", code="queue_not_found")
    context = _dashboard_context(jurisdiction, period, grain, queue_ids, channels, queues)
    export_params: dict[str, Any] = {"jurisdiction": jurisdiction.slug, **period.as_dates()}
    return render_template(
        "console/performance.html",
        active="performance",
        runs_to_now=period.end >= _today(jurisdiction),
        grain=grain,
        queue_ids=queue_ids,
        channels=channels,
        queues=queues,
        exports={
            kind: url_for("console.performance_export", kind=kind, **export_params)
            for kind in EXPORTS
        },
        **_controls(jurisdiction, period, "console.performance_page"),
        **context,
    )


# --- Director's scorecard ---------------------------------------------------------------------


def _service_row_figures(
    now: Mapping[str, Any], before: Mapping[str, Any], definitions: Mapping[str, str]
) -> list[Figure]:
    def f(key: str, label: str, unit: Any, **kw: Any) -> Figure:
        return figure(key, label, unit, now, before, definitions, **kw)

    return [
        f("opened", "Opened", "count", drill="opened"),
        f("closed", "Closed", "count", higher_is_better=True, drill="closed"),
        f("backlog", "Backlog", "count", higher_is_better=False, drill="backlog"),
        f("median_days", "Median days", "days", higher_is_better=False),
        f("p90_days", "90th pct. days", "days", higher_is_better=False),
        f(
            "within_target_rate",
            "Within target",
            "percent",
            higher_is_better=True,
            drill="closed_late",
        ),
        f("sla_breached", "SLA breaches", "count", higher_is_better=False, drill="sla_breached"),
        f("reopen_rate", "Reopen rate", "percent", higher_is_better=False, drill="reopened"),
        f("duplicates", "Duplicates", "count", drill="duplicates"),
        f("sat_average", "Satisfaction", "score", higher_is_better=True, drill="rated"),
    ]


@bp.get("/scorecard")
@login_required(Role.SUPERVISOR)
def scorecard_page() -> ResponseReturnValue:
    """Service delivery by department, service type or district, with satisfaction and the
    contact center's headline, against the previous period and the targets."""
    chosen = _jurisdiction_or_choices("console.scorecard_page")
    if not isinstance(chosen, Jurisdiction):
        return chosen
    jurisdiction = chosen
    period = parse_period(request.args, _today(jurisdiction), default="last30")
    dimension = parse_dimension(request.args.get("dimension"))
    data = director_scorecard(
        get_session(), jurisdiction, start=period.start, end=period.end, dimension=dimension
    )
    definitions = _definitions(data)
    goals = _dict(data.get("targets"))
    service = _dict(data.get("service"))
    current = _dict(service.get("current"))
    now_totals = _dict(current.get("totals"))
    before_totals = _dict(service.get("previous"))
    rows: list[dict[str, Any]] = []
    for raw in data.get("rows") or []:
        row = _dict(raw)
        value = str(row.get("value") or "")
        rows.append(
            {
                "value": value,
                "drill_value": value or NONE,
                "label": str(row.get("label") or value or "Not known"),
                "figures": _with_period_caveats(
                    _service_row_figures(
                        _dict(row.get("current")),
                        _dict(row.get("previous")),
                        definitions["service"],
                    ),
                    period.start,
                    period.end,
                ),
            }
        )
    satisfaction = _dict(data.get("satisfaction"))
    contacts = _dict(data.get("contacts"))
    trend = [_triple(point, ("day", "opened", "closed")) for point in current.get("trend") or []]
    backlog = [_triple(item, ("label", "open")) for item in current.get("backlog_by_age") or []]
    shown = rows[:MAX_CHART_ROWS]
    chart = {
        "rows": {
            "labels": [row["label"] for row in shown],
            "opened": [row["figures"][0].value for row in shown],
            "closed": [row["figures"][1].value for row in shown],
            "within_target": [_percent(row["figures"][5].value) for row in shown],
            "within_target_goal": _percent(goals.get("within_target_rate")),
            "drill": [
                _drill_url(
                    "opened",
                    jurisdiction,
                    period.start,
                    period.end,
                    **{dimension: row["drill_value"]},
                )
                for row in shown
            ],
        },
        "trend": {
            "labels": [str(day) for day, _, _ in trend],
            "opened": [opened for _, opened, _ in trend],
            "closed": [closed for _, _, closed in trend],
        },
        "backlog": {
            "labels": [str(name) for name, _ in backlog],
            "open": [cases for _, cases in backlog],
        },
    }
    return render_template(
        "console/scorecard.html",
        active="scorecard",
        data=data,
        dimension=dimension,
        dimensions=DIMENSIONS,
        totals=_with_period_caveats(
            _service_row_figures(now_totals, before_totals, definitions["service"]),
            period.start,
            period.end,
        ),
        headline_service=_with_period_caveats(
            _service_headline(
                now_totals,
                before_totals,
                definitions["service"],
                within_target_goal=number(goals.get("within_target_rate")),
            ),
            period.start,
            period.end,
        ),
        rows=rows,
        satisfaction_figures=_satisfaction_figures(
            _dict(satisfaction.get("current")),
            _dict(satisfaction.get("previous")),
            now_totals,
            before_totals,
            definitions,
            number(goals.get("sat_satisfied_rate")),
        ),
        distribution=_dict(_dict(satisfaction.get("current")).get("distribution")),
        contact_figures=[
            shown_figure
            for shown_figure in _contact_figures(
                _dict(contacts.get("current")),
                _dict(contacts.get("previous")),
                definitions["contacts"],
                None,
            )
            if shown_figure.key in _dict(contacts.get("current"))
        ],
        previous_period=_dict(data.get("previous_period")),
        chart=chart,
        drill=lambda name, **kw: _drill_url(name, jurisdiction, period.start, period.end, **kw),
        **_controls(jurisdiction, period, "console.scorecard_page"),
    )


# --- Drill-down -------------------------------------------------------------------------------

CASE_COLUMNS = (
    ("service_type", "Service type"),
    ("department", "Department"),
    ("district", "District"),
    ("status", "Status"),
    ("channel", "Channel"),
    ("agent", "Agent"),
    ("created_at", "Created"),
    ("due_at", "Due"),
    ("finished_at", "Closed"),
)
CONTACT_COLUMNS = (
    ("channel", "Channel"),
    ("queue", "Queue"),
    ("status", "State"),
    ("agent", "Agent"),
    ("created_at", "Arrived"),
    ("answered_at", "Answered"),
    ("wait_seconds", "Waited"),
    ("handle_seconds", "Handled for"),
    ("service_type", "Service type"),
)
CALL_COLUMNS = (
    ("queue", "Queue"),
    ("status", "Outcome"),
    ("agent", "Agent"),
    ("created_at", "Called"),
    ("answered_at", "Answered"),
    ("wait_seconds", "Waited"),
    ("handle_seconds", "Talked for"),
    ("service_type", "Service type"),
)
COLUMNS_BY_KIND = {"case": CASE_COLUMNS, "contact": CONTACT_COLUMNS, "call": CALL_COLUMNS}
NAMED_FILTERS = ("queue", "department", "service_type", "agent")


def _cell(row: DrilldownRow, column: str, timezone: str) -> str:
    value = getattr(row, column)
    if value is None or value == "":
        return "—"
    if isinstance(value, dt.datetime):
        return local_time(value, timezone)
    if column.endswith("_seconds"):
        return show(value, "seconds")
    if column == "channel":
        return CHANNEL_LABELS.get(Channel(value), value) if value in CHANNELS else str(value)
    return label(value)


@bp.get("/performance/cases")
@login_required(Role.SUPERVISOR)
def performance_cases() -> ResponseReturnValue:
    """The cases or contacts behind one figure, a page at a time, each linking to its case."""
    jurisdiction = staff_jurisdiction(get_session(), request.args.get("jurisdiction"))
    figure_name = parse_figure(request.args.get("figure"))
    period = parse_period(request.args, _today(jurisdiction), default="today")
    filters = parse_drill_filters(request.args)
    interval = parse_interval(request.args)
    page_number = parse_page(request.args.get("page"))
    try:
        found = drilldown(
            get_session(),
            jurisdiction,
            figure=figure_name,
            start=period.start,
            end=period.end,
            filters={name: ",".join(values) for name, values in filters.items()},
            page=page_number,
            per_page=PER_PAGE,
            start_at=interval.get("start_at"),
            end_at=interval.get("end_at"),
        )
    except DrilldownError as exc:
        raise Invalid(str(exc), fields={exc.field: "invalid"}) from None
    if page_number > found.pages:
        raise NotFound("There is no such page of this list.", code="page_not_found")
    base: dict[str, Any] = {
        "figure": figure_name,
        "jurisdiction": jurisdiction.slug,
        **period.as_dates(),
        **filters,
        **{name: moment.isoformat() for name, moment in interval.items()},
    }
    kind = found.rows[0].kind if found.rows else "case"
    columns = COLUMNS_BY_KIND[kind]
    timezone = jurisdiction.timezone
    named = {
        name: str(getattr(found.rows[0], name))
        for name in NAMED_FILTERS
        if len(filters.get(name, ())) == 1 and found.rows and getattr(found.rows[0], name)
    }
    return render_template(
        "console/performance_cases.html",
        active="performance",
        jurisdiction=jurisdiction,
        figure=figure_name,
        figure_label=DRILL_FIGURES[figure_name],
        fmt=show,
        definition=DRILL_DEFINITIONS.get(figure_name, ""),
        period=period,
        filters={name: named.get(name, ", ".join(values)) for name, values in filters.items()},
        interval={
            name: local_time(moment, jurisdiction.timezone) for name, moment in interval.items()
        },
        found=found,
        headings=[heading for _, heading in columns],
        rows=[
            {
                "case_id": row.case_id,
                "tracking_number": row.tracking_number,
                "id": row.id,
                "cells": [_cell(row, column, timezone) for column, _ in columns],
            }
            for row in found.rows
        ],
        previous_url=url_for("console.performance_cases", **base, page=page_number - 1)
        if page_number > 1
        else None,
        next_url=url_for("console.performance_cases", **base, page=page_number + 1)
        if page_number < found.pages
        else None,
    )


# --- CSV exports ------------------------------------------------------------------------------


@bp.get("/performance/export/<kind>.csv")
@login_required(Role.SUPERVISOR)
def performance_export(kind: str) -> ResponseReturnValue:
    """One row per case, contact or interaction of the period, streamed.

    The body reads through its own session, opened when it starts and closed when it ends
    (as the staff API's exports do), so the request's session does not idle meanwhile.
    """
    writer = EXPORTS.get(kind)
    if writer is None:
        raise NotFound("No such export.", code="export_not_found")
    session = get_session()
    jurisdiction = staff_jurisdiction(session, request.args.get("jurisdiction"))
    period = parse_period(request.args, _today(jurisdiction), default="today")
    jurisdiction_id, slug = jurisdiction.id, jurisdiction.slug
    database = get_db()
    session.close()

    def body() -> Iterator[str]:
        with database.session() as own:
            city = own.get_one(Jurisdiction, jurisdiction_id)
            yield from writer(own, city, period.start, period.end)

    name = f"{slug}-{kind}-{period.start}-to-{period.end}.csv"
    response = Response(stream_with_context(body()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
