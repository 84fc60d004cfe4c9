"""Every model, imported in one place so Alembic and tests see the whole metadata."""

from contactcenter.agents.models import Agent, ApiToken, PresenceChange, Role
from contactcenter.calls.models import Call, CallOutcome, IvrMenu
from contactcenter.cases.canned import CannedResponse
from contactcenter.cases.models import (
    Awaiting,
    Case,
    CaseEvent,
    CaseStatus,
    DeliveryStatus,
    Incident,
    Interaction,
    Priority,
)
from contactcenter.chats.models import ChatSession, ChatState
from contactcenter.imports.models import ImportRun, ImportState
from contactcenter.jurisdictions.models import ChannelAddress, Department, Jurisdiction, ServiceType
from contactcenter.mail.models import Attachment, RawEmail, RawEmailState
from contactcenter.open311.models import (
    AttributeDatatype,
    Open311Client,
    Open311Submission,
    ServiceAttribute,
    SubmissionState,
)
from contactcenter.performance.models import (
    AgentDaily,
    CloseTimeByCount,
    CloseTimeCount,
    ContactDaily,
    ContactInterval,
    DailyCount,
    RollupWatermark,
)
from contactcenter.residents.models import ContactPoint, Resident, ResidentMerge
from contactcenter.routing.models import District, Offer, Queue, RuleSet, WorkItem
from contactcenter.sla.models import CalendarRecord, CaseClock, SlaPolicy
from contactcenter.surveys.models import Survey, SurveyState

__all__ = [
    "Agent",
    "AgentDaily",
    "ApiToken",
    "Attachment",
    "AttributeDatatype",
    "Awaiting",
    "CalendarRecord",
    "Call",
    "CallOutcome",
    "CannedResponse",
    "Case",
    "CaseClock",
    "CaseEvent",
    "CaseStatus",
    "ChannelAddress",
    "ChatSession",
    "ChatState",
    "CloseTimeByCount",
    "CloseTimeCount",
    "ContactDaily",
    "ContactInterval",
    "ContactPoint",
    "DailyCount",
    "DeliveryStatus",
    "Department",
    "District",
    "ImportRun",
    "ImportState",
    "Incident",
    "Interaction",
    "IvrMenu",
    "Jurisdiction",
    "Offer",
    "Open311Client",
    "Open311Submission",
    "PresenceChange",
    "Priority",
    "Queue",
    "RawEmail",
    "RawEmailState",
    "Resident",
    "ResidentMerge",
    "Role",
    "RollupWatermark",
    "RuleSet",
    "ServiceAttribute",
    "ServiceType",
    "SlaPolicy",
    "SubmissionState",
    "Survey",
    "SurveyState",
    "WorkItem",
]
