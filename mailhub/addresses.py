"""E-mail addresses: normalisation, and the per-community address scheme.

Every address mailhub answers to is resolved by one small table of patterns into a
`Destination` (community, kind, token); everything downstream works on that object.
Besides each community's addresses there is one for the instance: ``postmaster@<domain>``,
which RFC 5321 (section 4.5.1) requires every mail domain to accept, in any case and also
written without a domain; its destination has no community.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from mailhub.config import AddressSettings


class InvalidAddress(ValueError):
    """An address that is not a usable e-mail address; the message says why."""


def normalise_address(address: str) -> str:
    """Validate an address (syntax only, no DNS) and fold it to one canonical lower-case form."""
    # Imported here: 20 ms of start-up that commands which only read the store never need.
    from email_validator import EmailNotValidError, validate_email

    candidate = address.strip().strip("<>").strip()
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidAddress(str(exc)) from None
    return result.normalized.lower()


def split_address(address: str) -> tuple[str, str]:
    local, _, domain = address.rpartition("@")
    return local, domain.lower()


class Kind(StrEnum):
    """What a mail to one of our addresses is for."""

    POST = "post"
    REPLY = "reply"
    MODERATION = "moderation"
    SYNOPSIS = "synopsis"
    REQUEST = "request"
    CONFIRM = "confirm"
    BOUNCE = "bounce"
    NEWS = "news"
    EVENTS = "events"
    UNSUBSCRIBE = "unsubscribe"
    OWNER = "owner"
    POSTMASTER = "postmaster"


POSTMASTER = "postmaster"


TOKEN_KINDS = {
    "r": Kind.REPLY,
    "m": Kind.MODERATION,
    "s": Kind.SYNOPSIS,
    "c": Kind.CONFIRM,
    "b": Kind.BOUNCE,
    "u": Kind.UNSUBSCRIBE,
}
TOKEN_LETTERS = {kind: letter for letter, kind in TOKEN_KINDS.items()}


@dataclass(frozen=True)
class Destination:
    """A resolved recipient: which community (None for the instance's postmaster), what
    for, and the token if the address has one."""

    community: str | None
    kind: Kind
    token: str | None = None


class AddressBook:
    """Resolves and builds the addresses of every community on one domain."""

    def __init__(self, domain: str, local_parts: dict[str, str], settings: AddressSettings) -> None:
        self.domain = domain.lower()
        self.settings = settings
        self._by_local = {local.lower(): slug for slug, local in local_parts.items()}
        self._local_of = {slug: local.lower() for slug, local in local_parts.items()}
        self._suffixes = {
            settings.request_suffix.lower(): Kind.REQUEST,
            settings.news_suffix.lower(): Kind.NEWS,
            settings.events_suffix.lower(): Kind.EVENTS,
            settings.owner_suffix.lower(): Kind.OWNER,
        }

    def resolve(self, address: str) -> Destination | None:
        """The destination of an address, or None when it is not one of ours."""
        address = address.strip().strip("<>").lower()
        if address == POSTMASTER:
            return Destination(None, Kind.POSTMASTER)
        local, domain = split_address(address)
        if domain != self.domain or not local:
            return None
        if local == POSTMASTER:
            return Destination(None, Kind.POSTMASTER)
        if local in self._by_local:
            return Destination(self._by_local[local], Kind.POST)
        for suffix, kind in self._suffixes.items():
            base = local.removesuffix(suffix)
            if base != local and base in self._by_local:
                return Destination(self._by_local[base], kind)
        base, sep, rest = local.partition(self.settings.separator)
        letter, dash, token = rest.partition("-")
        if sep and dash and token and base in self._by_local and letter in TOKEN_KINDS:
            return Destination(self._by_local[base], TOKEN_KINDS[letter], token)
        return None

    def address(self, community: str, kind: Kind = Kind.POST, token: str | None = None) -> str:
        """Build the address of ``kind`` for ``community`` (token kinds need ``token``)."""
        if kind is Kind.POSTMASTER:
            return self.postmaster()
        local = self._local_of[community]
        if kind is Kind.POST:
            return f"{local}@{self.domain}"
        suffix = {v: k for k, v in self._suffixes.items()}.get(kind)
        if suffix is not None:
            return f"{local}{suffix}@{self.domain}"
        if token is None:
            raise ValueError(f"a {kind.value} address needs a token")
        return f"{local}{self.settings.separator}{TOKEN_LETTERS[kind]}-{token}@{self.domain}"

    def postmaster(self) -> str:
        """The instance's own address, for mail about the service rather than a community."""
        return f"{POSTMASTER}@{self.domain}"

    def communities(self) -> Iterable[str]:
        return self._local_of.keys()
