"""Address normalisation and the per-community address scheme."""

from __future__ import annotations

import pytest

from mailhub.addresses import AddressBook, Destination, InvalidAddress, Kind, normalise_address
from mailhub.config import AddressSettings


def test_normalisation_makes_one_person_of_case_variants() -> None:
    assert normalise_address("A.Person@Example.ORG") == "a.person@example.org"
    assert normalise_address(" <a.person@example.org> ") == "a.person@example.org"


@pytest.mark.parametrize(
    "bad", ["", "no-at-sign", "two@@example.org", "a@b", "spaces in@example.org"]
)
def test_invalid_addresses_are_refused(bad: str) -> None:
    with pytest.raises(InvalidAddress):
        normalise_address(bad)


@pytest.fixture
def book() -> AddressBook:
    return AddressBook("lists.example.org", {"irnet": "irnet", "youth": "yen"}, AddressSettings())


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("irnet@lists.example.org", Destination("irnet", Kind.POST)),
        ("IRNet@Lists.Example.Org", Destination("irnet", Kind.POST)),
        ("irnet-request@lists.example.org", Destination("irnet", Kind.REQUEST)),
        ("irnet-news@lists.example.org", Destination("irnet", Kind.NEWS)),
        ("yen-events@lists.example.org", Destination("youth", Kind.EVENTS)),
        ("irnet+r-1.2.0.abc@lists.example.org", Destination("irnet", Kind.REPLY, "1.2.0.abc")),
        ("irnet+m-tok@lists.example.org", Destination("irnet", Kind.MODERATION, "tok")),
        ("irnet+s-tok@lists.example.org", Destination("irnet", Kind.SYNOPSIS, "tok")),
        ("irnet+c-tok@lists.example.org", Destination("irnet", Kind.CONFIRM, "tok")),
        ("irnet+b-tok@lists.example.org", Destination("irnet", Kind.BOUNCE, "tok")),
        ("irnet-owner@lists.example.org", Destination("irnet", Kind.OWNER)),
        ("YEN-Owner@lists.example.org", Destination("youth", Kind.OWNER)),
        ("postmaster@lists.example.org", Destination(None, Kind.POSTMASTER)),
        ("PostMaster@Lists.Example.Org", Destination(None, Kind.POSTMASTER)),
        ("Postmaster", Destination(None, Kind.POSTMASTER)),  # RFC 5321 4.5.1: no domain
        ("postmaster@elsewhere.org", None),
        ("irnet@elsewhere.org", None),
        ("other@lists.example.org", None),
        ("irnet+x-tok@lists.example.org", None),
        ("irnet+r-@lists.example.org", None),
        ("irnet-unknown@lists.example.org", None),
    ],
)
def test_resolve(book: AddressBook, address: str, expected: Destination | None) -> None:
    assert book.resolve(address) == expected


def test_build_and_resolve_round_trip(book: AddressBook) -> None:
    plain = {Kind.POST, Kind.REQUEST, Kind.NEWS, Kind.EVENTS, Kind.OWNER}
    for kind in set(Kind) - {Kind.POSTMASTER}:
        token = None if kind in plain else "t0k"
        address = book.address("youth", kind, token)
        assert book.resolve(address) == Destination("youth", kind, token)
    # The instance's own address belongs to no community.
    assert book.address("youth", Kind.POSTMASTER) == book.postmaster()
    assert book.resolve(book.postmaster()) == Destination(None, Kind.POSTMASTER)


def test_custom_separators() -> None:
    custom = AddressBook(
        "l.example.org", {"irnet": "irnet"}, AddressSettings(separator="=", request_suffix="-admin")
    )
    assert custom.resolve("irnet=r-abc@l.example.org") == Destination("irnet", Kind.REPLY, "abc")
    assert custom.resolve("irnet-admin@l.example.org") == Destination("irnet", Kind.REQUEST)
    assert custom.resolve("irnet+r-abc@l.example.org") is None
    owners = AddressBook(
        "l.example.org", {"irnet": "irnet"}, AddressSettings(owner_suffix="-admins")
    )
    assert owners.resolve("irnet-admins@l.example.org") == Destination("irnet", Kind.OWNER)
    assert owners.resolve("irnet-owner@l.example.org") is None
