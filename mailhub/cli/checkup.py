"""`mailhub check`: config, store, relay and DKIM, and the DNS records to publish."""

from __future__ import annotations

import typer

from mailhub.cli.common import instance, out


def check_command(ctx: typer.Context) -> None:
    """Check that this instance can run: config (its secret not the example one once mail
    goes out), store (reachable, schema at the newest),
    relay (connect and EHLO), DKIM keys; print the SPF, DKIM and DMARC records to publish.
    Exit 1 when anything is wrong."""
    from mailhub.checkup import run_checks

    findings, records = run_checks(instance(ctx))
    for finding in findings:
        out.print(str(finding), markup=False)
    if records:
        out.print("; DNS records to publish (mailhub cannot look them up from here):")
        for record in records:
            out.print(record, markup=False)
    if not all(finding.ok for finding in findings):
        raise typer.Exit(1)
