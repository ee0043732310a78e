"""The resource library: links and files from the CLI with their columns, attachments of
approved posts offered to moderators by mail and added by their reply (once, moderators
only, bytes intact), and themes on threads that digests' "only my themes" follows."""

from __future__ import annotations

import hashlib
import json
import smtplib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from mailtools import address_in, body, outbox
from smtp_server import running_listener
from sqlmodel import col, select

from mailhub.clock import FrozenClock
from mailhub.communities import add_theme, get_community
from mailhub.context import Context
from mailhub.inbound import pipeline
from mailhub.inbound.attachments import save
from mailhub.library import resources
from mailhub.members import MemberFields, add_member
from mailhub.models import Membership, Post, Resource, Thread
from mailhub.newsletter.contents import gather
from mailhub.scheduler import run_due

LIST = "irnet@lists.example.org"
MOD, AMINA, BOB = "mod@ministry.example.org", "amina@example.org", "bob@example.org"
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"
Attached = tuple[bytes, str, str, str]

LONG_TAXONOMY = (
    "labour-administration", "social-dialogue", "tripartism", "workplace-cooperation",
    "dispute-resolution", "collective-bargaining", "employers-organisations",
    "workers-organisations", "employment-relationship", "informal-economy", "asean",
)  # fmt: skip


def one_line_error(result: Any, code: int, fragment: str) -> None:
    assert result.exit_code == code, result.output
    assert fragment in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- the CLI -------------------------------------------------------------------------


def test_cli_add_list_show_export_remove(
    run_cli: Callable[..., Any], tmp_path: Path, ctx: Context
) -> None:
    paper = tmp_path / "study.pdf"
    paper.write_bytes(PDF)
    link = run_cli(
        "resource", "add", "-c", "irnet", "--title", "Labour Act", "--url", "https://x.org/act",
        "--kind", "legislation", "--country", "ke", "--theme", "skills",
    )  # fmt: skip
    assert link.exit_code == 0, link.output
    stored = run_cli(
        "resource", "add", "-c", "irnet", "--file", str(paper), "--theme", "green-jobs",
        "--country", "UG", "--kind", "research", "--as", MOD,
    )  # fmt: skip
    one_line_error(stored, 2, "no such person")  # nobody has that address yet
    stored = run_cli(
        "resource", "add", "-c", "irnet", "--file", str(paper), "--theme", "green-jobs",
        "--country", "UG", "--kind", "research",
    )  # fmt: skip
    assert stored.exit_code == 0, stored.output
    listed = json.loads(run_cli("resource", "list", "--json").stdout)
    assert [(r["id"], r["title"], r["kind"], r["country"]) for r in listed] == [
        (2, "study.pdf", "research", "UG"),
        (1, "Labour Act", "legislation", "KE"),
    ]
    link_row, file_row = listed[1], listed[0]
    assert (link_row["url"], link_row["sha256"], link_row["filename"]) == (
        "https://x.org/act",
        None,
        None,
    )
    digest = hashlib.sha256(PDF).hexdigest()
    assert file_row["url"] is None
    assert (file_row["sha256"], file_row["filename"], file_row["content_type"]) == (
        digest,
        "study.pdf",
        "application/pdf",
    )
    assert (file_row["size"], file_row["added_via"]) == (len(PDF), "cli")
    assert (ctx.settings.data_dir / "attachments" / digest[:2] / digest).read_bytes() == PDF

    def ids(*args: str) -> list[int]:
        result = run_cli("resource", "list", "--json", *args)
        assert result.exit_code == 0, result.output
        return [r["id"] for r in json.loads(result.stdout)]

    assert ids("--theme", "skills") == [1]
    assert ids("--country", "ug") == [2]
    assert ids("--kind", "legislation") == [1]
    assert ids("-c", "irnet", "--theme", "green-jobs", "--kind", "research") == [2]
    assert ids("--country", "TZ") == []
    table = run_cli("resource", "list")  # not a terminal: a header row, then one row each
    rows = [line.split("\t") for line in table.stdout.splitlines()]
    assert table.exit_code == 0 and [row[:4] for row in rows] == [
        ["id", "community", "kind", "title"],
        ["2", "irnet", "research", "study.pdf"],
        ["1", "irnet", "legislation", "Labour Act"],
    ]

    shown = json.loads(run_cli("resource", "show", "2", "--json").stdout)
    assert (shown["sha256"], shown["themes"], shown["added_by"]) == (digest, ["green-jobs"], None)
    assert "application/pdf" in run_cli("resource", "show", "2").stdout

    out = tmp_path / "out"
    out.mkdir()
    written = run_cli("resource", "export", "2", "--to", str(out / "copy.pdf"))
    assert written.exit_code == 0, written.output
    assert (out / "copy.pdf").read_bytes() == PDF
    into_folder = run_cli("resource", "export", "2", "--to", str(out))
    assert into_folder.exit_code == 0 and (out / "study.pdf").read_bytes() == PDF
    one_line_error(run_cli("resource", "export", "2", "--to", str(out)), 1, "exists already")
    assert run_cli("resource", "export", "2", "--to", str(out), "--force").exit_code == 0
    one_line_error(run_cli("resource", "export", "1", "--to", str(out)), 1, "web link")
    one_line_error(run_cli("resource", "export", "9", "--to", str(out)), 1, "no resource 9")
    one_line_error(
        run_cli("resource", "export", "2", "--to", str(tmp_path / "no" / "x.pdf")), 2, "no such"
    )

    removed = run_cli("resource", "remove", "1")
    assert removed.exit_code == 0 and "Labour Act" in removed.stdout
    assert ids() == [2]
    one_line_error(run_cli("resource", "show", "1"), 1, "no resource 1")
    one_line_error(run_cli("resource", "remove", "1"), 1, "no resource 1")


