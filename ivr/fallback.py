"""TwiML that needs nothing but this file: for trouble, and for numbers we do not answer.

Spoken in English, French and Spanish, since we do not know who is calling. Built once per
process: the fallback URL must answer even when the database does not.
"""

from __future__ import annotations

from functools import cache

from twilio.twiml.voice_response import VoiceResponse

from ivr.prompts import DEFAULT_PROMPTS

VOICES = {
    "en": ("Polly.Joanna-Neural", "en-US"),
    "fr": ("Polly.Gabrielle-Neural", "fr-CA"),
    "es": ("Polly.Lupe-Neural", "es-US"),
}


def _say_all(response: VoiceResponse, prompt: str) -> None:
    for language, (voice, tag) in VOICES.items():
        response.say(DEFAULT_PROMPTS[prompt][language], voice=voice, language=tag)


@cache
def trouble_twiml(fallback_number: str = "") -> str:
    """An apology; with a fallback number (a staffed line), the call is forwarded there."""
    response = VoiceResponse()
    _say_all(response, "trouble")
    if fallback_number:
        response.dial(fallback_number, timeout=30)
    else:
        response.hangup()
    return str(response)


@cache
def unknown_number_twiml() -> str:
    response = VoiceResponse()
    _say_all(response, "unknown_number")
    response.hangup()
    return str(response)
