"""MIME parsing, reply trimming and report detection for the email channel (pure functions).

Real-world mail from two open-source corpora (flanker, mail-parser) checks that nothing readable is
lost; a hand-written hostile corpus in tests/data/email/ checks the defences. Time limits are on
CPU time (``time.process_time``) so a busy test machine does not make them flaky.
"""

from __future__ import annotations

import base64
import email.policy
import re
import time
from email.message import Message
from email.parser import BytesParser
from pathlib import Path

import pytest

from channels.email.parse import (
    ParsedEmail,
    html_to_text,
    parse_email,
    safe_filename,
    sniff_type,
    thread_refs,
)
from channels.email.trim import trim_reply
from tests.conftest import TESTDATA

EML_DIR = TESTDATA / "email" / "eml"
REPLY_DIR = TESTDATA / "email" / "reply-bodies"
OWN_DIR = Path(__file__).parent / "data" / "email"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _shared(folder: Path, pattern: str) -> list[Path]:
    if not folder.is_dir():
        pytest.skip(f"shared test data not found at {folder}")
    return sorted(folder.glob(pattern))


def _eml_files() -> list[Path]:
    if not EML_DIR.is_dir():
        return []
    return sorted(EML_DIR.glob("*/*.eml"))


def _own(name: str) -> ParsedEmail:
    return parse_email((OWN_DIR / name).read_bytes())


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", CONTROL.sub("", text).lower()))


def _decoded_text(part: Message) -> str:
    data = part.get_payload(decode=True)
    if not isinstance(data, bytes):
        return str(part.get_payload())
    charset = part.get_content_charset() or "utf-8"
    for label, errors in ((charset, "strict"), ("utf-8", "strict"), (charset, "replace")):
        try:
            return data.decode(label, errors=errors)
        except (LookupError, UnicodeDecodeError):
            continue
    return data.decode("utf-8", errors="replace")


def _plain_walk(message: Message) -> tuple[list[str], list[Message]]:
    """The readable plain parts and the attachment parts, found by a direct recursive walk."""
    plain: list[str] = []
    attachments: list[Message] = []

    def visit(part: Message) -> None:
        content_type = part.get_content_type()
        disposition = part.get_content_disposition()
        payload = part.get_payload()
        if isinstance(payload, list) and (
            content_type.startswith("multipart/")
            or (content_type == "message/rfc822" and disposition != "attachment")
        ):
            for sub in payload:
                visit(sub)
            return
        if content_type.startswith("multipart/"):
            return  # a multipart whose boundary is missing: the parser recovers it on its own
        is_body = content_type in ("text/plain", "text/html") and disposition != "attachment"
        if is_body and not part.get_filename():
            if content_type == "text/plain":
                plain.append(_decoded_text(part))
            return
        attachments.append(part)

    visit(message)
    return plain, attachments


# --- the shared real-world corpus ---------------------------------------------------------------


@pytest.mark.parametrize("path", _eml_files(), ids=lambda path: f"{path.parent.name}/{path.name}")
def test_real_world_mail_parses_without_losing_text_or_attachments(path: Path) -> None:
    raw = path.read_bytes()
    parsed = parse_email(raw)
    reference = BytesParser(policy=email.policy.default).parsebytes(raw)
    plain, attachments = _plain_walk(reference)

    text_words = _words(parsed.text)
    for body in plain:
        missing = _words(body) - text_words
        assert not missing, f"{sorted(missing)[:10]} lost from the text"
    assert len(parsed.attachments) == len(attachments)
    for ours, theirs in zip(parsed.attachments, attachments, strict=True):
        assert ours.declared_type == theirs.get_content_type()
        if not theirs.get_content_type().startswith("message/"):
            assert ours.data == (theirs.get_payload(decode=True) or b"")
        assert ours.content_type != "text/html"
    assert "\x00" not in parsed.text and "\r" not in parsed.text
    assert parsed.reply_text or not parsed.text.strip()


def test_the_shared_corpus_is_present_or_skipped_with_a_reason() -> None:
    files = _shared(EML_DIR, "*/*.eml")
    assert len(files) >= 40


