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

# Satisfaction surveys: the one question after a case is finished, by text, email or the page.
SURVEY_SMS = N_("{city} 3-1-1: How did we do on request #{tracking}? Reply 1 (poor) to 5 (great).")
SURVEY_SMS_THANKS = N_("{city} 3-1-1: thank you for your answer. It helps us serve you better.")
SURVEY_EMAIL_SUBJECT = N_("{city} 3-1-1: how did we do on request #{tracking}?")
SURVEY_EMAIL_BODY = N_(
    "Hello,\n\n{city} 3-1-1 has finished your request #{tracking} ({service}). "
    "How did we do? One question, one click:\n\n{link}\n\n"
    "The link works for {days} days. Thank you!"
)
SURVEY_PAGE_TITLE = N_("How did we do?")
SURVEY_PAGE_INTRO = N_(
    "{city} 3-1-1 has finished your request #{tracking} ({service}). "
    "How satisfied are you with how it was handled?"
)
SURVEY_RATING_LEGEND = N_("Your rating")
SURVEY_SCORE_LABELS = {
    1: N_("Poor"),
    2: N_("Fair"),
    3: N_("Okay"),
    4: N_("Good"),
    5: N_("Great"),
}
SURVEY_COMMENT_LABEL = N_("Anything you would like to add? (optional)")
SURVEY_COMMENT_HELP = N_(
    "Please leave out personal details. For a new problem, contact 3-1-1 instead."
)
SURVEY_SUBMIT = N_("Send my answer")
SURVEY_CHOOSE = N_("Please choose a rating from 1 to 5.")
SURVEY_COMMENT_TOO_LONG = N_("Your comment is too long: at most {max} characters, please.")
SURVEY_THANKS = N_("Thank you! Your answer was recorded.")
SURVEY_ALREADY_ANSWERED = N_("This survey was already answered. Thank you!")
SURVEY_EXPIRED = N_("This survey has expired. Thank you all the same.")
SURVEY_NOT_FOUND = N_("We could not find this survey. Please check the link.")
SURVEY_FORM_EXPIRED = N_("This page was open too long. Please choose your rating again.")
