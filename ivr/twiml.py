"""Engine replies and queue steps as TwiML, built with the twilio library's own VoiceResponse.

URLs are relative: Twilio resolves them against the URL it just requested, so the TwiML does
not depend on the host name (and a proxy or tunnel in front of us changes nothing).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlencode

from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from ivr import engine
from ivr.engine import CallState, Prompt

STEP_URL = "/voice/step"
TRANSCRIPTION_URL = "/voice/transcription"
WAIT_URL = "/voice/queue/wait"
WAIT_CHOICE_URL = "/voice/queue/choice"
QUEUE_DONE_URL = "/voice/queue/done"
DIAL_DONE_URL = "/voice/dial/done"
HOLD_SECONDS = 20
"""Silence between queue announcements (no hold music: no asset fetched from elsewhere)."""


def step_url(state: CallState) -> str:
    return f"{STEP_URL}?{urlencode(state.query())}"


def call_url(path: str, **params: object) -> str:
    return f"{path}?{urlencode({k: str(v) for k, v in params.items()})}"


def _add_prompts(target: VoiceResponse | Gather, prompts: Iterable[Prompt]) -> None:
    for prompt in prompts:
        if isinstance(prompt, engine.Say):
            target.say(prompt.text, voice=prompt.voice, language=prompt.language)
        elif isinstance(prompt, engine.Play):
            target.play(prompt.url)
        else:
            target.pause(length=prompt.seconds)


def render(reply: engine.Reply) -> VoiceResponse:
    """A finished reply (no :class:`~ivr.engine.Need` left) as a TwiML document."""
    response = VoiceResponse()
    then = reply.then
    if isinstance(then, engine.Gather):
        gather = _gather(then)
        # Prompts inside the Gather: the caller may key an answer without listening to the end.
        _add_prompts(gather, (*reply.prompts, *then.prompts))
        response.append(gather)
    elif isinstance(then, engine.Record):
        _add_prompts(response, (*reply.prompts, *then.prompts))
        response.record(
            action=step_url(then.state),
            max_length=then.max_seconds,
            finish_on_key="#",
            play_beep=True,
            transcribe=then.transcribe,
            transcribe_callback=call_url(TRANSCRIPTION_URL, c=then.state.call_id)
            if then.transcribe
            else None,
        )
        # Silence records nothing and Twilio then skips the action: come back and ask again.
        response.redirect(step_url(then.state), method="POST")
    elif isinstance(then, engine.Hangup):
        _add_prompts(response, reply.prompts)
        response.hangup()
    else:
        raise TypeError(f"{type(then).__name__} must be performed before rendering")
    return response


def _gather(then: engine.Gather) -> Gather:
    attributes: dict[str, object] = {
        "action": step_url(then.state),
        "method": "POST",
        "input": then.input,
        "timeout": then.timeout,
        # Silence comes back to us too: it counts as a try, and never ends the call.
        "action_on_empty_result": True,
    }
    if "speech" in then.input:
        attributes.update(language=then.language, speech_timeout="auto")
        if then.hints:
            attributes["hints"] = ", ".join(then.hints)[:1000]
    if then.num_digits:
        attributes["num_digits"] = then.num_digits
    if then.finish_on_key:
        attributes["finish_on_key"] = then.finish_on_key
    return Gather(**attributes)


def enqueue(
    prompts: Iterable[Prompt], queue_name: str, call_id: int, language: str
) -> VoiceResponse:
    response = VoiceResponse()
    _add_prompts(response, prompts)
    response.enqueue(
        queue_name,
        action=call_url(QUEUE_DONE_URL, c=call_id, l=language),
        method="POST",
        wait_url=call_url(WAIT_URL, c=call_id, l=language),
        wait_url_method="POST",
    )
    return response


def waiting(
    prompts: Iterable[Prompt], offer: engine.Say | None, call_id: int, language: str
) -> VoiceResponse:
    """What a caller in the queue hears each round; ``offer`` invites a callback (press 1)."""
    response = VoiceResponse()
    _add_prompts(response, prompts)
    if offer is not None:
        gather = Gather(
            action=call_url(WAIT_CHOICE_URL, c=call_id, l=language),
            method="POST",
            input="dtmf",
            num_digits=1,
            timeout=8,
        )
        _add_prompts(gather, [offer])
        response.append(gather)
    response.pause(length=HOLD_SECONDS)
    return response


def hold() -> VoiceResponse:
    response = VoiceResponse()
    response.pause(length=HOLD_SECONDS)
    return response


def leave_queue() -> VoiceResponse:
    response = VoiceResponse()
    response.leave()
    return response


def say_then_hang_up(prompts: Iterable[Prompt]) -> VoiceResponse:
    response = VoiceResponse()
    _add_prompts(response, prompts)
    response.hangup()
    return response


def dial_agent(
    prompts: Iterable[Prompt], *, call_id: int, agent_id: int, client: str = "", number: str = ""
) -> VoiceResponse:
    """Ring the agent's browser (Twilio Client identity) or their phone."""
    response = VoiceResponse()
    _add_prompts(response, prompts)
    dial = Dial(
        action=call_url(DIAL_DONE_URL, c=call_id, agent=agent_id),
        method="POST",
        timeout=20,
        answer_on_bridge=True,
    )
    if client:
        dial.client(client)
    else:
        dial.number(number)
    response.append(dial)
    return response


def empty() -> VoiceResponse:
    return VoiceResponse()
