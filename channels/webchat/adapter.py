"""Delivering a message to a resident's chat window: one Socket.IO emit to their room.

The window also fetches the whole history on every (re)connect, so a message emitted while
no window is open is not lost: it is on the case and shows on the next load.
"""

from __future__ import annotations

from contactcenter.chats.events import MESSAGE, emit_to_chat
from contactcenter.chats.service import message_payload
from contactcenter.db import get_db
from contactcenter.messages import Channel, DeliveryError, OutboundMessage, ProviderReceipt


class WebchatAdapter:
    channel = Channel.WEBCHAT

    def send(self, message: OutboundMessage) -> ProviderReceipt:
        # The window shows who wrote and when: read from the stored message (committed
        # before delivery), so the payload matches the history the window loads.
        with get_db().session() as session:
            found = message_payload(session, message.interaction_id)
        if found is None:
            raise DeliveryError("no such chat message", code="not_found", permanent=True)
        visitor_id, payload = found
        emit_to_chat(visitor_id, MESSAGE, payload)
        return ProviderReceipt(provider_id=f"webchat:{message.interaction_id}", status="delivered")
