"""Which of our addresses one spooled message was sent to, and one spool row for each.

An MTA may hand over one message for several of our addresses in one transaction: Postfix
does so over LMTP by default for `irnet@` and `yen@`, and a member may write to
`irnet-news@` and `irnet-events@` at once. The front end says yes to each recipient, so
each must get its own outcome: a post in each community, a news item and an event.

The worker keeps its model of one spool row, one destination. A row whose recipients name
several destinations is split before anything is decided about it, in one transaction: the
row keeps the first destination's addresses, and a new row (the same bytes, envelope sender,
source and arrival time) is added for each further destination, which a later pass takes
like any other row. A crash before that commit leaves the row whole, to be split again;
after it every row names one destination, so a retry never splits twice, and a destination
whose processing fails holds back no other. Splitting in the worker rather than at the
front end keeps the acknowledged record as it arrived, costs single-recipient mail next to
nothing, and serves SMTP, LMTP, the pipe, IMAP and retries alike.

Mail without an envelope recipient of ours (an IMAP mailbox without `recipient` whose
server left no Delivered-To or X-Original-To) goes where its headers say: to every address
of ours in Delivered-To or X-Original-To if there is one, otherwise to every address of ours
in To and Cc, as an MTA would have delivered it to each. A list that also gets the message
another way still has one post (one Message-ID in one community is one post).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from mailhub.addresses import AddressBook, Destination
from mailhub.inbound.parse import ParsedMessage
from mailhub.inbound.spool import TABLE, Arrival, SpoolRow, store_many

log = logging.getLogger("mailhub.pipeline")

# Headers that name the address a copy was delivered for, then those the writer addressed.
HEADER_GROUPS = (("delivered-to", "x-original-to"), ("to", "cc"))


@dataclass(frozen=True)
class Recipient:
    """One destination of a message, with the addresses in it that name that destination."""

    destination: Destination
    addresses: tuple[str, ...]


def recipients(book: AddressBook, rcpt_to: Sequence[str], parsed: ParsedMessage) -> list[Recipient]:
    """Every destination of a message, in the order first named; empty when none is ours."""
    if len(rcpt_to) == 1 and (only := book.resolve(rcpt_to[0])) is not None:
        return [Recipient(only, (rcpt_to[0],))]  # nearly all mail: nothing to group
    found = _group(book, rcpt_to)
    for names in HEADER_GROUPS:
        if found:
            break
        found = _group(book, (a for name in names for a in header_addresses(parsed, name)))
    return found


def _group(book: AddressBook, addresses: Iterable[str]) -> list[Recipient]:
    groups: dict[Destination, list[str]] = {}
    for address in addresses:
        destination = book.resolve(address)
        if destination is not None:
            groups.setdefault(destination, []).append(address)
    return [Recipient(d, tuple(names)) for d, names in groups.items()]


def header_addresses(parsed: ParsedMessage, header: str) -> list[str]:
    if header == "to":
        return parsed.to
    if header == "cc":
        return parsed.cc
    value = parsed.headers.get(header, "")
    return [value.strip().strip("<>")] if value else []


def split(connection: Connection, row: SpoolRow, found: Sequence[Recipient]) -> list[int]:
    """Narrow ``row`` to the first destination and add a row for each other one, in the
    caller's transaction; return the new rows' ids."""
    first, *others = found
    connection.execute(
        update(TABLE).where(TABLE.c.id == row.id).values(rcpt_to=list(first.addresses))
    )
    source_ref, received_at = connection.execute(
        select(TABLE.c.source_ref, TABLE.c.received_at).where(TABLE.c.id == row.id)
    ).one()
    arrivals = [
        Arrival(row.source, row.raw, row.mail_from, list(other.addresses), source_ref)
        for other in others
    ]
    ids = store_many(connection, arrivals, received_at)
    log.info("spool #%s: one row per destination, added %s", row.id, ids)
    return ids
