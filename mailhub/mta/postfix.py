"""The Postfix maps that put mailhub behind Postfix, and the main.cf lines that use them.

Postfix must know three things: that the list domain is a relay domain (relay_domains),
that its mail goes to mailhub's LMTP listener (transport_maps), and which addresses exist
there (relay_recipient_maps), so that mail to anything else is refused at RCPT with 550
instead of accepted and then bounced to a sender who is usually forged (backscatter).

The fixed addresses (each community's list, -request, -news, -events and -owner addresses,
and postmaster@) are a hash table: Postfix notices a rebuilt .db by itself, so a community
created a moment ago is reachable without a reload. Token addresses (``irnet+r-<token>@``)
vary, so they are one regular expression. It names no community, only the token's shape
(dot-separated values, then the 13-character signature): a regexp table is read when a
Postfix process starts and a change needs `postfix reload`, which the user mailhub runs as
usually may not do. Why a regexp and not ``recipient_delimiter = +``: with a delimiter,
Postfix looks ``irnet+anything@`` up as ``irnet@`` in hash tables, accepts it, and then
bounces what mailhub refuses (measured in tests/test_postfix.py).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mailhub.addresses import TOKEN_KINDS, AddressBook, Kind
from mailhub.config import Settings
from mailhub.mta import programs

log = logging.getLogger("mailhub.mta")

TRANSPORT = "transport"
RELAY_DOMAINS = "relay_domains"
RELAY_RECIPIENTS = "relay_recipients"
TOKEN_PATTERNS = "relay_recipients.regexp"
HASHED = (TRANSPORT, RELAY_DOMAINS, RELAY_RECIPIENTS)
# Every kind of fixed address, per community (Kind.POST is the list address itself).
FIXED_KINDS = (Kind.POST, Kind.REQUEST, Kind.NEWS, Kind.EVENTS, Kind.OWNER)
# A token: lower-case values separated by dots, then 64 bits of base32 (tokens.py).
TOKEN_SHAPE = r"([a-z0-9]+\.)+[a-z2-7]{13}"
LOCAL_PART = r"[a-z0-9][a-z0-9._-]*"


def listener(settings: Settings) -> str:
    """Where Postfix reaches mailhub's listener, as Postfix writes it: ``inet:HOST:PORT``."""
    host = settings.smtp.host
    if host in ("", "0.0.0.0", "::"):
        # Listening on every address: Postfix on the same machine uses the loopback.
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"inet:{host}:{settings.smtp.port}"


def fixed_addresses(book: AddressBook) -> list[str]:
    """Every address of ours that carries no token, postmaster@ first."""
    addresses = [book.postmaster()]
    for slug in sorted(book.communities()):
        addresses += [book.address(slug, kind) for kind in FIXED_KINDS]
    return addresses


def token_pattern(settings: Settings) -> str:
    """The regexp-table line that accepts every token address on our domain."""
    domain = re.escape(settings.instance.domain)
    separator = re.escape(settings.addresses.separator)
    letters = "".join(sorted(TOKEN_KINDS))
    return f"/^{LOCAL_PART}{separator}[{letters}]-{TOKEN_SHAPE}@{domain}$/ OK"


def map_texts(settings: Settings, book: AddressBook) -> dict[str, str]:
    """The content of each map file, by file name."""
    domain = settings.instance.domain
    head = "# Written by `mailhub mta postfix`; changes here are overwritten.\n"
    recipients = "".join(f"{address} OK\n" for address in fixed_addresses(book))
    return {
        TRANSPORT: f"{head}{domain} lmtp:{listener(settings)}\n",
        RELAY_DOMAINS: f"{head}{domain} OK\n",
        RELAY_RECIPIENTS: head + recipients,
        TOKEN_PATTERNS: f"{head}{token_pattern(settings)}\n",
    }


def main_cf_lines(folder: Path, map_type: str = "hash") -> list[str]:
    """The main.cf lines that route the list domain to mailhub through the maps in
    ``folder`` (where a parameter is already set, add these tables to its value)."""
    table = f"{map_type}:{folder}"
    return [
        f"relay_domains = {table}/{RELAY_DOMAINS}",
        f"transport_maps = {table}/{TRANSPORT}",
        f"relay_recipient_maps = {table}/{RELAY_RECIPIENTS}, regexp:{folder}/{TOKEN_PATTERNS}",
    ]


def database_type(config_dir: Path | None) -> str:
    """The indexed table type this Postfix builds (``default_database_type``; hash on
    Debian, lmdb on some other systems), hash when Postfix is not installed here."""
    postconf = programs.find("postconf")
    if postconf is None:
        return "hash"
    args = programs.with_config(postconf, config_dir)
    done = programs.run([*args, "-h", "default_database_type"])
    found = done.stdout.strip() if done.returncode == 0 else ""
    return found or "hash"


@dataclass
class Written:
    """What `write` did: the files that changed, the postmap commands run (or to run), and
    the problems met."""

    folder: Path
    map_type: str
    changed: list[str] = field(default_factory=list)
    postmap: list[str] = field(default_factory=list)
    postmap_ran: bool = False
    problems: list[str] = field(default_factory=list)


def write(settings: Settings, book: AddressBook, folder: Path | None = None) -> Written:
    """Write the maps into ``folder`` (default: settings.postfix_maps) and index the hash
    tables with postmap when it is installed; unchanged files are left alone."""
    folder = folder or settings.postfix_maps
    folder.mkdir(parents=True, exist_ok=True)
    map_type = database_type(settings.mta.postfix_config)
    result = Written(folder, map_type)
    for name, text in map_texts(settings, book).items():
        if _replace(folder / name, text):
            result.changed.append(name)
    postmap = programs.find("postmap")
    base = programs.with_config(postmap or "postmap", settings.mta.postfix_config)
    commands = [[*base, f"{map_type}:{folder / name}"] for name in HASHED]
    result.postmap = [" ".join(command) for command in commands]
    if postmap is None:
        return result
    result.postmap_ran = True
    for name, command in zip(HASHED, commands, strict=True):
        if name not in result.changed and _indexed(folder / name):
            continue
        done = programs.run(command)
        if done.returncode != 0:
            result.problems.append(f"{' '.join(command)}: {done.stderr.strip()}")
    return result


def _replace(path: Path, text: str) -> bool:
    """Write ``text`` to ``path`` atomically; False when it already held exactly that."""
    try:
        if path.read_text() == text:
            return False
    except OSError:
        pass
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w") as stream:
        stream.write(text)
    # Postfix's processes read the maps as the postfix user.
    os.chmod(temp, 0o644)
    os.replace(temp, path)
    return True


def _indexed(source: Path) -> bool:
    """Whether an index file (.db, .lmdb, .cdb) newer than ``source`` is beside it."""
    for suffix in (".db", ".lmdb", ".cdb"):
        index = source.with_name(source.name + suffix)
        if index.exists() and index.stat().st_mtime >= source.stat().st_mtime:
            return True
    return False


def refresh(settings: Settings, book: AddressBook) -> Written | None:
    """Rewrite the maps after a change of communities, when [mta] postfix_dir asks for it."""
    if settings.mta.postfix_dir is None:
        return None
    written = write(settings, book)
    for problem in written.problems:
        log.error("postfix maps: %s", problem)
    return written
