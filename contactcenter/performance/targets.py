"""Service-level targets: how fast each channel's contacts should be answered.

A target is "``percent`` % of contacts answered within ``seconds``" (80 % in 20 s is the
classic for phones). Each queue may set its own per channel in ``queues.service_targets``
(``{"voice": {"seconds": 30, "percent": 90}}``); a channel it does not name, or names with a
value that makes no sense, has the default below. Contacts abandoned within
:data:`SHORT_ABANDON_SECONDS` of arriving are left out of the service level and the
abandonment rate: a caller who hangs up in the first seconds misdialled or changed their mind,
and no staffing would have answered them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from contactcenter.messages import Channel

SHORT_ABANDON_SECONDS = 5


@dataclass(frozen=True)
class ServiceTarget:
    """Answer ``percent`` % of contacts within ``seconds`` of their arrival."""

    seconds: int
    percent: int

    def as_dict(self) -> dict[str, int]:
        return {"seconds": self.seconds, "percent": self.percent}


OTHER_TARGET = ServiceTarget(seconds=24 * 3600, percent=80)
"""The default of a channel with no default of its own (in person, apps, other)."""

DEFAULT_TARGETS: dict[str, ServiceTarget] = {
    Channel.VOICE.value: ServiceTarget(seconds=20, percent=80),
    Channel.WEBCHAT.value: ServiceTarget(seconds=60, percent=80),
    Channel.SMS.value: ServiceTarget(seconds=15 * 60, percent=80),
    Channel.EMAIL.value: ServiceTarget(seconds=24 * 3600, percent=80),
    **{
        c.value: OTHER_TARGET
        for c in Channel
        if c not in (Channel.VOICE, Channel.WEBCHAT, Channel.SMS, Channel.EMAIL)
    },
}

MAX_TARGET_SECONDS = 30 * 24 * 3600


def default_target(channel: str) -> ServiceTarget:
    return DEFAULT_TARGETS.get(str(channel), OTHER_TARGET)


def service_target(queue_targets: Mapping[str, Any] | None, channel: str) -> ServiceTarget:
    """The target of ``channel`` in a queue whose ``service_targets`` are ``queue_targets``.

    Each of ``seconds`` (1 s to 30 days) and ``percent`` (1 to 100) the queue leaves out or
    sets to something else than a whole number in range falls back to the channel's default.
    """
    default = default_target(channel)
    raw = (queue_targets or {}).get(str(channel)) if isinstance(queue_targets, Mapping) else None
    if not isinstance(raw, Mapping):
        return default
    seconds = _whole(raw.get("seconds"), 1, MAX_TARGET_SECONDS)
    percent = _whole(raw.get("percent"), 1, 100)
    return ServiceTarget(
        seconds=default.seconds if seconds is None else seconds,
        percent=default.percent if percent is None else percent,
    )


def _whole(value: Any, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if value != int(value) or not low <= value <= high:
        return None
    return int(value)
