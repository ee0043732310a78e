"""A member's digest as it would look now, for admins to read before members do."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from mailhub import tokens
from mailhub.addresses import Kind
from mailhub.context import Context
from mailhub.digest import items as digest_items
from mailhub.digest import members as digest_members
from mailhub.digest.build import Issue, footer_words
from mailhub.digest.digests import issue_for
from mailhub.digest.mime import marker_pattern
from mailhub.digest.render import arrange, new_mark, render
from mailhub.errors import NotFound
from mailhub.member_tokens import unsubscribe_token
from mailhub.models import Community
from mailhub.outbound.leave import LEAVE


@dataclass(frozen=True)
class Preview:
    text: str
    html: str
    count: int


def preview(ctx: Context, community: Community, email: str, now: datetime) -> Preview:
    """The text and HTML of ``email``'s next digest if it were sent at ``now``, with their
    own reply addresses."""
    assert community.id is not None
    with ctx.session() as session:
        member = digest_members.one(session, community.id, email)
        if member is None:
            raise NotFound(f"{email} is not a member of {community.slug}")
        posts = digest_items.approved_between(session, community.id, member.since, now)
        book = ctx.address_book(session)
        issue: Issue = issue_for(ctx, book, community, now)
    chosen = digest_items.chosen(posts, member.since, member.themes, member.only_my_themes)
    digest = arrange(chosen, len(chosen), new_mark(), issue.community, issue.tag, issue.date)
    shared = footer_words(issue, digest.mark)
    signer = tokens.BatchSigner(ctx.secret, tokens.REPLY)

    def address(found: re.Match[str]) -> str:
        if int(found.group(1)) == LEAVE:
            return unsubscribe_token(ctx.secret, member.membership_id, member.person_id)
        token = signer.sign(int(found.group(1)), member.person_id)
        return book.address(community.slug, Kind.REPLY, token)

    pattern = marker_pattern(digest)
    text, html = (
        pattern.sub(address, render(name, issue.override, digest, **shared))
        for name in ("digest.txt", "digest.html")
    )
    return Preview(text, html, len(chosen))
