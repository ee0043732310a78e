"""Text signs of machine-written notices: bounce and delay subjects, daemon senders, failure
phrases in bodies, vacation subjects in several languages, provider complaint notices.

These are for mail without machine-readable reports (RFC 3464, RFC 5965, RFC 3834 headers);
the phrases are the ones real MTAs and mail clients use, as seen in the bounce corpora.
"""

from __future__ import annotations

import json
import re

_DAEMON_LOCALPARTS = re.compile(
    r"^(mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|mail[-_.]?delivery([-_.]?sub)?"
    r"([-_.]?system)?|mdaemon)$",
    re.IGNORECASE,
)
_FAILURE_SUBJECT = re.compile(
    r"undeliver(ed|able)|returned mail|mail delivery failed|delivery (status notification )?"
    r"\(?failure\)?|failure (notice|delivery)|failed delivery|delivery failure|"
    r"permanent delivery failure|delivery has failed|could not be delivered|"
    r"mail system error|returned to sender|returning to sender|non[- ]?delivery|"
    r"mail failure|delivery notification: failed|delivery status notification: (error|failed)|"
    r"Nicht zustellbar|Unzustellbar|Non remis|Impossible de remettre|No se puede entregar|"
    r"Non recapitabile|Onbestelbaar|Kan ikke leveres|Olevererbart|"
    r"メッセージを配信できません|未送達|退信|无法投递|Ваше сообщение не доставлено|"
    r"Недоставленное сообщение|メールエラー通知|are not member|Loop Alert",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(
    r"delivery status notification \(delay\)|\bdelayed mail\b|delivery (has been )?delayed|"
    r"mail delivery delayed|\bdelayed \d+ hours|could not send message for past|"
    r"delivery status notification: (delayed|warning)|status notification \(delay\)|"
    r"^warning: message .* delayed",
    re.IGNORECASE,
)
_FAILURE_TEXT = re.compile(
    r"could not be delivered|couldn't be delivered|undeliverable|delivery to the following "
    r"recipients? failed|permanent(ly)? (error|fatal|failure)|unable to deliver|"
    r"user unknown|no such user|mailbox (is )?(full|unavailable)|delivery failed|"
    r"message (was )?not delivered|returned to sender|following address(es)? failed|"
    r"failed recipient|did not reach the following recipient|to the following recipients?|"
    r"transcript of session follows|considered unsolicited bulk e-?mail",
    re.IGNORECASE,
)
_VACATION_STRONG = (
    r"out of (the )?office|automatic reply|auto(matic)?[- ]?reply|autoreply|auto[- ]?response|"
    r"abwesenheitsnotiz|automatische antwort|r[ée]ponse automatique|respuesta autom[áa]tica|"
    r"fuera de la oficina|risposta automatica|automatisch antwoord|resposta autom[áa]tica|"
    r"odpowied[źz] automatyczna|automaattinen vastaus|автоответ|автоматический ответ|"
    r"自动回复|自動回覆|自動回信|自動応答|自動返信|"
    r"vacation reply|on vacation|away from (the )?office"
)
# Ordinary words that are vacation markers only as the whole subject or before a colon.
_VACATION_WEAK = r"absence|absent|abwesend|afwezig|fravær|frånvaro|autosvar|ausente|vacation|away"
_VACATION_SUBJECT = re.compile(
    rf"^((re|aw|sv|antw|rif|r|wg|fw|fwd|tr)\s*:\s*|\[[^\]]*\]\s*)*"
    rf"(({_VACATION_STRONG})\b|({_VACATION_WEAK})\s*(:|-|$|\())",
    re.IGNORECASE,
)
_COMPLAINT_SUBJECT = re.compile(r"^\s*complaint about message from ", re.IGNORECASE)
_SNS_TYPE = re.compile(r'"notificationType"\s*:\s*"(\w+)"')


def is_daemon_sender(address: str | None, name: str, from_header: str | None) -> bool:
    """MAILER-DAEMON, postmaster and friends, or a From header with an empty address."""
    if not address:
        return from_header is not None
    local = address.split("@", 1)[0]
    return bool(_DAEMON_LOCALPARTS.match(local)) or name.strip().lower() == "mailer-daemon"


def is_failure_subject(subject: str) -> bool:
    return bool(_FAILURE_SUBJECT.search(subject))


def is_delay_subject(subject: str) -> bool:
    return bool(_DELAY_SUBJECT.search(subject))


def has_failure_text(text: str) -> bool:
    """Phrases bounce bodies use; only trusted together with a daemon or null sender."""
    return bool(_FAILURE_TEXT.search(text[:20000]))


def is_vacation_subject(subject: str) -> bool:
    return bool(_VACATION_SUBJECT.search(subject.strip()))


def is_complaint_notice(subject: str, address: str | None) -> bool:
    """Hotmail's JMRP complaints: a plain multipart/mixed, recognised by sender and subject."""
    return bool(_COMPLAINT_SUBJECT.search(subject)) and (address or "").startswith("staff@")


def sns_notification_type(address: str | None, text: str) -> str | None:
    """ "bounce", "complaint" or "delivery" for Amazon SES notifications sent through SNS."""
    if not address or not address.endswith("@sns.amazonaws.com"):
        return None
    found = _SNS_TYPE.search(text) or _SNS_TYPE.search(text.replace('\\"', '"'))
    if found:
        return found.group(1).lower()
    try:
        message = json.loads(text[text.index("{") :])
    except ValueError:
        return None
    kind = message.get("notificationType") if isinstance(message, dict) else None
    return kind.lower() if isinstance(kind, str) else None