def test_cli_refuses_bad_input_in_one_line(
    run_cli: Callable[..., Any], tmp_path: Path, ctx: Context
) -> None:
    paper = tmp_path / "paper.pdf"
    paper.write_bytes(b"%PDF-1.4 a paper")
    for args, fragment in [
        (("--url", "https://x.org", "--country", "XX"), "error: --country: 'XX': "),
        (("--url", "https://x.org", "--theme", "nope"), "error: --theme: unknown theme nope"),
        (("--url", "ftp//x"), "error: --url: 'ftp//x'"),
        (("--file", str(tmp_path / "missing.pdf")), "error: --file "),
        (("--file", str(tmp_path)), "no such file"),
        (("--url", "https://x.org", "--kind", "poem"), "error: --kind: 'poem'"),
        (("--url", "https://x.org", "--file", str(paper)), "exactly one"),
        ((), "exactly one"),
        (("--url", "https://x.org", "--attachment", "1"), "--attachment goes with --from-post"),
        (("--from-post", "1"), "--community does not go with --from-post"),
    ]:
        result = run_cli("resource", "add", "-c", "irnet", "--title", "T", *args)
        one_line_error(result, 2, fragment)
    one_line_error(run_cli("resource", "add", "--url", "https://x.org"), 2, "--community")
    one_line_error(run_cli("resource", "add", "--from-post", "42"), 1, "no post 42")
    one_line_error(run_cli("resource", "list", "--theme", "nope"), 2, "--theme: unknown theme nope")
    one_line_error(run_cli("resource", "list", "--kind", "poem"), 2, "error: --kind: 'poem'")
    one_line_error(run_cli("resource", "list", "--country", "XX"), 2, "error: --country: 'XX'")
    one_line_error(run_cli("resource", "list", "-c", "nowhere"), 1, "nowhere")
    assert json.loads(run_cli("resource", "list", "--json").stdout) == []
    assert "--attachment" in run_cli("resource", "add", "--help").stdout


# --- offers by mail, end to end over SMTP --------------------------------------------


class Mailer:
    """Sends over real SMTP to the running listener and processes the spool."""

    def __init__(self, ctx: Context, port: int) -> None:
        self.ctx, self.port, self.count = ctx, port, 0

    def send(
        self, sender: str, to: str, subject: str, text: str, files: tuple[Attached, ...] = ()
    ) -> str:
        self.count += 1
        mail = EmailMessage()
        mail["From"], mail["To"], mail["Subject"] = sender, to, subject
        mail["Message-ID"] = f"<r{self.count}.{sender.split('@')[0]}@example.org>"
        mail.set_content(text)
        for data, maintype, subtype, filename in files:
            mail.add_attachment(data, maintype, subtype, filename=filename)
        with smtplib.SMTP("127.0.0.1", self.port) as smtp:
            smtp.sendmail(sender, [to], mail.as_bytes(policy=policy.SMTP))
        pipeline.drain(self.ctx)
        return mail["Message-ID"].strip("<>")


