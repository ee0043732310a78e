"""The index follows the store: items approved, edited or removed are found (or no longer
found) after the scheduler's next run; resource files are searched by the text inside them
(PDF, DOCX, ODT); filters and the admin commands work alike on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from mailhub.communities import create_community, get_community, rename_theme
from mailhub.context import Context
from mailhub.library import resources
from mailhub.models import Community, Post, Thread
from mailhub.moderation.actions import decide
from mailhub.news import store
from mailhub.scheduler import run_due
from mailhub.search import documents, index
from mailhub.search.documents import KINDS
from mailhub.search.query import QueryError, parse
from mailhub.search.results import search

FILES = Path(__file__).parent / "fixtures" / "search"


def paths(ctx: Context, text: str) -> list[str]:
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        return [hit.path for hit in search(session, parse(text), [irnet]).hits]


def held_post(ctx: Context, subject: str, text: str, community: str = "irnet") -> int:
    now = ctx.now()
    with ctx.session() as session:
        irnet = get_community(session, community)
        thread = Thread(
            community_id=irnet.id or 0, subject=subject, created_at=now, last_activity_at=now
        )
        session.add(thread)
        session.flush()
        post = Post(
            community_id=irnet.id or 0,
            thread_id=thread.id,
            message_id=f"<{subject}@example.org>",
            subject=subject,
            author_name="Somchai K",
            author_email="somchai@example.org",
            body_text=text,
            received_at=now,
        )
        session.add(post)
        session.flush()
        assert post.id is not None
        return post.id


def moderate(ctx: Context, post_id: int, action: str) -> None:
    with ctx.session() as session:
        post = session.get(Post, post_id)
        assert post is not None
        decide(ctx, session, post, action, by=None, via="cli", reason="test")


def test_approved_posts_are_found_after_the_next_run(ctx: Context) -> None:
    approved = held_post(ctx, "Platform work", "Delivery riders organise in Jakarta.")
    rejected = held_post(ctx, "Spam", "Delivery riders win prizes now.")
    held = held_post(ctx, "Waiting", "Delivery riders still waiting.")
    moderate(ctx, approved, "approve")
    moderate(ctx, rejected, "reject")
    assert paths(ctx, "riders") == []  # queued, not yet indexed: ingest does not wait
    run_due(ctx)
    found = paths(ctx, "riders")
    assert len(found) == 1 and found[0].endswith(f"#p{approved}")
    assert not any(p.endswith(f"#p{held}") for p in paths(ctx, "waiting"))


def test_news_events_and_files_follow_their_changes(ctx: Context) -> None:
    root = ctx.settings.data_dir / "attachments"
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        news = store.add_news(
            session, irnet, store.NewsFields("Labour code adopted", "Parliament voted."), ctx.now()
        )
        event = store.add_event(
            ctx,
            session,
            irnet,
            store.EventFields(
                title="Regional workshop",
                starts_at=ctx.now() + timedelta(days=9),
                ends_at=None,
                timezone="UTC",
                location="Hanoi",
            ),
        )
        added = {
            name: resources.add_file(
                session,
                irnet,
                resources.ResourceFields("", kind=kind, country=country),
                FILES / name,
                root,
                ctx.now(),
            ).id
            for name, kind, country in [
                ("councils.pdf", "case-study", "TH"),
                ("labour-act.docx", "legislation", "TH"),
                ("youth-programme.odt", "policy", "VN"),
            ]
        }
    run_due(ctx)
    assert paths(ctx, "parliament") == [f"/c/irnet/news/{news.id}"]
    assert paths(ctx, "hanoi") == [f"/c/irnet/events/{event.id}"]
    pdf, docx, odt = (f"/c/irnet/resources/{i}" for i in added.values())
    assert paths(ctx, '"salaire minimum"') == [pdf]  # the text inside the PDF
    assert paths(ctx, "negociation") == [pdf]
    assert paths(ctx, "คุ้มครองแรงงาน") == [docx]  # Thai inside a DOCX
    assert paths(ctx, "dao tao nghe") == [odt]  # Vietnamese without its accents, in an ODT
    assert paths(ctx, "青年就业") == [odt]
    assert set(paths(ctx, "country:TH in:resource")) == {pdf, docx}
    assert set(paths(ctx, "country:TH,VN in:resource")) == {pdf, docx, odt}  # as help says
    assert paths(ctx, "country:TH country:VN in:resource") == []  # given twice, holds twice
    assert paths(ctx, "kind:policy") == [odt]
    assert paths(ctx, "in:news,event parliament") == [f"/c/irnet/news/{news.id}"]

    with ctx.session() as session:
        store.update_item(session, type(news), news.id or 0, {"title": "Labour code repealed"})
        store.remove_item(session, type(event), event.id or 0)
        resources.remove(session, added["councils.pdf"] or 0)
    run_due(ctx)
    assert paths(ctx, "repealed") == [f"/c/irnet/news/{news.id}"]
    assert paths(ctx, "hanoi") == []
    assert paths(ctx, "negociation") == []


def test_filters_and_dates(ctx: Context) -> None:
    first = held_post(ctx, "Wages", "Minimum wages rose.")
    moderate(ctx, first, "approve")
    with ctx.session() as session:
        post = session.get(Post, first)
        assert post is not None
        thread = session.get(Thread, post.thread_id)
        assert thread is not None
        from mailhub.threads.themes import set_themes

        set_themes(session, thread, ["skills"])
    run_due(ctx)
    day = ctx.now().date()
    assert len(paths(ctx, "wages theme:skills")) == 1
    assert paths(ctx, "wages theme:green-jobs") == []
    assert len(paths(ctx, "wages from:somchai")) == 1
    assert paths(ctx, "wages from:maria") == []
    assert len(paths(ctx, f"wages after:{day.isoformat()}")) == 1
    assert paths(ctx, f"wages before:{day.isoformat()}") == []
    assert len(paths(ctx, "wages community:irnet")) == 1
    assert paths(ctx, "wages community:elsewhere") == []
    with ctx.session() as session:
        rename_theme(session, "skills", "work-skills")
    run_due(ctx)
    assert paths(ctx, "wages theme:skills") == []
    assert len(paths(ctx, "wages theme:work-skills")) == 1


def test_community_filter_commas_give_alternatives_and_twice_must_hold_twice(
    ctx: Context,
) -> None:
    with ctx.session() as session:
        for slug in ("yen", "skillsnet"):
            create_community(session, slug=slug, name=slug.upper(), now=ctx.now())
    for slug in ("irnet", "yen", "skillsnet"):
        moderate(ctx, held_post(ctx, f"Wages in {slug}", "Minimum wages rose.", slug), "approve")
    run_due(ctx)

    def found(text: str) -> list[str]:
        with ctx.session() as session:
            every = list(session.exec(select(Community)).all())
            return sorted(hit.community.slug for hit in search(session, parse(text), every).hits)

    assert found("wages") == ["irnet", "skillsnet", "yen"]
    assert found("wages community:irnet,yen") == ["irnet", "yen"]
    assert found("wages community:YEN,elsewhere") == ["yen"]
    assert found("wages community:irnet,yen community:yen,skillsnet") == ["yen"]
    assert found("wages community:irnet community:yen") == []  # an item is in one community
    with pytest.raises(QueryError, match="community:,: name a community"):
        parse("wages community:,")


def test_a_date_filter_given_twice_keeps_the_narrower_bound() -> None:
    query = parse("wages before:2027 before:2026-06 after:2025 after:2024")
    assert (query.before, query.after) == (
        datetime(2026, 6, 1, tzinfo=UTC),
        datetime(2025, 1, 1, tzinfo=UTC),
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("in:forum", "in:forum: choose from post, discussion, synopsis, news, event, resource"),
        ("country:Thailand", "write a two-letter ISO code"),
        ("before:March", "write a date as 2027, 2027-03 or 2027-03-15"),
        ("-theme:skills", "filters cannot be negated"),
        ("a OR -b", "each side of OR needs a word"),
        ("from:somchai@example.org", "from: takes a name here, not an address"),
    ],
)
def test_bad_queries_say_what_to_change(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        parse(text)


def test_reindex_and_query_commands(ctx: Context, run_cli: Callable[..., Any]) -> None:
    post = held_post(ctx, "Skills", "Apprenticeships in Viet Nam.")
    moderate(ctx, post, "approve")
    result = run_cli("search", "reindex", "-c", "irnet")
    assert result.exit_code == 0, result.output
    assert "1 document(s) indexed" in result.output
    assert index.catch_up(ctx) == 1  # a per-community rebuild leaves the queue as it was
    result = run_cli("search", "query", "--json", "apprenticeships from:somchai@example.org")
    assert result.exit_code == 0, result.output
    found = json.loads(result.output)["results"]
    assert [r["path"] for r in found] == [f"/c/irnet/t/{found[0]['path'].split('/')[4]}"]
    assert found[0]["snippet"] == "Apprenticeships in Viet Nam."
    bad = run_cli("search", "query", "in:forum")
    assert bad.exit_code == 2
    assert bad.output.startswith("error: in:forum: choose from")


def test_reindex_lists_the_items_once_and_counts_them_for_its_bar(
    ctx: Context, run_cli: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    moderate(ctx, held_post(ctx, "Skills", "Apprenticeships in Viet Nam."), "approve")
    held_post(ctx, "Waiting", "Read by the rebuild, not indexed.")
    listed: list[str] = []
    item_ids = documents.item_ids

    def listing(session: Session, kind: str, community_id: int | None = None) -> list[int]:
        listed.append(kind)
        return item_ids(session, kind, community_id)

    monkeypatch.setattr(documents, "item_ids", listing)
    result = run_cli("search", "reindex")
    assert result.exit_code == 0, result.output
    assert "1 document(s) indexed from 2 item(s)" in result.output
    assert sorted(listed) == sorted(KINDS)  # each kind's ids read once


def test_with_search_off_intake_queues_nothing(ctx: Context) -> None:
    from conftest import derive

    off = derive(ctx, search={"enabled": False})
    post = held_post(off, "Quiet", "Nothing to index here.")
    moderate(off, post, "approve")
    assert index.catch_up(off) == 0
    run_due(off)
    assert paths(off, "index") == []
    assert index.reindex(off) == 1  # a rebuild catches up when it is on again
