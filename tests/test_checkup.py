"""`mailhub check` against real parts (a store, an SMTP relay, key files), and the upgrade
path an existing installation takes: `mailhub db upgrade` from the first schema, with data
in it, to the newest."""

from __future__ import annotations

from pathlib import Path

from conftest import SECRET, write_config
from smtp_sink import free_port, smtp_sink
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from mailhub import config, db, member_tokens
from mailhub.cli import app as cli_app
from mailhub.config import DEFAULT_SECRET
from mailhub.context import Context
from mailhub.models import Community, Membership, Person
from mailhub.outbound.dkim_keys import generate


def run(config_path: Path, *args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli_app, list(args), env={"MAILHUB_CONFIG": str(config_path)})


def test_check_passes_on_a_ready_instance_and_prints_the_records(
    tmp_path: Path, sqlite_url: str
) -> None:
    keys = generate(tmp_path / "dkim", {"rsa": "mailhub", "ed25519": "mailhub-ed25519"})
    with smtp_sink() as (_handler, port):
        path = write_config(
            tmp_path,
            sqlite_url,
            f'\n[dkim]\nprivate_key = "{keys[0].path}"\ned25519_key = "{keys[1].path}"\n'
            f'\n[outbound.relay]\nhost = "127.0.0.1"\nport = {port}\n',
        )
        path.write_text(path.read_text().replace("[outbound]\n", '[outbound]\nmode = "smtp"\n'))
        assert run(path, "db", "upgrade").exit_code == 0
        result = run(path, "check")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert f"ok: relay 127.0.0.1:{port} answers EHLO" in "\n".join(lines)
    assert f"ok: store reachable, schema at {db.head_revision()} (the newest)" in lines
    assert "ok: DKIM signs with rsa-sha256 (mailhub), ed25519-sha256 (mailhub-ed25519)" in (
        result.output
    )
    assert f'mailhub._domainkey.lists.example.org. IN TXT "{keys[0].txt[:255]}"' in result.output
    assert f'mailhub-ed25519._domainkey.lists.example.org. IN TXT "{keys[1].txt}"' in lines
    assert 'lists.example.org. IN TXT "v=spf1 mx -all"' in lines
    # DMARC starts by watching (p=none), as the README's record and advice say.
    assert any(
        line.startswith('_dmarc.lists.example.org. IN TXT "v=DMARC1; p=none;') for line in lines
    )


def test_check_names_each_problem_and_exits_1(tmp_path: Path, sqlite_url: str) -> None:
    path = write_config(tmp_path, sqlite_url, f"\n[outbound.relay]\nport = {free_port()}\n")
    path.write_text(path.read_text().replace("[outbound]\n", '[outbound]\nmode = "smtp"\n'))
    assert run(path, "db", "upgrade", "--revision", "0001").exit_code == 0
    result = run(path, "check")
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if line.startswith("problem:")]
    assert len(problems) == 3, result.output
    assert f"store schema at 0001, this code needs {db.head_revision()}" in problems[0]
    assert "relay 127.0.0.1:" in problems[1]
    assert "no DKIM key" in problems[2]


def test_check_refuses_the_example_secret_once_mail_goes_out(
    tmp_path: Path, sqlite_url: str
) -> None:
    """The secret printed in config.toml and the README signs nothing safely: a problem
    when mail goes out to a relay, a reminder while it only goes to the local Maildir."""
    path = write_config(tmp_path, sqlite_url)
    path.write_text(path.read_text().replace(SECRET, DEFAULT_SECRET))
    assert run(path, "db", "upgrade").exit_code == 0
    trial = run(path, "check")
    assert trial.exit_code == 0, trial.output
    assert "ok: instance.secret is the example value (set MAILHUB_SECRET" in trial.output
    path.write_text(path.read_text().replace("[outbound]\n", '[outbound]\nmode = "smtp"\n'))
    live = run(path, "check")
    assert live.exit_code == 1
    assert "problem: instance.secret is the example value: anyone can forge" in live.output
    safe = CliRunner().invoke(
        cli_app, ["check"], env={"MAILHUB_CONFIG": str(path), "MAILHUB_SECRET": "x" * 32}
    )
    assert "ok: instance.secret is set" in safe.output


def test_db_upgrade_from_the_first_schema_keeps_the_data(tmp_path: Path, database_url: str) -> None:
    """An installation made with the first schema, with a community and a member in it,
    upgraded by `mailhub db upgrade`: the data stays and what the new schema adds works."""
    path = write_config(tmp_path, database_url)
    ctx = Context.from_settings(config.load(path))
    try:
        db.upgrade(ctx.engine, "0001")
        # Written as the first release wrote them: its columns only (today's models have more).
        at = ctx.now().replace(tzinfo=None)
        with ctx.engine.begin() as connection:
            community_id = connection.execute(
                text(
                    "INSERT INTO community (slug, name, local_part, description, tag, timezone,"
                    " moderation, nonmember_policy, digest_cron, created_at) VALUES ('irnet',"
                    " 'IRNet', 'irnet', '', '[IRNet]', 'UTC', 'all', 'hold', '0 8 * * mon', :at)"
                    " RETURNING id"
                ),
                {"at": at},
            ).scalar_one()
            person_id = connection.execute(
                text(
                    "INSERT INTO person (email, name, affiliation, organisation, bounce_score,"
                    " created_at) VALUES ('amina@example.org', '', 'other', '', 0, :at)"
                    " RETURNING id"
                ),
                {"at": at},
            ).scalar_one()
            membership_id = connection.execute(
                text(
                    "INSERT INTO membership (community_id, person_id, role, delivery,"
                    " digest_format, moderated, status, themes, only_my_themes,"
                    " event_reminders, joined_at, updated_at) VALUES (:c, :p, 'member', 'each',"
                    " 'mime', false, 'active', '[]', false, true, :at, :at) RETURNING id"
                ),
                {"c": community_id, "p": person_id, "at": at},
            ).scalar_one()
        upgraded = run(path, "db", "upgrade")
        assert upgraded.exit_code == 0, upgraded.output
        assert f"schema at {db.head_revision()}" in upgraded.output
        with ctx.session() as session:
            assert session.exec(select(Community.slug)).all() == ["irnet"]
            # Columns added since (the portal's archive setting) have their defaults.
            assert session.exec(select(Community)).one().archive == "members"
            assert session.exec(select(Person.email)).all() == ["amina@example.org"]
            assert session.get(Membership, membership_id) is not None
        # 0002's single-use confirmations work on the upgraded store.
        token = f"{membership_id}.{person_id}.test"
        with ctx.engine.begin() as connection:
            assert member_tokens.consume(connection, "confirm", token, ctx.now()) is True
        with ctx.engine.begin() as connection:
            assert member_tokens.consume(connection, "confirm", token, ctx.now()) is False
    finally:
        ctx.engine.dispose()
