"""Every model, imported in one place so Alembic and tests see the whole metadata."""

from contactcenter.agents.models import Agent, ApiToken, Role
from contactcenter.cases.models import (
    Awaiting,
    Case,
    CaseEvent,
    CaseStatus,
    DeliveryStatus,
    Interaction,
    Priority,
)
from contactcenter.jurisdictions.models import ChannelAddress, Department, Jurisdiction, ServiceType
from contactcenter.residents.models import ContactPoint, Resident

__all__ = [
    "Agent",
    "ApiToken",
    "Awaiting",
    "Case",
    "CaseEvent",
    "CaseStatus",
    "ChannelAddress",
    "ContactPoint",
    "DeliveryStatus",
    "Department",
    "Interaction",
    "Jurisdiction",
    "Priority",
    "Resident",
    "Role",
    "ServiceType",
]