def test_every_bounce_in_the_corpus_is_a_bounce_or_delay_with_its_failed_recipient() -> None:
    expected = {
        "bounce_broken-mime.eml": ("info@example.net",),
        "bounce_delayed.eml": ("foo@example.com",),
        "bounce_gmail-invalid-address.eml": ("awfawfawfawfawfaw@someserverhere.com",),
        "bounce_mailbox-full.eml": ("user@aol.com",),
        "bounce_office365.eml": ("noname@example.com",),
    }
    bounces = _shared(EML_DIR / "flanker", "bounce_*.eml")
    assert {path.name for path in bounces} == set(expected)
    for path in bounces:
        parsed = parse_email(path.read_bytes())
        assert parsed.report is not None, path.name
        assert parsed.report.kind in ("bounce", "delay"), path.name
        if parsed.report.kind == "bounce":
            assert parsed.report.failed_recipients == expected[path.name], path.name
        assert parsed.automated, path.name
        assert len(parsed.report.diagnostic) <= 300


def test_bounces_name_the_message_that_bounced() -> None:
    folder = EML_DIR / "flanker"
    _shared(folder, "*.eml")
    gmail = parse_email((folder / "bounce_gmail-invalid-address.eml").read_bytes())
    assert gmail.report is not None
    assert gmail.report.original_message_id == (
        "CAKsfaBUUGqVZiaMrmH3TRPfq1odQPtM7Ey5YW1SgyJJRHtAjgw@mail.gmail.com"
    )
    full = parse_email((folder / "bounce_mailbox-full.eml").read_bytes())
    assert full.report is not None
    assert full.report.original_message_id == "4E326A95.3010907@example.com"
    assert "5.2.2" in full.report.diagnostic


def test_aol_feedback_report_is_a_complaint_and_a_disposition_notification_a_receipt() -> None:
    folder = EML_DIR / "flanker"
    _shared(folder, "*.eml")
    complaint = parse_email((folder / "complaints_aol.eml").read_bytes())
    assert complaint.report is not None and complaint.report.kind == "complaint"
    assert complaint.report.original_message_id == "20101117174130.28884.55421@luna"
    assert complaint.automated
    receipt = parse_email((folder / "disposition-notification.eml").read_bytes())
    assert receipt.report is not None and receipt.report.kind == "receipt"
    assert receipt.report.original_message_id == "199509192301.23456@example.org"
    assert receipt.automated and receipt.automated_reason == "delivery report: receipt"


def test_ordinary_mail_in_the_corpus_is_not_a_report() -> None:
    folder = EML_DIR / "flanker"
    _shared(folder, "*.eml")
    for name in ("text-only.eml", "iphone.eml", "enclosed.eml", "multipart.eml"):
        parsed = parse_email((folder / name).read_bytes())
        assert parsed.report is None, name
        assert not parsed.automated, name


# --- reply trimming -----------------------------------------------------------------------------

