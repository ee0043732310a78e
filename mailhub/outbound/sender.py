"""The sender worker: claims due outbox rows, delivers them and records each outcome.

SMTP delivery spreads a batch over several connections (threads, each with its own reused
connection); a temporary failure retries with growing backoff until the attempts run out.

Each outcome is committed as soon as the relay has answered, before that connection hands
over anything else (the commit overlaps the next message's MAIL and RCPT; recorder.py
groups the commits of several connections), so a sender killed at any moment leaves at
most one message per connection delivered but not recorded: only those can be sent twice,
once its lease runs out. While the connections work, the calling thread renews the batch's
lease (leases.py), so a batch that outlasts the lease (a slow relay) is never taken from a
live sender. With DKIM signed in a worker process, the next batch is claimed and signed
while the current one is sent (batches.py).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError

from mailhub.context import Context
from mailhub.leases import Renewal
from mailhub.outbound import batches, outbox
from mailhub.outbound.batches import Batch
from mailhub.outbound.outbox import Claimed
from mailhub.outbound.outcomes import Outcome, SendReport, judge, write_outcomes
from mailhub.outbound.recorder import Recorder, Ticket
from mailhub.outbound.refusals import count_refusals
from mailhub.outbound.signing import SigningError, signer_from_settings
from mailhub.outbound.signing_pool import SigningPool
from mailhub.outbound.transports import (
    Delivery,
    Gate,
    MaildirTransport,
    RateLimiter,
    SmtpTransport,
    Transport,
    permanent,
)

log = logging.getLogger("mailhub.sender")


class Sender:
    """Delivers outbox rows through the configured transport; reusable across batches."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.settings = ctx.settings.outbound
        self.lease = timedelta(seconds=self.settings.lease_seconds)
        self.signer = signer_from_settings(ctx.settings)
        processes = ctx.settings.dkim.sign_processes
        self._signing = (
            SigningPool(ctx.settings, self.signer, processes)
            if self.signer is not None and processes
            else None
        )
        self.connections = 1 if self.settings.mode == "maildir" else self.settings.relay.connections
        limiter = RateLimiter(self.settings.relay.max_per_second)
        self._transports: list[Transport] = [self._make(limiter) for _ in range(self.connections)]
        self._pool = ThreadPoolExecutor(self.connections, thread_name_prefix="mailhub-sender")
        # The batch claimed and being signed while the current one is sent (batches.py).
        self._next: Batch | None = None

    def _make(self, limiter: RateLimiter) -> Transport:
        if self.settings.mode == "maildir":
            return MaildirTransport(self.ctx.settings.outbox_maildir)
        return SmtpTransport(self.settings.relay, limiter)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._next is not None:
            batches.release(self.ctx.engine, self._next)
            self._next = None
        if self._signing is not None:
            self._signing.close()
        for transport in self._transports:
            transport.close()

    def _deliver(
        self,
        transport: Transport,
        mail: Claimed,
        gate: Gate | None,
        bytes_of: Callable[[Claimed], bytes],
    ) -> Delivery:
        """Sign (when DKIM is configured) as the very last step, then hand over."""
        try:
            raw = bytes_of(mail)
        except SigningError as exc:
            return permanent(str(exc))
        return transport.deliver(mail, raw, gate)

    def send_batch(self, now: datetime | None = None) -> SendReport:
        """Claim one batch of due rows (or take the one claimed ahead), deliver them, record
        outcomes; empty report if none."""
        at = now or self.ctx.now()
        report = SendReport()
        batch = self._take(at)
        if batch is None:
            return report
        recorder = Recorder(self.ctx.engine, functools.partial(write_outcomes, now=at))
        released: set[int] = set()
        shares = [batch.rows[i :: self.connections] for i in range(self.connections)]
        futures = [
            self._pool.submit(
                self._send_share, transport, share, at, recorder, released, batch.bytes_of
            )
            for transport, share in zip(self._transports, shares, strict=True)
            if share
        ]
        try:
            self._claim_ahead(now or self.ctx.now())
            self._keep_lease(batch.rows, futures, released)
            for future in futures:
                report.add(future.result())
        finally:
            wait(futures)
            recorder.close()
        if report.refused:
            count_refusals(self.ctx, report.refused)
        return report

    def _claim(self, now: datetime) -> Batch | None:
        return batches.claim(
            self.ctx.engine, now, self.lease, self.settings.batch_size, self.signer, self._signing
        )

    def _take(self, now: datetime) -> Batch | None:
        """The batch claimed ahead, less rows lost meanwhile; else a batch claimed now. A
        store that fails the check keeps the batch ahead for the next call (and `close`)."""
        ahead, self._next = self._next, None
        if ahead is not None:
            try:
                ahead = batches.still_held(self.ctx.engine, ahead, now + self.lease)
            except SQLAlchemyError:
                self._next = ahead
                raise
            if ahead.rows:
                return ahead
        return self._claim(now)

    def _claim_ahead(self, now: datetime) -> None:
        """With a signing worker, claim the next batch now so that it is signed while this
        one is sent. A store that refuses just leaves the next batch to be claimed later."""
        if self._signing is None:
            return
        try:
            self._next = self._claim(now)
        except SQLAlchemyError as exc:
            log.warning("next batch not claimed ahead: %s", exc)

    def _send_share(
        self,
        transport: Transport,
        share: list[Claimed],
        now: datetime,
        recorder: Recorder[Outcome],
        released: set[int],
        bytes_of: Callable[[Claimed], bytes],
    ) -> SendReport:
        """One connection's share of a batch: each outcome is committed before the next
        message is handed over on this connection, and the last before the share ends."""
        report = SendReport()
        ticket: Ticket[Outcome] | None = None
        for mail in share:
            if mail.id in released:
                continue
            gate = functools.partial(recorder.wait, ticket) if ticket else None
            delivery = self._deliver(transport, mail, gate, bytes_of)
            outcome = judge(self.settings, mail, delivery, now)
            ticket = recorder.submit(outcome)
            if delivery.refused:
                report.refused.append((mail.id, delivery.error or ""))
            report.count(outcome)
        if ticket is not None:
            recorder.wait(ticket)
        return report

    def _keep_lease(
        self, batch: list[Claimed], futures: list[Future[SendReport]], released: set[int]
    ) -> None:
        """Renew the lease of the batch (and of the next, claimed ahead) until every
        connection is done. A row no longer held (this sender stalled past its lease and
        another took it) is left to the other."""
        renewal = Renewal(self.lease)
        while wait(futures, timeout=renewal.seconds_left()).not_done:
            held = [mail for mail in batch if mail.id not in released]
            waiting = self._next.rows if self._next is not None else []
            try:
                with self.ctx.engine.begin() as connection:
                    kept = outbox.renew(connection, held + waiting, self.ctx.now() + self.lease)
            except SQLAlchemyError as exc:
                log.warning("outbox lease not renewed, will try again: %s", exc)
            else:
                released.update(mail.id for mail in held if mail.id not in kept)
                if self._next is not None:
                    self._next = self._next.keeping(kept)
            renewal.done()

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
