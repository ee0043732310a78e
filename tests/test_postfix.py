"""mailhub behind a real Postfix, set up step by step as the README's "Behind Postfix" says:
mailhub's config is the README's block (only the ports and folders are the test's own: the
listener on a free port, the relay on this Postfix's port rather than 25), Postfix runs,
`mailhub mta postfix` writes the maps, its main.cf lines are pasted and Postfix reloaded,
and `mailhub mta check` finds nothing missing; `mailhub dkim keygen`'s lines go into the
config as "Signing, SPF and DMARC" says. Postfix relays outgoing mail to a sink that stands
for the Internet.

Followed end to end: mail in through Postfix becomes a post; unknown addresses are refused
at Postfix's RCPT (no queue, no backscatter); a store that cannot commit makes Postfix
defer, not bounce, and the mail arrives once it can; list mail goes out through Postfix,
and the bounce Postfix writes for a dead address comes back to that copy's VERP address
and counts in that member's score; what Postfix relays carries signatures that verify
against the published records. One Postfix serves the whole module (it takes about two
seconds to start and to stop); under CI=true a missing Postfix fails these tests.
"""

from __future__ import annotations

import smtplib
import textwrap
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from conftest import SECRET, START, make_context
from postfix import Postfix, postfix_folder, require_postfix
from smtp_server import running_listener
from smtp_sink import SinkHandler, free_port, smtp_sink
from sqlmodel import select
from test_delivery import approved_post
from test_signing import dns_from, paste_keygen, verified
from test_smtp import spooled
from typer.testing import CliRunner

from mailhub.cli import app as cli_app
from mailhub.clock import FrozenClock
from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.inbound.committers import Committer, make_committer
from mailhub.inbound.spool import Arrival
from mailhub.members import MemberFields, add_member
from mailhub.models import Person, Post
from mailhub.mta.postfix import main_cf_lines
from mailhub.outbound.compose import bounce_address
from mailhub.outbound.fanout import fan_out
from mailhub.outbound.sender import Sender

LIST = "irnet@lists.example.org"
GONE = "gone@example.org"

ROOT = Path(__file__).resolve().parent.parent
REST_OF_CONFIG = """
[database]
url = "sqlite:///{store}"

[[communities]]
slug = "irnet"
name = "IRNet"
timezone = "Africa/Nairobi"
"""


def readme_config(folder: Path, listener: int, postfix: Postfix) -> Path:
    """The README's config block as an admin pastes it, with this test's ports and
    folders put in (each change asserted, so a README that moves on fails here), the
    instance's secret and data folder, a store and a community."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("### Behind Postfix") : readme.index("### Signing, SPF")]
    block = textwrap.dedent(section.split("```toml\n", 1)[1].split("```", 1)[0])
    changes = [
        ("[instance]\n", f'[instance]\nsecret = "{SECRET}"\ndata_dir = "{folder / "data"}"\n'),
        ('host = "127.0.0.1"\nport = 8025\n', f'host = "127.0.0.1"\nport = {listener}\n'),
        ('mode = "smtp"', f'relay = {{ port = {postfix.port} }}\nmode = "smtp"'),
        ('postfix_dir = "/etc/postfix/mailhub"', f'postfix_dir = "{postfix.root / "maps"}"'),
        ("[mta]\n", f'[mta]\npostfix_config = "{postfix.config_dir}"\n'),
    ]
    for old, new in changes:
        assert block.count(old) == 1, f"the README's config block no longer has {old!r}"
        block = block.replace(old, new)
    config = folder / "config.toml"
    config.write_text(block + REST_OF_CONFIG.format(store=folder / "store.db"))
    return config


class SwitchableCommitter:
    """The instance's committer, which can be told to fail as a store that is down does."""

    def __init__(self, real: Committer) -> None:
        self.real = real
        self.failing = False

    async def commit(self, arrival: Arrival) -> str:
        if self.failing:
            raise OSError("store unavailable (test)")
        return await self.real.commit(arrival)

    def close(self) -> None:
        self.real.close()


@dataclass
class Setup:
    ctx: Context
    config: Path
    postfix: Postfix
    sink: SinkHandler
    committer: SwitchableCommitter
    printed: list[str]
    records: dict[str, str]  # the DKIM TXT records keygen said to publish

    def cli(self, *args: str) -> Any:
        return cli(self.config, *args)


