"""The IVR engine on its own: a menu, a state and what the caller did in; what they hear out."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from contactcenter import tracking
from ivr import engine
from ivr.engine import CallState, Facts, Heard
from ivr.flows import load_menu

VOICES = {
    "en": {"voice": "Polly.Joanna-Neural", "language": "en-US"},
    "fr": {"voice": "Polly.Gabrielle-Neural", "language": "fr-CA"},
}


def _menu(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "languages": VOICES,
        "start": "welcome",
        "hours": "office",
        "after_hours": "closed",
        "incidents": {"before": "main"},
        "nodes": {
            "welcome": {
                "kind": "language",
                "say": {"en": "For English press 1.", "fr": "Pour le français, le 2."},
                "options": [
                    {"key": "1", "language": "en", "phrases": {"en": ["english"]}},
                    {"key": "2", "language": "fr", "phrases": {"fr": ["français"]}},
                ],
                "next": "main",
            },
            "main": {
                "kind": "menu",
                "say": {"en": "Main menu.", "fr": "Menu principal."},
                "options": [
                    {
                        "key": "1",
                        "goto": "report",
                        "phrases": {"en": ["report"], "fr": ["signaler"]},
                    },
                    {"key": "2", "goto": "status"},
                    {"key": "3", "goto": "hours"},
                    {"key": "0", "goto": "agent", "phrases": {"en": ["agent"], "fr": ["agent"]}},
                ],
            },
            "hours": {
                "kind": "message",
                "say": {"en": "We open at nine.", "fr": "Nous ouvrons à neuf heures."},
                "next": "main",
            },
            "report": {
                "kind": "report",
                "say": {"en": "Pothole, press 1.", "fr": "Nid-de-poule, le 1."},
                "options": [
                    {"key": "1", "service_type": "pothole", "phrases": {"en": ["pothole"]}}
                ],
            },
            "status": {"kind": "status", "say": {"en": "Status.", "fr": "Suivi."}, "next": "main"},
            "agent": {
                "kind": "agent",
                "say": {"en": "Hold.", "fr": "Un instant."},
                "queue": "general",
            },
            "closed": {
                "kind": "menu",
                "say": {"en": "We are closed.", "fr": "Nous sommes fermés."},
                "options": [{"key": "1", "goto": "voicemail"}],
            },
            "voicemail": {"kind": "voicemail", "say": {"en": "Message.", "fr": "Message."}},
        },
    }
    data.update(overrides)
    return load_menu(data)


MENU = _menu()
START = CallState(call_id=7, menu_id=3, language="en", node="welcome")


def _said(reply: engine.Reply) -> str:
    then = reply.then
    prompts = (*reply.prompts, *getattr(then, "prompts", ()))
    return " ".join(p.text for p in prompts if isinstance(p, engine.Say))


def test_a_new_caller_hears_the_language_choice() -> None:
    reply = engine.start(MENU, START, Facts(), known_language=None)
    assert "For English press 1." in _said(reply)
    assert isinstance(reply.then, engine.Gather)
    assert reply.then.state.node == "welcome"
    assert reply.then.num_digits == 1


def test_a_caller_whose_language_we_remember_skips_the_choice() -> None:
    reply = engine.start(MENU, START, Facts(), known_language="fr")
    assert _said(reply) == "Menu principal."
    assert isinstance(reply.then, engine.Gather)
    assert reply.then.state.language == "fr"
    assert reply.then.language == "fr-CA"


def test_choosing_a_language_remembers_it_and_speaks_it() -> None:
    reply = engine.respond(MENU, START, Facts(), Heard(digits="2"))
    assert engine.SetLanguage("fr") in reply.effects
    assert _said(reply) == "Menu principal."
    said = reply.prompts or reply.then.prompts  # type: ignore[union-attr]
    assert all(p.voice == "Polly.Gabrielle-Neural" for p in said if isinstance(p, engine.Say))


def test_a_spoken_choice_matches_whole_words_without_accents() -> None:
    reply = engine.respond(MENU, START, Facts(), Heard(speech="Francais, s'il vous plaît"))
    assert engine.SetLanguage("fr") in reply.effects


@pytest.mark.parametrize("heard", [Heard(digits="9"), Heard(speech="banana"), Heard()])
def test_invalid_input_is_re_prompted_with_an_apology(heard: Heard) -> None:
    main = START.at("main")
    reply = engine.respond(MENU, main, Facts(), heard)
    assert _said(reply) == "Sorry, I did not get that. Main menu."
    assert isinstance(reply.then, engine.Gather)
    assert reply.then.state.attempt == 1


def test_repeated_invalid_input_leads_to_a_person_not_a_hang_up() -> None:
    state = CallState(7, 3, "en", "main", attempt=2)
    reply = engine.respond(MENU, state, Facts(is_open=True), Heard(digits="9"))
    assert isinstance(reply.then, engine.QueueForAgent)
    assert reply.then.queue == "general"


def test_repeated_invalid_input_after_hours_leads_to_the_after_hours_menu() -> None:
    state = CallState(7, 3, "en", "main", attempt=2)
    reply = engine.respond(MENU, state, Facts(is_open=False), Heard(digits="9"))
    assert "We are closed." in _said(reply)


def test_failing_again_in_the_way_out_ends_in_voicemail() -> None:
    menu = _menu(way_out="closed")
    state = CallState(7, 3, "en", "closed", attempt=2)
    reply = engine.respond(menu, state, Facts(is_open=False), Heard(digits="9"))
    assert isinstance(reply.then, engine.Record)


def test_an_agent_after_hours_is_the_after_hours_menu() -> None:
    reply = engine.respond(MENU, START.at("main"), Facts(is_open=False), Heard(digits="0"))
    assert _said(reply) == "We are closed."


def test_a_message_is_self_service_and_returns_to_its_next_node() -> None:
    reply = engine.respond(MENU, START.at("main"), Facts(), Heard(digits="3"))
    assert _said(reply) == "We open at nine. Main menu."
    assert engine.SelfServed() in reply.effects
    assert reply.then.state.path == ("main", "hours", "main")  # type: ignore[union-attr]


def test_a_report_asks_type_then_description_then_location_then_opens_the_case() -> None:
    report = START.at("report")
    typed = engine.respond(MENU, report, Facts(), Heard(speech="a pothole"))
    assert isinstance(typed.then, engine.Gather)
    assert typed.then.input == "speech"
    assert typed.then.state.extra == "pothole"
    described = engine.respond(MENU, typed.then.state, Facts(), Heard(speech="deep hole"))
    assert engine.SaveDraft("description", "deep hole") in described.effects
    assert isinstance(described.then, engine.Gather)
    assert described.then.finish_on_key == "#"
    located = engine.respond(MENU, described.then.state, Facts(), Heard(digits="90210"))
    assert located.then == engine.OpenCase(described.then.state, "pothole", "90210")


def test_the_tracking_number_is_read_digit_by_digit_and_can_be_repeated() -> None:
    opened = engine.case_opened(MENU, START.at("report"), "1234-5678")
    assert "1 2 3 4, 5 6 7 8" in _said(opened)
    assert isinstance(opened.then, engine.Gather)
    again = engine.respond(MENU, opened.then.state, Facts(), Heard(digits="1"))
    assert "1 2 3 4, 5 6 7 8" in _said(again)
    done = engine.respond(MENU, opened.then.state, Facts(), Heard())
    assert isinstance(done.then, engine.Hangup)


def test_a_mistyped_tracking_number_is_caught_by_its_check_digit() -> None:
    good = tracking.generate().replace("-", "")
    bad = good[:7] + str((int(good[7]) + 1) % 10)
    reply = engine.respond(MENU, START.at("status"), Facts(), Heard(digits=bad))
    assert "is not a valid tracking number" in _said(reply)
    found = engine.respond(MENU, START.at("status"), Facts(), Heard(digits=good))
    assert isinstance(found.then, engine.LookupStatus)
    assert found.then.tracking_number == tracking.format_number(good)


def test_incidents_are_announced_once_with_a_key_to_join() -> None:
    facts = Facts(announcements=(engine.Announcement(41, "Water main break on Main Street."),))
    reply = engine.respond(MENU, START, facts, Heard(digits="1"))
    said = _said(reply)
    assert said.startswith("Water main break on Main Street. If you are calling about this")
    state = reply.then.state  # type: ignore[union-attr]
    assert state.incidents == (41,)
    joined = engine.respond(MENU, state, facts, Heard(digits="9"))
    assert joined.then == engine.JoinIncident(state, 41)
    newer = Facts(announcements=(engine.Announcement(42, "Power out."), *facts.announcements))
    still = engine.respond(MENU, state, newer, Heard(digits="9"))
    assert still.then == engine.JoinIncident(state, 41)  # the one they heard about


def test_the_state_survives_its_trip_through_a_url() -> None:
    state = CallState(7, 3, "fr", "report", 2, "location", "pothole", (41, 42), ("welcome", "main"))
    assert CallState.from_query(state.query()) == state


@pytest.mark.parametrize(
    "query",
    [{}, {"c": "x", "m": "1", "l": "en", "n": "main"}, {"c": "1", "m": "1", "l": "en"}],
)
def test_an_unreadable_state_is_refused(query: dict[str, str]) -> None:
    with pytest.raises(engine.BadState):
        CallState.from_query(query)


def test_an_unknown_node_in_a_state_starts_the_menu_again() -> None:
    reply = engine.respond(MENU, START.at("gone"), Facts(), Heard(digits="1"))
    assert "For English press 1." in _said(reply)


def test_only_short_english_recordings_are_sent_for_transcription() -> None:
    english = engine.respond(MENU, START.at("main"), Facts(is_open=False), Heard(digits="0"))
    closed = english.then.state  # type: ignore[union-attr]
    recording = engine.respond(MENU, closed, Facts(is_open=False), Heard(digits="1"))
    assert isinstance(recording.then, engine.Record)
    assert recording.then.transcribe
    french = replace(closed, language="fr")
    recording = engine.respond(MENU, french, Facts(is_open=False), Heard(digits="1"))
    assert isinstance(recording.then, engine.Record)
    assert not recording.then.transcribe
