"""The `country:` and `affiliation:` filters follow a member's current profile, as the
portal shows it and as a rebuild reads it: a member who changes them, by a `-request`
profile command, the admin's `member update` or a CSV import, is found under the new values
(and no longer under the old) once the index has caught up."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from test_mail_contract import AMINA, BOB, MOD, REQUEST, World, seed_members
from test_mail_contract import world as world  # the running instance (a fixture)
from test_search_mail import answer_to

from mailhub.communities import get_community
from mailhub.context import Context
from mailhub.discussions import lifecycle
from mailhub.members import find_person
from mailhub.models import Discussion, Post, Thread
from mailhub.scheduler import run_due
from mailhub.search import index
from mailhub.search.query import parse
from mailhub.search.results import search


def kinds_found(ctx: Context, text: str) -> list[str]:
    """What an admin's search finds: the kind of each hit."""
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        return sorted(hit.kind for hit in search(session, parse(text), [irnet]).hits)


def seed_post(ctx: Context, email: str, text: str) -> None:
    """An approved post by a member, indexed."""
    now = ctx.now() - timedelta(days=1)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        person = find_person(session, email)
        assert person is not None
        thread = Thread(
            community_id=irnet.id or 0, subject="Councils", created_at=now, last_activity_at=now
        )
        session.add(thread)
        session.flush()
        session.add(
            Post(
                community_id=irnet.id or 0,
                thread_id=thread.id,
                person_id=person.id,
                message_id=f"<{email}-councils@example.org>",
                subject="Councils",
                author_name=person.name,
                author_email=email,
                status="approved",
                body_text=text,
                received_at=now,
            )
        )
    index.reindex(ctx)


def test_a_profile_changed_by_mail_moves_the_members_posts_between_filters(
    world: World,
) -> None:
    ctx = world.ctx
    seed_members(ctx)  # Amina: workers, TH
    seed_post(ctx, AMINA, "Tripartite councils agree on wages.")
    assert kinds_found(ctx, "tripartite country:TH affiliation:workers") == ["post"]

    world.mail.send(AMINA, REQUEST, "Profile", "profile country=VN affiliation=employers")
    assert index.catch_up(ctx) == 1  # queued in the profile's transaction

    assert kinds_found(ctx, "tripartite country:TH") == []
    assert kinds_found(ctx, "tripartite affiliation:workers") == []
    assert kinds_found(ctx, "tripartite country:VN affiliation:employers") == ["post"]
    world.mail.send(BOB, REQUEST, "Looking for", "search tripartite country:VN")
    assert "Tripartite councils agree on wages." in answer_to(world, BOB)


def test_member_update_and_import_reindex_posts_and_moderated_discussions(
    world: World, run_cli: Callable[..., Any], tmp_path: Path
) -> None:
    ctx = world.ctx
    seed_members(ctx)  # Maria Mod: government, no country
    seed_post(ctx, MOD, "Labour inspection reform.")
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        moderator = find_person(session, MOD)
        assert moderator is not None
        talk = Discussion(
            community_id=irnet.id or 0,
            title="Inspection",
            question="How do labour inspectors plan visits?",
            moderator_id=moderator.id,
            opens_at=ctx.now() - timedelta(days=2),
            closes_at=ctx.now() + timedelta(days=5),
            created_at=ctx.now() - timedelta(days=3),
        )
        session.add(talk)
        session.flush()
        assert talk.id is not None
        talk_id = talk.id
    lifecycle.open_discussion(ctx, talk_id, when_due=False)
    run_due(ctx)
    assert kinds_found(ctx, "labour country:KH") == []

    result = run_cli("member", "update", MOD, "-c", "irnet", "--country", "KH")
    assert result.exit_code == 0, result.output
    run_due(ctx)
    # Her post, the discussion, and the discussion's opening post (sent in her name).
    assert kinds_found(ctx, "labour country:KH") == ["discussion", "post", "post"]

    members = tmp_path / "members.csv"
    members.write_text(f"email,affiliation,name\n{MOD},academic,Maria Moderadora\n")
    result = run_cli("member", "import", str(members), "-c", "irnet")
    assert result.exit_code == 0, result.output
    assert index.catch_up(ctx) == 4  # her two posts, the discussion and its synopsis, once
    found = kinds_found(ctx, "labour affiliation:academic country:KH")
    assert found == ["discussion", "post", "post"]
    assert kinds_found(ctx, "labour affiliation:government") == []
