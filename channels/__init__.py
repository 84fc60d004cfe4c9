"""Channel adapters: each translates one channel's wire format to and from the core's model.

Only :func:`build_registry` and the blueprints are used by the app factory.
"""

from __future__ import annotations

from typing import Any

from contactcenter.config import Settings
from contactcenter.messages import Channel, ChannelAdapter


def build_registry(settings: Settings, http_client: Any = None) -> dict[Channel, ChannelAdapter]:
    """Adapters by channel; ``http_client`` replaces Twilio's HTTP transport (tests, dev)."""
    from channels.sms.adapter import SmsAdapter
    from channels.twilio_client import make_client

    client = make_client(settings, http_client)
    return {Channel.SMS: SmsAdapter(client, settings)}


def blueprints() -> list[Any]:
    from channels.sms.webhooks import bp as sms_bp

    return [sms_bp]
