"""The pure text rules: tracking numbers, keywords, locations, language, classification."""

from types import SimpleNamespace

import pytest

from contactcenter import tracking
from contactcenter.classify import classify
from contactcenter.commands import CommandKind, parse_command
from contactcenter.language import guess_language
from contactcenter.locations import extract_location


def test_generated_tracking_numbers_pass_their_check_digit():
    for _ in range(200):
        number = tracking.generate()
        assert len(number) == 9 and number[4] == "-"
        assert tracking.is_valid(number.replace("-", ""))


def test_one_mistyped_digit_is_caught_by_the_check_digit():
    digits = tracking.generate().replace("-", "")
    for position in range(8):
        wrong = digits[:position] + str((int(digits[position]) + 1) % 10) + digits[position + 1 :]
        assert not tracking.is_valid(wrong)


@pytest.mark.parametrize("written", ["{}", "{} thanks", "re: {}", "#{}"])
def test_tracking_number_is_found_however_it_is_written(written):
    number = tracking.generate()
    for form in (number, number.replace("-", ""), number.replace("-", " ")):
        assert tracking.find_in_text(written.format(form)) == number


def test_phone_numbers_are_not_taken_for_tracking_numbers():
    assert tracking.find_in_text("call me at 613-555-0100") is None


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("STOP", CommandKind.STOP),
        ("  stop. ", CommandKind.STOP),
        ("Arrêt", CommandKind.STOP),
        ("UNSTOP", CommandKind.START),
        ("Start", CommandKind.START),
        ("INFO", CommandKind.HELP),
        ("aide", CommandKind.HELP),
        ("Français", CommandKind.LANGUAGE),
        ("status", CommandKind.STATUS),
        ("STATUT 1234-5678", CommandKind.STATUS),
        ("estado 12345678", CommandKind.STATUS),
    ],
)
def test_keywords_are_recognised(text, kind):
    command = parse_command(text)
    assert command is not None and command.kind == kind


@pytest.mark.parametrize(
    "text",
    ["Stop sign down at Main and 2nd", "please help, water everywhere", "yes the light is out", ""],
)
def test_ordinary_reports_are_not_commands(text):
    assert parse_command(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Pothole at 12 Main St", "12 Main St"),
        ("big pothole 1450 Bank Street near the bridge", "1450 Bank Street"),
        ("light out at Main St and 2nd Ave", "Main St and 2nd Ave"),
        ("graffiti at the corner of Bank and Somerset", "corner of Bank and Somerset"),
        ("nid de poule devant le 45, rue Principale", "45, rue Principale"),
        ("bache en Calle Mayor 12", "Calle Mayor 12"),
    ],
)
def test_locations_are_found_in_reports(text, expected):
    assert extract_location(text) == expected


@pytest.mark.parametrize(
    "text", ["There is a pothole in front of my house", "my garbage was not picked up", "🕳️"]
)
def test_reports_without_a_location_have_none(text):
    assert extract_location(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Il y a un nid de poule sur la rue", "fr"),
        ("Hay un bache en la calle, por favor", "es"),
        ("There is a pothole on the street", "en"),
        ("pothole", None),
    ],
)
def test_language_is_guessed_among_the_jurisdictions_languages(text, expected):
    assert guess_language(text, ["en", "fr", "es"]) == expected


def test_language_outside_the_jurisdiction_is_never_guessed():
    assert guess_language("Il y a un nid de poule sur la rue", ["en"]) in (None, "en")


def _service(code, keywords, active=True):
    return SimpleNamespace(code=code, keywords=keywords, active=active)


def test_classification_picks_the_service_with_most_keyword_matches():
    services = [
        _service("streetlight", ["light", "streetlight"]),
        _service("tree", ["tree", "branch"]),
    ]
    assert classify(services, "A tree branch fell on the light").code == "tree"


def test_classification_matches_whole_words_and_ignores_accents():
    services = [_service("light", ["light"]), _service("pothole", ["nid de poule"])]
    assert classify(services, "lightning struck") is None
    assert classify(services, "Un NID DE POULÉ énorme").code == "pothole"


def test_inactive_services_are_never_chosen():
    assert classify([_service("old", ["pothole"], active=False)], "pothole") is None
