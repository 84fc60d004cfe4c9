"""What the description says of the staff API (``/api/v1``) beyond its rules.

Request bodies and query strings are the pydantic models the handlers validate with (their JSON
Schemas are generated); responses are described from the serializers in
:mod:`contactcenter.api.serializers` and its siblings: each shape's keys and types, loosely
enough that a new key does not make the description wrong.
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Rule

from contactcenter.agents.models import Role
from contactcenter.api import call_views, department_views, incident_views, open311_views, schemas
from contactcenter.api import performance_forecast_views as forecast_views
from contactcenter.api import performance_views as pv
from contactcenter.api import routing_schemas as rs
from contactcenter.chats.settings import ChatSettings
from contactcenter.jurisdictions.settings import DetectionSettings
from contactcenter.openapi.spec import Operation
from contactcenter.surveys.settings import SurveySettings

REF = "#/components/schemas/{}"

TAGS = [
    {"name": "auth", "description": "Bearer tokens and who holds them."},
    {"name": "cases", "description": "Cases: list, read, status, notes, replies, duplicates."},
    {"name": "routing", "description": "Rules, districts, queues, calendars, SLA policies."},
    {"name": "agents", "description": "Agents' routing profile and presence."},
    {"name": "work", "description": "Offers and work items of the signed-in agent."},
    {"name": "calls", "description": "Calls and the call-centre figures."},
    {"name": "incidents", "description": "Bursts of similar reports."},
    {"name": "settings", "description": "Per-jurisdiction settings."},
    {"name": "mail", "description": "Quarantined inbound mail."},
    {"name": "ivr", "description": "The voice menu."},
    {"name": "voice", "description": "Browser phone tokens."},
    {"name": "residents", "description": "Residents' routing flags."},
    {"name": "open311-admin", "description": "Open311 client keys and service attributes."},
    {"name": "exports", "description": "Cases for open-data portals."},
    {
        "name": "performance",
        "description": "Supervisors' figures: dashboard, scorecard, the records behind a figure, "
        "CSV of the period's records, forecast and staffing.",
    },
    {"name": "meta", "description": "This description."},
]


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(name)}


def _null(kind: str | list[str]) -> dict[str, Any]:
    kinds = [kind] if isinstance(kind, str) else kind
    return {"type": [*kinds, "null"]}


def _obj(required: tuple[str, ...] = (), /, **properties: Any) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _data(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return _obj(("data",), data=schema, **extra)


def _list(name: str, **extra: Any) -> dict[str, Any]:
    return _data({"type": "array", "items": ref(name)}, **extra)


STR = {"type": "string"}
INT = {"type": "integer"}
BOOL = {"type": "boolean"}
TIME = {"type": ["string", "null"], "format": "date-time"}
STRS = {"type": "array", "items": STR}
ANY_OBJECT = {"type": "object", "additionalProperties": True}

SHAPES: dict[str, Any] = {
    "Agent": _obj(
        ("id", "name", "role"),
        id=INT,
        name=STR,
        email=STR,
        role=STR,
        languages=STRS,
        jurisdictions=STRS,
    ),
    "AgentProfile": {
        "allOf": [
            ref("Agent"),
            _obj(
                skills=STRS,
                capacity={"type": "object", "additionalProperties": INT},
                presence=STR,
                presence_since=TIME,
                queues=STRS,
                departments=STRS,
                phone=_null("string"),
                voice_device=_null("string"),
            ),
        ]
    },
    "CaseSummary": _obj(
        ("id", "tracking_number", "jurisdiction", "status"),
        id=INT,
        tracking_number=STR,
        jurisdiction=STR,
        status=STR,
        priority=STR,
        service_type=_null("object"),
        department=_null("object"),
        assigned_agent=_null("object"),
        origin_channel=STR,
        language=_null("string"),
        description=_null("string"),
        address=_null("string"),
        latitude=_null("number"),
        longitude=_null("number"),
        awaiting=_null("string"),
        routing_rule=_null("string"),
        duplicate_status=_null("string"),
        duplicate_of_id=_null("integer"),
        incident_id=_null("integer"),
        due_at=TIME,
        created_at=TIME,
        updated_at=TIME,
        resolved_at=TIME,
        closed_at=TIME,
    ),
    "CaseDetail": {
        "allOf": [
            ref("CaseSummary"),
            _obj(
                sla=_null("object"),
                resident=_null("object"),
                interactions={"type": "array", "items": ref("Interaction")},
                events={"type": "array", "items": ref("CaseEvent")},
            ),
        ]
    },
    "DuplicateCase": {
        "allOf": [ref("CaseSummary"), _obj(duplicate_of=_null("string"))],
    },
    "CaseEvent": _obj(
        ("id", "kind"),
        id=INT,
        kind=STR,
        actor=_null("string"),
        agent_id=_null("integer"),
        data=_null("object"),
        created_at=TIME,
    ),
    "Interaction": _obj(
        ("id", "channel", "direction"),
        id=INT,
        channel=STR,
        direction=STR,
        body=_null("string"),
        delivery_status=STR,
        created_at=TIME,
    ),
    "WorkItem": _obj(
        ("id", "case_id", "state"),
        id=INT,
        case_id=INT,
        kind=STR,
        channel=STR,
        queue=STR,
        priority=INT,
        state=STR,
        agent_id=_null("integer"),
        created_at=TIME,
        assigned_at=TIME,
        completed_at=TIME,
    ),
    "Offer": _obj(
        ("id", "state", "work"), id=INT, state=STR, expires_at=TIME, work=ref("WorkItem")
    ),
    "Queue": _obj(
        ("code", "name"),
        code=STR,
        name=STR,
        department=_null("string"),
        strategy=STR,
        offer_timeout_seconds=INT,
        is_default=BOOL,
        is_supervisor=BOOL,
        service_targets={
            "type": "object",
            "description": "Every channel's service-level target in force: the queue's own "
            '(`"source": "queue"`) or the default (`"default"`).',
            "additionalProperties": _obj(
                ("seconds", "percent", "source"),
                seconds=INT,
                percent=INT,
                source={"type": "string", "enum": ["queue", "default"]},
            ),
        },
        oldest_waiting_at=TIME,
    ),
    "Department": _obj(
        ("code", "name", "is_default", "head_email"),
        code=STR,
        name=STR,
        is_default=BOOL,
        head_email={"type": "string", "description": 'Receives the weekly summary; "" none.'},
    ),
    "District": _obj(
        ("code", "name"),
        code=STR,
        name=STR,
        layer=_null("string"),
        bbox={"type": "array", "items": {"type": "number"}},
    ),
    "Calendar": _obj(("code", "name", "config"), code=STR, name=STR, config=ANY_OBJECT),
    "SlaPolicy": _obj(
        ("code", "name"),
        code=STR,
        name=STR,
        calendar=_null("string"),
        first_response_minutes=_null("integer"),
        resolution_minutes=_null("integer"),
        warn_percent=INT,
        escalate_priority=_null("string"),
        is_default=BOOL,
    ),
    "Call": _obj(
        ("id", "jurisdiction", "direction", "outcome"),
        id=INT,
        call_sid=STR,
        jurisdiction=STR,
        direction=STR,
        outcome=STR,
        case=_null("object"),
        created_at=TIME,
        wait_seconds=_null("integer"),
        recording_url=_null("string"),
    ),
    "CallSummary": _obj(
        ("jurisdiction", "since", "until", "total"),
        jurisdiction=STR,
        since=STR,
        until=STR,
        total=INT,
        by_outcome={"type": "object", "additionalProperties": INT},
        abandoned_rate=_null("number"),
    ),
    "Incident": _obj(
        ("id", "status"),
        id=INT,
        status=STR,
        service_type=_null("object"),
        case_count=INT,
        announcement=_null("string"),
    ),
    "QuarantinedMail": _obj(
        ("id", "state", "raw_url"),
        id=INT,
        jurisdiction=STR,
        state=STR,
        size=INT,
        error=_null("string"),
        received_at=STR,
        raw_url=STR,
    ),
    "Open311Client": _obj(
        ("id", "name", "key_prefix"),
        id=INT,
        jurisdiction=_null("string"),
        name=STR,
        contact_email=STR,
        key_prefix=STR,
        requests_per_minute=INT,
        created_at=TIME,
        last_used_at=TIME,
        revoked_at=TIME,
    ),
    "ServiceAttributes": _obj(
        ("jurisdiction", "service_type", "data"),
        jurisdiction=STR,
        service_type=STR,
        data={"type": "array", "items": ref("ServiceAttribute")},
    ),
    "ServiceAttribute": _obj(
        ("code", "datatype"),
        code=STR,
        datatype=STR,
        description=STR,
        variable=BOOL,
        required=BOOL,
        order=INT,
        datatype_description=STR,
        values={"type": "array", "items": _obj(key=STR, name=STR)},
    ),
    "IvrMenuVersion": _obj(("version",), version=INT, created_at=STR, created_by=_null("integer")),
    "IvrMenu": {
        "allOf": [ref("IvrMenuVersion"), _obj(definition=ANY_OBJECT, source=STR)],
    },
}

JURISDICTION = {
    "name": "jurisdiction",
    "in": "query",
    "required": False,
    "description": "The jurisdiction's slug; may be left out by staff of a single one.",
    "schema": {"type": "string", "maxLength": 64},
}

EXPORT_WINDOW = (
    JURISDICTION,
    {
        "name": "from",
        "in": "query",
        "description": "First day (the jurisdiction's local date), inclusive.",
        "schema": {"type": "string", "format": "date"},
    },
    {
        "name": "to",
        "in": "query",
        "description": "Last day, inclusive.",
        "schema": {"type": "string", "format": "date"},
    },
)

MENU_BODY = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source"],
    "properties": {"source": {"type": "string", "description": "The menu file, YAML or JSON."}},
}
MENU_YAML = ("application/yaml", {"type": "string"})


def _partial(model: Any) -> dict[str, Any]:
    """``model``'s fields, none required and each nullable (``null`` resets it): a PATCH."""
    schema = model.model_json_schema()
    properties = {
        name: {"anyOf": [{k: v for k, v in prop.items() if k != "title"}, {"type": "null"}]}
        for name, prop in schema.get("properties", {}).items()
    }
    return {"type": "object", "additionalProperties": False, "properties": properties}


