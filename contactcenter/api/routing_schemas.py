"""Request bodies of the routing, queue and work endpoints."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator

from contactcenter.agents.models import Presence
from contactcenter.cases.models import Priority
from contactcenter.messages import Channel
from contactcenter.performance.targets import MAX_TARGET_SECONDS
from contactcenter.residents.addresses import normalize_phone
from contactcenter.routing.models import Strategy
from contactcenter.validation import StrictModel

CODE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"


class DryRun(StrictModel):
    """A case to try: an existing one (``case``), or the facts of a hypothetical one."""

    case: int | None = None
    service_type: str | None = Field(default=None, max_length=64)
    channel: Channel = Channel.SMS
    language: str = Field(default="en", min_length=2, max_length=8)
    priority: Priority = Priority.NORMAL
    description: str = Field(default="", max_length=10_000)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)
    resident_flags: list[str] = Field(default_factory=list, max_length=50)
    at: AwareDatetime | None = None


class TargetBody(StrictModel):
    """Answer ``percent`` % of a channel's contacts within ``seconds`` of their arrival."""

    seconds: int = Field(strict=True, ge=1, le=MAX_TARGET_SECONDS)
    percent: int = Field(strict=True, ge=1, le=100)


class QueueBody(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=32)
    strategy: Strategy = Strategy.LONGEST_IDLE
    offer_timeout_seconds: int = Field(default=60, ge=5, le=3600)
    is_default: bool = False
    is_supervisor: bool = False
    service_targets: dict[Channel, TargetBody] | None = None
    """Service-level targets by channel; a channel left out has the default. Left out
    altogether, the queue keeps the targets it has (``{}`` puts every channel back on the
    default)."""

    def targets_json(self) -> dict[str, dict[str, int]] | None:
        if self.service_targets is None:
            return None
        return {str(k): v.model_dump() for k, v in sorted(self.service_targets.items())}


class CalendarBody(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    config: dict[str, Any]


class SlaPolicyBody(StrictModel):
    name: str = Field(min_length=1, max_length=200)
    calendar: str | None = Field(default=None, max_length=32)
    first_response_minutes: int | None = Field(default=None, ge=1, le=525_600)
    resolution_minutes: int | None = Field(default=None, ge=1, le=5_256_000)
    warn_percent: int = Field(default=80, ge=1, le=99)
    escalate_queue: str | None = Field(default=None, max_length=32)
    escalate_priority: Priority | None = None
    is_default: bool = False


class AgentRouting(StrictModel):
    skills: list[str] | None = Field(default=None, max_length=100)
    languages: list[str] | None = Field(default=None, max_length=20)
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=100)]] | None = None
    queues: list[str] | None = Field(default=None, max_length=100)
    departments: list[str] | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=32)
    voice_device: Literal["browser", "phone"] | None = None

    @field_validator("phone")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        """Twilio dials E.164 numbers only; "" clears the phone."""
        if not value:
            return value
        number = normalize_phone(value, "")
        if not number.is_valid:
            raise ValueError("not a valid phone number: write it in E.164, e.g. +16135550123")
        return number.address

    def capacity_json(self) -> dict[str, int] | None:
        if self.capacity is None:
            return None
        return {str(k): v for k, v in self.capacity.items()}


class PresenceBody(StrictModel):
    presence: Presence
    reason: str = Field(default="", max_length=200)


class ResidentFlags(StrictModel):
    flags: list[Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")]] = (
        Field(max_length=20)
    )
