"""Who a bounce is about and why: failed recipients with status, SMTP code and hard/soft.

RFC 3464 delivery-status fields are read first, as they are exact. Bounces without them
(qmail, exim, Gmail, Yahoo, older Exchange...) are read best-effort from their text: the
failed addresses are those an X-Failed-Recipients header names, or else those the notice
lists as failed (bounce_text.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from mailhub.inbound import notices
from mailhub.inbound.headerfields import addresses
from mailhub.inbound.parse import ParsedMessage, parse_message
from mailhub.outbound.bounce_text import ADDRESS, failed_addresses, notice_text

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
_SMTP_CODE = re.compile(r"(?<![\w.#-])([245][0-5]\d)(?=[ -][^\d\s]|[ -]\d\.\d|$)", re.MULTILINE)
_FIELD = re.compile(r"^([A-Za-z][\w-]*)\s*:\s*(.*)$")
_SNS_RECIPIENTS = re.compile(r'"bouncedRecipients"\s*:\s*\[(.*?)\]', re.DOTALL)
_SNS_ENTRY = re.compile(r"\{[^{}]*\}")
_FAILED_ACTIONS = {"failed", "delayed"}
# Status details that mean the address itself is dead: bad mailbox, bad domain, moved.
_GONE_DETAILS = {"1.1", "1.2", "1.3", "1.6", "1.10"}
_GONE_TEXT = re.compile(
    r"user unknown|unknown user|no such (user|mailbox|recipient)|does not exist|"
    r"recipient (address )?rejected|invalid (recipient|mailbox)|not found|"
    r"mailbox unavailable|address rejected|host unknown|domain not found|"
    r"unrouteable address|no mailbox|account (has been )?(disabled|removed)|"
    r"not a valid|has moved",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class BouncedRecipient:
    """One recipient the notice says failed (or is delayed, when ``permanent`` is False).

    ``hard`` says the address itself is dead (unknown mailbox or domain, moved): one such
    bounce is reason enough to stop mailing it, unlike a full mailbox or a spam block.
    """

    address: str
    status: str | None
    smtp_code: int | None
    diagnostic: str
    permanent: bool
    hard: bool = False


@dataclass
class BounceReport:
    recipients: list[BouncedRecipient] = field(default_factory=list)


def parse_bounce(msg: ParsedMessage | bytes) -> BounceReport:
    """Failed recipients of a bounce, from its DSN fields or, failing that, its text."""
    parsed = parse_message(msg) if isinstance(msg, bytes) else msg
    recipients = _from_dsn(parsed.delivery_status) or _from_sns(parsed)
    if not recipients:
        recipients = _from_text(parsed)
    return BounceReport(recipients)


def dsn_blocks(text: str) -> list[dict[str, str]]:
    """RFC 3464 field blocks (separated by blank lines), names lower-cased, lines unfolded."""
    blocks: list[dict[str, str]] = []
    current: dict[str, str] = {}
    last = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, ""
        elif line[0] in " \t" and last:
            current[last] += " " + line.strip()
        elif match := _FIELD.match(line):
            last = match.group(1).lower()
            current.setdefault(last, match.group(2).strip())
    if current:
        blocks.append(current)
    return blocks


def _from_dsn(reports: list[str]) -> list[BouncedRecipient]:
    found: dict[str, BouncedRecipient] = {}
    for report in reports:
        for block in dsn_blocks(report):
            address = _dsn_address(block)
            action = block.get("action", "failed").lower().split()[0:1]
            if address and (not action or action[0] in _FAILED_ACTIONS):
                found.setdefault(address, _recipient(address, block, action))
    return list(found.values())


def _dsn_address(block: dict[str, str]) -> str | None:
    # The original recipient is the address we sent to; the final one may be an alias.
    for name in ("original-recipient", "final-recipient", "x-actual-recipient"):
        value = block.get(name, "")
        match = ADDRESS.search(value.split(";", 1)[-1])
        if match:
            return match.group(0).lower()
    return None


def _recipient(address: str, block: dict[str, str], action: list[str]) -> BouncedRecipient:
    diagnostic = block.get("diagnostic-code", "").split(";", 1)[-1].strip()
    status = _status(block.get("status", "")) or _status(diagnostic)
    code = _smtp_code(diagnostic)
    permanent = _permanent(status, code, default=action != ["delayed"])
    return BouncedRecipient(
        address, status, code, diagnostic, permanent, _hard(status, diagnostic, permanent)
    )


def _from_sns(msg: ParsedMessage) -> list[BouncedRecipient]:
    """Amazon SES bounce notifications delivered by SNS: JSON with bouncedRecipients."""
    if notices.sns_notification_type(msg.from_address, msg.text) != "bounce":
        return []
    # SNS may wrap the SES message as a JSON string, escaping its quotes.
    text = msg.text.replace('\\"', '"')
    listed = _SNS_RECIPIENTS.search(text)
    recipients = []
    for entry in _SNS_ENTRY.findall(listed.group(1) if listed else ""):
        address = _json_field(entry, "emailAddress")
        if not address:
            continue
        diagnostic = (_json_field(entry, "diagnosticCode") or "").split(";", 1)[-1].strip()
        status = _status(_json_field(entry, "status") or "") or _status(diagnostic)
        code = _smtp_code(diagnostic)
        permanent = _permanent(status, code, default='"bounceType":"Permanent"' in text)
        recipients.append(
            BouncedRecipient(
                address.lower(),
                status,
                code,
                diagnostic,
                permanent,
                _hard(status, diagnostic, permanent),
            )
        )
    return recipients


def _json_field(entry: str, name: str) -> str | None:
    match = re.search(rf'"{name}"\s*:\s*"([^"]*)"', entry)
    return match.group(1) if match else None


def _from_text(msg: ParsedMessage) -> list[BouncedRecipient]:
    notice = notice_text(msg)
    failed = [a for _, a in addresses(msg.headers.get("x-failed-recipients")) if "@" in a]
    if not failed:
        failed = failed_addresses(msg)
    recipients = []
    for i, address in enumerate(failed):
        window = _window(notice, address, failed[i + 1 :])
        status = _status(window) or _status(notice)
        code = _smtp_code(window) or _smtp_code(notice)
        permanent = _permanent(status, code, default=True)
        diagnostic = _diagnostic(window)
        recipients.append(
            BouncedRecipient(
                address, status, code, diagnostic, permanent, _hard(status, window, permanent)
            )
        )
    return recipients


def _window(notice: str, address: str, later: list[str]) -> str:
    """The notice from the first mention of ``address`` up to the next failed address."""
    lower = notice.lower()
    start = max(lower.find(address), 0)
    ends = [p for p in (lower.find(a, start + len(address)) for a in later) if p > start]
    return notice[start : min(ends, default=start + 2000)]


def _diagnostic(window: str) -> str:
    lines = [line.strip() for line in window.splitlines()[1:] if line.strip()]
    text = " ".join(lines) if lines else window.strip()
    return text[:500]


def _status(text: str) -> str | None:
    match = _STATUS.search(text)
    return ".".join(match.groups()) if match else None


def _smtp_code(text: str) -> int | None:
    match = _SMTP_CODE.search(text)
    return int(match.group(1)) if match else None


def _permanent(status: str | None, code: int | None, *, default: bool) -> bool:
    """5.x.x (or a 5xx reply) is permanent, 4.x.x (4xx) is not; else the action decides."""
    if status and status[0] in "45":
        return status[0] == "5"
    if code:
        return code >= 500
    return default


def _hard(status: str | None, diagnostic: str, permanent: bool) -> bool:
    if not permanent:
        return False
    if status and status.split(".", 1)[1] in _GONE_DETAILS:
        return True
    return bool(_GONE_TEXT.search(diagnostic))
