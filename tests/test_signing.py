"""DKIM signatures made by mailhub's own signer, each checked by dkimpy's verification:
rsa-sha256 and ed25519-sha256 side by side, awkward messages, a fan-out whose copies differ
only in the footer (their body hashes reuse the shared lines), and the keys and DNS records
that `mailhub dkim keygen` makes, used as an admin would."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dkim
import pytest
from typer.testing import CliRunner

from mailhub import config
from mailhub.cli import app as cli_app
from mailhub.outbound.dkim_body import BodyHasher, body_hash
from mailhub.outbound.dkim_keys import generate
from mailhub.outbound.openssl_rsa import OpenSSLRsa, rsa_signer
from mailhub.outbound.signing import Signer, SigningError, load_key, signer_from_settings
from mailhub.outbound.signing_pool import CHUNK, SigningPool

DOMAIN = "lists.example.org"
HEAD = (
    "From: Amina via IRNet <irnet@lists.example.org>\r\n"
    "To: irnet@lists.example.org\r\n"
    "Subject: [IRNet] Wage councils,\r\n\t folded   over  two lines\r\n"
    "Date: Mon, 02 Mar 2026 09:00:00 +0000\r\n"
    "Message-ID: <m1@example.org>\r\n"
    "X-Not-Signed: anything\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=utf-8\r\n"
)
SHARED = "Dear colleagues,\r\n\r\n" + "A line about sector agreements.  \t\r\n" * 60


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dkim")
    made = generate(folder, {"rsa": "rsa1", "ed25519": "ed1"})
    return {key.selector: key.path for key in made}


def dns_from(records: dict[str, str]) -> Callable[..., bytes]:
    """dkimpy's DNS lookup answered from ``records`` (name -> TXT value)."""

    def lookup(name: bytes | str, timeout: int = 5) -> bytes:
        key = name.decode() if isinstance(name, bytes) else name
        return records.get(key.rstrip("."), "").encode()

    return lookup


def records_of(keys: dict[str, Path]) -> dict[str, str]:
    from mailhub.outbound.dkim_keys import public_txt

    return {
        f"{selector}._domainkey.{DOMAIN}": public_txt(path.read_bytes())
        for selector, path in keys.items()
    }


def signer(keys: dict[str, Path]) -> Signer:
    return Signer(
        [load_key(path.read_bytes(), selector) for selector, path in keys.items()], DOMAIN
    )


def verified(message: bytes, dns: Callable[..., bytes]) -> list[str]:
    """The algorithm of every DKIM-Signature that dkimpy verifies, in order."""
    count = len(re.findall(rb"^DKIM-Signature:", message, re.MULTILINE | re.IGNORECASE))
    good = []
    for index in range(count):
        checker = dkim.DKIM(message)
        try:
            ok = checker.verify(idx=index, dnsfunc=dns)
        except dkim.DKIMException:
            ok = False  # dkimpy raises on some failures (a body hash mismatch)
        if ok:
            good.append(checker.signature_fields[b"a"].decode())
    return good


def test_rsa_and_ed25519_signatures_both_verify(keys: dict[str, Path]) -> None:
    dns = dns_from(records_of(keys))
    signed = signer(keys).sign((HEAD + "\r\n" + SHARED).encode())
    assert sorted(verified(signed, dns)) == ["ed25519-sha256", "rsa-sha256"]
    header = signed.split(b"\r\n\r\n")[0].decode()
    assert "h=from:to:subject:date:message-id:mime-version:content-type;" in " ".join(
        header.split()
    )
    # A changed body or signed header breaks both; an unsigned header breaks neither.
    assert verified(signed.replace(b"sector", b"secret"), dns) == []
    assert verified(signed.replace(b"Subject: [IRNet]", b"Subject: [IRNot]"), dns) == []
    assert len(verified(signed.replace(b"X-Not-Signed: anything", b"X-Not-Signed: x"), dns)) == 2


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(HEAD + "\r\n", id="empty body"),
        pytest.param(HEAD + "\r\nNo line end at the end", id="no final CRLF"),
        pytest.param(HEAD + "\r\nText\r\n\r\n\r\n \r\n", id="blank lines at the end"),
        pytest.param((HEAD + "\r\nUnix\nline ends\n").replace("\r\n", "\n"), id="LF only"),
        pytest.param("To: a@example.org\r\nTo: b@example.org\r\n" + HEAD + "\r\nx\r\n", id="twice"),
        pytest.param(
            HEAD.replace("Date:", "Reply-To:  \t a@example.org \t\r\n\t\r\n  \r\nDate:") + "\r\nx",
            id="white space runs and empty folds",
        ),
        pytest.param(
            HEAD.replace("Date:", "Reply-To: a@example.org\x0b\x0c \r\nDate:") + "\r\nx",
            id="vertical tab and form feed",
        ),
    ],
)
def test_awkward_messages_verify(keys: dict[str, Path], raw: str) -> None:
    dns = dns_from(records_of(keys))
    assert len(verified(signer(keys).sign(raw.encode()), dns)) == 2


def test_a_message_without_from_is_refused(keys: dict[str, Path]) -> None:
    with pytest.raises(SigningError):
        signer(keys).sign(b"To: a@example.org\r\n\r\nHello\r\n")


