"""The console's view of residents' email: attachments and the whole original message on the
case page, and their downloads — served so no browser ever renders them, escaped wherever the
resident's words appear, and invisible to another jurisdiction's agents."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from contactcenter.agents.models import Agent
from contactcenter.auth import hash_password
from contactcenter.cases.models import Case, DeliveryStatus, Interaction
from contactcenter.console.attachments import safe_filename, served_type, size_label
from contactcenter.jurisdictions.models import Jurisdiction
from contactcenter.mail.models import Attachment, RawEmail, RawEmailState
from contactcenter.messages import Channel, Direction
from tests import factories

PASSWORD = "correct horse battery"
HOSTILE = "<script>alert(1)</script>"
RAW = (
    b"From: Marge <marge@example.org>\r\nTo: 311@springfield.example\r\n"
    b"Subject: Pothole\r\nMessage-ID: <m1@example.org>\r\n\r\nThere is a pothole.\r\n"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@dataclass
class Mail:
    case: Case
    interaction: Interaction
    photo: Attachment
    page: Attachment
    dropped: Attachment
    raw: RawEmail


def text(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def sign_in(client: FlaskClient, agent: Agent) -> FlaskClient:
    page = client.get("/console/login")
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', text(page))
    assert token
    response = client.post(
        "/console/login",
        data={"csrf_token": token.group(1), "email": agent.email, "password": PASSWORD},
    )
    assert response.status_code == 302, text(response)
    return client


def attachment(session: Session, interaction: Interaction, **fields: object) -> Attachment:
    data = fields.pop("data", b"")
    assert isinstance(data, bytes)
    row = Attachment(
        jurisdiction_id=interaction.jurisdiction_id,
        interaction_id=interaction.id,
        sha256=hashlib.sha256(data).hexdigest(),
        size=len(data),
        data=data or None,
        **fields,
    )
    session.add(row)
    return row


def email_interaction(
    session: Session, city: Jurisdiction, case: Case, *, subject: str, body: str
) -> Interaction:
    interaction = Interaction(
        jurisdiction_id=city.id,
        case=case,
        channel=Channel.EMAIL,
        direction=Direction.INBOUND,
        provider_id=f"m{case.id}.{subject[:8]}@example.org",
        from_address="marge@example.org",
        to_address="311@springfield.example",
        subject=subject,
        body=body,
        delivery_status=DeliveryStatus.RECEIVED,
    )
    session.add(interaction)
    session.flush()
    return interaction


def raw_email(
    session: Session, interaction: Interaction, *, text: str, **fields: object
) -> RawEmail:
    raw = RawEmail(
        jurisdiction_id=interaction.jurisdiction_id,
        source="smtp",
        envelope_from="marge@example.org",
        recipient="311@springfield.example",
        size=len(RAW),
        data=RAW,
        text=text,
        state=fields.pop("state", RawEmailState.FILED),
        interaction_id=interaction.id,
        **fields,
    )
    session.add(raw)
    return raw


@pytest.fixture
def agent(session: Session, city: Jurisdiction) -> Agent:
    dana, _token = factories.make_agent(session, [city], email="dana@city.example")
    dana.password_hash = hash_password(PASSWORD)
    session.commit()
    return dana


@pytest.fixture
def outsider(session: Session, other_city: Jurisdiction) -> Agent:
    """An agent of Shelbyville only."""
    bart, _token = factories.make_agent(session, [other_city], email="bart@shelbyville.example")
    bart.password_hash = hash_password(PASSWORD)
    session.commit()
    return bart


@pytest.fixture
def mail(session: Session, city: Jurisdiction) -> Mail:
    """An email from Marge on a case: a photo, a hostile HTML page, a file too large to keep."""
    case = factories.make_case(session, city, channel=Channel.EMAIL)
    interaction = email_interaction(
        session, city, case, subject=f"Pothole {HOSTILE}", body=f"Trimmed {HOSTILE}"
    )
    photo = attachment(
        session, interaction, filename="trou de rue é.png", content_type="image/png", data=PNG
    )
    page = attachment(
        session,
        interaction,
        filename=f'../../{HOSTILE}"evil.html',
        declared_type="image/png",
        content_type="text/html",
        data=b"<html><script>alert(document.cookie)</script></html>",
    )
    dropped = attachment(
        session,
        interaction,
        filename="video.mov",
        content_type="video/quicktime",
        dropped_reason="over the 25 MB limit",
    )
    dropped.size = 80 * 1024 * 1024
    raw = raw_email(session, interaction, text=f"Whole message {HOSTILE}\n> quoted history")
    session.commit()
    return Mail(case, interaction, photo, page, dropped, raw)


@pytest.fixture
def signed_in(client: FlaskClient, agent: Agent) -> FlaskClient:
    return sign_in(client, agent)


# --- The case page ------------------------------------------------------------------------------


def test_the_case_page_lists_an_emails_attachments_with_type_size_and_a_download_link(
    signed_in: FlaskClient, mail: Mail
) -> None:
    page = text(signed_in.get(f"/console/cases/{mail.case.id}"))

    assert f'href="/console/attachments/{mail.photo.id}"' in page
    assert "trou de rue é.png" in page
    assert "image/png · 72 bytes" in page
    assert f'href="/console/attachments/{mail.page.id}"' in page
    assert "video.mov · video/quicktime · 80.0 MB" in page
    assert "not kept: over the 25 MB limit" in page
    assert f"/console/attachments/{mail.dropped.id}" not in page


def test_the_whole_message_and_the_original_are_one_click_away(
    signed_in: FlaskClient, mail: Mail
) -> None:
    page = text(signed_in.get(f"/console/cases/{mail.case.id}"))

    details = page[page.index('<details class="original-email">') :]
    details = details[: details.index("</details>")]
    assert "<summary>Show the whole message</summary>" in details
    assert "Whole message &lt;script&gt;alert(1)&lt;/script&gt;\n&gt; quoted history" in details
    assert f'href="/console/interactions/{mail.interaction.id}/original.eml"' in details


def test_everything_the_resident_wrote_is_escaped(signed_in: FlaskClient, mail: Mail) -> None:
    page = text(signed_in.get(f"/console/cases/{mail.case.id}"))

    assert HOSTILE not in page
    assert "Pothole &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the subject
    assert "Trimmed &lt;script&gt;alert(1)&lt;/script&gt;" in page  # the body
    assert "../../&lt;script&gt;alert(1)&lt;/script&gt;&#34;evil.html" in page  # the file name


def test_a_case_with_many_emails_loads_their_parts_in_two_queries(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    mail: Mail,
    count_queries: Callable[[], Any],
) -> None:
    with count_queries() as before:
        assert signed_in.get(f"/console/cases/{mail.case.id}").status_code == 200
    case = session.get_one(Case, mail.case.id)
    for n in range(5):
        more = email_interaction(session, city, case, subject=f"Again {n}", body="still there")
        attachment(session, more, filename=f"p{n}.png", content_type="image/png", data=PNG)
        raw_email(session, more, text=f"whole {n}")
    session.commit()

    with count_queries() as after:
        page = text(signed_in.get(f"/console/cases/{mail.case.id}"))

    assert after.count == before.count
    assert page.count("Show the whole message") == 6


def test_a_case_without_email_runs_no_email_queries(
    signed_in: FlaskClient,
    session: Session,
    city: Jurisdiction,
    count_queries: Callable[[], Any],
) -> None:
    case = factories.make_case(session, city)
    session.commit()

    with count_queries() as counter:
        page = text(signed_in.get(f"/console/cases/{case.id}"))

    assert "Show the whole message" not in page
    assert not [s for s in counter.statements if "attachments" in s or "raw_emails" in s]


def test_a_duplicate_arrival_does_not_replace_the_filed_original(
    signed_in: FlaskClient, session: Session, mail: Mail
) -> None:
    interaction = session.get_one(Interaction, mail.interaction.id)
    raw_email(session, interaction, text="the retry", state=RawEmailState.DUPLICATE)
    session.commit()

    page = text(signed_in.get(f"/console/cases/{mail.case.id}"))

    assert "Whole message" in page and "the retry" not in page
    assert page.count("Show the whole message") == 1


# --- Downloads ----------------------------------------------------------------------------------


def test_an_attachment_downloads_with_its_sniffed_type_and_locked_down_headers(
    signed_in: FlaskClient, mail: Mail
) -> None:
    response = signed_in.get(f"/console/attachments/{mail.photo.id}")

    assert response.status_code == 200
    assert response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;")
    assert "filename*=UTF-8''trou%20de%20rue%20%C3%A9.png" in disposition
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_a_risky_file_is_served_as_opaque_bytes_under_a_clean_name(
    signed_in: FlaskClient, mail: Mail
) -> None:
    response = signed_in.get(f"/console/attachments/{mail.page.id}")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/octet-stream"
    disposition = response.headers["Content-Disposition"]
    name = unquote(disposition.split("filename*=UTF-8''", 1)[1])
    assert name == "_.._script_alert(1)_script_evil.html"
    assert "/" not in name and '"' not in name and "<" not in name
    assert disposition.count('"') == 2  # only the quotes of the ASCII fallback name


def test_a_file_too_large_to_keep_is_not_found(signed_in: FlaskClient, mail: Mail) -> None:
    assert signed_in.get(f"/console/attachments/{mail.dropped.id}").status_code == 404


def test_the_original_message_downloads_as_eml(signed_in: FlaskClient, mail: Mail) -> None:
    response = signed_in.get(f"/console/interactions/{mail.interaction.id}/original.eml")

    assert response.status_code == 200
    assert response.data == RAW
    assert response.headers["Content-Type"] == "message/rfc822"
    assert (
        f"filename*=UTF-8''email-{mail.interaction.id}.eml"
        in response.headers["Content-Disposition"]
    )
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "sandbox; default-src 'none'"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_another_jurisdictions_agent_gets_404_for_everything(
    client: FlaskClient, outsider: Agent, mail: Mail
) -> None:
    sign_in(client, outsider)

    for path in (
        f"/console/attachments/{mail.photo.id}",
        f"/console/interactions/{mail.interaction.id}/original.eml",
        f"/console/cases/{mail.case.id}",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert b"PNG" not in response.data and b"There is a pothole" not in response.data


def test_unknown_and_absurd_ids_are_404(signed_in: FlaskClient, mail: Mail) -> None:
    for path in (
        "/console/attachments/999999",
        "/console/attachments/99999999999999999999",
        "/console/interactions/999999/original.eml",
        "/console/interactions/99999999999999999999/original.eml",
    ):
        assert signed_in.get(path).status_code == 404, path


def test_downloads_need_a_signed_in_agent(client: FlaskClient, mail: Mail) -> None:
    response = client.get(f"/console/attachments/{mail.photo.id}")

    assert response.status_code == 302
    assert "/console/login" in response.headers["Location"]
    assert PNG not in response.data


# --- Helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sniffed", "served"),
    [
        ("image/png", "image/png"),
        ("application/pdf", "application/pdf"),
        ("text/plain", "text/plain; charset=utf-8"),
        ("text/html", "application/octet-stream"),
        ("image/svg+xml", "application/octet-stream"),
        ("application/javascript", "application/octet-stream"),
        ("application/x-msdownload", "application/octet-stream"),
        ("", "application/octet-stream"),
    ],
)
def test_only_harmless_types_keep_their_content_type(sniffed: str, served: str) -> None:
    assert served_type(sniffed) == served


@pytest.mark.parametrize(
    ("name", "safe"),
    [
        ("photo.jpg", "photo.jpg"),
        ("../../etc/passwd", "_.._etc_passwd"),
        ("C:\\Users\\x.doc", "C_Users_x.doc"),
        ('a"b;c.txt', "a_b_c.txt"),
        ("line\r\nbreak.txt", "linebreak.txt"),
        ("\u202egnp.exe", "gnp.exe"),
        ("...", "attachment"),
        ("", "attachment"),
        ("x" * 300 + ".pdf", "x" * 146 + ".pdf"),
    ],
)
def test_file_names_are_cleaned_before_they_reach_a_browser(name: str, safe: str) -> None:
    assert safe_filename(name) == safe


def test_sizes_read_like_a_file_manager() -> None:
    assert [size_label(n) for n in (0, 1023, 14 * 1024, 2_400_000)] == [
        "0 bytes",
        "1023 bytes",
        "14 KB",
        "2.3 MB",
    ]