def message(subject: str, msgid: str, to: str = LIST) -> bytes:
    mail = EmailMessage()
    mail["From"] = "Amina K <amina@example.org>"
    mail["To"] = to
    mail["Subject"] = subject
    mail["Message-ID"] = f"<{msgid}>"
    mail.set_content("Through Postfix.\n")
    return mail.as_bytes()


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    require_postfix()
    tmp = tmp_path_factory.mktemp("behind-postfix")
    with ExitStack() as stack:
        sink, sink_port = stack.enter_context(smtp_sink(answers={GONE: "550 5.1.1 no such user"}))
        postfix = stack.enter_context(postfix_folder(sink_port))
        postfix.start()  # the Postfix an admin already runs for the domain's mail
        port = free_port()
        # Step 1: the config; and the signing keys, as "Signing, SPF and DMARC" says.
        config = readme_config(tmp, port, postfix)
        made = cli(config, "dkim", "keygen")
        assert made.exit_code == 0, made.output
        records = paste_keygen(made.output, config)
        ctx = make_context(config, FrozenClock(START))
        stack.callback(ctx.engine.dispose)
        committer = SwitchableCommitter(make_committer(ctx))
        stack.enter_context(running_listener(ctx, port=port, committer=committer))
        # Step 2: write the maps, paste the lines it prints into main.cf, reload.
        result = cli(config, "mta", "postfix")
        assert result.exit_code == 0, result.output
        printed = [line for line in result.output.splitlines() if line and not line.startswith("#")]
        postfix.add_main_cf(printed)
        postfix.reload()
        postfix.wait_for(lambda: accepts(postfix, LIST), "Postfix to take the list's mail")
        # Step 3: the check finds nothing missing.
        checked = cli(config, "mta", "check")
        assert checked.exit_code == 0, checked.output
        yield Setup(ctx, config, postfix, sink, committer, printed, records)


def cli(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli_app, list(args), env={"MAILHUB_CONFIG": str(config)})


def accepts(postfix: Postfix, address: str) -> bool:
    """Whether Postfix takes mail for ``address`` at RCPT."""
    with smtplib.SMTP("127.0.0.1", postfix.port) as client:
        client.ehlo()
        client.mail("amina@example.org")
        return client.rcpt(address)[0] == 250


def test_printed_main_cf_lines_are_the_documented_ones(setup: Setup) -> None:
    """What the README shows is what this Postfix runs on (tests/test_docs.py checks the
    README against main_cf_lines)."""
    assert setup.printed == main_cf_lines(setup.postfix.root / "maps", "hash")
    maps = setup.postfix.root / "maps"
    recipients = (maps / "relay_recipients").read_text()
    for address in ("irnet", "irnet-request", "irnet-news", "irnet-events", "irnet-owner"):
        assert f"\n{address}@lists.example.org OK\n" in recipients
    assert "postmaster@lists.example.org OK" in recipients
    port = setup.ctx.settings.smtp.port
    assert f"lists.example.org lmtp:inet:127.0.0.1:{port}" in (maps / "transport").read_text()


def test_check_passes_here_and_names_what_a_bare_postfix_lacks(
    setup: Setup, tmp_path: Path
) -> None:
    passed = setup.cli("mta", "check")
    assert passed.exit_code == 0, passed.output
    assert "missing" not in passed.output
    bare = tmp_path / "etc"
    bare.mkdir()
    (bare / "main.cf").write_text("compatibility_level = 3.6\nrecipient_delimiter = +\n")
    failed = setup.cli("mta", "check", "--postfix-config", str(bare))
    assert failed.exit_code == 1
    missing = [line for line in failed.output.splitlines() if line.startswith("missing:")]
    named = " ".join(missing)
    for parameter in ("relay_domains", "transport_maps", "relay_recipient_maps"):
        assert f"missing: {parameter} lacks" in named
    assert "recipient_delimiter = '+'" in named
    assert "message_size_limit" not in named  # Postfix's default is below mailhub's


def test_mail_in_through_postfix_becomes_a_post(setup: Setup) -> None:
    with smtplib.SMTP("127.0.0.1", setup.postfix.port) as client:
        assert client.sendmail("amina@example.org", [LIST], message("Via Postfix", "in-1@x")) == {}
    setup.postfix.wait_for(
        lambda: any(b"in-1@x" in row.raw for row in spooled(setup.ctx)), "LMTP delivery"
    )
    row = next(row for row in spooled(setup.ctx) if b"in-1@x" in row.raw)
    assert (row.source, row.mail_from, row.rcpt_to) == ("lmtp", "amina@example.org", [LIST])
    pipeline.drain(setup.ctx)
    with setup.ctx.session() as session:
        post = session.exec(select(Post).where(Post.message_id == "in-1@x")).one()
        assert post.subject == "Via Postfix"