REPLIES = {
    # file: (first line kept, a marker of the quote or signature that must be gone)
    "email_1_2.txt": ("Hi,", "> Hi folks"),
    "email_1_3.txt": ("Oh thanks.", "Russell Brown wrote:"),
    "email_1_4.txt": ("Awesome! I haven't had another problem with it.", "Loader seems"),
    "email_1_6.txt": ("I get proper rendering as well.", "Corey Donohoe"),
    "email_1_7.txt": (":+1:", "Steps 0-2 are in prod"),
    "email_1_8.txt": ("I will reply under this one", "Example Dev"),
    "email_2_1.txt": ("Outlook with a reply", "Google Apps Sync Team"),
    "email_2_2.txt": ("Outlook with a reply directly above line", "CRM Comments"),
    "email_2_3.txt": ("Outlook with a reply above headers using unusual format", "Kim via Site"),
    "email_BlackBerry.txt": ("Here is another email", "Sent from my BlackBerry"),
    "email_bullets.txt": ("test 2 this should list second", "Give us an example"),
    "email_gmail.txt": ("This is a test for inbox replying to a github message.", "Steven Scott"),
    "email_headers_no_delimiter.txt": ("And another reply!", "Dan Watson"),
    "email_iPhone.txt": ("Here is another email", "Sent from my iPhone"),
    "email_multi_word_sent_from_my_mobile_device.txt": ("Here is another email", "Verizon"),
    "email_one_is_not_on.txt": ("Thank, this is really helpful.", "Dave Tapley wrote"),
    "email_partial_quote_header.txt": ("On your remote host you can run:", "George Plymale"),
    "greedy_on.txt": ("On your remote host you can run:", "George Plymale"),
    "correct_sig.txt": ("this is an email with a correct -- signature.", "rick"),
    "pathological.txt": ("I think you're onto something.", "John Sullivan"),
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_trim_reply_keeps_the_reply_and_drops_the_quote(name: str) -> None:
    path = REPLY_DIR / name
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    first, marker = REPLIES[name]
    started = time.process_time()
    trimmed = trim_reply(path.read_text(encoding="utf-8"))
    assert time.process_time() - started < 1
    assert trimmed.startswith(first)
    assert marker not in trimmed


@pytest.mark.parametrize(
    "name",
    [
        "email_1_1.txt",
        "email_1_5.txt",
        "email_sent_from_my_not_signature.txt",
        "email_sig_delimiter_in_middle_of_line.txt",
    ],
)
def test_trim_reply_leaves_text_that_only_looks_like_a_signature(name: str) -> None:
    path = REPLY_DIR / name
    if not path.exists():
        pytest.skip(f"shared test data not found at {path}")
    original = path.read_text(encoding="utf-8")
    trimmed = trim_reply(original)
    last_line = {
        "email_1_1.txt": "-Abhishek Kona",
        "email_1_5.txt": "for a while.",
        "email_sent_from_my_not_signature.txt": "Sent from my desk, is much easier then my mobile",
        "email_sig_delimiter_in_middle_of_line.txt": "kthxbai",
    }[name]
    assert last_line in trimmed


def test_every_reply_body_trims_quickly() -> None:
    for path in _shared(REPLY_DIR, "*.txt"):
        text = path.read_text(encoding="utf-8")
        started = time.process_time()
        trim_reply(text)
        trim_reply(text * 50)
        assert time.process_time() - started < 1, path.name


def test_trim_reply_is_linear_on_hostile_input() -> None:
    hostile = [
        "On " + "a " * 50_000 + "wrote",
        ("From: x\n" * 20_000),
        ("> " * 20_000 + "\n") * 5,
        "Le " + "é " * 50_000,
        ("On Monday\n" * 30_000) + "wrote:",
    ]
    for text in hostile:
        started = time.process_time()
        assert trim_reply(text)
        assert time.process_time() - started < 1


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        (
            "Le trottoir est cassé.\n\nLe mar. 3 nov. 2026 à 16:12, Ville 311 <311@ville.example> "
            "a écrit :\n> Merci pour votre message.",
            "Le trottoir est cassé.",
            "Merci pour votre message",
        ),
        (
            "La farola sigue apagada.\n\nEl mar, 3 nov 2026 a las 16:12, Ciudad 311 "
            "(<311@ciudad.example>) escribió:\n> Gracias por su mensaje.",
            "La farola sigue apagada.",
            "Gracias por su mensaje",
        ),
        (
            "The bin was not collected.\n\n-----Original Message-----\nFrom: 311\n"
            "Sent: Monday\nTo: me\nSubject: Case 12\n\nYour case was closed.",
            "The bin was not collected.",
            "Your case was closed",
        ),
        (
            "Still broken.\n\nSent from my iPhone\n\n> On Nov 3, 2026, at 4:12 PM, City 311 "
            "wrote:\n> Closed.",
            "Still broken.",
            "Sent from my iPhone",
        ),
        (
            "Thanks, the sign is back up.\n\nLa signalisation est réparée.\n-- \nJean Dupont\n"
            "Rue de la Paix",
            "Thanks, the sign is back up.\n\nLa signalisation est réparée.",
            "Jean Dupont",
        ),
        (
            "Ya está arreglado.\n\nEnviado desde mi iPhone",
            "Ya está arreglado.",
            "Enviado desde",
        ),
    ],
)
def test_trim_reply_handles_french_spanish_outlook_and_phone_styles(
    text: str, kept: str, gone: str
) -> None:
    trimmed = trim_reply(text)
    assert trimmed.startswith(kept)
    assert gone not in trimmed


