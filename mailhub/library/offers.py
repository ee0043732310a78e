"""Attachments offered to moderators for the resource library, and their answers by mail.

When a post with attachments is approved, each moderator gets one mail listing the
attachments that passed the attachment policy, numbered as the post holds them, with a
reply address for that post. A reply with lines such as
`resource 1 themes=skills country=TH title="Labour code" kind=legislation` adds those
attachments to the library; an attachment becomes a resource once, so a repeated reply
adds nothing, and every line gets an answer saying what happened.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

from sqlmodel import Session

from mailhub import tokens
from mailhub.communities import known_theme_slugs
from mailhub.context import Context
from mailhub.errors import MailhubError
from mailhub.inbound import attachments
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.trim import trim_reply
from mailhub.library import resources
from mailhub.models import Attachment, Community, Person, Post, PostStatus
from mailhub.moderation.team import moderation_address, moderators
from mailhub.outbound.compose import Notice, send_notice, send_rendered, staff_notice
from mailhub.rendering import human_size
from mailhub.threads.themes import post_themes

# Members' posts and replies; news and event submissions have their own publication.
OFFERED_KINDS = ("post", "reply")
LINE = re.compile(r"^\s*resources?\s+#?(\d+)\b(.*)$", re.IGNORECASE)
KEYS = {
    "theme": "themes",
    "themes": "themes",
    "country": "country",
    "title": "title",
    "kind": "kind",
    "description": "description",
}


def offered(ctx: Context, session: Session, post: Post) -> list[tuple[int, Attachment]]:
    """The post's attachments that passed the attachment policy, with their numbers."""
    numbered = enumerate(resources.post_attachments(session, post), start=1)
    policy = ctx.settings.inbound
    return [
        (number, a)
        for number, a in numbered
        if attachments.refusal(policy, a.filename, a.content_type, a.size) is None
    ]


def offer_address(
    ctx: Context, session: Session, community: Community, post: Post, moderator: Person
) -> str:
    return moderation_address(ctx, session, community, post, moderator, tokens.RESOURCE)


def offer_attachments(ctx: Context, session: Session, post: Post) -> int:
    """Queue the offer of an approved post's attachments to each moderator; how many mails."""
    if post.kind not in OFFERED_KINDS or post.status != PostStatus.APPROVED.value:
        return 0
    files = offered(ctx, session, post)
    if not files:
        return 0
    community = session.get(Community, post.community_id)
    assert community is not None
    author = session.get(Person, post.person_id) if post.person_id else None
    name = (author.name if author and author.name else post.author_name) or post.author_email
    known = sorted(known_theme_slugs(session))
    themes = post_themes(session, post)
    sent = 0
    for moderator in moderators(session, community):
        notice = staff_notice(
            community,
            moderator,
            f"attachments for the library: {post.subject or '(no subject)'}",
            kind="resource-offer",
            dedup_key=f"resource-offer:{post.id}:to:{moderator.id}",
            reply_to=offer_address(ctx, session, community, post, moderator),
        )
        sent += send_rendered(
            ctx,
            session,
            community,
            "moderation/resource_offer.txt",
            notice,
            post=post,
            author=f"{name} <{post.author_email}>" if name != post.author_email else name,
            files=[(n, a, human_size(a.size)) for n, a in files],
            post_themes=themes,
            known_themes=known,
            example_theme=(themes or known or ["labour-law"])[0],
            example_country=(author.country if author and author.country else "TH"),
            author_country=author.country if author else None,
            kinds=resources.KINDS,
        )
    return sent


@dataclass(frozen=True)
class Request:
    """One `resource N ...` line of a reply."""

    number: int
    fields: resources.ResourceFields


def read_line(number: int, rest: str) -> Request:
    """The words after `resource N`; ValueError says what could not be read."""
    try:
        words = shlex.split(rest)
    except ValueError as exc:
        raise ValueError(f"cannot read the line ({exc})") from None
    values: dict[str, str] = {}
    for word in words:
        key, equals, value = word.partition("=")
        name = KEYS.get(key.strip().lower())
        if not equals or name is None:
            raise ValueError(
                f"cannot read {word!r}: use themes=, country=, title=, kind= or description="
            )
        values[name] = value.strip()
    if values.get("title") in ("...", "…"):
        raise ValueError(
            'title="..." is the example\'s placeholder: write the title or leave it out'
        )
    themes = tuple(t for t in re.split(r"[,;\s]+", values.get("themes", "")) if t)
    fields = resources.ResourceFields(
        title=values.get("title", ""),
        kind=values.get("kind") or "other",
        description=values.get("description", ""),
        themes=themes,
        country=values.get("country") or None,
    )
    return Request(number, fields)


def read_requests(text: str) -> list[tuple[int, Request | str]]:
    """Each `resource N ...` line of a reply: the request, or why it cannot be read."""
    found: list[tuple[int, Request | str]] = []
    for line in trim_reply(text).own_words.splitlines():
        match = LINE.match(line.strip().strip("*_"))
        if match is None:
            continue
        number = int(match.group(1))
        try:
            found.append((number, read_line(number, match.group(2))))
        except ValueError as exc:
            found.append((number, str(exc)))
    return found


def _one(
    ctx: Context,
    session: Session,
    post: Post,
    files: dict[int, Attachment],
    number: int,
    request: Request | str,
    sender: Person,
) -> str:
    if isinstance(request, str):
        return f"[{number}] {request}: nothing added"
    attachment = files.get(number)
    if attachment is None:
        listed = ", ".join(map(str, files)) or "none"
        return f"[{number}] post #{post.id} has no attachment {number} on offer (offered: {listed})"
    existing = resources.resource_of(session, attachment)
    if existing is not None:
        return f"[{number}] {attachment.filename} is resource {existing.id} already: nothing added"
    origin = resources.Origin(sender.id, "email")
    try:
        made = resources.add_attachment(
            session, post, attachment, request.fields, ctx.now(), origin
        )
    except MailhubError as exc:
        return f"[{number}] {attachment.filename}: {exc}; nothing added"
    tags = ", ".join(made.themes) or "no themes"
    return (
        f"[{number}] {attachment.filename}: added as resource {made.id} "
        f'("{made.title}", {made.kind}, {tags}, {made.country or "no country"})'
    )


def handle_reply(incoming: Incoming, sender: Person, post: Post) -> Outcome:
    """A moderator's answer to an offer (token, community and sender already checked)."""
    ctx, session, community = incoming.ctx, incoming.session, incoming.community
    requests = read_requests(incoming.parsed.text)
    if post.status != PostStatus.APPROVED.value:
        report = [f"post #{post.id} is {post.status}, so its attachments cannot be added"]
    elif not requests:
        report = [
            "No 'resource N' lines were found, so nothing was added. "
            'Use lines such as: resource 1 themes=skills country=TH title="..."'
        ]
    else:
        files = dict(offered(ctx, session, post))
        report = [_one(ctx, session, post, files, n, r, sender) for n, r in requests]
    text = "What was done:\n\n" + "\n".join(f"  {line}" for line in report) + "\n"
    notice = Notice(
        to=sender.email,
        subject=f"{community.tag or community.name} resource library: post #{post.id}",
        text=text,
        kind="moderation-reply",
        dedup_key=f"resource-reply:{incoming.item.message_id}",
        person_id=sender.id,
        in_reply_to=incoming.item.message_id,
    )
    send_notice(ctx, session, community, notice)
    added = sum(1 for line in report if ": added as resource" in line)
    return incoming.outcome(
        "decision", f"{sender.email} added {added} resource(s) from post {post.id} by email"
    )