def test_unknown_addresses_are_refused_at_postfixs_rcpt(setup: Setup) -> None:
    refused = [
        "nobody@lists.example.org",
        "irnet+junk@lists.example.org",
        "irnet+r-not-a-token@lists.example.org",
    ]
    with smtplib.SMTP("127.0.0.1", setup.postfix.port) as client:
        client.ehlo()
        client.mail("forged@example.net")
        for address in refused:
            code, answer = client.rcpt(address)
            assert code == 550, (address, answer)
            assert b"5.1.1" in answer
        # A token address of the right shape is ours, whatever the community.
        assert client.rcpt("irnet+r-12.34.0.abcdefghijklm@lists.example.org")[0] == 250
        client.rset()
    # Nothing was queued for the refused ones, so nothing can bounce to the forged sender.
    assert [q for q in setup.postfix.queue() if q["sender"] == "forged@example.net"] == []
    assert not [r for r in setup.sink.received if "forged@example.net" in r.rcpt_tos]


def test_a_store_that_cannot_commit_makes_postfix_defer_not_bounce(setup: Setup) -> None:
    setup.committer.failing = True
    try:
        with smtplib.SMTP("127.0.0.1", setup.postfix.port) as client:
            client.sendmail("amina@example.org", [LIST], message("Deferred", "defer-1@x"))
        setup.postfix.wait_for(
            lambda: any(q["queue_name"] == "deferred" for q in setup.postfix.queue()),
            "deferral",
        )
        [deferred] = [q for q in setup.postfix.queue() if q["queue_name"] == "deferred"]
        assert "451 4.3.0" in deferred["recipients"][0]["delay_reason"]
        assert not any(b"defer-1@x" in r.content for r in setup.sink.received)  # no bounce
    finally:
        setup.committer.failing = False
    setup.postfix.flush()
    setup.postfix.wait_for(
        lambda: any(b"defer-1@x" in row.raw for row in spooled(setup.ctx)), "redelivery"
    )
    setup.postfix.wait_for(lambda: setup.postfix.queue() == [], "an empty queue")


def test_list_mail_out_through_postfix_and_its_bounce_counts(setup: Setup) -> None:
    ctx = setup.ctx
    with ctx.session() as session:
        community = get_community(session, "irnet")
        people = {
            address: add_member(session, community, MemberFields(email=address), ctx.now())[0].id
            for address in ("ok@example.org", GONE)
        }
        post = approved_post(ctx, session, community, message_id="out-1@x")
        assert fan_out(ctx, session, post) == 2
    sender = Sender(ctx)  # the config's: [outbound] mode = "smtp", to this Postfix
    try:
        report = sender.drain()
    finally:
        sender.close()
    # Postfix takes both; the Internet (the sink) takes one and refuses the other.
    assert (report.sent, report.failed) == (2, 0)
    setup.postfix.wait_for(
        lambda: any(r.rcpt_tos == ["ok@example.org"] for r in setup.sink.received), "relay"
    )
    delivered = next(r for r in setup.sink.received if r.rcpt_tos == ["ok@example.org"])
    assert delivered.mail_from.startswith("irnet+b-")
    # Signed as configured; Postfix's own headers in front leave both signatures good.
    assert delivered.content.startswith(b"Received:")
    assert sorted(verified(delivered.content, dns_from(setup.records))) == [
        "ed25519-sha256",
        "rsa-sha256",
    ]
    # Postfix's bounce goes to the VERP return path of the refused copy, through LMTP.
    setup.postfix.wait_for(
        lambda: any(row.rcpt_to[0].startswith("irnet+b-") for row in spooled(ctx)),
        "the bounce to reach mailhub",
    )
    bounce = next(row for row in spooled(ctx) if row.rcpt_to[0].startswith("irnet+b-"))
    assert bounce.mail_from == "<>"
    with ctx.session() as session:
        community = get_community(session, "irnet")
        return_path = bounce_address(ctx, ctx.address_book(session), community, people[GONE])
    assert bounce.rcpt_to == [return_path]
    pipeline.drain(ctx)
    with ctx.session() as session:
        scores = {p.email: p.bounce_score for p in session.exec(select(Person))}
    assert scores[GONE] == ctx.settings.delivery.hard_bounce_score
    assert scores["ok@example.org"] == 0.0


def test_a_new_community_is_reachable_without_a_reload(setup: Setup) -> None:
    created = setup.cli("community", "create", "yen", "--name", "Youth Employment Network")
    assert created.exit_code == 0, created.output
    assert "postfix maps rewritten" in created.output

    setup.postfix.wait_for(
        lambda: accepts(setup.postfix, "yen-request@lists.example.org"),
        "Postfix to see the rebuilt map",
    )