_J = (JURISDICTION,)

PERFORMANCE_REPORT = _obj(
    ("jurisdiction", "period", "previous_period", "definitions"),
    jurisdiction=STR,
    timezone=STR,
    period=ANY_OBJECT,
    previous_period=ANY_OBJECT,
    contacts=ANY_OBJECT,
    service=ANY_OBJECT,
    satisfaction=ANY_OBJECT,
    targets=ANY_OBJECT,
    definitions=ANY_OBJECT,
)
"""The dashboard's and the scorecard's common keys (see contactcenter.performance.dashboard)."""

_NUMBER = {"type": "number"}
_DAY = {"type": ["string", "null"], "format": "date"}
_DEFINITIONS = {"type": "object", "additionalProperties": STR}
FORECAST = _obj(
    ("points", "definitions"),
    channel=_null("string"),
    queue_id=_null("integer"),
    measure=STR,
    profile=STR,
    start=_DAY,
    end=_DAY,
    history_start=_DAY,
    history_end=_DAY,
    weekly_totals={"type": "array", "items": INT},
    trend_per_week=_NUMBER,
    points={
        "type": "array",
        "items": _obj(
            ("start", "forecast", "actual"),
            start={"type": "string", "format": "date-time"},
            forecast=_NUMBER,
            actual=_null("integer"),
        ),
    },
    definitions=_DEFINITIONS,
)
STAFFING_PLAN = _obj(
    ("intervals", "definitions"),
    channel=STR,
    queue_id=_null("integer"),
    measure=STR,
    start=_DAY,
    end=_DAY,
    aht_seconds=_NUMBER,
    aht_source={"type": "string", "enum": ["given", "history", "default"]},
    target=_obj(("seconds", "percent"), seconds=INT, percent=INT),
    max_occupancy=_NUMBER,
    shrinkage=_NUMBER,
    intervals={
        "type": "array",
        "items": _obj(
            ("start", "forecast", "agents", "scheduled_agents"),
            start={"type": "string", "format": "date-time"},
            forecast=_NUMBER,
            actual=_null("integer"),
            agents=INT,
            scheduled_agents=INT,
            traffic_erlangs=_NUMBER,
            service_level=_NUMBER,
            probability_waiting=_NUMBER,
            asa_seconds=_NUMBER,
            occupancy=_NUMBER,
        ),
    },
    definitions=_DEFINITIONS,
)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("api.create_token", "post"): Operation(
        "Exchange an agent's email and password for a bearer token",
        ("auth",),
        body=schemas.TokenRequest,
        status=201,
        success_description="The token (shown once) and its agent.",
        response=_obj(("token", "agent"), token=STR, agent=ref("Agent")),
        errors=(400, 401),
    ),
    ("api.me", "get"): Operation(
        "The token's agent", ("auth",), response=_obj(("agent",), agent=ref("Agent")), errors=()
    ),
    ("api.cases_index", "get"): Operation(
        "List cases, newest first, filtered",
        ("cases",),
        query=schemas.CaseListQuery,
        response=_list("CaseSummary", page=INT, per_page=INT, total=INT),
    ),
    ("api.case_show", "get"): Operation(
        "One case with its interactions, events and SLA clock",
        ("cases",),
        response=_data(ref("CaseDetail")),
        errors=(404,),
    ),
    ("api.case_status", "post"): Operation(
        "Change a case's status (the lifecycle is enforced)",
        ("cases",),
        body=schemas.StatusChange,
        response=_data(ref("CaseSummary"), event=ref("CaseEvent")),
        errors=(400, 404, 409),
    ),
    ("api.case_note", "post"): Operation(
        "Add an internal note",
        ("cases",),
        body=schemas.NoteRequest,
        status=201,
        response=_data(ref("CaseEvent")),
        errors=(400, 404),
    ),
    ("api.case_reply", "post"): Operation(
        "Reply to the resident on the case's channel",
        ("cases",),
        body=schemas.ReplyRequest,
        status=201,
        response=_data(ref("Interaction")),
        errors=(400, 404, 409),
    ),
    ("api.case_waiting", "post"): Operation(
        "Mark the case as waiting on the resident",
        ("cases",),
        response=_data(ref("CaseSummary")),
        errors=(404, 409),
    ),
    ("api.case_duplicate", "post"): Operation(
        "Confirm, reject or make a duplicate link",
        ("cases",),
        body=incident_views.DuplicateAction,
        response=_data(ref("DuplicateCase")),
        errors=(400, 404, 409),
    ),
    ("api.rules_show", "get"): Operation(
        "The routing rules in force",
        ("routing",),
        parameters=_J,
        response=_obj(("data", "version"), data=ANY_OBJECT, version=INT),
        errors=(404,),
    ),
    ("api.rules_save", "put"): Operation(
        "Replace the routing rules (a new version)",
        ("routing",),
        parameters=_J,
        body=ANY_OBJECT,
        response=_obj(("data", "version"), data=ANY_OBJECT, version=INT),
        errors=(400, 404),
    ),
    ("api.routing_dry_run", "post"): Operation(
        "What the rules would decide for a case or hypothetical facts",
        ("routing",),
        parameters=_J,
        body=rs.DryRun,
        response=_data(ANY_OBJECT),
        errors=(400, 404),
    ),
    ("api.districts_index", "get"): Operation(
        "The jurisdiction's districts",
        ("routing",),
        parameters=_J,
        response=_list("District"),
        errors=(404,),
    ),
    ("api.districts_import", "put"): Operation(
        "Replace the districts with a GeoJSON FeatureCollection",
        ("routing",),
        parameters=_J,
        body={"type": "object", "description": "A GeoJSON FeatureCollection."},
        response=_obj(("imported", "codes"), imported=INT, codes=STRS),
        errors=(400, 404, 409),
    ),
    ("api.queues_index", "get"): Operation(
        "Queues with their live figures",
        ("routing",),
        parameters=_J,
        response=_list("Queue"),
        errors=(404,),
    ),
    ("api.queue_save", "put"): Operation(
        "Create or replace a queue (left out, `service_targets` stay as they are)",
        ("routing",),
        parameters=_J,
        body=rs.QueueBody,
        response=_data(ref("Queue")),
        errors=(400, 404, 409),
    ),
    ("api.queue_items", "get"): Operation(
        "Work waiting, offered or assigned in a queue",
        ("routing",),
        parameters=_J,
        response=_list("WorkItem"),
        errors=(404,),
    ),
    ("api.calendars_index", "get"): Operation(
        "Business calendars", ("routing",), parameters=_J, response=_list("Calendar"), errors=(404,)
    ),
    ("api.calendar_save", "put"): Operation(
        "Create or replace a business calendar",
        ("routing",),
        parameters=_J,
        body=rs.CalendarBody,
        response=_data(ref("Calendar")),
        errors=(400, 404, 409),
    ),
    ("api.sla_policies_index", "get"): Operation(
        "SLA policies", ("routing",), parameters=_J, response=_list("SlaPolicy"), errors=(404,)
    ),
    ("api.sla_policy_save", "put"): Operation(
        "Create or replace an SLA policy",
        ("routing",),
        parameters=_J,
        body=rs.SlaPolicyBody,
        response=_data(ref("SlaPolicy")),
        errors=(400, 404, 409),
    ),
    ("api.agents_index", "get"): Operation(
        "Agents of the caller's jurisdictions with their routing profile",
        ("agents",),
        response=_list("AgentProfile"),
        errors=(),
    ),
    ("api.agent_routing", "patch"): Operation(
        "Change an agent's skills, languages, capacity, queues, departments or phone",
        ("agents",),
        parameters=_J,
        body=rs.AgentRouting,
        response=_data(ref("AgentProfile")),
        errors=(400, 404),
    ),
    ("api.agent_presence", "put"): Operation(
        "Set an agent's presence (one's own, or any as a supervisor)",
        ("agents",),
        body=rs.PresenceBody,
        response=_data(_obj(("presence", "since"), presence=STR, since=STR)),
        errors=(400, 404),
    ),
    ("api.agent_presence_history", "get"): Operation(
        "An agent's presence and its history",
        ("agents",),
        response=_obj(("presence", "history"), presence=STR, history={"type": "array"}),
        errors=(404,),
    ),
    ("api.my_offers", "get"): Operation(
        "Offers waiting for the caller", ("work",), response=_list("Offer"), errors=()
    ),
    ("api.offer_accept", "post"): Operation(
        "Accept an offer", ("work",), response=_data(ref("WorkItem")), errors=(404, 409)
    ),
    ("api.offer_decline", "post"): Operation(
        "Decline an offer", ("work",), response=_data(ref("WorkItem")), errors=(404, 409)
    ),
    ("api.my_work", "get"): Operation(
        "The caller's assigned work", ("work",), response=_list("WorkItem"), errors=()
    ),
    ("api.work_next", "post"): Operation(
        "Take the next waiting item the caller may take",
        ("work",),
        response=_obj(("data",), data={"anyOf": [ref("WorkItem"), {"type": "null"}]}),
        errors=(409,),
    ),
    ("api.work_complete", "post"): Operation(
        "Complete a work item", ("work",), response=_data(ref("WorkItem")), errors=(404, 409)
    ),
    ("api.resident_flags", "put"): Operation(
        "Replace a resident's routing flags",
        ("residents",),
        body=rs.ResidentFlags,
        response=_data(_obj(("id", "flags"), id=INT, flags=STRS)),
        errors=(400, 404),
    ),
    ("api.calls_index", "get"): Operation(
        "Calls, newest first (keyset pages: pass `next_cursor` as `cursor`)",
        ("calls",),
        query=call_views.CallListQuery,
        response=_list("Call", limit=INT, next_cursor=_null("string")),
        errors=(400, 404),
    ),
    ("api.call_show", "get"): Operation(
        "One call", ("calls",), response=_data(ref("Call")), errors=(404,)
    ),
    ("api.calls_summary", "get"): Operation(
        "The period's call figures (default: the last 24 hours)",
        ("calls",),
        query=call_views.SummaryQuery,
        response=_data(ref("CallSummary")),
        errors=(400, 404),
    ),
    ("api.incidents_index", "get"): Operation(
        "Active incidents", ("incidents",), response=_list("Incident"), errors=()
    ),
    ("api.incident_resolve", "post"): Operation(
        "Resolve an incident", ("incidents",), response=_data(ref("Incident")), errors=(404, 409)
    ),
    ("api.incident_announcement", "put"): Operation(
        "Set what callers hear about an incident",
        ("incidents",),
        body=incident_views.AnnouncementRequest,
        response=_data(ref("Incident")),
        errors=(400, 404),
    ),
    ("api.detection_settings_show", "get"): Operation(
        "Duplicate and incident detection settings",
        ("settings",),
        parameters=_J,
        response=_data(DetectionSettings.model_json_schema(), jurisdiction=STR),
        errors=(404,),
    ),
    ("api.detection_settings_update", "patch"): Operation(
        "Change detection settings (`null` resets one to its default)",
        ("settings",),
        parameters=_J,
        body=_partial(DetectionSettings),
        response=_data(DetectionSettings.model_json_schema(), jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.chat_settings_show", "get"): Operation(
        "Web chat settings",
        ("settings",),
        parameters=_J,
        response=_data(ANY_OBJECT, jurisdiction=STR),
        errors=(404,),
    ),
    ("api.chat_settings_update", "put"): Operation(
        "Replace the web chat settings (allowed origins, hours)",
        ("settings",),
        parameters=_J,
        body=ChatSettings,
        response=_data(ANY_OBJECT, jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.departments_index", "get"): Operation(
        "The jurisdiction's departments and their heads",
        ("settings",),
        parameters=_J,
        response=_list("Department", jurisdiction=STR),
        errors=(404,),
    ),
    ("api.department_update", "patch"): Operation(
        'Name a department\'s head, who gets its weekly summary ("" removes the head)',
        ("settings",),
        parameters=_J,
        body=department_views.DepartmentPatch,
        response=_data(ref("Department"), jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.survey_settings_show", "get"): Operation(
        "Satisfaction survey settings (on or off, and per channel)",
        ("settings",),
        parameters=_J,
        response=_data(SurveySettings.model_json_schema(), jurisdiction=STR),
        errors=(404,),
    ),
    ("api.survey_settings_update", "put"): Operation(
        "Replace the satisfaction survey settings (what is left out is on)",
        ("settings",),
        parameters=_J,
        body=SurveySettings,
        response=_data(SurveySettings.model_json_schema(), jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.mail_quarantine_index", "get"): Operation(
        "Quarantined mail, newest first",
        ("mail",),
        parameters=(
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
            {"name": "cursor", "in": "query", "schema": {"type": "integer", "minimum": 1}},
        ),
        response=_list("QuarantinedMail", limit=INT, next_cursor=_null("string")),
    ),
    ("api.mail_quarantine_raw", "get"): Operation(
        "The quarantined message exactly as received",
        ("mail",),
        response={"type": "string"},
        raw_response="message/rfc822",
        errors=(404,),
    ),
    ("api.mail_quarantine_retry", "post"): Operation(
        "Process a quarantined message again",
        ("mail",),
        response=_data(ref("QuarantinedMail")),
        errors=(404, 503),
    ),
    ("ivr_admin.menu_show", "get"): Operation(
        "The live voice menu",
        ("ivr",),
        parameters=_J,
        response=_data(ref("IvrMenu")),
        errors=(404,),
    ),
    ("ivr_admin.menu_save", "put"): Operation(
        "Load a new voice menu version (refused whole when it has problems)",
        ("ivr",),
        parameters=_J,
        body=MENU_BODY,
        raw_body=MENU_YAML,
        response=_data(ref("IvrMenu")),
        errors=(400, 404),
    ),
    ("ivr_admin.menu_check", "post"): Operation(
        "Check a draft voice menu",
        ("ivr",),
        parameters=_J,
        body=MENU_BODY,
        raw_body=MENU_YAML,
        response=_obj(("ok", "problems"), ok=BOOL, problems={"type": "array"}),
        errors=(400, 404),
    ),
    ("ivr_admin.menu_versions_index", "get"): Operation(
        "Voice menu versions",
        ("ivr",),
        parameters=_J,
        response=_list("IvrMenuVersion"),
        errors=(404,),
    ),
    ("voice_token.token", "get"): Operation(
        "A browser-phone access token for the caller",
        ("voice",),
        response=ANY_OBJECT,
        errors=(503,),
    ),
    ("api.open311_clients_index", "get"): Operation(
        "Open311 clients (their keys are never shown again)",
        ("open311-admin",),
        parameters=_J,
        response=_list("Open311Client"),
        errors=(404,),
    ),
    ("api.open311_clients_create", "post"): Operation(
        "Issue an Open311 client key (in this answer and never again)",
        ("open311-admin",),
        body=open311_views.ClientRequest,
        status=201,
        response=_data(ref("Open311Client"), api_key=STR),
        errors=(400, 404),
    ),
    ("api.open311_clients_revoke", "post"): Operation(
        "Revoke an Open311 client key",
        ("open311-admin",),
        response=_data(ref("Open311Client")),
        errors=(404,),
    ),
    ("api.service_type_attributes_show", "get"): Operation(
        "A service type's Open311 attributes",
        ("open311-admin",),
        parameters=_J,
        response=ref("ServiceAttributes"),
        errors=(404,),
    ),
    ("api.service_type_attributes_replace", "put"): Operation(
        "Replace a service type's Open311 attributes",
        ("open311-admin",),
        parameters=_J,
        body=_obj(
            ("attributes",),
            attributes={"type": "array", "items": ref("ServiceAttribute")},
        )
        | {"additionalProperties": False},
        response=ref("ServiceAttributes"),
        errors=(400, 404),
    ),
    ("api.case_public_media_set", "put"): Operation(
        "Publish a photo URL as the case's media in Open311",
        ("cases",),
        body=open311_views.PublicMediaRequest,
        response=_data(ref("CaseSummary")),
        errors=(400, 404),
    ),
    ("api.case_public_media_clear", "delete"): Operation(
        "Stop publishing the case's media",
        ("cases",),
        response=_data(ref("CaseSummary")),
        errors=(404,),
    ),
    ("api.export_cases_csv", "get"): Operation(
        "Cases as CSV in New York 311's open-data column layout",
        ("exports",),
        parameters=EXPORT_WINDOW,
        response={"type": "string"},
        raw_response="text/csv",
        errors=(400, 404),
    ),
    ("api.export_cases_json", "get"): Operation(
        "Cases as Open311 GeoReport v2 requests (JSON), for open-data portals",
        ("exports",),
        parameters=(
            *EXPORT_WINDOW,
            {
                "name": "extensions",
                "in": "query",
                "description": "`true` adds attribute answers and channel.",
                "schema": {"type": "string", "enum": ["true", "false"]},
            },
        ),
        response={"type": "array", "items": ref("Open311Request")},
        errors=(400, 404),
    ),
    ("api.performance_forecast", "get"): Operation(
        "Contacts forecast per local half-hour, with the actuals of those that have ended",
        ("performance",),
        description="The mean (or median) of the same half-hour of the week over the history, "
        "scaled by the least-squares trend of the weekly totals. A half-hour that does not "
        "exist on a DST change is left out; a repeated one appears twice.",
        query=forecast_views.ForecastQuery,
        response=_data(FORECAST, jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.performance_staffing", "get"): Operation(
        "Agents needed per forecast half-hour (Erlang C), with the expected service level",
        ("performance",),
        description="For each half-hour: the fewest agents meeting the service-level target "
        "within the maximum occupancy, the agents to schedule after shrinkage, and the "
        "expected service level, probability of waiting and average speed of answer.",
        query=forecast_views.StaffingQuery,
        response=_data(STAFFING_PLAN, jurisdiction=STR),
        errors=(400, 404),
    ),
    ("api.performance_dashboard", "get"): Operation(
        "The supervisor's dashboard: contacts, agents, service and satisfaction, with the "
        "previous period, the targets and every figure's definition",
        ("performance",),
        query=pv.DashboardQuery,
        response=_data(PERFORMANCE_REPORT),
        errors=(400, 404),
    ),
    ("api.performance_scorecard", "get"): Operation(
        "The director's scorecard: service delivery by department, service type, district or "
        "channel, satisfaction and the contact centre's headline, with the previous period",
        ("performance",),
        query=pv.ScorecardQuery,
        response=_data(PERFORMANCE_REPORT),
        errors=(400, 404),
    ),
    ("api.performance_contacts", "get"): Operation(
        "Contact-centre figures by interval, queue and channel",
        ("performance",),
        query=pv.ContactsQuery,
        response=_data(ANY_OBJECT, definitions=ANY_OBJECT),
        errors=(400, 404),
    ),
    ("api.performance_agents", "get"): Operation(
        "Agents' figures: time in each presence, occupancy, handled, offers",
        ("performance",),
        query=pv.AgentsQuery,
        response=_data(
            {"type": "array", "items": ANY_OBJECT}, period=ANY_OBJECT, definitions=ANY_OBJECT
        ),
        errors=(400, 404),
    ),
    ("api.performance_service", "get"): Operation(
        "Service delivery: opened, closed, time to close, backlog, breaches, reopens, "
        "duplicates, satisfaction",
        ("performance",),
        query=pv.ServiceQuery,
        response=_data(ANY_OBJECT, definitions=ANY_OBJECT),
        errors=(400, 404),
    ),
    ("api.performance_satisfaction", "get"): Operation(
        "Satisfaction surveys sent, answered, and their scores",
        ("performance",),
        query=pv.PeriodQuery,
        response=_data(ANY_OBJECT, period=ANY_OBJECT),
        errors=(400, 404),
    ),
    ("api.performance_cases", "get"): Operation(
        "The records behind a figure (cases, contacts or calls), newest first, a page at a time",
        ("performance",),
        description="Filters take ids as the figures key their breakdowns (queue, department, "
        "service_type, agent), a channel name or a district code; `none` asks for records "
        "without a department, service type or district. Rows hold no personal data.",
        query=pv.CasesQuery,
        response=_data(
            _obj(
                ("figure", "total", "page", "per_page", "rows"),
                figure=STR,
                definition=STR,
                total=INT,
                page=INT,
                per_page=INT,
                pages=INT,
                rows={"type": "array", "items": ANY_OBJECT},
            ),
            period=ANY_OBJECT,
        ),
        errors=(400, 404),
    ),
    ("api.performance_export_cases", "get"): Operation(
        "Every case created in the period as CSV, one row each",
        ("performance",),
        query=pv.PeriodQuery,
        response={"type": "string"},
        raw_response="text/csv",
        errors=(400, 404),
    ),
    ("api.performance_export_contacts", "get"): Operation(
        "Every contact (work item) that arrived in the period as CSV, one row each",
        ("performance",),
        query=pv.PeriodQuery,
        response={"type": "string"},
        raw_response="text/csv",
        errors=(400, 404),
    ),
    ("api.performance_export_interactions", "get"): Operation(
        "Every interaction (message or call) of the period as CSV, one row each, no bodies "
        "or addresses",
        ("performance",),
        query=pv.PeriodQuery,
        response={"type": "string"},
        raw_response="text/csv",
        errors=(400, 404),
    ),
    ("openapi.description_json", "get"): Operation(
        "This description (OpenAPI 3.1, JSON)", ("meta",), response=ANY_OBJECT, errors=()
    ),
    ("openapi.description_yaml", "get"): Operation(
        "This description (OpenAPI 3.1, YAML)",
        ("meta",),
        response={"type": "object"},
        raw_response="application/yaml",
        errors=(),
    ),
}


def operation(rule: Rule, method: str, role: Role | None) -> Operation:
    """The known metadata of this operation, or a generic description of an unknown one."""
    known = OPERATIONS.get((rule.endpoint, method))
    if known is not None:
        return known
    segment = rule.rule.removeprefix("/api/v1/").split("/", 1)[0]
    body: dict[str, Any] | None = ANY_OBJECT if method in {"post", "put", "patch"} else None
    return Operation(
        tags=(segment,), body=body, body_required=False, response=ANY_OBJECT, errors=(400, 404)
    )
