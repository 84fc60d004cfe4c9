"""How the performance screens show a figure: its value, the previous period's, the change
between them (an arrow, and words for screen readers), its target, its definition, and the
drill-down that lists what it counts.

Ratios arrive as fractions (0.8) and are shown as percentages; a ratio whose denominator was
zero arrives as None and is shown as a dash, never as 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Unit = Literal["count", "percent", "seconds", "days", "score"]
DASH = "—"


def number(value: object) -> float | None:
    """``value`` as a number, or None (missing, None, or not a number at all)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def show(value: object, unit: Unit) -> str:
    """``value`` as staff read it: "1,234", "83.4 %", "3 min 5 s", "2.5 d", "4.2 of 5"."""
    amount = number(value)
    if amount is None:
        return DASH
    if unit == "count":
        return f"{round(amount):,}"
    if unit == "percent":
        return f"{amount * 100:.1f} %"
    if unit == "days":
        return f"{amount:.1f} d"
    if unit == "score":
        return f"{amount:.2f} of 5"
    return duration(amount)


def duration(seconds: float) -> str:
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {rest} s" if rest else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{hours // 24} d {hours % 24} h"


@dataclass(frozen=True)
class Change:
    """The change from the previous period: an arrow, a short figure and a sentence."""

    arrow: str
    short: str
    words: str
    tone: Literal["better", "worse", "neutral"]


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    value: object
    unit: Unit
    definition: str = ""
    previous: object = None
    higher_is_better: bool | None = None
    drill: str | None = None
    target: float | None = None
    target_label: str = ""
    note: str = ""
    """Written under the figure: what it is taken over, when that is not the period."""

    @property
    def display(self) -> str:
        return show(self.value, self.unit)

    @property
    def previous_display(self) -> str:
        return show(self.previous, self.unit)

    @property
    def change(self) -> Change | None:
        """None when either period has no value (nothing to compare)."""
        now, before = number(self.value), number(self.previous)
        if now is None or before is None:
            return None
        was = f"from {self.previous_display} in the previous period"
        if now == before or self.display == self.previous_display:
            return Change("▬", "no change", f"no change {was}", "neutral")
        up = now > before
        if self.unit == "percent":
            short = f"{abs(now - before) * 100:.1f} pts"
        elif self.unit == "count" and before:
            short = f"{abs(now - before) / before * 100:.0f} %"
        else:
            short = show(abs(now - before), self.unit)
        tone: Literal["better", "worse", "neutral"] = "neutral"
        if self.higher_is_better is not None:
            tone = "better" if up == self.higher_is_better else "worse"
        return Change("▲" if up else "▼", short, f"{'up' if up else 'down'} {was}", tone)

    @property
    def meets_target(self) -> bool | None:
        """Whether the value meets the target (None: no target, or no value)."""
        now = number(self.value)
        if self.target is None or now is None:
            return None
        return now >= self.target if self.higher_is_better is not False else now <= self.target

    @property
    def target_display(self) -> str:
        return show(self.target, self.unit) if self.target is not None else ""


def figure(
    key: str,
    label: str,
    unit: Unit,
    current: Mapping[str, Any],
    previous: Mapping[str, Any] | None,
    definitions: Mapping[str, str],
    *,
    field: str | None = None,
    higher_is_better: bool | None = None,
    drill: str | None = None,
    target: float | None = None,
    target_label: str = "",
) -> Figure:
    """The figure ``field`` (default ``key``) of ``current``, compared with ``previous``."""
    name = field or key
    return Figure(
        key=key,
        label=label,
        value=current.get(name),
        unit=unit,
        definition=definitions.get(name, definitions.get(key, "")),
        previous=(previous or {}).get(name),
        higher_is_better=higher_is_better,
        drill=drill,
        target=target,
        target_label=target_label,
    )
