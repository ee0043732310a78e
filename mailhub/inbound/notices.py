"""Text signs of machine-written notices: bounce and delay subjects, daemon senders, failure
and delay phrases in bodies (in the languages of the bounce corpora and of our members'
region), provider complaint notices. Vacation subjects: outofoffice.py.

These are for mail without machine-readable reports (RFC 3464, RFC 5965, RFC 3834 headers);
the phrases are the ones real MTAs and mail clients use, as seen in the bounce corpora.
"""

from __future__ import annotations

import json
import re

_DAEMON_LOCALPARTS = re.compile(
    r"^(mailer[-_.]?daemon|mail[-_.]?daemon|post[-_.]?master|mail[-_.]?delivery([-_.]?sub)?"
    r"([-_.]?system)?|mdaemon|ndr|bounce)$",
    re.IGNORECASE,
)
# Display names MTAs give their notices when the address itself is an ordinary one.
_DAEMON_NAMES = re.compile(
    r"^(mailer[- ]daemon|mail delivery (sub)?system|mail administrator|post ?master)$",
    re.IGNORECASE,
)
# A broken From such as <Postmaster\@example.com@relay> still names the daemon.
_DAEMON_WORD = re.compile(r"\b(mailer-daemon|postmaster)\b", re.IGNORECASE)
_FAILURE_SUBJECT = re.compile(
    r"undeliver(ed|able)|returned mail|mail delivery failed|delivery (status notification )?"
    r"\(?failure\)?|failure (notice|delivery)|failed delivery|delivery failure|"
    r"permanent delivery failure|delivery has failed|could not be delivered|"
    r"mail system error|returned to sender|returning to sender|non[- ]?delivery|"
    r"mail failure|delivery notification: failed|delivery status notification: (error|failed)|"
    r"^failed mail\b|"
    r"Nicht zustellbar|Unzustellbar|Non remis|Impossible de remettre|No se puede entregar|"
    r"Non recapitabile|Onbestelbaar|Kan ikke leveres|Olevererbart|"
    r"メッセージを配信できません|未送達|配信不能|退信|无法投递|投递失败|发送失败|传输失败|"
    r"無法傳遞|傳送失敗|전송 실패|배달 실패|"
    r"Ваше сообщение не доставлено|Недоставленное сообщение|メールエラー通知|"
    r"are not member|Loop Alert",
    re.IGNORECASE,
)
_DELAY_SUBJECT = re.compile(
    r"delivery status notification \(delay\)|\bdelayed mail\b|delivery (has been )?delayed|"
    r"mail delivery delayed|\bdelayed \d+ (hours?|days?)|could not send message for past|"
    r"delivery status notification: (delayed|warning)|status notification \(delay\)|"
    r"^warning: message\b.*\bdelayed|not yet been delivered|mail delivery warning|"
    r"^delivery warning|Zustellung verzögert|Verzögerte Zustellung|remise différée|"
    r"entrega (retrasada|demorada)|配信遅延|延迟投递|投递延迟|전송 지연",
    re.IGNORECASE,
)
_FAILURE_TEXT = re.compile(
    r"could not be delivered|couldn't be delivered|can ?not be delivered|can't be delivered|"
    r"undeliverable|delivery to the following recipients? failed|"
    r"permanent(ly)? (error|fatal|failure)|unable to deliver|"
    r"user unknown|no such user|mailbox (is )?(full|unavailable)|delivery failed|"
    r"message (was )?not delivered|returned to sender|following address(es)? failed|"
    r"failed recipient|did not reach the following recipient|to the following recipients?|"
    r"transcript of session follows|considered unsolicited bulk e-?mail|"
    r"(mail|message) (has been|was) returned|was automatically rejected|"
    r"konnte nicht zugestellt werden|n'a pas pu être (remis|distribué)|"
    r"no (pudo ser|se ha podido) entregar|"
    r"无法发送|无法送达|无法投递|未能送达|無法送達|傳送失敗|配信できませんでした|"
    r"届けられませんでした|전달되지 (못|않)|전송하지 못|không thể (gửi|chuyển)|"
    r"tidak dapat (dikirim|diantar|disampaikan)|gagal dikirim|ไม่สามารถส่ง|वितरित नहीं",
    re.IGNORECASE,
)
# What delay warnings say, and failures never do: delivery goes on.
_DELAY_TEXT = re.compile(
    r"delivery attempts will continue|will continue to (try|attempt)|"
    r"(this is|is) (just |only )?an? (advisory|warning)|warning message only|"
    r"ha(s|ve) not yet been delivered|not been delivered yet|will be retried|"
    r"you do not need to resend|has been postponed",
    re.IGNORECASE,
)
_COMPLAINT_SUBJECT = re.compile(r"^\s*complaint about message from ", re.IGNORECASE)
_SNS_TYPE = re.compile(r'"notificationType"\s*:\s*"(\w+)"')


def is_daemon_sender(address: str | None, name: str, from_header: str | None) -> bool:
    """MAILER-DAEMON, postmaster and friends, or a From header with an empty address."""
    if not address:
        return from_header is not None
    local = address.split("@", 1)[0]
    if _DAEMON_LOCALPARTS.match(local) or _DAEMON_NAMES.match(name.strip()):
        return True
    return "@" not in address and bool(_DAEMON_WORD.search(from_header or ""))


def is_failure_subject(subject: str) -> bool:
    return bool(_FAILURE_SUBJECT.search(subject))


def is_delay_subject(subject: str) -> bool:
    return bool(_DELAY_SUBJECT.search(subject))


def has_failure_text(text: str) -> bool:
    """Phrases bounce bodies use; only trusted together with a daemon or null sender."""
    return bool(_FAILURE_TEXT.search(text[:20000]))


def has_delay_text(text: str) -> bool:
    """Phrases of delay warnings ("delivery attempts will continue"); trusted like the above."""
    return bool(_DELAY_TEXT.search(text[:5000]))


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