def test_trim_reply_returns_the_original_when_everything_is_quoted() -> None:
    text = "> only a quote\n> nothing else"
    assert trim_reply(text) == text


# --- the hostile corpus -------------------------------------------------------------------------


def test_html_only_mail_gives_its_words_and_never_its_script() -> None:
    parsed = _own("html-only-script.eml")
    assert "The streetlight on Maple Avenue is dark." in parsed.text
    assert "Please fix it soon." in parsed.text
    for code in ("document.cookie", "alert", "evilHandler", "color: red", "<"):
        assert code not in parsed.text
    assert "<script>" in parsed.html  # kept verbatim for admins, never rendered
    assert parsed.reply_text == parsed.text


SUBJECTS = [
    ("utf-8", "Bache en la calle Güemes — urgente ✓"),
    ("iso-8859-1", "Nid-de-poule rue de l'Église, très profond"),
    ("windows-1252", "“Broken” sign \u2013 corner of 5th €"),
    ("shift_jis", "道路の穴を修理してください"),
    ("koi8-r", "Яма на дороге возле школы"),
    ("gb2312", "路灯坏了请尽快修理"),
]


@pytest.mark.parametrize(("charset", "subject"), SUBJECTS, ids=[c for c, _ in SUBJECTS])
@pytest.mark.parametrize("encoding", ["B", "Q"])
def test_encoded_subjects_decode_in_any_charset(charset: str, subject: str, encoding: str) -> None:
    data = subject.encode(charset)
    if encoding == "B":
        word = base64.b64encode(data).decode()
    else:
        word = "".join(chr(b) if chr(b).isalnum() and b < 128 else f"={b:02X}" for b in data)
    raw = (
        f"From: a@example.org\r\nTo: 311@city.example\r\nSubject: Re: =?{charset}?{encoding}?"
        f"{word}?=\r\n  (case 7)\r\nMessage-ID: <s@example.org>\r\n\r\nbody\r\n"
    ).encode()
    assert parse_email(raw).subject == f"Re: {subject} (case 7)"


def test_unknown_charset_labels_decode_with_replacement_instead_of_failing() -> None:
    parsed = _own("unknown-charset.eml")
    assert parsed.subject.startswith("Qapla")
    assert parsed.subject.endswith("pothole")
    assert "Pothole on Elm Street" in parsed.text
    assert "near the school." in parsed.text


def test_nul_and_control_bytes_in_headers_and_body_are_removed() -> None:
    parsed = _own("nul-in-headers.eml")
    assert parsed.subject == "Broken subject line"
    assert parsed.from_address == "nul@example.org"
    assert "\x00" not in parsed.from_name
    assert parsed.text == "Body with a NUL byte and a bell in it."


def test_missing_content_type_means_plain_text() -> None:
    parsed = _own("missing-content-type.eml")
    assert parsed.text == "Graffiti on the library wall."
    assert parsed.attachments == ()


def test_a_broken_boundary_is_recovered_from_the_body() -> None:
    parsed = _own("broken-boundary.eml")
    assert parsed.text == "Overflowing trash can at the park entrance."
    assert [a.filename for a in parsed.attachments] == ["x.pdf"]
    assert any("Boundary" in defect for defect in parsed.defects)


def test_hostile_attachment_names_and_types_are_neutralised() -> None:
    parsed = _own("hostile-attachments.eml")
    assert parsed.text == "See the attached photos of the broken bench."
    by_name = {attachment.filename: attachment for attachment in parsed.attachments}
    assert set(by_name) == {"passwd", "été banc cassé.png", "cute-kitten.png", "invoice.html", ""}
    assert by_name["passwd"].data.startswith(b"root:")
    assert by_name["été banc cassé.png"].content_type == "image/png"
    assert by_name["été banc cassé.png"].declared_type == "image/jpeg"
    kitten = by_name["cute-kitten.png"]
    assert kitten.declared_type == "image/png"
    assert kitten.content_type != "image/png"
    assert kitten.data.startswith(b"MZ")
    invoice = by_name["invoice.html"]
    assert invoice.declared_type == "text/html"
    assert invoice.content_type in ("text/plain", "application/octet-stream")
    logo = by_name[""]
    assert logo.inline and logo.content_type == "image/png"
    assert not any(attachment.inline for attachment in parsed.attachments if attachment.filename)