@pytest.fixture
def mailer(ctx: Context, clock: FrozenClock) -> Iterator[Mailer]:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        people = [
            MemberFields(email=MOD, name="Maria Mod", role="moderator"),
            MemberFields(email=AMINA, name="Amina K", affiliation="workers", country="KE"),
            MemberFields(email=BOB, name="Bob M", country="UG"),
        ]
        for fields in people:
            add_member(session, irnet, fields, ctx.now())
        for email, themes in (("skills@example.org", ["skills"]), ("green@example.org", [])):
            _, membership = add_member(
                session,
                irnet,
                MemberFields(email=email, delivery="digest", themes=themes or ["green-jobs"]),
                ctx.now(),
            )
            membership.only_my_themes = True
            session.add(membership)
        add_member(
            session, irnet, MemberFields(email="dee@example.org", delivery="digest"), ctx.now()
        )
    clock.advance(timedelta(hours=1))
    with running_listener(ctx) as port:
        yield Mailer(ctx, port)


def post_by(ctx: Context, message_id: str) -> Post:
    with ctx.session() as session:
        return session.exec(select(Post).where(Post.message_id == message_id)).one()


def library(ctx: Context) -> list[Resource]:
    with ctx.session() as session:
        return list(session.exec(select(Resource).order_by(col(Resource.id))))


def answers(ctx: Context, to: str) -> list[str]:
    return [body(m) for _, m in outbox(ctx, "moderation-reply", to)]


def approve_by_mail(ctx: Context, mailer: Mailer, message_id: str, first_line: str) -> None:
    (_, held), *_ = outbox(ctx, "held", MOD)[-1:]
    address = address_in(held["Reply-To"], "m")
    mailer.send(MOD, address, "Re: held", f"{first_line}\n")
    assert post_by(ctx, message_id).status == "approved"


