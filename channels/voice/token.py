"""Access tokens for Twilio Client: the agent's browser becomes a phone the IVR can dial."""

from __future__ import annotations

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant

from contactcenter.config import Settings

TOKEN_TTL_SECONDS = 3600


def missing_settings(settings: Settings) -> list[str]:
    """The environment variables a token needs that this installation has not set."""
    return [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_API_KEY", settings.twilio_api_key),
            ("TWILIO_API_SECRET", settings.twilio_api_secret),
            ("TWILIO_TWIML_APP_SID", settings.twilio_twiml_app_sid),
        )
        if not value
    ]


def client_identity(agent_id: int) -> str:
    """The Twilio Client identity of an agent: what ``<Dial><Client>`` rings."""
    return f"agent-{agent_id}"


def voice_token(settings: Settings, identity: str) -> str:
    """A signed JWT: place calls through our TwiML App and receive calls as ``identity``."""
    token = AccessToken(
        settings.twilio_account_sid,
        settings.twilio_api_key,
        settings.twilio_api_secret,
        identity=identity,
        ttl=TOKEN_TTL_SECONDS,
    )
    token.add_grant(
        VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid, incoming_allow=True)
    )
    return str(token.to_jwt())
