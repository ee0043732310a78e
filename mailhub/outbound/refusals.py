"""A relay's permanent refusal of a member's copy counts as a hard bounce.

A relay that answers 5xx to RCPT TO or to the message's DATA sends no bounce: the refusal
is all there is. Recorded only as a failed outbox row, it would never raise the member's
bounce score, and mailhub would mail a dead address for ever. Each refusal is counted
exactly as a bounce of that copy coming back to its VERP return path would be (the score,
once a day, the pause at the threshold: bounce_handling.count_failure).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence

from sqlmodel import col, select

from mailhub.context import Context
from mailhub.models import Community, OutboundMessage
from mailhub.outbound.bounce_handling import Failure, count_failure

log = logging.getLogger("mailhub.bounces")
ENHANCED_CODE = re.compile(r"\b5\.\d{1,3}\.\d{1,3}\b")


def count_refusals(ctx: Context, refused: Sequence[tuple[int, str]]) -> list[str]:
    """Count each (outbox row id, relay's answer) against the member it was for; rows not
    addressed to a member (notices to outsiders) are skipped. Returns the reasons."""
    answers = dict(refused)
    reasons = []
    with ctx.session() as session:
        rows = session.exec(
            select(
                OutboundMessage.id,
                OutboundMessage.community_id,
                OutboundMessage.person_id,
                OutboundMessage.recipient,
            ).where(col(OutboundMessage.id).in_(list(answers)))
        ).all()
        for row_id, community_id, person_id, recipient in rows:
            community = session.get(Community, community_id) if community_id else None
            if row_id is None or person_id is None or community is None:
                continue
            answer = answers[row_id]
            status = ENHANCED_CODE.search(answer)
            failure = Failure(person_id, recipient, True, status.group() if status else None)
            reason = count_failure(ctx, session, community, failure)
            log.info("outbox #%s refused by the relay (%s): %s", row_id, answer, reason)
            reasons.append(reason)
    return reasons
