"""Every text the product sends a resident, in English (the gettext message ids).

Translations live in ``contactcenter/translations/<lang>/LC_MESSAGES/messages.po``;
``make i18n-extract`` collects the strings marked with ``N_`` below.
"""


def N_(message: str) -> str:
    """Marks a message for extraction without translating it here."""
    return message


ACK_NEW = N_("{city} 3-1-1: we got your request. Your tracking number is {tracking}.")
ASK_LOCATION = N_(
    "Where is it? Reply with the street address or the nearest intersection "
    "(for example: Main St and 2nd Ave)."
)
LOCATION_NOTED = N_(
    "Thank you. Location noted: {address}. Text STATUS {tracking} any time for an update."
)
ADDED_TO_CASE = N_("We added your message to request {tracking}.")
STATUS_REPLY = N_("Request {tracking} ({service}): {status}.")
STATUS_NOT_FOUND = N_(
    "We could not find request {tracking}. Please check the number and try again."
)
STATUS_NEEDS_NUMBER = N_(
    "Text STATUS followed by your tracking number, for example STATUS 1234-5678."
)
HELP = N_(
    "{city} 3-1-1: text us the problem and where it is (for example: pothole at 12 Main St). "
    "Text STATUS and your tracking number for an update. Reply STOP to stop texts. "
    "For emergencies call 9-1-1."
)
RESUBSCRIBED = N_("{city} 3-1-1: you will get texts from us again. Reply STOP to stop.")
LANGUAGE_SET = N_("We will text you in English from now on.")
CASE_RESOLVED = N_("{city} 3-1-1: request {tracking} ({service}) has been resolved.")
CASE_CLOSED = N_("{city} 3-1-1: request {tracking} ({service}) is now closed. Thank you.")
CASE_REOPENED = N_("{city} 3-1-1: request {tracking} ({service}) has been reopened.")
GENERAL_SERVICE = N_("general inquiry")

STATUS_LABELS = {
    "new": N_("received"),
    "open": N_("open"),
    "in_progress": N_("in progress"),
    "resolved": N_("resolved"),
    "closed": N_("closed"),
}

# Web chat: what the chat window says on the city's behalf.
CHAT_WAITING = N_("Thanks, an agent will be with you shortly.")
CHAT_AGENT_JOINED = N_("{agent} joined the chat.")
CHAT_WITH_AGENT = N_("You are chatting with {agent}.")
CHAT_HANDED_OFF_SMS = N_(
    "No agent is free right now. Your request {tracking} is recorded; "
    "we will answer by text message."
)
CHAT_HANDED_OFF_EMAIL = N_(
    "No agent is free right now. Your request {tracking} is recorded; we will answer by email."
)
CHAT_HANDED_OFF_KEEP = N_(
    "No agent is free right now. Your request {tracking} is recorded; "
    "please keep your tracking number to follow it up."
)
CHAT_ENDED = N_("This chat has ended. Your tracking number is {tracking}.")
CHAT_TRANSCRIPT_SUBJECT = N_("Your chat with {city} 3-1-1 (request {tracking})")
CHAT_TRANSCRIPT_INTRO = N_("Your chat with {city} 3-1-1 about request {tracking}:")
CHAT_TRANSCRIPT_YOU = N_("You")
