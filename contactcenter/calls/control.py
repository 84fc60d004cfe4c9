"""The port through which the core steers live calls; the voice channel implements it.

The core decides *when* a waiting call goes to an agent or a resident is called back; only the
adapter (``channels/voice``) knows how Twilio is told, and which URLs the IVR answers on.
"""

from __future__ import annotations

from typing import Protocol


class CallControlError(Exception):
    """Twilio refused; ``gone`` means the call has already ended (the caller hung up)."""

    def __init__(self, message: str, *, gone: bool = False) -> None:
        super().__init__(message)
        self.gone = gone


class CallControl(Protocol):
    def connect_to_agent(self, call_sid: str, *, call_id: int, agent_id: int) -> None:
        """Take a call out of its queue and ring the agent (browser or phone).

        :raises CallControlError: Twilio refused, or the call has ended.
        """
        ...

    def call_back(self, *, to: str, from_: str, call_id: int, agent_id: int) -> str:
        """Call the resident back for ``agent_id``; returns the new call's CallSid.

        :raises CallControlError: Twilio refused.
        """
        ...
