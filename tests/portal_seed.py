"""A small world for the portal's tests: a public community (irnet), a members-only one
(yen) and one with no web archive (quiet), each with conversations, a discussion and its
synopsis, news, events and resources; hostile member content; files stored by sha256.

Every text that must never leak to a visitor of irnet carries a marker (SECRET_*), and
every person's address is one the pages must never show.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from mailhub.communities import create_community, get_community
from mailhub.context import Context
from mailhub.inbound.attachments import save
from mailhub.members import MemberFields, add_member
from mailhub.models import (
    Attachment,
    Community,
    Discussion,
    Event,
    NewsItem,
    Post,
    Resource,
    SynopsisVersion,
    Thread,
)

AMINA = "amina.rahman@example.org"  # member of irnet, from Thailand
MOD = "maria.mod@ministry.example.org"  # moderator of irnet
ADMIN = "admin@example.org"  # admin of irnet
YEN_MEMBER = "yusuf@example.org"  # member of yen (and of quiet, which has no web archive)
YEN_MOD = "yen.mod@example.org"  # moderator of yen
YEN_ADMIN = "yen.admin@example.org"  # admin of yen
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'
QUOTED = "On Monday Somebody <somebody.private@example.net> wrote:\n> the earlier words"
FILE_BYTES = b"%PDF-1.4 the labour code study\n"
SECRET_THREAD = "SECRET-YEN-CONVERSATION"
SECRET_QUIET = "SECRET-QUIET-CONVERSATION"


@dataclass
class World:
    """Ids of what was seeded, by name."""

    ids: dict[str, int] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)


def _person(
    session: Session, community: Community, email: str, now: datetime, **values: Any
) -> int:
    person, _ = add_member(session, community, MemberFields(email=email, **values), now)
    assert person.id is not None
    return person.id


def _thread(
    session: Session, community: Community, subject: str, now: datetime, **values: Any
) -> Thread:
    thread = Thread(
        community_id=community.id or 0,
        subject=subject,
        normalised_subject=subject.lower(),
        created_at=now,
        last_activity_at=now,
        **values,
    )
    session.add(thread)
    session.flush()
    return thread


def _post(session: Session, thread: Thread, number: int, now: datetime, **values: Any) -> Post:
    post = Post(
        community_id=thread.community_id,
        thread_id=thread.id,
        message_id=f"m{thread.id}.{number}@example.org",
        subject=thread.subject,
        received_at=now + timedelta(minutes=number),
        **{"status": "approved", **values},
    )
    session.add(post)
    session.flush()
    return post


def seed(ctx: Context) -> World:
    world = World()
    now = ctx.now() - timedelta(days=3)
    root = ctx.settings.data_dir / "attachments"
    sha = hashlib.sha256(FILE_BYTES).hexdigest()
    save(root, sha, FILE_BYTES)
    with ctx.session() as session:
        irnet = get_community(session, "irnet")
        irnet.archive = "public"
        yen = create_community(session, slug="yen", name="Youth Employment Network", now=now)
        quiet = create_community(
            session, slug="quiet", name="Quiet Network", now=now, archive="none"
        )
        amina = _person(
            session, irnet, AMINA, now, name="Amina Rahman", country="TH",
            organisation="Labour Congress of Thailand", affiliation="workers",
        )  # fmt: skip
        _person(session, irnet, MOD, now, name="Maria Mod", role="moderator", country="PH")
        _person(session, irnet, ADMIN, now, name="Ada Admin", role="admin")
        yusuf = _person(session, yen, YEN_MEMBER, now, name="Yusuf Y", country="ID")
        _person(session, quiet, YEN_MEMBER, now)
        _person(session, yen, YEN_MOD, now, name="Yen Mod", role="moderator")
        _person(session, yen, YEN_ADMIN, now, name="Yen Admin", role="admin")

        talk = _thread(session, irnet, "Platform work " + HOSTILE, now, themes=["skills"])
        first = _post(
            session, talk, 1, now, person_id=amina, author_email=AMINA,
            author_name="Amina Rahman", body_text="How do your ministries consult unions?",
            full_text="How do your ministries consult unions?",
        )  # fmt: skip
        reply = _post(
            session, talk, 2, now, author_email="guest@example.net",
            author_name="guest@example.net",
            body_text="Through the tripartite council " + HOSTILE, full_text="Through the "
            "tripartite council " + HOSTILE + "\n\n" + QUOTED, parent_id=first.id,
        )  # fmt: skip
        _post(session, talk, 3, now, status="held", body_text="HELD-POST-TEXT", full_text="")
        attachment = Attachment(
            post_id=reply.id or 0, filename="study.pdf", content_type="application/pdf",
            size=len(FILE_BYTES), sha256=sha,
        )  # fmt: skip
        session.add(attachment)
        held_only = _thread(session, irnet, "HELD-ONLY-THREAD", now)
        _post(session, held_only, 1, now, status="held", body_text="held")

        discussion = Discussion(
            community_id=irnet.id or 0, title="Minimum wage councils", question="Who sets them?",
            themes=["skills"], state="summarised", opens_at=now - timedelta(days=20),
            closes_at=now - timedelta(days=6), synopsis="Councils differ. SYNOPSIS-TEXT",
            synopsis_at=now, synopsis_version=2, created_at=now - timedelta(days=21),
        )  # fmt: skip
        opened = Discussion(
            community_id=irnet.id or 0, title="Youth guarantees", question="What works?",
            state="open", opens_at=now, closes_at=now + timedelta(days=10), created_at=now,
        )  # fmt: skip
        yen_summarised = Discussion(
            community_id=yen.id or 0, title="SECRET-YEN-SYNOPSIS-DISCUSSION", question="q",
            state="summarised", synopsis="SECRET-YEN-SYNOPSIS", synopsis_at=now,
            synopsis_version=1, created_at=now,
        )  # fmt: skip
        session.add_all([discussion, opened, yen_summarised])
        session.flush()
        session.add_all([
            SynopsisVersion(discussion_id=discussion.id or 0, version=1, set_at=now - timedelta(
                days=1), text="Councils are alike. SYNOPSIS-FIRST"),
            SynopsisVersion(discussion_id=discussion.id or 0, version=2, set_at=now,
                            text=discussion.synopsis or ""),
            SynopsisVersion(discussion_id=yen_summarised.id or 0, version=1, set_at=now,
                            text="SECRET-YEN-SYNOPSIS"),
        ])  # fmt: skip
        d_thread = _thread(
            session, irnet, "Minimum wage councils", now - timedelta(days=20),
            discussion_id=discussion.id,
        )  # fmt: skip
        _post(
            session, d_thread, 1, now - timedelta(days=20), person_id=amina, author_email=AMINA,
            author_name="Amina", body_text="CONTRIBUTION-TEXT", full_text="CONTRIBUTION-TEXT",
        )  # fmt: skip
        news = NewsItem(
            community_id=irnet.id or 0, title="Labour code adopted", body="NEWS-TEXT",
            url="https://example.org/code", themes=["skills"], status="approved",
            created_at=now, published_at=now,
        )  # fmt: skip
        event = Event(
            community_id=irnet.id or 0, uid="ev1@example.org", title="Regional workshop",
            starts_at=ctx.now() + timedelta(days=5), timezone="Asia/Bangkok", location="Hanoi",
            status="approved", themes=["skills"], created_at=now,
        )  # fmt: skip
        resource = Resource(
            community_id=irnet.id or 0, title="Case study on councils", sha256=sha,
            filename="case.pdf", content_type="application/pdf", size=len(FILE_BYTES),
            kind="case-study", themes=["skills"], country="TH", created_at=now,
        )  # fmt: skip
        link = Resource(
            community_id=irnet.id or 0, title="ILO NATLEX", url="https://natlex.example.org",
            kind="legislation", themes=["green-jobs"], country="VN", created_at=now,
        )  # fmt: skip
        session.add_all([news, event, resource, link])

        secret = _thread(session, yen, SECRET_THREAD, now, themes=["skills"])
        secret_post = _post(
            session, secret, 1, now, person_id=yusuf, body_text=SECRET_THREAD, full_text=""
        )
        secret_file = Attachment(
            post_id=secret_post.id or 0, filename="yen.pdf", content_type="application/pdf",
            size=len(FILE_BYTES), sha256=sha,
        )  # fmt: skip
        yen_event = Event(
            community_id=yen.id or 0, uid="ev2@example.org", title="SECRET-YEN-EVENT",
            starts_at=ctx.now() + timedelta(days=6), status="approved", created_at=now,
        )  # fmt: skip
        yen_resource = Resource(
            community_id=yen.id or 0, title="SECRET-YEN-RESOURCE", sha256=sha, filename="y.pdf",
            content_type="application/pdf", size=1, kind="research", themes=["skills"],
            country="ID", created_at=now,
        )  # fmt: skip
        yen_news = NewsItem(
            community_id=yen.id or 0, title="SECRET-YEN-NEWS", status="approved",
            created_at=now, published_at=now,
        )  # fmt: skip
        yen_discussion = Discussion(
            community_id=yen.id or 0, title="SECRET-YEN-DISCUSSION", question="q",
            state="open", opens_at=now, closes_at=now + timedelta(days=3), created_at=now,
        )  # fmt: skip
        hidden = _thread(session, quiet, SECRET_QUIET, now)
        _post(session, hidden, 1, now, body_text=SECRET_QUIET, full_text="")
        session.add_all([secret_file, yen_event, yen_resource, yen_news, yen_discussion])
        session.flush()
        world.ids.update(
            thread=talk.id or 0, held_thread=held_only.id or 0, reply=reply.id or 0,
            attachment=attachment.id or 0, discussion=discussion.id or 0,
            open_discussion=opened.id or 0, news=news.id or 0, event=event.id or 0,
            resource=resource.id or 0, link=link.id or 0, secret_thread=secret.id or 0,
            secret_file=secret_file.id or 0, yen_event=yen_event.id or 0,
            yen_resource=yen_resource.id or 0, yen_news=yen_news.id or 0,
            yen_discussion=yen_discussion.id or 0, quiet_thread=hidden.id or 0,
            yen_synopsis=yen_summarised.id or 0,
        )  # fmt: skip
    month = f"{now:%Y/%m}"
    i = world.ids
    world.paths = {
        "home": "/",
        "community": "/c/irnet/",
        "thread": f"/c/irnet/t/{i['thread']}",
        "archive": "/c/irnet/archive/",
        "month": f"/c/irnet/{month}/",
        "discussions": "/c/irnet/discussions/",
        "discussion": f"/c/irnet/d/{i['discussion']}",
        "synopsis": f"/c/irnet/d/{i['discussion']}/synopsis/1",
        "news": "/c/irnet/news/",
        "news_item": f"/c/irnet/news/{i['news']}",
        "events": "/c/irnet/events/",
        "event": f"/c/irnet/events/{i['event']}",
        "calendar": f"/c/irnet/calendar/{(ctx.now() + timedelta(days=5)):%Y/%m}/",
        "resources": "/c/irnet/resources/",
        "resource": f"/c/irnet/resources/{i['resource']}",
        "theme": "/themes/skills/",
        "country": "/countries/th/",
        "matrix": "/matrix/",
    }
    return world


def secret_paths(world: World) -> dict[str, str]:
    """Every kind of URL of the members-only community yen and the archive-less quiet."""
    i = world.ids
    return {
        "community": "/c/yen/",
        "thread": f"/c/yen/t/{i['secret_thread']}",
        "attachment": f"/c/yen/files/{i['secret_file']}",
        "event": f"/c/yen/events/{i['yen_event']}",
        "ics": f"/c/yen/events/{i['yen_event']}.ics",
        "resource": f"/c/yen/resources/{i['yen_resource']}",
        "resource_file": f"/c/yen/resources/{i['yen_resource']}/file",
        "news": f"/c/yen/news/{i['yen_news']}",
        "discussion": f"/c/yen/d/{i['yen_discussion']}",
        "synopsis": f"/c/yen/d/{i['yen_synopsis']}/synopsis/1",
        "archive": "/c/yen/archive/",
        "events": "/c/yen/events/",
        "resources": "/c/yen/resources/",
        "quiet": "/c/quiet/",
        "quiet_thread": f"/c/quiet/t/{i['quiet_thread']}",
        "wrong_community": f"/c/irnet/t/{i['secret_thread']}",
        "wrong_file": f"/c/irnet/files/{i['secret_file']}",
        # Feeds and exports
        "feed": "/c/yen/feed.atom",
        "thread_feed": f"/c/yen/t/{i['secret_thread']}/feed.atom",
        "synopses_feed": "/c/yen/synopses.atom",
        "calendar_feed": "/c/yen/events.ics",
        "thread_mbox": f"/c/yen/t/{i['secret_thread']}.mbox",
        "month_mbox": world.paths["month"].replace("/c/irnet/", "/c/yen/").rstrip("/") + ".mbox",
        "quiet_feed": "/c/quiet/feed.atom",
        "quiet_mbox": f"/c/quiet/t/{i['quiet_thread']}.mbox",
        "wrong_feed": f"/c/irnet/t/{i['secret_thread']}/feed.atom",
        "wrong_mbox": f"/c/irnet/t/{i['secret_thread']}.mbox",
    }


def community_id(session: Session, slug: str) -> int:
    found = session.exec(select(Community.id).where(Community.slug == slug)).one()
    assert found is not None
    return found
