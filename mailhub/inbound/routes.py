"""Which step acts on mail to each kind of address, in one table.

Posts and replies go to the post store (the pipeline itself); machine mail (bounces,
auto-replies) is classified before this table is consulted. A kind missing here is stored
with its class for later.
"""

from __future__ import annotations

from collections.abc import Callable

from mailhub.addresses import Kind
from mailhub.inbound.outcomes import Incoming, Outcome

Route = Callable[[Incoming], Outcome]

# By the address the mail was sent to.
ROUTES: dict[Kind, Route] = {}

# By what the mail is, for machine mail that still needs acting on (bounces).
CLASS_ROUTES: dict[str, Route] = {}
