"""What becomes of one delivery: sent, retried after a growing pause, or failed for good;
written for a group of rows at once, and counted for the sender's report."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy.engine import Connection

from mailhub.config import OutboundSettings
from mailhub.outbound import outbox
from mailhub.outbound.outbox import Claimed
from mailhub.outbound.transports import Delivery

log = logging.getLogger("mailhub.sender")


class Verdict(Enum):
    SENT = "sent"
    RETRY = "retry"
    FAILED = "failed"


@dataclass(frozen=True)
class Outcome:
    """What becomes of one claimed row after its delivery."""

    mail: Claimed
    verdict: Verdict
    error: str = ""
    retry_at: datetime | None = None


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # Copies the relay refused for good (5xx at RCPT or DATA): counted as hard bounces.
    refused: list[tuple[int, str]] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.errors.extend(other.errors)
        self.refused.extend(other.refused)

    def count(self, outcome: Outcome) -> None:
        mail = outcome.mail
        if outcome.verdict is Verdict.SENT:
            self.sent += 1
            return
        self.errors.append(f"#{mail.id} {mail.recipient}: {outcome.error}")
        if outcome.verdict is Verdict.FAILED:
            self.failed += 1
            log.warning("outbox #%s failed for %s: %s", mail.id, mail.recipient, outcome.error)
        else:
            self.retried += 1
            at = outcome.retry_at.isoformat() if outcome.retry_at else "?"
            log.info("outbox #%s retry at %s: %s", mail.id, at, outcome.error)


def backoff(settings: OutboundSettings, attempts: int) -> timedelta:
    """Wait base, 2×base, 4×base … after each failed attempt, capped at the maximum."""
    seconds = settings.retry_base_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


def judge(settings: OutboundSettings, mail: Claimed, delivery: Delivery, now: datetime) -> Outcome:
    """Sent; or retried later; or failed for good (a permanent answer, or the last attempt)."""
    if delivery.ok:
        return Outcome(mail, Verdict.SENT)
    if delivery.permanent or mail.attempts >= settings.max_attempts:
        return Outcome(mail, Verdict.FAILED, delivery.error)
    return Outcome(mail, Verdict.RETRY, delivery.error, now + backoff(settings, mail.attempts))


def write_outcomes(connection: Connection, outcomes: list[Outcome], now: datetime) -> None:
    """Record a group of outcomes in the caller's transaction (only rows still held)."""
    outbox.mark_sent(connection, [o.mail for o in outcomes if o.verdict is Verdict.SENT], now)
    for outcome in outcomes:
        if outcome.verdict is Verdict.FAILED:
            outbox.mark_failed(connection, outcome.mail, outcome.error)
        elif outcome.verdict is Verdict.RETRY and outcome.retry_at is not None:
            outbox.mark_retry(connection, outcome.mail, outcome.error, outcome.retry_at)
