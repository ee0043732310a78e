"""Tokens: round trip, forgery, purpose binding, expiry, case folding, length."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from mailhub import tokens

SECRET = "token-secret-0123456789"
NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_round_trip_carries_values() -> None:
    token = tokens.sign(SECRET, "reply", 123, 45)
    verified = tokens.verify(SECRET, "reply", token, now=NOW)
    assert verified.values == ("123", "45")
    assert verified.int_value(0) == 123
    assert verified.expires is None


def test_survives_case_folding_and_fits_a_local_part() -> None:
    token = tokens.sign(
        SECRET, "moderation", 9_999_999, 9_999_999, expires_at=NOW + timedelta(days=3650)
    )
    assert tokens.verify(SECRET, "moderation", token.upper(), now=NOW).values == (
        "9999999",
        "9999999",
    )
    assert len(f"irnet+m-{token}") <= 64


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("123", "124", 1),  # another post
        lambda t: t[:-1] + ("a" if t[-1] != "a" else "b"),  # signature changed
        lambda t: t.rsplit(".", 1)[0] + ".",  # signature removed
        lambda t: "nodots",
        lambda t: "",
        lambda t: "123.45.0.!!!!",
    ],
)
def test_forged_tokens_are_refused(tamper) -> None:  # type: ignore[no-untyped-def]
    token = tokens.sign(SECRET, "reply", 123, 45)
    with pytest.raises(tokens.TokenError):
        tokens.verify(SECRET, "reply", tamper(token), now=NOW)


def test_token_for_another_purpose_or_secret_is_refused() -> None:
    token = tokens.sign(SECRET, "reply", 1, 2)
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify(SECRET, "moderation", token, now=NOW)
    with pytest.raises(tokens.TokenError, match="signature"):
        tokens.verify("another-secret-0123456789", "reply", token, now=NOW)


def test_expiry_is_enforced() -> None:
    token = tokens.sign(SECRET, "confirm", 7, expires_at=NOW + timedelta(hours=1))
    assert tokens.verify(SECRET, "confirm", token, now=NOW + timedelta(minutes=59)).values == ("7",)
    with pytest.raises(tokens.TokenError, match="expired"):
        tokens.verify(SECRET, "confirm", token, now=NOW + timedelta(hours=1, seconds=1))


def test_expiry_cannot_be_extended_by_editing() -> None:
    token = tokens.sign(SECRET, "confirm", 7, expires_at=NOW)
    value, _expiry, signature = token.split(".")
    longer = f"{value}.zzzzzzz.{signature}"
    with pytest.raises(tokens.TokenError):
        tokens.verify(SECRET, "confirm", longer, now=NOW + timedelta(days=1))


def test_values_are_restricted() -> None:
    with pytest.raises(ValueError):
        tokens.sign(SECRET, "reply", "a.b")
