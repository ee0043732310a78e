"""The sender worker: claims due outbox rows, delivers them and records each outcome.

SMTP delivery spreads a batch over several connections (threads, each with its own reused
connection); a temporary failure retries with growing backoff until the attempts run out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mailhub.config import OutboundSettings
from mailhub.context import Context
from mailhub.outbound import outbox
from mailhub.outbound.outbox import Claimed
from mailhub.outbound.refusals import count_refusals
from mailhub.outbound.signing import SigningError, signer_from_settings
from mailhub.outbound.transports import (
    Delivery,
    MaildirTransport,
    RateLimiter,
    SmtpTransport,
    Transport,
    permanent,
)

log = logging.getLogger("mailhub.sender")


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed

    def add(self, other: SendReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.errors.extend(other.errors)


def backoff(settings: OutboundSettings, attempts: int) -> timedelta:
    """Wait base, 2×base, 4×base … after each failed attempt, capped at the maximum."""
    seconds = settings.retry_base_seconds * (2 ** max(attempts - 1, 0))
    return timedelta(seconds=min(seconds, settings.retry_max_seconds))


class Sender:
    """Delivers outbox rows through the configured transport; reusable across batches."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.outbound
        self.signer = signer_from_settings(ctx.settings)
        self.connections = 1 if self.settings.mode == "maildir" else self.settings.relay.connections
        limiter = RateLimiter(self.settings.relay.max_per_second)
        self._transports: list[Transport] = [self._make(limiter) for _ in range(self.connections)]
        self._pool = ThreadPoolExecutor(self.connections) if self.connections > 1 else None

    def _make(self, limiter: RateLimiter) -> Transport:
        if self.settings.mode == "maildir":
            return MaildirTransport(self.ctx.settings.outbox_maildir)
        return SmtpTransport(self.settings.relay, limiter)

    def close(self) -> None:
        for transport in self._transports:
            transport.close()
        if self._pool:
            self._pool.shutdown(wait=True)

    def _deliver(self, transport: Transport, mail: Claimed) -> Delivery:
        """Sign (when DKIM is configured) as the very last step, then hand over."""
        if self.signer is not None:
            try:
                mail = replace(mail, raw=self.signer.sign(mail.raw))
            except SigningError as exc:
                return permanent(str(exc))
        return transport.deliver(mail)

    def _deliver_all(self, batch: list[Claimed]) -> list[Delivery]:
        if self._pool is None or len(batch) == 1:
            return [self._deliver(self._transports[0], mail) for mail in batch]
        slices = [batch[i :: self.connections] for i in range(self.connections)]
        results = self._pool.map(
            lambda pair: [self._deliver(pair[0], m) for m in pair[1]],
            zip(self._transports, slices, strict=True),
        )
        by_id: dict[int, Delivery] = {}
        for part, outcomes in zip(slices, results, strict=True):
            by_id.update({mail.id: outcome for mail, outcome in zip(part, outcomes, strict=True)})
        return [by_id[mail.id] for mail in batch]

    def send_batch(self, now: datetime | None = None) -> SendReport:
        """Claim one batch of due rows, deliver them, record outcomes; empty report if none."""
        now = now or self.ctx.now()
        lease = timedelta(seconds=self.settings.lease_seconds)
        with self.ctx.engine.begin() as connection:
            batch = outbox.claim_due(connection, now, lease, self.settings.batch_size)
        report = SendReport()
        if not batch:
            return report
        outcomes = self._deliver_all(batch)
        self._record(batch, outcomes, now, report)
        refused = [(m.id, o.error) for m, o in zip(batch, outcomes, strict=True) if o.refused]
        if refused:
            count_refusals(self.ctx, refused)
        return report

    def _record(
        self, batch: list[Claimed], outcomes: list[Delivery], now: datetime, report: SendReport
    ) -> None:
        with self.ctx.engine.begin() as connection:
            sent = [mail.id for mail, outcome in zip(batch, outcomes, strict=True) if outcome.ok]
            outbox.mark_sent(connection, sent, now)
            report.sent += len(sent)
            for mail, outcome in zip(batch, outcomes, strict=True):
                if outcome.ok:
                    continue
                report.errors.append(f"#{mail.id} {mail.recipient}: {outcome.error}")
                if outcome.permanent or mail.attempts >= self.settings.max_attempts:
                    outbox.mark_failed(connection, mail.id, outcome.error)
                    report.failed += 1
                    log.warning(
                        "outbox #%s failed for %s: %s", mail.id, mail.recipient, outcome.error
                    )
                else:
                    at = now + backoff(self.settings, mail.attempts)
                    outbox.mark_retry(connection, mail.id, outcome.error, at)
                    report.retried += 1
                    log.info("outbox #%s retry at %s: %s", mail.id, at.isoformat(), outcome.error)

    def drain(
        self, now: datetime | None = None, progress: Callable[[SendReport], None] | None = None
    ) -> SendReport:
        """Send batches until nothing is due now."""
        total = SendReport()
        while True:
            report = self.send_batch(now)
            if not report.handled:
                return total
            total.add(report)
            if progress:
                progress(report)
