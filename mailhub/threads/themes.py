"""Themes of conversations: moderators tag a thread, and every post in it carries the
thread's themes together with those of the discussion the thread belongs to.

Tagging the thread rather than each post matches how members read: a conversation is about
something, and a reply arriving later is about the same thing without anyone tagging it.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlmodel import Session

from mailhub.communities import known_theme_slugs
from mailhub.errors import InvalidInput
from mailhub.members import check_themes
from mailhub.models import Discussion, Post, Thread
from mailhub.search.queue import mark_threads


def checked(session: Session, slugs: Iterable[str]) -> list[str]:
    """Slugs folded, sorted and known to the store; InvalidInput names the unknown ones."""
    return check_themes(list(slugs), set(known_theme_slugs(session)))


def set_themes(session: Session, thread: Thread, slugs: Iterable[str]) -> list[str]:
    """Replace the thread's themes (an empty list clears them)."""
    thread.themes = checked(session, slugs)
    session.add(thread)
    session.flush()
    mark_threads(session, [thread.id])
    return thread.themes


def add_themes(session: Session, post: Post, slugs: Iterable[str]) -> list[str]:
    """Add themes to the thread of a post (a moderator tagging it while deciding)."""
    wanted = checked(session, slugs)
    if not wanted:
        return post_themes(session, post)
    thread = session.get(Thread, post.thread_id) if post.thread_id else None
    if thread is None:
        raise InvalidInput(f"item {post.id} belongs to no thread, so it cannot take themes")
    thread.themes = sorted({*thread.themes, *wanted})
    session.add(thread)
    session.flush()
    mark_threads(session, [thread.id])
    return post_themes(session, post)


def post_themes(session: Session, post: Post) -> list[str]:
    """The post's themes: its thread's and its discussion's, sorted."""
    thread = session.get(Thread, post.thread_id) if post.thread_id else None
    if thread is None:
        return []
    talk = session.get(Discussion, thread.discussion_id) if thread.discussion_id else None
    return combined(thread, talk)


def combined(thread: Thread | None, talk: Discussion | None) -> list[str]:
    """The themes of a thread and its discussion together."""
    return sorted({*(thread.themes if thread else ()), *(talk.themes if talk else ())})
