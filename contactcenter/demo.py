"""A demo jurisdiction, so a newcomer can try the whole flow in a minute."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from contactcenter.agents.models import Agent, Role
from contactcenter.auth import hash_password, issue_token
from contactcenter.cases.canned import CannedResponse
from contactcenter.chats.settings import chat_settings, update_chat_settings
from contactcenter.demo_history import seed_history
from contactcenter.jurisdictions.models import ChannelAddress, Department, Jurisdiction, ServiceType
from contactcenter.jurisdictions.service import owned_address
from contactcenter.messages import Channel
from contactcenter.open311.attributes import attributes_of, set_attributes
from contactcenter.open311.clients import client_for_key, issue_key
from contactcenter.routing.admin import (
    save_calendar,
    save_queue,
    save_rule_set,
    save_sla_policy,
    update_agent_routing,
)

DEMO_SLUG = "demo"
DEMO_SMS_NUMBER = "+16135550311"
DEMO_VOICE_NUMBER = DEMO_SMS_NUMBER
"""The 3-1-1 number answers both texts and calls."""
DEMO_AGENT_EMAIL = "agent@demo.example"
DEMO_CHAT_KEY = "demo-chat-key"
DEMO_EMAIL = "311@demo-city.example"
DEMO_OPEN311_KEY = "demo-open311-key"
"""A fixed Open311 API key, so the README's curl line works as printed (demo only)."""
DEMO_CHAT_ORIGINS = (
    # The dev server's own sample page (/chat/demo), and a city page served next to it.
    "http://127.0.0.1:5000",
    "http://localhost:5000",
    "http://localhost:8000",
    "http://127.0.0.1:8000",
)

DEPARTMENTS = [
    ("311", "3-1-1 Contact Centre", True),
    ("PW", "Public Works", False),
    ("TRANS", "Transportation", False),
    ("SAN", "Sanitation", False),
    ("PARKS", "Parks and Forestry", False),
]


def _service(
    code: str,
    names: tuple[str, str, str],
    group: str,
    department: str,
    days: float,
    keywords: list[str],
) -> dict[str, Any]:
    english, french, spanish = names
    return {
        "code": code,
        "name": english,
        "name_translations": {"fr": french, "es": spanish},
        "group": group,
        "department": department,
        "target_days": days,
        "keywords": keywords,
    }


# Keywords in English, French and Spanish: residents write in all three.
SERVICE_TYPES = [
    _service(
        "pothole",
        ("Pothole", "Nid-de-poule", "Bache"),
        "Streets",
        "PW",
        5,
        ["pothole", "potholes", "nid de poule", "nids de poule", "bache", "hoyo"],
    ),
    _service(
        "streetlight",
        ("Streetlight out", "Lampadaire éteint", "Farola apagada"),
        "Streets",
        "TRANS",
        7,
        ["streetlight", "street light", "light out", "lampadaire", "farola", "luz"],
    ),
    _service(
        "missed-pickup",
        (
            "Missed garbage or recycling pickup",
            "Collecte des ordures ou du recyclage manquée",
            "Recolección de basura o reciclaje no realizada",
        ),
        "Waste",
        "SAN",
        2,
        ["garbage", "trash", "recycling", "pickup", "ordures", "poubelle", "recyclage", "basura"],
    ),
    _service(
        "graffiti",
        ("Graffiti", "Graffiti", "Grafiti"),
        "Streets",
        "PW",
        10,
        ["graffiti", "tag", "tags", "grafiti", "pintada"],
    ),
    _service(
        "dumping",
        ("Illegal dumping", "Dépôt sauvage", "Vertido ilegal"),
        "Waste",
        "SAN",
        5,
        ["dumping", "dumped", "mattress", "depot sauvage", "colchon", "tirado"],
    ),
    _service(
        "tree",
        ("Fallen tree or branch", "Arbre ou branche tombé", "Árbol o rama caída"),
        "Parks",
        "PARKS",
        3,
        ["tree", "branch", "arbre", "branche", "arbol", "rama"],
    ),
    _service(
        "water-leak",
        ("Water leak", "Fuite d'eau", "Fuga de agua"),
        "Water",
        "PW",
        1,
        ["water leak", "leak", "water main", "fuite", "fuite d eau", "fuga", "fuga de agua"],
    ),
]


WEEKDAYS = {day: [["08:30", "16:30"]] for day in ("mon", "tue", "wed", "thu", "fri")}

DEMO_RULES: dict[str, Any] = {
    "rules": [
        {
            "name": "Water leaks are urgent",
            "when": {"service_types": ["water-leak"]},
            "then": {
                "queue": "streets",
                "priority": "urgent",
                "sla": "urgent",
                "targets": [{"queue": "streets", "timeout": 120}, {"queue": "supervisors"}],
            },
        },
        {
            "name": "Spanish speakers",
            "when": {"languages": ["es"]},
            "then": {"queue": "general", "language": "es"},
        },
        {
            "name": "Streets",
            "when": {"service_groups": ["Streets"]},
            "then": {"queue": "streets"},
        },
    ],
    "default": {"queue": "general", "sla": "standard"},
}


