"""The sender worker: claims due outbox rows, delivers them and records each outcome.

SMTP delivery spreads a batch over several connections (threads, each with its own reused
connection); a temporary failure retries with growing backoff until the attempts run out.

Each outcome is committed as soon as the relay has answered, before that connection hands
over anything else (the commit overlaps the next message's MAIL and RCPT; recorder.py
groups the commits of several connections), so a sender killed at any moment leaves at
most one message per connection delivered but not recorded: only those can be sent twice,
once its lease runs out. While the connections work, the calling thread renews the batch's
lease (leases.py), so a batch that outlasts the lease (a slow relay) is never taken from a
live sender.
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
from mailhub.outbound import outbox
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

    def _make(self, limiter: RateLimiter) -> Transport:
        if self.settings.mode == "maildir":
            return MaildirTransport(self.ctx.settings.outbox_maildir)
        return SmtpTransport(self.settings.relay, limiter)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._signing is not None:
            self._signing.close()
        for transport in self._transports:
            transport.close()

    def _signed(self, batch: list[Claimed]) -> Callable[[Claimed], bytes]:
        """How each copy of ``batch`` gets its bytes: as queued, signed here, or signed
        ahead by the signing worker (signing_pool.py)."""
        signer = self.signer
        if signer is None:
            return lambda mail: mail.raw
        if self._signing is None:
            return lambda mail: signer.sign(mail.raw)
        ahead = self._signing.sign_ahead([mail.raw for mail in batch])
        position = {mail.id: index for index, mail in enumerate(batch)}
        return lambda mail: ahead.signed(position[mail.id], mail.raw)

    def _deliver(
        self,
        transport: Transport,
        mail: Claimed,
        gate: Gate | None,
        signed: Callable[[Claimed], bytes],
    ) -> Delivery:
        """Sign (when DKIM is configured) as the very last step, then hand over."""
        try:
            raw = signed(mail)
        except SigningError as exc:
            return permanent(str(exc))
        return transport.deliver(mail, raw, gate)

    def send_batch(self, now: datetime | None = None) -> SendReport:
        """Claim one batch of due rows, deliver them, record outcomes; empty report if none."""
        now = now or self.ctx.now()
        with self.ctx.engine.begin() as connection:
            batch = outbox.claim_due(connection, now, self.lease, self.settings.batch_size)
        report = SendReport()
        if not batch:
            return report
        recorder = Recorder(self.ctx.engine, functools.partial(write_outcomes, now=now))
        released: set[int] = set()
        signed = self._signed(batch)
        shares = [batch[i :: self.connections] for i in range(self.connections)]
        futures = [
            self._pool.submit(self._send_share, transport, share, now, recorder, released, signed)
            for transport, share in zip(self._transports, shares, strict=True)
            if share
        ]
        try:
            self._keep_lease(batch, futures, released)
            for future in futures:
                report.add(future.result())
        finally:
            wait(futures)
            recorder.close()
        if report.refused:
            count_refusals(self.ctx, report.refused)
        return report

    def _send_share(
        self,
        transport: Transport,
        share: list[Claimed],
        now: datetime,
        recorder: Recorder[Outcome],
        released: set[int],
        signed: Callable[[Claimed], bytes],
    ) -> SendReport:
        """One connection's share of a batch: each outcome is committed before the next
        message is handed over on this connection, and the last before the share ends."""
        report = SendReport()
        ticket: Ticket[Outcome] | None = None
        for mail in share:
            if mail.id in released:
                continue
            gate = functools.partial(recorder.wait, ticket) if ticket else None
            delivery = self._deliver(transport, mail, gate, signed)
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
        """Renew the batch's lease until every connection is done. A row no longer held
        (this sender stalled past its lease and another took it) is left to the other."""
        renewal = Renewal(self.lease)
        while wait(futures, timeout=renewal.seconds_left()).not_done:
            held = [mail for mail in batch if mail.id not in released]
            try:
                with self.ctx.engine.begin() as connection:
                    kept = outbox.renew(connection, held, self.ctx.now() + self.lease)
            except SQLAlchemyError as exc:
                log.warning("outbox lease not renewed, will try again: %s", exc)
            else:
                released.update(mail.id for mail in held if mail.id not in kept)
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
