"""Which step acts on mail to each kind of address, in one table.

Posts and replies go to the post store (the pipeline itself); machine mail (bounces,
auto-replies) is classified before this table is consulted. Every other address kind has
an entry here; a kind without one would be taken as a post.
"""

from __future__ import annotations

from collections.abc import Callable

from mailhub.addresses import Kind
from mailhub.discussions import replies as synopsis_replies
from mailhub.inbound import commands, confirmations, owners
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.moderation import replies as moderation_replies
from mailhub.news import mailin
from mailhub.outbound.bounce_handling import handle_bounce

Route = Callable[[Incoming], Outcome]

# By the address the mail was sent to.
ROUTES: dict[Kind, Route] = {
    Kind.REQUEST: commands.handle_request,
    Kind.CONFIRM: confirmations.handle_confirmation,
    Kind.UNSUBSCRIBE: confirmations.handle_unsubscribe,
    Kind.MODERATION: moderation_replies.handle,
    Kind.SYNOPSIS: synopsis_replies.handle,
    Kind.NEWS: mailin.handle_news,
    Kind.EVENTS: mailin.handle_event,
    Kind.OWNER: owners.handle_owner,
    Kind.POSTMASTER: owners.handle_postmaster,
}

# By what the mail is, for machine mail that still needs acting on (bounces).
CLASS_ROUTES: dict[str, Route] = {
    "bounce": handle_bounce,
}
