"""Channel adapters: each translates one channel's wire format to and from the core's model.

Only :func:`build_registry`, :func:`build_call_control` and the blueprints are used by the app
factory.
"""

from __future__ import annotations

from typing import Any

from contactcenter.calls.control import CallControl
from contactcenter.config import Settings
from contactcenter.messages import Channel, ChannelAdapter


def build_registry(settings: Settings, http_client: Any = None) -> dict[Channel, ChannelAdapter]:
    """Adapters by channel; ``http_client`` replaces Twilio's HTTP transport (tests, dev)."""
    from channels.email.sender import EmailAdapter
    from channels.sms.adapter import SmsAdapter
    from channels.twilio_client import make_client

    client = make_client(settings, http_client)
    return {Channel.SMS: SmsAdapter(client, settings), Channel.EMAIL: EmailAdapter(settings)}


def build_call_control(settings: Settings, http_client: Any = None) -> CallControl:
    """How the core steers live calls; ``http_client`` as for :func:`build_registry`."""
    from channels.twilio_client import make_client
    from channels.voice.adapter import TwilioCallControl

    return TwilioCallControl(make_client(settings, http_client), settings)


def blueprints() -> list[Any]:
    from channels.email.webhook import bp as email_bp
    from channels.sms.webhooks import bp as sms_bp
    from channels.voice.views import bp as voice_token_bp
    from channels.voice.views import console_bp as console_voice_bp

    return [sms_bp, email_bp, voice_token_bp, console_voice_bp]
