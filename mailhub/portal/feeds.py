"""What each Atom feed holds: a community's newest posts, one conversation, a theme across
the communities a reader may read, and synopses (one community's, or every readable one's).

Entries show what the portal shows: published posts only, the trimmed text with email
addresses hidden and passed through the mail sanitiser, authors by name (never an
address). An entry's id is a tag URI (RFC 4151) made of the instance's domain, the day
the item first appeared and its row id, so it never changes once published, even when the
portal moves; its link is the item's permalink on the portal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlmodel import Session, col, select

from mailhub.models import Community, Discussion, Person, Post, Thread
from mailhub.portal import library, links
from mailhub.portal.atom import Entry, Feed
from mailhub.portal.queries import author_of, published, shown_name
from mailhub.portal.web import member_text
from mailhub.threads.subjects import display_subject

NEWEST = 50


@dataclass(frozen=True)
class Site:
    """Where the feeds live: the portal's base URL, the domain of entry ids, the site name,
    and the moment an empty feed says it was updated."""

    base: str
    domain: str
    name: str
    now: datetime

    def url(self, path: str) -> str:
        return self.base + path

    def tag(self, first_seen: datetime, specific: str) -> str:
        return f"tag:{self.domain},{first_seen:%Y-%m-%d}:{specific}"

    def feed(self, path: str, page: str, title: str, entries: list[Entry], sub: str) -> Feed:
        return Feed(
            id=self.url(path),
            title=title,
            link=self.url(page),
            self_link=self.url(path),
            updated=max((e.updated for e in entries), default=self.now),
            author=self.name,
            subtitle=sub,
            entries=entries,
        )


def _post_entries(site: Site, session: Session, condition: list[Any]) -> list[Entry]:
    """The newest published posts meeting ``condition``, with their threads and authors."""
    rows = session.exec(
        select(Post, Thread, Community, Person)
        .join(Thread, col(Thread.id) == col(Post.thread_id))
        .join(Community, col(Community.id) == col(Post.community_id))
        .outerjoin(Person, col(Person.id) == col(Post.person_id))
        .where(*published(), *condition)
        .order_by(col(Post.received_at).desc(), col(Post.id).desc())
        .limit(NEWEST)
    ).all()
    return [
        Entry(
            id=site.tag(post.received_at, f"post/{post.id}"),
            title=display_subject(post.subject or thread.subject),
            link=site.url(links.post_path(community.slug, thread.id, post.id)),
            updated=post.received_at,
            published=post.received_at,
            author=author_of(post, person).name,
            html=str(member_text(post.body_text)),
            categories=tuple(thread.themes),
        )
        for post, thread, community, person in rows
    ]


def _writer(moderator: Person | None, community: Community) -> str:
    """Who wrote a synopsis: its moderator by name as pages show it, else the community."""
    return shown_name(moderator.name if moderator else None, community.name)


def community_feed(site: Site, session: Session, community: Community) -> Feed:
    entries = _post_entries(site, session, [Post.community_id == community.id])
    path, page = links.community_feed_path(community.slug), links.community_path(community.slug)
    return site.feed(path, page, community.name, entries, f"New posts in {community.name}")


def thread_feed(site: Site, session: Session, community: Community, thread: Thread) -> Feed:
    entries = _post_entries(site, session, [Post.thread_id == thread.id])
    path = links.thread_feed_path(community.slug, thread.id)
    page = links.thread_path(community.slug, thread.id)
    title = display_subject(thread.subject)
    return site.feed(path, page, title, entries, f"A conversation in {community.name}")


def theme_feed(
    site: Site, session: Session, communities: list[Community], slug: str, name: str
) -> Feed:
    """Posts of conversations tagged with the theme, or in a discussion tagged with it."""
    ids = [c.id or 0 for c in communities]
    in_discussions = select(Discussion.id).where(library.tagged(Discussion.themes, slug))
    condition = [
        col(Post.community_id).in_(ids),
        or_(
            library.tagged(Thread.themes, slug),
            col(Thread.discussion_id).in_(in_discussions),
        ),
    ]
    entries = _post_entries(site, session, condition)
    path, page = links.theme_feed_path(slug), links.theme_path(slug)
    return site.feed(path, page, name, entries, f"New posts on {name}, in every network")


def synopses_feed(
    site: Site, session: Session, communities: list[Community], one: Community | None
) -> Feed:
    """Synopses newest first; a corrected synopsis is the same entry, updated."""
    by_id = {c.id or 0: c for c in communities}
    found = library.synopses(session, list(by_id), NEWEST)
    moderators = {
        p.id: p
        for p in session.exec(
            select(Person).where(col(Person.id).in_({d.moderator_id for d in found}))
        )
    }
    entries = []
    for discussion in found:
        community = by_id[discussion.community_id]
        written = discussion.synopsis_at or discussion.created_at
        entries.append(
            Entry(
                id=site.tag(discussion.created_at, f"synopsis/{discussion.id}"),
                title=f"Synopsis: {discussion.title}",
                link=site.url(links.discussion_path(community.slug, discussion.id)),
                updated=written,
                published=discussion.closed_at or written,
                author=_writer(moderators.get(discussion.moderator_id), community),
                html=str(member_text(discussion.synopsis)),
                categories=tuple(discussion.themes),
            )
        )
    slug = one.slug if one else None
    page = links.discussions_path(slug) if slug else "/"
    title = f"Synopses of {one.name}" if one else f"Synopses – {site.name}"
    sub = "The closing synopsis of each time-boxed discussion"
    return site.feed(links.synopses_feed_path(slug), page, title, entries, sub)