@pytest.mark.parametrize(
    "name",
    [
        "x" * 300 + ".pdf",
        "..",
        "/etc/dir/c.txt",
        "=?utf-8?q?r=C3=A9sum=C3=A9.pdf?=",
        "tab\tname.txt",
    ],
)
def test_attachment_filenames_are_sanitised(name: str) -> None:
    raw = (
        "From: a@example.org\r\nTo: b@example.org\r\nSubject: f\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="B"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\n'
        "hi\r\n--B\r\nContent-Type: application/pdf\r\n"
        f'Content-Disposition: attachment; filename="{name}"\r\n\r\n%PDF-1.4\r\n--B--\r\n'
    ).encode()
    (attachment,) = parse_email(raw).attachments
    assert len(attachment.filename) <= 255
    assert "/" not in attachment.filename and "\\" not in attachment.filename
    assert "\t" not in attachment.filename and attachment.filename not in (".", "..")
    if name.startswith("x"):
        assert attachment.filename.endswith(".pdf")
    if name.startswith("=?"):
        assert attachment.filename == "résumé.pdf"
    if name.startswith("/"):
        assert attachment.filename == "c.txt"


def test_windows_paths_and_dot_names_are_stripped_from_filenames() -> None:
    assert safe_filename("C:\\Users\\me\\photo.jpg") == "photo.jpg"
    assert safe_filename("..\\..\\boot.ini") == "boot.ini"
    assert safe_filename("...") == ""
    assert safe_filename(".bashrc") == "bashrc"


def _many_attachments(count: int, size: int) -> bytes:
    payload = base64.encodebytes(b"%PDF-1.4\n" + b"\x00" * (size - 9)).decode()
    parts = [
        "From: Big Sender <big@example.org>\r\nTo: 311@city.example\r\nSubject: many\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="M"\r\n\r\n'
        "--M\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
    ]
    for index in range(count):
        parts.append(
            f'--M\r\nContent-Type: application/pdf; name="f{index}.pdf"\r\n'
            f'Content-Disposition: attachment; filename="f{index}.pdf"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{payload}"
        )
    parts.append("--M--\r\n")
    return "".join(parts).encode()


def test_two_hundred_attachments_are_all_kept() -> None:
    parsed = parse_email(_many_attachments(200, 1000))
    assert parsed.text == "See attached."
    assert len(parsed.attachments) == 200
    assert {a.content_type for a in parsed.attachments} == {"application/pdf"}


def test_thousands_of_parts_are_capped_not_fatal() -> None:
    started = time.process_time()
    parsed = parse_email(_many_attachments(3000, 10))
    assert time.process_time() - started < 5
    assert 0 < len(parsed.attachments) < 3000
    assert any("MIME parts" in defect for defect in parsed.defects)


def _nested(levels: int) -> bytes:
    lines = ["From: deep@example.org", "To: 311@city.example", "Subject: deep", ""]
    head = "\r\n".join(lines[:3]) + "\r\nMIME-Version: 1.0\r\n"
    body = ""
    for level in range(levels):
        body += f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'
    body += "Content-Type: text/plain\r\n\r\ninnermost words\r\n"
    for level in reversed(range(levels)):
        body += f"--b{level}--\r\n"
    return (head + body).encode()


@pytest.mark.parametrize("levels", [100, 2000])
def test_deep_nesting_is_bounded(levels: int) -> None:
    started = time.process_time()
    parsed = parse_email(_nested(levels))
    assert time.process_time() - started < 5
    assert parsed.subject == "deep"
    assert "innermost words" in parsed.text
    if levels > 100:
        assert parsed.defects


def test_max_attachment_bytes_keeps_metadata_but_drops_the_data() -> None:
    parsed = parse_email(_many_attachments(2, 5000), max_attachment_bytes=1000)
    assert [a.filename for a in parsed.attachments] == ["f0.pdf", "f1.pdf"]
    assert all(a.data == b"" for a in parsed.attachments)
    assert all(a.content_type == "application/pdf" for a in parsed.attachments)


