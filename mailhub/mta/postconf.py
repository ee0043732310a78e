"""`mailhub mta check`: what the running Postfix lacks to hand the list domain to mailhub.

Reads Postfix's effective settings (`postconf -x`, every parameter with its default and
``$names`` expanded) and asks the maps themselves (`postmap -q`), so a map written but not
indexed, or a main.cf edited but not pointing at the maps, is found as well as a line never
pasted. Each check gives one line; the command exits 1 when any check fails.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mailhub import tokens
from mailhub.addresses import AddressBook, Kind
from mailhub.config import Settings
from mailhub.errors import MailhubError
from mailhub.mta import programs
from mailhub.mta.postfix import (
    RELAY_DOMAINS,
    RELAY_RECIPIENTS,
    TOKEN_PATTERNS,
    TRANSPORT,
    fixed_addresses,
    listener,
)

# Query a map: (table, keys) -> the keys it answers, with their values.
Query = Callable[[str, list[str]], dict[str, str]]


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str

    def __str__(self) -> str:
        return f"{'ok' if self.ok else 'missing'}: {self.text}"


class PostfixUnavailable(MailhubError):
    """postconf cannot be run or cannot read the configuration."""


def read_postconf(config_dir: Path | None) -> dict[str, str]:
    """Every parameter of the Postfix configured in ``config_dir`` (default: the system's),
    expanded."""
    postconf = programs.find("postconf")
    if postconf is None:
        raise PostfixUnavailable("postconf not found: is Postfix installed here?")
    done = programs.run([*programs.with_config(postconf, config_dir), "-x"])
    if done.returncode != 0:
        raise PostfixUnavailable(f"postconf failed: {done.stderr.strip()}")
    values = {}
    for line in done.stdout.splitlines():
        name, equals, value = line.partition(" = ")
        if equals:
            values[name.strip()] = value.strip()
        elif line.endswith(" ="):
            values[line[:-2].strip()] = ""
    return values


def postmap_query(config_dir: Path | None) -> Query:
    """Ask a table with `postmap -q - TABLE`, the keys on standard input."""

    def query(table: str, keys: list[str]) -> dict[str, str]:
        postmap = programs.find("postmap") or "postmap"
        args = [*programs.with_config(postmap, config_dir), "-q", "-", table]
        done = programs.run(args, stdin="".join(f"{key}\n" for key in keys))
        found = {}
        for line in done.stdout.splitlines():
            key, _tab, value = line.partition("\t")
            found[key.strip().lower()] = value.strip()
        return found

    return query


def items(value: str) -> list[str]:
    """A list-valued parameter's items (Postfix separates them by commas and white space)."""
    return [item for item in re.split(r"[\s,]+", value) if item]


def check(
    settings: Settings,
    book: AddressBook,
    values: dict[str, str],
    query: Query,
    folder: Path,
    map_type: str,
) -> list[Finding]:
    """Every check, in the order an admin would fix them."""
    tables = {name: f"{map_type}:{folder / name}" for name in (TRANSPORT, RELAY_DOMAINS)}
    recipients = f"{map_type}:{folder / RELAY_RECIPIENTS}"
    patterns = f"regexp:{folder / TOKEN_PATTERNS}"
    domain = settings.instance.domain
    findings = [
        _listed(values, "relay_domains", tables[RELAY_DOMAINS], domain),
        _listed(values, "transport_maps", tables[TRANSPORT]),
        _listed(values, "relay_recipient_maps", recipients),
        _listed(values, "relay_recipient_maps", patterns),
        _transport_answers(settings, query, tables[TRANSPORT]),
        _recipients_answer(book, query, recipients),
        _tokens_answer(settings, book, query, patterns),
        _delimiter(settings, values),
        _size(settings, values),
        _lmtp(settings),
        _mynetworks(settings, values),
    ]
    limit = values.get("lmtp_destination_recipient_limit", "?")
    findings.append(
        Finding(
            True,
            f"lmtp_destination_recipient_limit = {limit}: any value works, mailhub answers "
            "each recipient of an LMTP transaction on its own",
        )
    )
    return findings


def _listed(values: dict[str, str], parameter: str, table: str, also: str = "") -> Finding:
    present = items(values.get(parameter, ""))
    if table in present or (also and also in present):
        return Finding(True, f"{parameter} has {table}")
    return Finding(False, f"{parameter} lacks {table} (see `mailhub mta postfix`)")


def _transport_answers(settings: Settings, query: Query, table: str) -> Finding:
    domain = settings.instance.domain
    want = f"lmtp:{listener(settings)}"
    got = query(table, [domain]).get(domain)
    if got == want:
        return Finding(True, f"{table} sends {domain} to {want}")
    found = f"answers {got!r}" if got else "does not answer (not written, or postmap not run)"
    return Finding(False, f"{table} {found} for {domain}; mailhub listens at {want}")


def _recipients_answer(book: AddressBook, query: Query, table: str) -> Finding:
    wanted = fixed_addresses(book)
    found = query(table, wanted)
    missing = [address for address in wanted if address not in found]
    if not missing:
        return Finding(True, f"{table} lists all {len(wanted)} addresses")
    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
    return Finding(
        False, f"{table} lacks {len(missing)} address(es): {shown} (run `mailhub mta postfix`)"
    )


def _tokens_answer(settings: Settings, book: AddressBook, query: Query, table: str) -> Finding:
    communities = sorted(book.communities())
    if not communities:
        return Finding(True, "no community yet, so no token address to check")
    sample = book.address(
        communities[0], Kind.BOUNCE, tokens.sign(settings.instance.secret, tokens.BOUNCE, 1, 1)
    )
    if query(table, [sample]).get(sample):
        return Finding(True, f"{table} accepts token addresses such as {sample}")
    return Finding(False, f"{table} does not accept the token address {sample}")


def _delimiter(settings: Settings, values: dict[str, str]) -> Finding:
    delimiter = values.get("recipient_delimiter", "")
    ours = settings.addresses.separator + "".join(
        getattr(settings.addresses, f"{kind}_suffix")[:1]
        for kind in ("request", "news", "events", "owner")
    )
    clash = sorted(set(delimiter) & set(ours))
    if not clash:
        return Finding(True, f"recipient_delimiter = {delimiter!r} cannot widen our addresses")
    return Finding(
        False,
        f"recipient_delimiter = {delimiter!r}: Postfix then accepts any "
        f"<list>{clash[0]}anything@ (it looks up <list>@ in hash tables) and bounces what "
        "mailhub refuses; mailhub needs no delimiter: remove it, or run mailhub behind its "
        "own Postfix instance",
    )


def _size(settings: Settings, values: dict[str, str]) -> Finding:
    ours = settings.inbound.max_message_bytes
    try:
        theirs = int(values.get("message_size_limit", "0"))
    except ValueError:
        theirs = 0
    if 0 < theirs <= ours:
        return Finding(True, f"message_size_limit {theirs} <= inbound.max_message_bytes {ours}")
    return Finding(
        False,
        f"message_size_limit = {theirs or 'unlimited'} is larger than mailhub's "
        f"inbound.max_message_bytes ({ours}): Postfix would accept mail that mailhub then "
        f"refuses, and bounce it; set message_size_limit = {ours} or less",
    )


def _lmtp(settings: Settings) -> Finding:
    if settings.smtp.lmtp:
        return Finding(True, "smtp.lmtp = true: mailhub speaks LMTP to Postfix's lmtp client")
    return Finding(False, "smtp.lmtp = false in mailhub's config; Postfix's lmtp client needs true")


def _mynetworks(settings: Settings, values: dict[str, str]) -> Finding:
    """Whether the address mailhub's sender connects from may relay through this Postfix."""
    if settings.outbound.mode != "smtp":
        return Finding(True, 'outbound.mode is not "smtp": mailhub does not relay through Postfix')
    relay = settings.outbound.relay
    source = _source_address(relay.host, relay.port)
    if source is None:
        return Finding(False, f"cannot tell which address reaches the relay {relay.host}")
    networks = items(values.get("mynetworks", ""))
    for network in networks:
        try:
            if source in ipaddress.ip_network(network.strip("[]"), strict=False):
                return Finding(True, f"mynetworks has {network}, which holds {source}")
        except ValueError:
            continue
    if relay.username:
        return Finding(True, f"the sender logs in as {relay.username} (mynetworks not needed)")
    return Finding(
        False,
        f"mynetworks ({' '.join(networks) or 'empty'}) lacks {source}, from which mailhub's "
        "sender connects: add it, or Postfix refuses to relay list mail",
    )


def _source_address(host: str, port: int) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The local address the system would use to reach ``host`` (no packet is sent)."""
    try:
        family, _kind, _proto, _name, address = socket.getaddrinfo(host, port)[0]
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.connect(address)
            return ipaddress.ip_address(probe.getsockname()[0])
    except (OSError, ValueError, IndexError):
        return None
