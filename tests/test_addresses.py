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
    for kind in Kind:
        token = None if kind in {Kind.POST, Kind.REQUEST, Kind.NEWS, Kind.EVENTS} else "t0k"
        address = book.address("youth", kind, token)
        assert book.resolve(address) == Destination("youth", kind, token)


def test_custom_separators() -> None:
    custom = AddressBook(
        "l.example.org", {"irnet": "irnet"}, AddressSettings(separator="=", request_suffix="-admin")
    )
    assert custom.resolve("irnet=r-abc@l.example.org") == Destination("irnet", Kind.REPLY, "abc")
    assert custom.resolve("irnet-admin@l.example.org") == Destination("irnet", Kind.REQUEST)
    assert custom.resolve("irnet+r-abc@l.example.org") is None