def test_a_fifty_megabyte_message_with_twenty_attachments_parses_in_under_five_seconds() -> None:
    raw = _many_attachments(20, 2_500_000)
    started = time.process_time()
    parsed = parse_email(raw)
    elapsed = time.process_time() - started
    assert len(parsed.attachments) == 20
    assert sum(len(a.data) for a in parsed.attachments) == 50_000_000
    assert elapsed < 5, f"{elapsed:.2f} s"


# --- automated mail -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("auto-replied.eml", "auto-submitted: auto-replied"),
        ("list-mail.eml", "list-id"),
        ("x-autoreply.eml", "x-autoreply: yes"),
        ("precedence-bulk.eml", "precedence: bulk"),
        ("null-sender.eml", "null sender"),
    ],
)
def test_machine_sent_mail_is_flagged_with_its_signal(name: str, reason: str) -> None:
    parsed = _own(name)
    assert parsed.automated
    assert parsed.automated_reason == reason
    assert parsed.report is None


@pytest.mark.parametrize(
    ("header", "automated"),
    [
        ("Auto-Submitted: no", False),
        ("Auto-Submitted: auto-generated", True),
        ("X-Auto-Response-Suppress: All", True),
        ("X-Auto-Response-Suppress: OOF", True),
        ("X-Auto-Response-Suppress: DR", False),
        ("Precedence: first-class", False),
        ("Precedence: junk", True),
        ("List-Unsubscribe: <mailto:u@example.org>", True),
        ("X-Autorespond: yes", True),
        ("X-Autogenerated: Reply", True),
    ],
)
def test_each_automation_header_is_recognised(header: str, automated: bool) -> None:
    raw = f"From: a@example.org\r\nTo: b@example.org\r\n{header}\r\nSubject: s\r\n\r\nhi\r\n"
    assert parse_email(raw.encode()).automated is automated


def test_mailer_daemon_sender_is_automated() -> None:
    raw = b"From: MAILER-DAEMON@mx.example.org\r\nSubject: Hello\r\n\r\nhi\r\n"
    parsed = parse_email(raw)
    assert parsed.automated and parsed.automated_reason == "sender: mailer-daemon"


def test_a_residents_reply_is_parsed_in_full_and_not_automated() -> None:
    parsed = _own("resident-reply.eml")
    assert not parsed.automated and parsed.automated_reason == ""
    assert parsed.report is None
    assert parsed.from_address == "Maria.Lopez@example.net"
    assert parsed.from_name == "María López"
    assert parsed.to_addresses == ("311@city.example", "neighbour@example.net")
    assert parsed.subject == "Re: [Case 1042] Pothole on Oak Street"
    assert parsed.date is not None and parsed.date.isoformat() == "2026-11-04T17:30:00+00:00"
    assert parsed.message_id == "CAF=reply-1@mail.example.net"
    assert parsed.in_reply_to == ("case-1042-3@city.example",)
    assert parsed.references == (
        "case-1042-1@city.example",
        "case-1042-2@city.example",
        "case-1042-3@city.example",
    )
    assert "City 311 <311@city.example> wrote:" in parsed.text
    assert parsed.reply_text == (
        "The pothole is still there and it got bigger after the rain.\n\nMaría"
    )
    assert "<div>" in parsed.html
    assert parsed.attachments == ()


# --- threading ----------------------------------------------------------------------------------


def _with_headers(headers: str) -> ParsedEmail:
    return parse_email(f"From: a@example.org\r\n{headers}\r\nSubject: s\r\n\r\nhi\r\n".encode())


def test_thread_refs_put_in_reply_to_first_then_references_newest_first_without_duplicates() -> (
    None
):
    parsed = _with_headers(
        "In-Reply-To: <c@x.org>\r\nReferences: <a@x.org> <b@x.org>\r\n <c@x.org> <b@x.org>"
    )
    assert parsed.references == ("a@x.org", "b@x.org", "c@x.org")
    assert thread_refs(parsed) == ("c@x.org", "b@x.org", "a@x.org")


