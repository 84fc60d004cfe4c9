"""Realistic inbound-SMS traffic, as ready-to-send, Twilio-signed HTTP/1.1 requests.

One stream is an endless, deterministic sequence of messages from many residents of the demo
city: new reports with an address (a case is opened and routed), new reports without one (the
case then waits for a location), location answers and "any update?" follow-ups from the same
resident a little later (the conversation paths), a few STATUS queries (the command path), in
English, French and Spanish. Each message has a fresh MessageSid, so nothing is a duplicate.

A request is the exact bytes the load generator writes to the socket, signed the way Twilio
signs (HMAC-SHA1 over the public URL and the sorted form fields), with the form fields Twilio
really sends. Building and signing happen before a timed phase starts, never during it.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "5e" * 16
MESSAGING_SERVICE_SID = "MG" + "7a" * 16

STREETS = [
    ("Main", "St"),
    ("Elgin", "Street"),
    ("Bank", "St"),
    ("Rideau", "St"),
    ("Somerset", "St"),
    ("Carling", "Ave"),
    ("Bronson", "Ave"),
    ("Preston", "St"),
    ("Wellington", "St"),
    ("Laurier", "Ave"),
    ("Woodroffe", "Ave"),
    ("Baseline", "Rd"),
    ("Merivale", "Rd"),
    ("Smyth", "Rd"),
    ("Riverside", "Dr"),
]
FR_STREETS = ["Principale", "Notre-Dame", "Saint-Joseph", "Montcalm", "Laurier", "Champlain"]
ES_STREETS = ["Mayor", "Real", "Colón", "Juárez", "Hidalgo", "del Sol"]

# First messages that say where: the intake recognizes the place and opens a complete case.
WITH_ADDRESS_EN = [
    "Pothole at {n} {street}",
    "Big pothole in front of {n} {street}, please fix it before someone gets hurt",
    "Streetlight out at {street} and {street2}",
    "Garbage was not picked up at {n} {street} this week",
    "Someone dumped an old mattress near {n} {street}",
    "A tree branch is down and blocking the sidewalk at {n} {street}",
    "Water leak from the hydrant at {n} {street}, it has been running all day",
    "Graffiti on the bus shelter at {street} & {street2}",
    "Recycling bins not emptied at {n} {street}",
    "The street light near {n} {street} keeps flickering",
    "Loud construction noise every night at {n} {street}",
]
WITH_ADDRESS_FR = [
    "Nid de poule devant le {n} rue {fr}",
    "Les ordures n'ont pas été ramassées au {n} rue {fr}",
    "Un arbre est tombé sur le trottoir au {n} chemin {fr}",
]
WITH_ADDRESS_ES = [
    "Hay un hoyo muy grande en la calle {es} {n}",
    "La farola no funciona en avenida {es} {n}",
]
# First messages that do not say where: the case waits for a location.
WITHOUT_ADDRESS = [
    "There is a huge pothole on my street",
    "The streetlight in front of my house has been out for a week",
    "Someone dumped garbage bags in the park",
    "Il y a un nid de poule énorme dans ma rue",
    "Hay basura tirada en el parque",
]
LOCATION_ANSWERS = [
    "It's at {n} {street}",
    "Corner of {street} and {street2}",
    "In front of the library on {street}, near number {n}",
    "Au {n} rue {fr}",
]
FOLLOW_UPS = [
    "Any update on this?",
    "It's getting worse, a car hit it this morning",
    "Still not fixed, thanks for checking",
    "I sent a photo yesterday, is someone coming?",
]


@dataclass(frozen=True)
class Message:
    sender: str
    body: str
    kind: str  # first_with_address, first_without_address, location, follow_up, status


def _fill(template: str, rng: random.Random) -> str:
    name, suffix = rng.choice(STREETS)
    name2, suffix2 = rng.choice(STREETS)
    return template.format(
        n=rng.randint(1, 2999),
        street=f"{name} {suffix}",
        street2=f"{name2} {suffix2}",
        fr=rng.choice(FR_STREETS),
        es=rng.choice(ES_STREETS),
    )


def messages(seed: int) -> Iterator[Message]:
    """An endless conversation mix; about a quarter of messages come from a resident who wrote
    before (a location answer, a follow-up or a STATUS query, 20 to 250 messages later)."""
    rng = random.Random(seed)
    used: set[str] = set()
    pending: list[tuple[int, int, Message]] = []  # (due position, tiebreak, message)
    position = 0
    while True:
        if pending and pending[0][0] <= position:
            yield heapq.heappop(pending)[2]
            position += 1
            continue
        while True:
            sender = (
                f"+1{rng.choice(('613', '343'))}{rng.randint(200, 999)}{rng.randint(0, 9999):04d}"
            )
            if sender not in used:
                used.add(sender)
                break

        def later(body: str, kind: str, lo: int = 20, hi: int = 250, s: str = sender) -> None:
            due = position + rng.randint(lo, hi)  # noqa: B023 - called in this iteration only
            heapq.heappush(pending, (due, rng.getrandbits(32), Message(s, body, kind)))

        roll = rng.random()
        if roll < 0.78:
            pool = rng.choices(
                (WITH_ADDRESS_EN, WITH_ADDRESS_FR, WITH_ADDRESS_ES), weights=(80, 12, 8)
            )[0]
            message = Message(sender, _fill(rng.choice(pool), rng), "first_with_address")
            if rng.random() < 0.25:
                later(rng.choice(FOLLOW_UPS), "follow_up")
        else:
            message = Message(sender, rng.choice(WITHOUT_ADDRESS), "first_without_address")
            later(_fill(rng.choice(LOCATION_ANSWERS), rng), "location")
            if rng.random() < 0.3:
                later("STATUS", "status", 260, 400)
        yield message
        position += 1


class RequestBuilder:
    """Twilio's form for one message, signed for ``url`` with ``auth_token``, as raw bytes."""

    def __init__(self, url: str, auth_token: str, to_number: str, sid_seed: int) -> None:
        self.url = url
        self.validator = RequestValidator(auth_token)
        self.to_number = to_number
        self.sid_rng = random.Random(sid_seed)
        host_port = url.split("//", 1)[1].split("/", 1)[0]
        self.path = "/" + url.split("//", 1)[1].split("/", 1)[1]
        self.head = (
            f"POST {self.path} HTTP/1.1\r\n"
            f"Host: {host_port}\r\n"
            "User-Agent: TwilioProxy/1.1\r\n"
            "Accept: */*\r\n"
            "Cache-Control: max-age=259200\r\n"
            "Content-Type: application/x-www-form-urlencoded; charset=UTF-8\r\n"
        )

    def params(self, message: Message) -> dict[str, str]:
        sid = f"SM{self.sid_rng.getrandbits(128):032x}"
        return {
            "ToCountry": "CA",
            "ToState": "ON",
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ToCity": "OTTAWA",
            "FromZip": "",
            "SmsSid": sid,
            "FromState": "ON",
            "SmsStatus": "received",
            "FromCity": "OTTAWA",
            "Body": message.body,
            "FromCountry": "CA",
            "To": self.to_number,
            "MessagingServiceSid": MESSAGING_SERVICE_SID,
            "ToZip": "",
            "NumSegments": "1",
            "MessageSid": sid,
            "AccountSid": ACCOUNT_SID,
            "From": message.sender,
            "ApiVersion": "2010-04-01",
        }

    def build(self, message: Message) -> bytes:
        params = self.params(message)
        signature = self.validator.compute_signature(self.url, params)
        body = urlencode(params).encode()
        head = f"{self.head}X-Twilio-Signature: {signature}\r\nContent-Length: {len(body)}\r\n\r\n"
        return head.encode() + body
