"""`mailhub check`: is this instance ready to run? Config, store, relay and DNS, in the order
a failure would stop mail.

The configuration has been read by the time this runs (a bad one exits 2 before), and its
secret must not be the published example once mail goes out. Then the store must be
reachable and its schema at the newest revision (`mailhub db upgrade` otherwise); with
outbound.mode = "smtp" the relay must accept a connection and EHLO (and STARTTLS or a
login when configured), which is the first thing every delivery does; and the DKIM keys
must read. Last it prints the DNS records to publish, which it cannot look up
itself. One line per finding; exit 1 when anything is wrong.
"""

from __future__ import annotations

import smtplib
from dataclasses import dataclass

from mailhub import db
from mailhub.config import DEFAULT_SECRET, ConfigError
from mailhub.context import Context


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'problem'}: {self.text}"


def check_secret(ctx: Context) -> Finding:
    """The example secret is printed in config.toml and the README: with it anyone can sign
    a decision, confirmation or unsubscribe address of this instance."""
    if ctx.settings.instance.secret != DEFAULT_SECRET:
        return Finding(True, "instance.secret is set (not the example value)")
    if ctx.settings.outbound.mode != "smtp":
        return Finding(
            True, "instance.secret is the example value (set MAILHUB_SECRET before going live)"
        )
    return Finding(
        False,
        "instance.secret is the example value: anyone can forge this instance's decision and "
        "unsubscribe addresses; set MAILHUB_SECRET to a long random string",
    )


def check_store(ctx: Context) -> Finding:
    try:
        current = db.current_revision(ctx.engine)
    except Exception as exc:  # any driver's failure to connect
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Finding(False, f"store {ctx.settings.database_url}: cannot connect: {reason}")
    head = db.head_revision()
    if current == head:
        return Finding(True, f"store reachable, schema at {head} (the newest)")
    found = current or "empty"
    return Finding(False, f"store schema at {found}, this code needs {head}: mailhub db upgrade")


def check_relay(ctx: Context) -> Finding:
    """Connect to the relay as the sender does (same transport code) and say hello."""
    from mailhub.outbound.transports import SmtpTransport

    relay = ctx.settings.outbound.relay
    where = f"{relay.host}:{relay.port}"
    if ctx.settings.outbound.mode != "smtp":
        return Finding(True, f'outbound.mode = "{ctx.settings.outbound.mode}": no relay to check')
    try:
        name = SmtpTransport(relay).greet()
    except (OSError, smtplib.SMTPException) as exc:
        return Finding(False, f"relay {where}: {exc or type(exc).__name__}")
    return Finding(True, f"relay {where} answers EHLO ({name})")


def check_dkim(ctx: Context) -> tuple[Finding, list[str]]:
    """Whether the keys read, and the DNS records to publish."""
    from mailhub.outbound.dns_records import expected_records
    from mailhub.outbound.signing import signer_from_settings

    try:
        signer = signer_from_settings(ctx.settings)
        records = expected_records(ctx.settings)
    except ConfigError as exc:
        return Finding(False, str(exc)), []
    lines = [f"; {record.purpose}\n{record.line}" for record in records]
    if signer is None:
        # Unsigned mail is refused or filed as spam by the large mailbox providers.
        if ctx.settings.outbound.mode != "smtp":
            return Finding(
                True, "no DKIM key (nothing leaves while outbound.mode is maildir)"
            ), lines
        return Finding(
            False, "no DKIM key: list mail goes out unsigned (mailhub dkim keygen)"
        ), lines
    algorithms = ", ".join(f"{k.algorithm} ({k.selector})" for k in signer.keys)
    return Finding(True, f"DKIM signs with {algorithms} as d={signer.domain}"), lines


def run_checks(ctx: Context) -> tuple[list[Finding], list[str]]:
    """Every finding, and the DNS records to print after them."""
    dkim, records = check_dkim(ctx)
    config = Finding(True, f"configuration {ctx.settings.source or '(built-in defaults)'} reads")
    return [config, check_secret(ctx), check_store(ctx), check_relay(ctx), dkim], records
