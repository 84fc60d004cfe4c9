"""Channel adapters: each translates one channel's wire format to and from the core's model.

Only :func:`build_registry`, :func:`build_call_control` and the blueprints are used by the app
factory.
"""

from __future__ import annotations

from typing import Any

# Socket.IO handlers must exist before the first app attaches its server (the app factory
# imports this package first): Flask-SocketIO gives every later server the handlers it knew
# before any server existed, but a handler added afterwards only to the server of that moment.
from channels.webchat import socket as _webchat_socket  # noqa: F401
from contactcenter.calls.control import CallControl
from contactcenter.config import Settings
from contactcenter.messages import Channel, ChannelAdapter


def build_registry(settings: Settings, http_client: Any = None) -> dict[Channel, ChannelAdapter]:
    """Adapters by channel; ``http_client`` replaces Twilio's HTTP transport (tests, dev)."""
    from channels.email.sender import EmailAdapter
    from channels.sms.adapter import SmsAdapter
    from channels.twilio_client import make_client
    from channels.webchat.adapter import WebchatAdapter

    client = make_client(settings, http_client)
    return {
        Channel.SMS: SmsAdapter(client, settings),
        Channel.EMAIL: EmailAdapter(settings),
        Channel.WEBCHAT: WebchatAdapter(),
    }


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
    from channels.webchat import api as _webchat_api  # noqa: F401 (routes on the webchat bp)
    from channels.webchat.views import bp as webchat_bp

    return [sms_bp, email_bp, voice_token_bp, console_voice_bp, webchat_bp]
