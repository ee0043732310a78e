"""DKIM keys: made once by `mailhub dkim keygen`, published in DNS as TXT records.

RSA (2048 bits) is what every receiver can check; Ed25519 (RFC 8463) is signed beside it
for the receivers that know it. The private keys are written readable by their owner only;
the public halves are printed as the TXT records to publish at
``<selector>._domainkey.<domain>``.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from mailhub.errors import Conflict

RSA_BITS = 2048
TXT_CHUNK = 255  # a DNS character-string holds at most 255 octets


@dataclass(frozen=True)
class KeyFile:
    path: Path
    selector: str
    txt: str  # the record's value: "v=DKIM1; k=...; p=..."


def public_txt(pem: bytes) -> str:
    """The TXT value that publishes the public half of a private key in PEM."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    key = serialization.load_pem_private_key(pem, password=None)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"v=DKIM1; k=ed25519; p={base64.b64encode(raw).decode()}"
    if isinstance(key, rsa.RSAPrivateKey):
        der = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return f"v=DKIM1; k=rsa; p={base64.b64encode(der).decode()}"
    raise ValueError("DKIM keys are RSA or Ed25519")


def zone_line(name: str, txt: str) -> str:
    """A zone-file line for a TXT record, cut into strings DNS can hold."""
    chunks = [txt[i : i + TXT_CHUNK] for i in range(0, len(txt), TXT_CHUNK)]
    return f"{name}. IN TXT " + " ".join(f'"{chunk}"' for chunk in chunks)


def generate(folder: Path, selectors: dict[str, str], force: bool = False) -> list[KeyFile]:
    """Write a private key per algorithm (``{"rsa": selector, "ed25519": selector}``) into
    ``folder`` as ``<selector>.pem``, mode 0600; an existing file is kept unless ``force``."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for algorithm, selector in selectors.items():
        path = folder / f"{selector}.pem"
        if path.exists() and not force:
            raise Conflict(f"{path} exists; keep it (its record is published) or use --force")
        key = (
            rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
            if algorithm == "rsa"
            else ed25519.Ed25519PrivateKey.generate()
        )
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(handle, "wb") as stream:
            stream.write(pem)
        made.append(KeyFile(path, selector, public_txt(pem)))
    return made
