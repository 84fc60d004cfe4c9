"""Keywords a resident can text: opt-out and opt-in, help, status, language.

STOP/START/HELP and their synonyms are the carriers' (CTIA) and Twilio's lists, plus the
French opt-out word Canadian carriers honour (ARRÊT).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from contactcenter import tracking
from contactcenter.folding import fold
from contactcenter.language import LANGUAGE_KEYWORDS


class CommandKind(StrEnum):
    STOP = "stop"
    START = "start"
    HELP = "help"
    STATUS = "status"
    LANGUAGE = "language"


STOP_WORDS = {
    "stop",
    "stopall",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "optout",
    "revoke",
    "arret",
    "arreter",
}
START_WORDS = {"start", "yes", "unstop"}
HELP_WORDS = {"help", "info", "aide", "ayuda"}
STATUS_WORDS = {"status", "statut", "etat", "estado"}


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    argument: str = ""


def parse_command(text: str) -> Command | None:
    """The command ``text`` is, or None for an ordinary message.

    Opt-out words count only as the whole message (as carriers apply them): "stop sign
    knocked down" is a report, not an opt-out.
    """
    folded = fold(text).strip().strip(".!?")
    word, _, rest = folded.partition(" ")
    if not rest:
        if word in STOP_WORDS:
            return Command(CommandKind.STOP)
        if word in START_WORDS:
            return Command(CommandKind.START)
        if word in HELP_WORDS:
            return Command(CommandKind.HELP)
        if word in LANGUAGE_KEYWORDS:
            return Command(CommandKind.LANGUAGE, LANGUAGE_KEYWORDS[word])
    if word in STATUS_WORDS:
        number = tracking.find_in_text(rest) or tracking.looks_like_attempt(rest) or ""
        return Command(CommandKind.STATUS, number)
    only_number = tracking.looks_like_attempt(folded)
    if only_number and len(folded.replace(" ", "").replace("-", "")) == 8:
        return Command(CommandKind.STATUS, only_number)
    return None
