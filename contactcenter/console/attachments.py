"""What residents' emails carried: attachments and the original message, on the case page and
as downloads.

Everything here came from strangers on the internet, so it is only ever handed over as a
download: the type we sniffed (``application/octet-stream`` unless it is a plain image, PDF or
text), ``nosniff``, a sandboxing Content-Security-Policy and a cleaned file name. An id of
another jurisdiction's file answers 404, exactly like an id that does not exist.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from flask import Response, abort, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from contactcenter.auth import jurisdiction_ids
from contactcenter.console import bp
from contactcenter.console.auth import login_required
from contactcenter.db import get_session
from contactcenter.mail.models import Attachment, RawEmail, RawEmailState
from contactcenter.messages import Channel

MAX_SHOWN_TEXT = 200_000
"""Characters of a message's whole text put in the page; the .eml download has all of it."""

SAFE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/heic",
        "application/pdf",
        "text/plain",
        "audio/mpeg",
        "audio/wav",
        "video/mp4",
    }
)
"""Sniffed types passed on as they are; anything else (HTML, SVG, scripts, archives, office
files...) is served as ``application/octet-stream``, so no browser ever interprets it."""

MAX_ID = 2**31 - 1
"""Larger ids in a URL exist nowhere (and would overflow PostgreSQL's integer): 404 at once."""

DOWNLOAD_ENDPOINTS = frozenset({"console.attachment_download", "console.original_email"})


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    filename: str
    content_type: str
    size: int
    dropped_reason: str

    @property
    def kept(self) -> bool:
        return not self.dropped_reason


@dataclass(frozen=True)
class OriginalInfo:
    raw_email_id: int
    text: str
    truncated: bool


@dataclass
class EmailParts:
    """What the case page shows under one email interaction."""

    attachments: list[AttachmentInfo] = field(default_factory=list)
    original: OriginalInfo | None = None


def email_parts(db: Session, interaction_ids: Iterable[int]) -> dict[int, EmailParts]:
    """Attachments and the original message of these interactions: two queries for the whole
    page, whatever the number of emails (none at all when there is no email)."""
    ids = sorted(set(interaction_ids))
    if not ids:
        return {}
    parts: dict[int, EmailParts] = {}
    rows = db.execute(
        sa.select(
            Attachment.id,
            Attachment.interaction_id,
            Attachment.filename,
            Attachment.content_type,
            Attachment.size,
            Attachment.dropped_reason,
        )
        .where(Attachment.interaction_id.in_(ids))
        .order_by(Attachment.id)
    )
    for row in rows:
        info = AttachmentInfo(row.id, row.filename, row.content_type, row.size, row.dropped_reason)
        parts.setdefault(row.interaction_id, EmailParts()).attachments.append(info)
    originals = db.execute(
        sa.select(
            RawEmail.id,
            RawEmail.interaction_id,
            sa.func.substr(RawEmail.text, 1, MAX_SHOWN_TEXT).label("text"),
            sa.func.length(RawEmail.text).label("length"),
        )
        .where(RawEmail.interaction_id.in_(ids))
        .order_by(_filed_first(), RawEmail.id)
    )
    for row in originals:
        entry = parts.setdefault(row.interaction_id, EmailParts())
        if entry.original is None:
            entry.original = OriginalInfo(
                row.id, row.text or "", (row.length or 0) > MAX_SHOWN_TEXT
            )
    return parts


def _filed_first() -> Any:
    """The message that was filed as the interaction first; a duplicate arrival after it."""
    return sa.case((RawEmail.state == RawEmailState.FILED, 0), else_=1)


@bp.context_processor
def _email_helpers() -> dict[str, Any]:
    return {"email_parts_of": email_parts_of, "size_label": size_label}


def email_parts_of(entries: Iterable[Any]) -> dict[int, EmailParts]:
    """For the case template: the email parts of its timeline's email interactions."""
    ids = [
        e.interaction.id
        for e in entries
        if e.interaction is not None and e.interaction.channel == Channel.EMAIL
    ]
    return email_parts(get_session(), ids)


def size_label(size: int) -> str:
    """``812 bytes``, ``14 KB``, ``2.3 MB``."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{round(size / 1024)} KB"
    return f"{size / (1024 * 1024):.1f} MB"


# --- Downloads ----------------------------------------------------------------------------------


def served_type(sniffed: str) -> str:
    """The Content-Type a download goes out with: the sniffed type if it is harmless."""
    base = sniffed.split(";", 1)[0].strip().lower()
    if base not in SAFE_TYPES:
        return "application/octet-stream"
    return "text/plain; charset=utf-8" if base == "text/plain" else base


_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f"\\/:*?<>|;]+')


def safe_filename(name: str, fallback: str = "attachment") -> str:
    """A file name a browser saves as is: no directories, control characters, quotes or
    reserved characters, no leading dots, at most 150 characters."""
    cleaned = unicodedata.normalize("NFC", name)
    cleaned = "".join(c for c in cleaned if unicodedata.category(c) not in {"Cc", "Cf", "Zl", "Zp"})
    cleaned = _UNSAFE_NAME.sub("_", cleaned).strip().lstrip(".").strip()
    if len(cleaned) > 150:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (stem[: 150 - len(ext) - 1] + dot + ext) if dot and len(ext) <= 10 else cleaned
        cleaned = cleaned[:150]
    return cleaned or fallback


def download(data: bytes, *, filename: str, content_type: str) -> Response:
    """``data`` as a download no browser will render, sniff or cache."""
    ascii_name = safe_filename(
        filename.encode("ascii", "replace").decode("ascii").replace("?", "_"), "download"
    )
    response = Response(data, content_type=content_type)
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.after_app_request
def _downloads_stay_private(response: Response) -> Response:
    """The console's page hook sets a plain ``no-store``; downloads say ``private`` as well,
    for any cache in between that does not know ``no-store``."""
    if request.endpoint in DOWNLOAD_ENDPOINTS:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/attachments/<int:attachment_id>")
@login_required()
def attachment_download(attachment_id: int) -> ResponseReturnValue:
    if attachment_id > MAX_ID:
        abort(404)
    db = get_session()
    found = db.execute(
        sa.select(Attachment.filename, Attachment.content_type, Attachment.data).where(
            Attachment.id == attachment_id,
            Attachment.jurisdiction_id.in_(jurisdiction_ids()),
        )
    ).one_or_none()
    if found is None or found.data is None:
        abort(404, "There is no such file (or it was too large to keep).")
    return download(
        bytes(found.data),
        filename=safe_filename(found.filename),
        content_type=served_type(found.content_type),
    )


@bp.get("/interactions/<int:interaction_id>/original.eml")
@login_required()
def original_email(interaction_id: int) -> ResponseReturnValue:
    if interaction_id > MAX_ID:
        abort(404)
    db = get_session()
    data = db.scalars(
        sa.select(RawEmail.data)
        .where(
            RawEmail.interaction_id == interaction_id,
            RawEmail.jurisdiction_id.in_(jurisdiction_ids()),
        )
        .order_by(_filed_first(), RawEmail.id)
        .limit(1)
    ).first()
    if data is None:
        abort(404, "There is no original message for this interaction.")
    return download(
        bytes(data), filename=f"email-{interaction_id}.eml", content_type="message/rfc822"
    )