def test_attachments_are_offered_and_added_by_a_moderators_reply(
    ctx: Context, mailer: Mailer, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    mid = mailer.send(
        AMINA,
        LIST,
        "Our study on platform work",
        "The report is attached.",
        files=(
            (PDF, "application", "pdf", "report.pdf"),
            (b"MZ\x90\x00", "application", "x-msdownload", "tool.exe"),
        ),
    )
    post = post_by(ctx, mid)
    assert post.status == "held" and outbox(ctx, "resource-offer") == []
    with ctx.session() as session:  # a network's real taxonomy: a long list of themes
        for slug in LONG_TAXONOMY:
            add_theme(session, slug, slug.replace("-", " ").capitalize())
    approve_by_mail(ctx, mailer, mid, "approve")

    (row, offer), *more = outbox(ctx, "resource-offer")
    assert more == [] and row.recipient == MOD
    text = body(offer)
    assert f"Post #{post.id} by Amina K <{AMINA}>" in text
    assert "1. report.pdf (10 KB, application/pdf)" in text
    assert "tool.exe" not in text  # refused by the attachment policy: never offered
    assert "resource 1 themes=" in text and "country=KE" in text
    # Every theme is named, and the list is folded into lines a mail client keeps whole.
    assert all(f" {slug}" in " ".join(text.split()) for slug in LONG_TAXONOMY)
    assert [line for line in text.splitlines() if len(line) > 78] == []
    offer_address = address_in(offer["Reply-To"], "m")

    # A member who is not a moderator changes nothing.
    mailer.send(BOB, offer_address, "Re: attachments", "resource 1 themes=skills\n")
    assert library(ctx) == []
    (refusal,) = [body(m) for _, m in outbox(ctx, "moderation-reply", BOB)]
    assert "not a moderator" in refusal

    # Sent empty from Outlook, the offer comes back unmarked with its example line
    # ("resource 1 themes=..."): not the moderator's request (its title="..." placeholder
    # would be refused as well), so nothing is added.
    mailer.send(
        MOD,
        offer_address,
        "RE: attachments",
        f"\n________________________________\nFrom: IRNet\nSent: Monday, 9 March 2026\n"
        f"To: {MOD}\nSubject: attachments\n\n{text}",
    )
    assert library(ctx) == []

    # Bad lines are each answered, and add nothing.
    mailer.send(
        MOD,
        offer_address,
        "Re: attachments",
        "resource 1 themes=nope\nresource 2 country=KE\nresource 1 country=XX\n"
        'resource 1 colour=red\nresource 1 title="..."\n',
    )
    assert library(ctx) == []
    (report,) = answers(ctx, MOD)[-1:]
    for fragment in (
        "unknown theme nope",
        "no attachment 2 on offer (offered: 1)",
        "country 'XX'",
        "cannot read 'colour=red'",
        "placeholder",
    ):
        assert fragment in report, (fragment, report)

    mailer.send(
        MOD,
        offer_address,
        "Re: attachments",
        'resource 1 themes=skills,green-jobs country=ke title="Platform work study" '
        "kind=research\n\n> quoted offer\n> resource 1 themes=skills\n",
    )
    (resource,) = library(ctx)
    assert (resource.title, resource.kind, resource.country) == (
        "Platform work study",
        "research",
        "KE",
    )
    assert resource.themes == ["green-jobs", "skills"] and resource.url is None
    assert (resource.post_id, resource.filename, resource.content_type, resource.size) == (
        post.id,
        "report.pdf",
        "application/pdf",
        len(PDF),
    )
    assert resource.sha256 == hashlib.sha256(PDF).hexdigest() and resource.added_via == "email"
    assert resource.attachment_id is not None and resource.added_by is not None
    assert f"added as resource {resource.id}" in answers(ctx, MOD)[-1]

    # The same reply again (a new message) adds nothing and says so.
    mailer.send(MOD, offer_address, "Re: attachments", "resource 1 themes=skills\n")
    assert len(library(ctx)) == 1
    assert f"is resource {resource.id} already" in answers(ctx, MOD)[-1]

    exported = run_cli("resource", "export", str(resource.id), "--to", str(tmp_path))
    assert exported.exit_code == 0, exported.output
    assert (tmp_path / "report.pdf").read_bytes() == PDF
    assert json.loads(run_cli("resource", "candidates", "--json").stdout) == [
        {
            "post": post.id,
            "number": 2,
            "attachment": resource.attachment_id + 1,
            "filename": "tool.exe",
            "content_type": "application/x-msdownload",
            "size": 4,
            "subject": "Our study on platform work",
            "from": AMINA,
        }
    ]


def test_no_offer_without_attachments_and_cli_takes_one_attachment(
    ctx: Context, mailer: Mailer, run_cli: Callable[..., Any]
) -> None:
    plain = mailer.send(AMINA, LIST, "Just words", "No files here.")
    assert run_cli("queue", "approve", str(post_by(ctx, plain).id)).exit_code == 0
    assert outbox(ctx, "resource-offer") == []

    files = ((PDF, "application", "pdf", "a.pdf"), (b"col1,col2\n", "text", "csv", "b.csv"))
    mid = mailer.send(BOB, LIST, "Two files", "Both attached.", files=files)
    post = post_by(ctx, mid)
    early = run_cli("resource", "add", "--from-post", str(post.id))
    one_line_error(early, 1, "is held")
    assert run_cli("queue", "approve", str(post.id), "--theme", "skills").exit_code == 0
    (_, offer), *_ = outbox(ctx, "resource-offer")
    assert "1. a.pdf" in body(offer) and "2. b.csv (10 bytes, text/csv)" in body(offer)

    one_line_error(
        run_cli("resource", "add", "--from-post", str(post.id), "--attachment", "3"),
        2,
        "no attachment 3 (it has 2)",
    )
    made = run_cli("resource", "add", "--from-post", str(post.id), "--attachment", "2")
    assert made.exit_code == 0, made.output
    (resource,) = library(ctx)
    # Defaults: the file name, the post's themes (its thread's), the author's country.
    assert (resource.title, resource.themes, resource.country) == ("b.csv", ["skills"], "UG")
    one_line_error(
        run_cli("resource", "add", "--from-post", str(post.id), "--attachment", "2"),
        1,
        "already",
    )
    # A moderator's later reply to the offer finds the CSV taken and adds the PDF.
    offer_address = address_in(offer["Reply-To"], "m")
    mailer.send(MOD, offer_address, "Re", "resource 2\nresource 1 kind=policy\n")
    assert [r.filename for r in library(ctx)] == ["b.csv", "a.pdf"]
    report = answers(ctx, MOD)[-1]
    assert f"is resource {resource.id} already" in report and "added as resource" in report


# --- themes on posts ------------------------------------------------------------------


def test_thread_themes_from_approvals_and_the_cli_feed_only_my_themes(
    ctx: Context, mailer: Mailer, run_cli: Callable[..., Any]
) -> None:
    skills = mailer.send(AMINA, LIST, "Apprenticeships", "Who funds them?")
    green = mailer.send(BOB, LIST, "Solar jobs", "Training for installers.")
    plain = mailer.send(AMINA, LIST, "Office hours", "Untagged.")
    bad = run_cli("queue", "approve", str(post_by(ctx, skills).id), "--theme", "nope")
    one_line_error(bad, 2, "unknown theme nope")
    assert post_by(ctx, skills).status == "held"
    assert (
        run_cli("queue", "approve", str(post_by(ctx, skills).id), "--theme", "SKILLS").exit_code
        == 0
    )

    # By mail: an unknown theme refuses the whole decision; a known one tags the thread.
    held_green = next(m for _, m in outbox(ctx, "held", MOD) if "Solar" in m["Subject"])
    address = address_in(held_green["Reply-To"], "m")
    mailer.send(MOD, address, "Re: held", "approve themes gren-jobs\n")
    assert post_by(ctx, green).status == "held"
    assert "unknown theme gren-jobs" in answers(ctx, MOD)[-1]
    # The moderator answers the refusal itself with the corrected decision (its Reply-To
    # is this item's decision address, not the owners').
    (_, refusal) = outbox(ctx, "moderation-reply", MOD)[-1]
    assert "your decision again" in body(refusal)
    address = address_in(refusal["Reply-To"], "m")
    mailer.send(MOD, address, "Re: held", "approve themes green-jobs\n")
    assert post_by(ctx, green).status == "approved"
    assert run_cli("queue", "approve", str(post_by(ctx, plain).id)).exit_code == 0

    with ctx.session() as session:
        themes = {
            t.subject: t.themes for t in session.exec(select(Thread)) if t.subject != "Just words"
        }
    assert themes == {
        "Apprenticeships": ["skills"],
        "Solar jobs": ["green-jobs"],
        "Office hours": [],
    }
    shown = json.loads(
        run_cli("thread", "show", str(post_by(ctx, plain).thread_id), "--json").stdout
    )
    assert shown["themes"] == []

    # The CLI runs on the system clock and the mail intake on the test's, so the digest is
    # run a week after both (the test's clock moved there: a run's digest covers what was
    # approved by its clock's time).
    ctx.clock.set(max(ctx.now(), datetime.now(UTC)) + timedelta(days=7))  # type: ignore[attr-defined]
    report = run_due(ctx)
    assert report.failed == []
    got = {row.recipient: body(m) for row, m in outbox(ctx, "digest")}
    assert "Apprenticeships" in got["skills@example.org"]
    assert "Solar jobs" not in got["skills@example.org"]
    assert "Office hours" not in got["skills@example.org"]
    assert "Solar jobs" in got["green@example.org"]
    assert "Apprenticeships" not in got["green@example.org"]
    assert all(s in got["dee@example.org"] for s in ("Apprenticeships", "Solar jobs", "Office"))


def test_thread_theme_cli(ctx: Context, mailer: Mailer, run_cli: Callable[..., Any]) -> None:
    mid = mailer.send(AMINA, LIST, "Wages", "Minimum wage boards.")
    thread_id = str(post_by(ctx, mid).thread_id)
    done = run_cli("thread", "theme", thread_id, "skills", "green-jobs")
    assert done.exit_code == 0 and "green-jobs, skills" in done.stdout
    listed = json.loads(run_cli("thread", "list", "-c", "irnet", "--json").stdout)
    assert listed[0]["themes"] == ["green-jobs", "skills"]
    one_line_error(run_cli("thread", "theme", thread_id, "nope"), 2, "unknown theme nope")
    one_line_error(run_cli("thread", "theme", thread_id), 2, "--clear")
    one_line_error(run_cli("thread", "theme", thread_id, "skills", "--clear"), 2, "--clear")
    one_line_error(run_cli("thread", "theme", "999", "skills"), 1, "no thread 999")
    cleared = run_cli("thread", "theme", thread_id, "--clear")
    assert cleared.exit_code == 0 and "(none)" in cleared.stdout
    with ctx.session() as session:
        assert session.exec(select(Membership)).first() is not None
        assert session.get(Thread, int(thread_id)).themes == []  # type: ignore[union-attr]


def test_the_newsletter_names_a_file_resource_and_links_a_web_one(
    ctx: Context, tmp_path: Path
) -> None:
    paper = tmp_path / "study.pdf"
    paper.write_bytes(PDF)
    root = ctx.settings.data_dir / "attachments"
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        file_fields = resources.ResourceFields("Study", "research", themes=("skills",))
        resources.add_file(session, irnet, file_fields, paper, root, ctx.now())
        link_fields = resources.ResourceFields("Act", "legislation")
        resources.add_link(session, irnet, link_fields, "https://x.org/act", ctx.now())
        sections = gather(
            session,
            irnet.id or 0,
            ctx.now() - timedelta(days=1),
            ctx.now() + timedelta(hours=1),
            "UTC",
        )
    found = {s.title: [(i.title, i.when, i.link) for i in s.items] for s in sections}
    assert found == {
        "Skills": [("Study", "research: study.pdf (10 KB, application/pdf)", "")],
        "Other": [("Act", "legislation", "https://x.org/act")],
    }


def test_cli_export_to_a_path_ending_in_a_slash_makes_the_folder(
    run_cli_sqlite: Callable[..., Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paper = tmp_path / "study.pdf"
    paper.write_bytes(PDF)
    added = run_cli_sqlite("resource", "add", "-c", "irnet", "--file", str(paper))
    assert added.exit_code == 0, added.output
    link = run_cli_sqlite(
        "resource", "add", "-c", "irnet", "--url", "https://x.org/act", "--title", "Act"
    )
    assert link.exit_code == 0, link.output
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    # A link has no file: refused before any folder is made.
    one_line_error(run_cli_sqlite("resource", "export", "2", "--to", "./links/"), 1, "web link")
    assert not (work / "links").exists()

    into = run_cli_sqlite("resource", "export", "1", "--to", "./downloads/")
    assert into.exit_code == 0, into.output
    assert (work / "downloads").is_dir()
    assert (work / "downloads" / "study.pdf").read_bytes() == PDF
    deeper = run_cli_sqlite("resource", "export", "1", "--to", "a/b/")
    assert deeper.exit_code == 0 and (work / "a" / "b" / "study.pdf").read_bytes() == PDF

    # Without the slash a missing path is a file name; an existing folder is a folder.
    named = run_cli_sqlite("resource", "export", "1", "--to", "copy")
    assert named.exit_code == 0 and (work / "copy").read_bytes() == PDF
    existing = run_cli_sqlite("resource", "export", "1", "--to", "a")
    assert existing.exit_code == 0 and (work / "a" / "study.pdf").read_bytes() == PDF
    one_line_error(run_cli_sqlite("resource", "export", "1", "--to", "nowhere/x.pdf"), 2, "no such")


@pytest.mark.parametrize("name", ["../escaped.txt", "/tmp/absolute.txt", "..\\\\win.txt", "..", ""])
def test_export_into_a_folder_never_leaves_it(tmp_path: Path, name: str) -> None:
    """A file name comes from a sender's mail: an export into a folder stays in that folder."""
    data = b"the report"
    digest = hashlib.sha256(data).hexdigest()
    root = tmp_path / "store"
    save(root, digest, data)
    resource = Resource(id=7, community_id=1, title="Report", sha256=digest, filename=name)
    folder = tmp_path / "out" / "dl"
    folder.mkdir(parents=True)
    written = resources.export(resource, root, str(folder))
    assert written.parent == folder
    assert written.read_bytes() == data
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["dl"]
