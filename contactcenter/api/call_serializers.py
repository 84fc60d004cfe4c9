"""JSON shapes of calls (staff only: they carry the caller's number and the recording)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from contactcenter.api.serializers import iso_time
from contactcenter.calls.models import Call, CallOutcome


@dataclass(frozen=True)
class CallRow:
    """A call with what it is shown with, read in the same query (never one query per call)."""

    call: Call
    jurisdiction: str
    queue: str | None
    tracking_number: str | None


def call_json(row: CallRow) -> dict[str, Any]:
    call = row.call
    interaction = call.interaction
    return {
        "id": call.id,
        "call_sid": call.call_sid,
        "jurisdiction": row.jurisdiction,
        "direction": str(call.direction),
        "outcome": str(call.outcome),
        "status": call.status,
        "language": call.language,
        "menu_path": call.menu_path,
        "queue": row.queue,
        "agent_id": call.agent_id,
        "case": (
            {"id": interaction.case_id, "tracking_number": row.tracking_number}
            if interaction.case_id is not None
            else None
        ),
        "resident_id": interaction.resident_id,
        "interaction_id": interaction.id,
        "from": interaction.from_address,
        "to": interaction.to_address,
        "created_at": iso_time(call.created_at),
        "queued_at": iso_time(call.queued_at),
        "answered_at": iso_time(call.answered_at),
        "ended_at": iso_time(call.ended_at),
        "wait_seconds": call.wait_seconds,
        "talk_seconds": call.talk_seconds,
        "duration_seconds": call.duration_seconds,
        "callback": (
            {
                "requested_at": iso_time(call.callback_requested_at),
                "attempts": call.callback_attempts,
                "number": call.callback_number,
            }
            if call.callback_requested_at is not None
            else None
        ),
        "recording_url": call.recording_url or None,
        "recording_seconds": call.recording_seconds,
        "transcription_status": call.transcription_status or None,
        "parent_call_id": call.parent_call_id,
    }


def call_detail_json(row: CallRow) -> dict[str, Any]:
    """The list's shape plus what the caller said (speech or a voicemail's transcription)."""
    return {**call_json(row), "transcription": row.call.interaction.body or None}


@dataclass(frozen=True)
class OutcomeFigures:
    """One ``GROUP BY direction, outcome`` row of the summary query."""

    direction: str
    outcome: str
    calls: int
    wait_total: int
    wait_count: int
    wait_max: int | None
    talk_total: int
    talk_count: int
    callbacks: int


def _average(total: int, count: int) -> float | None:
    return round(total / count, 1) if count else None


def summary_json(
    jurisdiction: str, since: dt.datetime, until: dt.datetime, rows: list[OutcomeFigures]
) -> dict[str, Any]:
    """Counts by outcome over every call; the queue figures over inbound calls only.

    A callback's outbound leg is marked answered as well as the call it returns, so counting
    it again would double the answered calls (and halve the abandoned rate).
    """
    by_outcome = {str(outcome): 0 for outcome in CallOutcome}
    for row in rows:
        by_outcome[row.outcome] = by_outcome.get(row.outcome, 0) + row.calls
    inbound = [row for row in rows if row.direction == "inbound"]
    answered = [row for row in inbound if row.outcome == CallOutcome.ANSWERED]
    answered_count = sum(row.calls for row in answered)
    abandoned_count = sum(row.calls for row in inbound if row.outcome == CallOutcome.ABANDONED)
    reached_queue = answered_count + abandoned_count
    waits = [row.wait_max for row in answered if row.wait_max is not None]
    return {
        "jurisdiction": jurisdiction,
        "since": since.isoformat(),
        "until": until.isoformat(),
        "total": sum(row.calls for row in rows),
        "outbound": sum(row.calls for row in rows if row.direction == "outbound"),
        "by_outcome": by_outcome,
        "answered": answered_count,
        "abandoned": abandoned_count,
        "abandoned_rate": round(abandoned_count / reached_queue, 4) if reached_queue else None,
        "average_wait_seconds": _average(
            sum(row.wait_total for row in answered), sum(row.wait_count for row in answered)
        ),
        "max_wait_seconds": max(waits) if waits else None,
        "average_talk_seconds": _average(
            sum(row.talk_total for row in answered), sum(row.talk_count for row in answered)
        ),
        "callbacks_requested": sum(row.callbacks for row in inbound),
    }