def _seed_routing(session: Session, jurisdiction: Jurisdiction) -> None:
    """Queues, a business-hours calendar, two SLA policies and a few rules to start from."""
    save_queue(session, jurisdiction, "general", name="General 3-1-1", is_default=True)
    save_queue(session, jurisdiction, "streets", name="Streets and water", department="PW")
    save_queue(session, jurisdiction, "supervisors", name="Supervisors", is_supervisor=True)
    save_calendar(
        session,
        jurisdiction,
        "office",
        name="City hall hours",
        config={"hours": WEEKDAYS, "holiday_country": "CA", "holiday_subdivision": "ON"},
    )
    save_sla_policy(
        session,
        jurisdiction,
        "standard",
        name="Standard",
        calendar="office",
        first_response_minutes=4 * 60,
        resolution_minutes=5 * 8 * 60,
        escalate_queue="supervisors",
        is_default=True,
    )
    save_sla_policy(
        session,
        jurisdiction,
        "urgent",
        name="Urgent, around the clock",
        first_response_minutes=15,
        resolution_minutes=8 * 60,
        escalate_queue="supervisors",
        escalate_priority="urgent",
    )
    save_rule_set(session, jurisdiction, DEMO_RULES, None)


CANNED = {
    "Crew dispatched": {
        "en": "A crew is on its way for your {service} report ({tracking_number}). "
        "Thank you for helping {city}.",
        "fr": "Une équipe est en route pour votre signalement {service} ({tracking_number}). "
        "Merci d'aider {city}.",
        "es": "Un equipo va en camino por su reporte de {service} ({tracking_number}). "
        "Gracias por ayudar a {city}.",
    },
    "Need more details": {
        "en": "To handle {tracking_number}, we need a few more details: "
        "where exactly is it, and since when?",
        "fr": "Pour traiter {tracking_number}, il nous faut quelques précisions : "
        "où exactement, et depuis quand?",
        "es": "Para atender {tracking_number}, necesitamos más detalles: "
        "¿dónde exactamente y desde cuándo?",
    },
}
"""Two canned responses in each demo language; see :mod:`contactcenter.cases.canned`."""


def _seed_canned(session: Session, jurisdiction: Jurisdiction) -> None:
    """Add whichever demo canned responses are missing (a supervisor may have deleted some)."""
    rows = session.execute(
        sa.select(CannedResponse.title, CannedResponse.language).where(
            CannedResponse.jurisdiction_id == jurisdiction.id
        )
    )
    existing = {(title, language) for title, language in rows}
    for title, bodies in CANNED.items():
        for language, body in bodies.items():
            if (title, language) not in existing:
                session.add(
                    CannedResponse(
                        jurisdiction_id=jurisdiction.id, title=title, body=body, language=language
                    )
                )


def _yes_no(code: str, question: str, *, required: bool = False) -> dict[str, Any]:
    return {
        "code": code,
        "datatype": "singlevaluelist",
        "description": question,
        "required": required,
        "values": [{"key": "yes", "name": "Yes"}, {"key": "no", "name": "No"}],
    }


DEMO_ATTRIBUTES: dict[str, list[dict[str, Any]]] = {
    "pothole": [
        {
            "code": "size",
            "datatype": "singlevaluelist",
            "description": "How big is the pothole?",
            "required": True,
            "values": [
                {"key": "small", "name": "Smaller than a dinner plate"},
                {"key": "medium", "name": "Up to a car tire"},
                {"key": "large", "name": "Larger than a car tire"},
            ],
        },
        _yes_no("bike_lane", "Is it in the bike lane?"),
    ],
    "graffiti": [
        {
            "code": "surface",
            "datatype": "multivaluelist",
            "description": "What is painted on?",
            "values": [
                {"key": "wall", "name": "Wall"},
                {"key": "fence", "name": "Fence"},
                {"key": "sign", "name": "Sign or pole"},
                {"key": "sidewalk", "name": "Sidewalk or road"},
                {"key": "other", "name": "Something else"},
            ],
        },
        _yes_no("offensive", "Is the content offensive or hateful?", required=True),
    ],
}
"""Open311 attributes (extra questions) of two demo service types."""


def _seed_open311(session: Session, jurisdiction: Jurisdiction) -> None:
    """Attributes for service types that have none yet, and the demo's fixed API key."""
    types = {
        t.code: t
        for t in session.scalars(
            sa.select(ServiceType).where(
                ServiceType.jurisdiction_id == jurisdiction.id,
                ServiceType.code.in_(DEMO_ATTRIBUTES),
            )
        )
    }
    existing = attributes_of(session, [t.id for t in types.values()])
    for code, service_type in types.items():
        if not existing[service_type.id]:
            set_attributes(session, service_type, DEMO_ATTRIBUTES[code])
    if client_for_key(session, DEMO_OPEN311_KEY) is None:  # an admin may have revoked it
        issue_key(
            session,
            jurisdiction,
            name="Demo app",
            contact_email="apps@demo-city.example",
            key=DEMO_OPEN311_KEY,
        )


