"""`mailhub dkim`: the keys that sign outgoing mail, and the DNS records that publish them."""

from __future__ import annotations

from pathlib import Path

import typer

from mailhub.cli.common import instance, make_app, out

dkim_app = make_app("DKIM keys for outgoing mail: make them and print their DNS records.")


@dkim_app.command("keygen")
def keygen(
    ctx: typer.Context,
    folder: Path | None = typer.Option(
        None, "--dir", help="Where to write the keys (default: <data_dir>/dkim)."
    ),
    ed25519: bool = typer.Option(
        True, "--ed25519/--no-ed25519", help="Also an Ed25519 key (RFC 8463) to sign beside RSA."
    ),
    force: bool = typer.Option(False, "--force", help="Replace keys that exist."),
) -> None:
    """Write an RSA key (and an Ed25519 one), then print the [dkim] lines for the config
    and the DNS TXT records to publish."""
    from mailhub.outbound.dkim_keys import generate, zone_line

    settings = instance(ctx).settings
    dkim = settings.dkim
    selectors = {"rsa": dkim.selector}
    if ed25519:
        selectors["ed25519"] = dkim.ed25519_selector
    made = generate((folder or settings.data_dir / "dkim").resolve(), selectors, force)
    domain = dkim.domain or settings.instance.domain
    out.print("# config.toml:", markup=False)
    out.print("[dkim]", markup=False)
    for key in made:
        setting = "private_key" if "k=rsa" in key.txt else "ed25519_key"
        out.print(f'{setting} = "{key.path}"', markup=False)
    out.print("# DNS (publish before turning signing on):", markup=False)
    for key in made:
        out.print(zone_line(f"{key.selector}._domainkey.{domain}", key.txt), markup=False)
