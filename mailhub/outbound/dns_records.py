"""The DNS records a mailhub domain publishes so that receivers trust its mail: SPF for the
VERP return paths (their domain is the list domain), one DKIM key record per signing key,
and DMARC for the From domain (list mail is From the list address, so DKIM's d= and SPF's
domain both align with it).

mailhub cannot look at DNS from where it runs (often no resolver, or a split view), so it
prints the records to publish and checks what it can offline: that each configured key
reads and what its record must say.
"""

from __future__ import annotations

from dataclasses import dataclass

from mailhub.config import Settings
from mailhub.outbound.dkim_keys import public_txt, zone_line
from mailhub.outbound.signing import read_key


@dataclass(frozen=True)
class Record:
    purpose: str
    line: str  # a zone-file line


def expected_records(settings: Settings) -> list[Record]:
    """The SPF, DKIM and DMARC records for the configured domain and keys (a key that
    cannot be read raises ConfigError)."""
    domain = settings.instance.domain
    dkim_domain = settings.dkim.domain or domain
    report_to = settings.instance.admin_email or f"postmaster@{domain}"
    records = [
        # The relay that sends for the domain is the Postfix in front of it, its MX.
        Record("SPF (the hosts that send as the list domain)", zone_line(domain, "v=spf1 mx -all")),
    ]
    configured = [
        (settings.dkim.private_key, "dkim.private_key", settings.dkim.selector),
        (settings.dkim.ed25519_key, "dkim.ed25519_key", settings.dkim.ed25519_selector),
    ]
    for path, key, selector in configured:
        if path is None:
            continue
        read_key(settings, path, key, selector)
        location = (
            path
            if path.is_absolute() or settings.source is None
            else (settings.source.parent / path)
        )
        txt = public_txt(location.read_bytes())
        records.append(
            Record(f"DKIM ({key})", zone_line(f"{selector}._domainkey.{dkim_domain}", txt))
        )
    # A new domain starts by watching: p=none, then p=quarantine once the reports show
    # every source passing (README, "Signing, SPF and DMARC").
    dmarc = f"v=DMARC1; p=none; adkim=r; aspf=r; rua=mailto:{report_to}"
    records.append(
        Record(
            "DMARC (p=none watches; p=quarantine once the reports show every source passing)",
            zone_line(f"_dmarc.{domain}", dmarc),
        )
    )
    return records