def test_thread_refs_are_capped_in_number_and_length() -> None:
    refs = " ".join(f"<r{i}@x.org>" for i in range(80))
    long_ref = "<" + "z" * 200 + "@x.org>"
    parsed = _with_headers(f"In-Reply-To: {long_ref}\r\nReferences: {refs}")
    result = thread_refs(parsed)
    assert len(result) == 50
    assert result[0] == "r79@x.org"
    assert all(len(ref) <= 128 for ref in result)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("<abc@example.org>", "abc@example.org"),
        ("  <abc@example.org>  (comment)", "abc@example.org"),
        ("abc@example.org", "abc@example.org"),
        ("garbage", ""),
        ("<>", ""),
        ("<not an id>", ""),
        ("", ""),
    ],
)
def test_message_ids_lose_their_brackets_and_garbage_is_empty(value: str, expected: str) -> None:
    assert _with_headers(f"Message-ID: {value}").message_id == expected


def test_missing_from_and_garbage_dates_are_empty_not_errors() -> None:
    parsed = parse_email(b"Date: yesterday-ish\r\nFrom: not an address\r\n\r\nhello")
    assert parsed.date is None
    assert parsed.from_address == ""
    assert parsed.text == "hello"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x00\x00\x00",
        b"From:\r\n\r\n",
        b"Content-Type: multipart/mixed\r\n\r\n--\r\n",
        b'Content-Type: text/plain; charset="\xff\xfe"\r\n\r\n\xff\xfe',
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!",
        b"Subject: =?utf-8?b?invalid=?=\r\nFrom: =?bogus?q?x?= <a@b.c>\r\n\r\n.",
        b"Content-Type: message/rfc822\r\n\r\nnot a message",
        b'To: <<<<>>>>, @@@, "unterminated\r\nCc: a@\r\n\r\nx',
    ],
)
def test_garbage_never_raises(raw: bytes) -> None:
    parsed = parse_email(raw)
    assert isinstance(parsed.text, str)
    for value in (parsed.subject, parsed.from_name, parsed.text, *parsed.to_addresses):
        value.encode("utf-8")  # no lone surrogates leak out


def test_the_parsing_modules_import_no_web_framework_or_database() -> None:
    """Pure functions: usable from the SMTP listener, a job or a script without an app.

    Checked on the modules' own imports: the ``channels`` package itself may load Flask.
    """
    import ast

    import channels.email

    folder = Path(channels.email.__file__).parent
    for name in ("parse.py", "trim.py", "reports.py"):
        tree = ast.parse((folder / name).read_text(encoding="utf-8"))
        imported = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        } | {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        roots = {module.split(".")[0] for module in imported}
        assert not roots & {"flask", "sqlalchemy", "redis", "rq", "contactcenter"}, name


@pytest.mark.parametrize(
    ("data", "declared", "expected"),
    [
        (
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script/></svg>',
            "image/svg+xml",
            "application/octet-stream",
        ),
        (b'<?xml version="1.0"?><doc/>', "application/xml", "application/octet-stream"),
        (b"<html><body><script>alert(1)</script></body></html>", "text/html", "text/plain"),
        (b"hi <b>there", "text/html", "text/plain"),
        (b"a,b\n1,2\n", "text/csv", "text/csv"),
        (b"plain words", "text/x-unheard-of", "text/plain"),
        (b"opaque", "application/x-msdownload", "application/octet-stream"),
        (b"%PDF-1.4\n%...", "application/octet-stream", "application/pdf"),
    ],
)
def test_attachment_types_come_from_the_bytes_and_are_never_active(
    data: bytes, declared: str, expected: str
) -> None:
    assert sniff_type(data, declared) == expected


def test_html_too_deep_for_the_converter_still_gives_its_words() -> None:
    html = "<div>" * 50_000 + "Deep &amp; words<script>alert(1)</script>" + "</div>" * 50_000
    started = time.process_time()
    assert html_to_text(html) == "Deep & words"
    assert time.process_time() - started < 2


def test_a_huge_html_body_is_converted_in_bounded_time() -> None:
    row = "<tr><td>cell <b>bold</b></td><td><a href='x'>link</a></td></tr>"
    raw = (
        "From: a@example.org\r\nSubject: big html\r\nContent-Type: text/html\r\n\r\n"
        f"<table>{row * 200_000}</table>"
    ).encode()
    started = time.process_time()
    parsed = parse_email(raw)
    assert time.process_time() - started < 5
    assert parsed.text.startswith("cell bold")
    assert len(parsed.html) > 10_000_000
    assert any("only its start" in defect for defect in parsed.defects)