@dataclass(frozen=True)
class DemoCredentials:
    jurisdiction: str
    sms_number: str
    email: str
    chat_key: str
    agent_email: str
    agent_password: str
    api_token: str
    agent_id: int
    open311_key: str = DEMO_OPEN311_KEY


def _seed_department_heads(session: Session, jurisdiction: Jurisdiction) -> None:
    """A head for each department that has none (``pw.head@demo-city.example``), so that
    ``contactcenter performance weekly`` has summaries to show. Not ``311@``: that is the
    demo's inbound address, and a summary sent there would come back as a request."""
    domain = DEMO_EMAIL.rpartition("@")[2]
    for department in session.scalars(
        sa.select(Department).where(
            Department.jurisdiction_id == jurisdiction.id, Department.head_email == ""
        )
    ):
        department.head_email = f"{department.code.lower()}.head@{domain}"


def _seed_chat(session: Session, jurisdiction: Jurisdiction) -> None:
    """The web chat's public key, and the local pages that may embed it."""
    if owned_address(session, jurisdiction.id, Channel.WEBCHAT) is None:
        session.add(
            ChannelAddress(
                jurisdiction_id=jurisdiction.id, channel=Channel.WEBCHAT, address=DEMO_CHAT_KEY
            )
        )
    if not chat_settings(jurisdiction).allowed_origins:
        update_chat_settings(jurisdiction, {"allowed_origins": list(DEMO_CHAT_ORIGINS)})


def seed_demo(session: Session, *, history: bool = False) -> DemoCredentials:
    """Create (or refresh) the demo jurisdiction; a new agent password and token each time.

    ``history`` adds a year of sample requests for the public performance page and eight weeks
    of contact-center work for the staff's performance screens (each once); see
    :mod:`contactcenter.demo_history`.
    """
    jurisdiction = session.scalars(
        sa.select(Jurisdiction).where(Jurisdiction.slug == DEMO_SLUG)
    ).one_or_none()
    if jurisdiction is None:
        jurisdiction = Jurisdiction(
            slug=DEMO_SLUG,
            name="Demo City",
            timezone="America/Toronto",
            country="CA",
            languages=["en", "fr", "es"],
        )
        session.add(jurisdiction)
        session.flush()
        session.add(
            ChannelAddress(
                jurisdiction_id=jurisdiction.id, channel=Channel.SMS, address=DEMO_SMS_NUMBER
            )
        )
        departments = {}
        for code, name, is_default in DEPARTMENTS:
            departments[code] = Department(
                jurisdiction_id=jurisdiction.id, code=code, name=name, is_default=is_default
            )
        session.add_all(departments.values())
        session.flush()
        for service in SERVICE_TYPES:
            fields = dict(service)
            department = departments[fields.pop("department")]
            session.add(
                ServiceType(jurisdiction_id=jurisdiction.id, department_id=department.id, **fields)
            )
        session.flush()
        _seed_routing(session, jurisdiction)
    if owned_address(session, jurisdiction.id, Channel.VOICE) is None:  # older demo databases
        session.add(
            ChannelAddress(
                jurisdiction_id=jurisdiction.id, channel=Channel.VOICE, address=DEMO_VOICE_NUMBER
            )
        )
    if owned_address(session, jurisdiction.id, Channel.EMAIL) is None:
        session.add(
            ChannelAddress(
                jurisdiction_id=jurisdiction.id, channel=Channel.EMAIL, address=DEMO_EMAIL
            )
        )
    _seed_department_heads(session, jurisdiction)
    _seed_chat(session, jurisdiction)
    _seed_canned(session, jurisdiction)
    _seed_open311(session, jurisdiction)
    if history:
        seed_history(session, jurisdiction)
    agent = session.scalars(sa.select(Agent).where(Agent.email == DEMO_AGENT_EMAIL)).one_or_none()
    if agent is None:
        agent = Agent(
            email=DEMO_AGENT_EMAIL,
            name="Demo Agent",
            role=Role.SUPERVISOR,
            languages=["en", "fr"],
            jurisdictions=[jurisdiction],
        )
        session.add(agent)
        session.flush()
        update_agent_routing(
            session, agent, [jurisdiction.id], queues=["general", "streets", "supervisors"]
        )
    password = secrets.token_urlsafe(9)
    agent.password_hash = hash_password(password)
    session.flush()
    token = issue_token(session, agent, name="demo")
    return DemoCredentials(
        DEMO_SLUG,
        DEMO_SMS_NUMBER,
        DEMO_EMAIL,
        DEMO_CHAT_KEY,
        DEMO_AGENT_EMAIL,
        password,
        token,
        agent.id,
    )
