"""Search by mail: ``search <query>`` to ``<list>-request@`` is answered with the top
results, each with its title, a snippet and its portal link.

Whose eyes the answer is for: From is not proof, so the answer only ever goes to the
address in From, never to a Reply-To, and only shows what the portal would show the
member with that address, in that community only. A forged From therefore sends a member
the community's own archive, which they may read anyway; it reaches the forger only if the
forger reads that member's mail. A community whose archive is `members` answers its active
members; `public` answers anyone; `none` (no web archive, so no links to give) answers
no one with results. The daily cap of replies to one address (inbound/commands.py) holds
for these answers too, so a forged From cannot flood a member.
"""

from __future__ import annotations

import hashlib

from sqlmodel import Session

from mailhub.context import Context
from mailhub.models import Community
from mailhub.outbound.compose import Notice, send_rendered
from mailhub.portal import links
from mailhub.search.query import QueryError, parse
from mailhub.search.results import Results, search

KIND = "search-reply"


def readable_by_mail(community: Community, is_member: bool) -> bool:
    """Whether an answer by mail may show this community's items to the From address."""
    return community.archive == "public" or (community.archive == "members" and is_member)


def answer(
    ctx: Context,
    session: Session,
    community: Community,
    sender: str,
    person_id: int | None,
    text: str,
    in_reply_to: str,
) -> str:
    """Mail the results of one search to ``sender``; the line for the command reply."""
    problem, results = "", Results([], False)
    if community.archive == "none":
        problem = f"{community.name} keeps no archive to search."
    elif not readable_by_mail(community, person_id is not None):
        problem = f"Only members of {community.name} can search its archive."
    else:
        try:
            query = parse(text)
            if query.empty:
                raise QueryError('write what to look for after "search"')
            per_page = ctx.settings.search.mail_results
            results = search(session, query, [community], per_page=per_page)
        except QueryError as exc:
            problem = f"The search could not be read: {exc}."
    key = hashlib.sha256(f"{in_reply_to}\n{text}".encode()).hexdigest()[:24]
    notice = Notice(
        to=sender,
        subject=f"Search {community.name}: {text}"[:200],
        kind=KIND,
        dedup_key=f"{KIND}:{community.id}:{key}",
        person_id=person_id,
        in_reply_to=in_reply_to,
    )
    send_rendered(
        ctx,
        session,
        community,
        "notices/search-reply.txt",
        notice,
        asked=text,
        problem=problem,
        results=results,
        base=links.base_url(ctx.settings),
    )
    if problem:
        return problem
    count = len(results.hits)
    found = "1 result" if count == 1 else f"{count} results"
    return f'{found} for "{text}" {"is" if count == 1 else "are"} in a separate mail.'
