"""Search by mail answers only what the sender may read: From is not proof, so results go
to the From address only (never a Reply-To or the envelope sender), from that community
only, and only as far as its archive setting lets that address read it."""

from __future__ import annotations

from datetime import timedelta

from test_mail_contract import (
    AMINA,
    DOMAIN,
    REQUEST,
    STRANGER,
    World,
    decoded_text,
    parsed,
    rows,
    seed_members,
)
from test_mail_contract import world as world  # the running instance (a fixture)

from mailhub.communities import create_community, get_community
from mailhub.models import Post, Thread
from mailhub.search import index

YEN_REQUEST = f"yen-request@{DOMAIN}"


def seed_posts(world: World) -> None:
    ctx = world.ctx
    now = ctx.now() - timedelta(days=1)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        yen = create_community(session, slug="yen", name="Youth Network", now=now)
        for community, text in [(irnet, "Tripartite councils agree."), (yen, "SECRET plans.")]:
            thread = Thread(
                community_id=community.id or 0,
                subject="Notes",
                created_at=now,
                last_activity_at=now,
            )
            session.add(thread)
            session.flush()
            session.add(
                Post(
                    community_id=community.id or 0,
                    thread_id=thread.id,
                    message_id=f"<{community.slug}@example.org>",
                    subject="Notes",
                    status="approved",
                    body_text=text,
                    received_at=now,
                )
            )
    index.reindex(ctx)


def answer_to(world: World, address: str) -> str:
    found = rows(world.ctx, "search-reply", address)
    assert found, address
    return decoded_text(parsed(found[-1]))


def set_archive(world: World, setting: str) -> None:
    with world.ctx.session() as session:
        get_community(session, "irnet").archive = setting


def test_a_search_by_mail_answers_only_what_the_sender_may_read(world: World) -> None:
    seed_members(world.ctx)
    seed_posts(world)
    mail = world.mail

    mail.send(AMINA, REQUEST, "Looking for", "search tripartite")
    assert "Tripartite councils agree." in answer_to(world, AMINA)

    mail.send(AMINA, REQUEST, "Looking for", "search secret community:yen")
    assert "SECRET" not in answer_to(world, AMINA)
    mail.send(AMINA, YEN_REQUEST, "Looking for", "search secret")
    text = answer_to(world, AMINA)
    assert "Only members of Youth Network can search its archive." in text
    assert "SECRET plans" not in text

    mail.send(STRANGER, REQUEST, "Looking for", "search tripartite")
    text = answer_to(world, STRANGER)
    assert "Only members of IRNet" in text and "Tripartite councils" not in text

    # A forged From: the answer goes to the member's own mailbox, never to the forger.
    before = len(rows(world.ctx, "search-reply"))
    mail.send(
        AMINA,
        REQUEST,
        "Looking for",
        "search councils",
        envelope_from=STRANGER,
        Reply_To=STRANGER,
    )
    made = rows(world.ctx, "search-reply")[before:]
    assert [row.recipient for row in made] == [AMINA]

    set_archive(world, "public")
    mail.send(STRANGER, REQUEST, "Looking for", "search agree")
    assert "Tripartite councils agree." in answer_to(world, STRANGER)
    set_archive(world, "none")
    mail.send(AMINA, REQUEST, "Looking for", "search agree")
    text = answer_to(world, AMINA)
    assert "IRNet keeps no archive to search." in text and "Tripartite" not in text


def test_a_bad_search_by_mail_says_what_to_change(world: World) -> None:
    seed_members(world.ctx)
    world.mail.send(AMINA, REQUEST, "Looking for", "search wages country:Thailand")
    text = " ".join(answer_to(world, AMINA).split())
    assert "The search could not be read: country:Thailand: write a two-letter ISO code" in text
    world.mail.send(AMINA, REQUEST, "search", "")
    [reply] = rows(world.ctx, "command-reply", AMINA)
    assert 'Write what to look for after "search"' in decoded_text(parsed(reply))


def test_the_command_reply_counts_the_results_in_plain_words(world: World) -> None:
    seed_members(world.ctx)
    seed_posts(world)
    world.mail.send(AMINA, REQUEST, "Looking for", "search tripartite\nevents on")
    reply = " ".join(decoded_text(parsed(rows(world.ctx, "command-reply", AMINA)[-1])).split())
    assert '1 result for "tripartite" is in a separate mail.' in reply
