"""Bounces, delays, spam complaints and read receipts recognised in inbound mail.

A 3-1-1 mailbox must not open cases for machine mail, and a bounce should mark the resident's
address undeliverable. Standard reports (RFC 3464 DSN, RFC 5965 ARF, RFC 8098 MDN) are read from
their machine-readable part; the many non-standard bounces (null or MAILER-DAEMON sender, tell-tale
subject) are dug out of their human-readable text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage, Message

MAX_DIAGNOSTIC = 300
MAX_PARTS = 200
MAX_SCAN = 200_000  # characters of bounce text searched for recipients and ids

_BOUNCE_SUBJECT = re.compile(
    r"undeliver|undelivered|delivery status notification|mail delivery fail|failure notice"
    r"|returned mail|delivery fail|could not be delivered|couldn't be delivered"
    r"|non[- ]?remis|unzustellbar|no se puede entregar|delivery has failed|mail system error",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(r"\bdelay|\bwarning|delivery status notification \(delay\)", re.I)
_ADDRESS = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,250}[A-Za-z0-9])?"
_ADDRESS_RE = re.compile(_ADDRESS)
_FIELD = re.compile(r"^([A-Za-z-]{1,40})[ \t]*:[ \t]*(.*)$")
_MESSAGE_ID_LINE = re.compile(r"^[ \t>]*Message-ID[ \t]*:[ \t]*<?([^<>\s]{1,500})>?", re.I | re.M)
# Lines in non-standard bounces that announce the failed addresses on the following lines.
_FAILED_INTRO = re.compile(
    r"following (?:address(?:es)?|recipients?)[^\n]{0,40}(?:failed|could not|were not)"
    r"|failed permanently|could not be delivered to|wasn't delivered to|couldn't be delivered to"
    r"|delivery to the following recipients? failed|was not delivered to|unable to deliver"
    r"|^delivery failed\b|failed \d+ attempts",
    re.I,
)
_STATUS = re.compile(r"\b([245])\.\d{1,3}\.\d{1,3}\b")


@dataclass(frozen=True)
class DeliveryReport:
    """``kind`` is "bounce" (permanent failure), "delay", "complaint" (ARF), "receipt" (MDN) or
    "other"; ``failed_recipients`` are lower-cased (bounces only); ``original_message_id`` is the
    id of the message reported on, without brackets ("" if unknown)."""

    kind: str
    failed_recipients: tuple[str, ...]
    original_message_id: str
    diagnostic: str


def delivery_report(
    message: EmailMessage, from_address: str, subject: str
) -> DeliveryReport | None:
    """The report this message carries, or None for ordinary mail."""
    content_type = _content_type(message)
    if content_type == "multipart/report":
        report_type = _param(message, "report-type").lower()
        parts = _parts(message)
        if report_type == "delivery-status" or _find(parts, "message/delivery-status"):
            report = _dsn(parts)
            if report is not None:
                return report
        if report_type == "feedback-report" or _find(parts, "message/feedback-report"):
            return _arf(parts)
        if report_type == "disposition-notification" or _find(
            parts, "message/disposition-notification"
        ):
            return _mdn(parts)
    if _is_daemon(message, from_address) and _BOUNCE_SUBJECT.search(subject):
        return _informal_bounce(message, from_address, subject)
    return None


def _is_daemon(message: Message, from_address: str) -> bool:
    local = from_address.rpartition("@")[0].lower()
    if local in ("mailer-daemon", "postmaster") or not from_address:
        return True
    try:
        return_path = str(message.get("Return-Path", "") or "").strip()
    except Exception:
        return_path = ""
    return return_path == "<>"


# --- standard reports ---------------------------------------------------------------------------


def _dsn(parts: list[Message]) -> DeliveryReport | None:
    status_part = _find(parts, "message/delivery-status")
    if status_part is None:
        return None
    blocks = _field_blocks(_part_text(status_part))
    failed: dict[str, None] = {}
    delayed = False
    diagnostic = ""
    for block in blocks[1:] or blocks:
        action = block.get("action", "").lower()
        status = block.get("status", "")
        if not action and status[:1] in ("4", "5"):
            action = "failed" if status.startswith("5") else "delayed"
        if action.startswith("failed"):
            recipient = _recipient(block)
            if recipient:
                failed[recipient] = None
            diagnostic = diagnostic or _diagnostic(block)
        elif action.startswith("delayed"):
            delayed = True
            diagnostic = diagnostic or _diagnostic(block)
    if failed or (not delayed and any("failed" in b.get("action", "") for b in blocks)):
        kind = "bounce"
    elif delayed:
        kind = "delay"
    else:
        kind = "other"
    return DeliveryReport(
        kind=kind,
        failed_recipients=tuple(failed) if kind == "bounce" else (),
        original_message_id=_original_id(parts),
        diagnostic=diagnostic[:MAX_DIAGNOSTIC],
    )


def _arf(parts: list[Message]) -> DeliveryReport:
    feedback = _find(parts, "message/feedback-report")
    fields = _field_blocks(_part_text(feedback))[0] if feedback is not None else {}
    diagnostic = " ".join(
        f"{name}: {fields[name]}" for name in ("feedback-type", "user-agent") if fields.get(name)
    )
    return DeliveryReport(
        kind="complaint",
        failed_recipients=(),
        original_message_id=_original_id(parts),
        diagnostic=(diagnostic or "abuse report")[:MAX_DIAGNOSTIC],
    )


def _mdn(parts: list[Message]) -> DeliveryReport:
    notification = _find(parts, "message/disposition-notification")
    fields: dict[str, str] = {}
    if notification is not None:
        for block in _field_blocks(_part_text(notification)):
            fields.update(block)
    original = _bare_id(fields.get("original-message-id", "")) or _original_id(parts)
    return DeliveryReport(
        kind="receipt",
        failed_recipients=(),
        original_message_id=original,
        diagnostic=("Disposition: " + fields.get("disposition", "unknown"))[:MAX_DIAGNOSTIC],
    )


# --- non-standard bounces -----------------------------------------------------------------------


def _informal_bounce(message: Message, from_address: str, subject: str) -> DeliveryReport:
    parts = _parts(message)
    text = "\n".join(
        _part_text(part)
        for part in parts
        if _content_type(part).startswith("text/") and _content_type(part) != "text/rfc822-headers"
    )[:MAX_SCAN]
    delay = bool(_DELAY_SUBJECT.search(subject)) and not re.search(r"fail", subject, re.I)
    status = _STATUS.search(text)
    if status and status.group(1) == "4" and not re.search(r"permanent", text, re.I):
        delay = delay or bool(re.search(r"delay|will (?:continue|retry|keep trying)", text, re.I))
    recipients = () if delay else _failed_in_text(text, from_address)
    diagnostic = _first_meaningful_line(text, status.group(0) if status else "")
    return DeliveryReport(
        kind="delay" if delay else "bounce",
        failed_recipients=recipients,
        original_message_id=_original_id(parts) or _id_in_text(text),
        diagnostic=diagnostic[:MAX_DIAGNOSTIC],
    )


def _failed_in_text(text: str, from_address: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    ignore = {from_address.lower()}
    for match in re.finditer(
        r"(?:Final|Original)-Recipient:\s*(?:rfc822;)?\s*<?(" + _ADDRESS + ")", text, re.I
    ):
        found[match.group(1).lower()] = None
    if found:
        return tuple(found)
    lines = text.split("\n")
    for index, line in enumerate(lines):
        qmail = re.match(r"^\s*<(" + _ADDRESS + r")>:\s*$", line)
        if qmail:
            found[qmail.group(1).lower()] = None
            continue
        if _FAILED_INTRO.search(line):
            for candidate in (line, *lines[index + 1 : index + 6]):
                for address in _ADDRESS_RE.findall(candidate):
                    address = address.lower().rstrip(".")
                    if address not in ignore and not address.startswith(
                        ("mailer-daemon@", "postmaster@")
                    ):
                        found[address] = None
            if found:
                break
    return tuple(found)


def _first_meaningful_line(text: str, status: str) -> str:
    for line in text.split("\n"):
        line = line.strip()
        if len(line) > 20 and not line.startswith(("--", "*", "=")):
            return f"{status} {line}".strip()
    return status


# --- helpers ------------------------------------------------------------------------------------


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:
        return "text/plain"


def _param(part: Message, name: str) -> str:
    try:
        return str(part.get_param(name) or "")
    except Exception:
        return ""


def _parts(message: Message) -> list[Message]:
    found: list[Message] = []
    stack = [message]
    while stack and len(found) < MAX_PARTS:
        part = stack.pop()
        found.append(part)
        try:
            payload = part.get_payload()
        except Exception:
            payload = None
        content_type = _content_type(part)
        if isinstance(payload, list) and (content_type.startswith("multipart/") or part is message):
            stack.extend(sub for sub in reversed(payload) if isinstance(sub, Message))
    return found


def _find(parts: list[Message], content_type: str) -> Message | None:
    return next((part for part in parts if _content_type(part) == content_type), None)


def _part_text(part: Message) -> str:
    try:
        payload = part.get_payload()
    except Exception:
        return ""
    if isinstance(payload, list):
        chunks = []
        for sub in payload:
            if not isinstance(sub, Message):
                continue
            try:
                chunks.append(sub.as_string())
            except Exception:
                chunks.append("\n".join(f"{k}: {v}" for k, v in sub.raw_items()))
        return "\n\n".join(chunks)
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if isinstance(data, bytes):
        try:
            charset = part.get_content_charset() or "utf-8"
            return data.decode(charset, errors="replace")
        except (LookupError, ValueError):
            return data.decode("utf-8", errors="replace")
    return str(payload)


def _field_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464-style blocks of "Name: value" lines (folded lines joined), split on blank lines."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text[:MAX_SCAN].replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
            continue
        if line[:1] in (" ", "\t") and last:
            current[last] += " " + line.strip()
            continue
        match = _FIELD.match(line)
        if match:
            last = match.group(1).lower()
            current.setdefault(last, match.group(2).strip())
    if current:
        blocks.append(current)
    return blocks or [{}]


def _recipient(block: dict[str, str]) -> str:
    for name in ("final-recipient", "original-recipient", "x-actual-recipient"):
        value = block.get(name, "")
        match = _ADDRESS_RE.search(value.partition(";")[2] or value)
        if match:
            return match.group(0).lower()
    return ""


def _diagnostic(block: dict[str, str]) -> str:
    code = block.get("diagnostic-code", "")
    code = code.partition(";")[2].strip() if ";" in code[:12] else code
    return " ".join(filter(None, (block.get("status", ""), code))).strip()


def _original_id(parts: list[Message]) -> str:
    for part in parts:
        content_type = _content_type(part)
        if content_type in ("message/rfc822", "message/global"):
            try:
                payload = part.get_payload()
                inner = payload[0] if isinstance(payload, list) and payload else None
                if isinstance(inner, Message):
                    found = _bare_id(str(inner.get("Message-ID", "") or ""))
                    if found:
                        return found
            except Exception:  # noqa: S112 - a broken enclosed message: try the text instead
                continue
        if content_type in ("text/rfc822-headers", "message/rfc822-headers"):
            found = _id_in_text(_part_text(part))
            if found:
                return found
    return ""


def _id_in_text(text: str) -> str:
    match = _MESSAGE_ID_LINE.search(text[:MAX_SCAN])
    return _bare_id(match.group(1)) if match else ""


def _bare_id(value: str) -> str:
    match = re.search(r"<?([^<>\s]+@[^<>\s]+)>?", value)
    return match.group(1)[:998] if match else ""