def test_fan_out_copies_hash_their_shared_lines_once(keys: dict[str, Path]) -> None:
    """Copies that differ only in the footer's link: each verifies, and the body is
    canonicalised from the start only until the shared lines are known."""
    dns = dns_from(records_of(keys))
    sign = signer(keys)
    copies = [
        (
            f"{HEAD}\r\n{SHARED}-- \r\nUnsubscribe: "
            f"https://lists.example.org/unsubscribe/{n}.0.abcdefghijklm\r\n"
        ).encode()
        for n in range(30)
    ]
    signed = [sign.sign(copy) for copy in copies]
    assert all(len(verified(message, dns)) == 2 for message in signed)
    assert sign.bodies.full_hashes == 2
    # The same copy again is known outright.
    sign.sign(copies[3])
    assert sign.bodies.full_hashes == 2


def test_body_hasher_agrees_with_a_fresh_hash_for_every_tail() -> None:
    """Tails that end in blank lines, white space or nothing at all: the shortcut must give
    the hash computed from scratch (which dkimpy agrees with, above)."""
    hasher = BodyHasher()
    tails = ["x\r\n", "\r\n\r\n", "", " \t\r\n", "y", "z  \r\n\r\n", "\r\n"]
    for tail in tails * 2:
        body = (SHARED + tail).encode()
        assert hasher.hash(body) == body_hash(body), repr(tail)


def test_openssl_and_cryptography_make_the_same_rsa_signature(keys: dict[str, Path]) -> None:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, utils

    pem = keys["rsa1"].read_bytes()
    digest = bytes(range(32))
    key: Any = serialization.load_pem_private_key(pem, password=None)
    expected = key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
    assert OpenSSLRsa(pem).sign(digest) == expected
    assert rsa_signer(pem)(digest) == expected


def paste_keygen(printed: str, config: Path) -> dict[str, str]:
    """What an admin does with `mailhub dkim keygen`'s output: its [dkim] lines go into the
    config; returns the TXT records it says to publish, by name."""
    lines = printed.splitlines()
    settings = lines[
        lines.index("[dkim]") : lines.index("# DNS (publish before turning signing on):")
    ]
    config.write_text(config.read_text() + "\n".join(settings) + "\n")
    records = {}
    for line in lines:
        found = re.match(r"(\S+)\. IN TXT (.+)$", line)
        if found:
            records[found.group(1)] = "".join(re.findall(r'"([^"]*)"', found.group(2)))
    return records


def test_keygen_writes_keys_and_prints_the_records_that_verify(tmp_path: Path) -> None:
    """The admin's way: keygen, paste its [dkim] lines into the config, publish its TXT
    records; mail signed with that config verifies against those records."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'[instance]\nsecret = "keygen-secret-0123456789"\ndata_dir = "{tmp_path}"\n'
        f'domain = "{DOMAIN}"\n'
    )
    runner = CliRunner()
    made = runner.invoke(cli_app, ["dkim", "keygen"], env={"MAILHUB_CONFIG": str(config)})
    assert made.exit_code == 0, made.output
    records = paste_keygen(made.output, config)
    assert set(records) == {
        f"mailhub._domainkey.{DOMAIN}",
        f"mailhub-ed25519._domainkey.{DOMAIN}",
    }
    assert oct((tmp_path / "dkim" / "mailhub.pem").stat().st_mode & 0o777) == "0o600"
    from mailhub import config as config_module
    from mailhub.outbound.signing import signer_from_settings

    live = signer_from_settings(config_module.load(config))
    assert live is not None
    signed = live.sign((HEAD + "\r\n" + SHARED).encode())
    assert sorted(verified(signed, dns_from(records))) == ["ed25519-sha256", "rsa-sha256"]
    again = runner.invoke(cli_app, ["dkim", "keygen"], env={"MAILHUB_CONFIG": str(config)})
    assert again.exit_code == 1 and "exists" in again.output


def test_the_signing_worker_signs_ahead_in_order_and_says_what_it_cannot(
    keys: dict[str, Path], tmp_path: Path
) -> None:
    """Copies over several chunks signed in a worker process verify; a copy without From
    is refused by name; a worker that dies leaves the sender's thread to sign."""
    settings = config.from_mapping(
        {
            "instance": {"secret": "s" * 32, "domain": DOMAIN, "data_dir": str(tmp_path)},
            "dkim": {"private_key": str(keys["rsa1"]), "selector": "rsa1"},
        }
    )
    local = signer_from_settings(settings)
    assert local is not None
    dns = dns_from(records_of({"rsa1": keys["rsa1"]}))
    copies = [f"{HEAD}\r\n{SHARED}Copy {n}\r\n".encode() for n in range(2 * CHUNK + 3)]
    copies[CHUNK + 1] = b"To: a@example.org\r\n\r\nNo From\r\n"
    pool = SigningPool(settings, local, 1)
    try:
        ahead = pool.sign_ahead(copies)
        for index, copy in enumerate(copies):
            if index == CHUNK + 1:
                with pytest.raises(SigningError, match="no From"):
                    ahead.signed(index, copy)
                continue
            signed = ahead.signed(index, copy)
            assert signed.endswith(copy) and verified(signed, dns) == ["rsa-sha256"]
        executor = pool._executor
        assert executor is not None
        for process in list(executor._processes.values()):  # type: ignore[attr-defined]
            process.kill()
        ahead = pool.sign_ahead(copies[:3])
        assert all(verified(ahead.signed(n, copies[n]), dns) for n in range(3))
        again = pool.sign_ahead(copies[:3])  # a new worker
        assert all(verified(again.signed(n, copies[n]), dns) for n in range(3))
        assert pool._executor is not None and pool._executor is not executor
    finally:
        pool.close()
