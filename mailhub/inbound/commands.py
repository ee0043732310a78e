"""Mail to ``<list>-request@``: membership commands, answered by one reply.

Commands come from the subject (when it starts with one) and from the lines of the
message, up to a signature, quoted text, ``end`` or ``MAX_LINES`` lines. Each command gets
one answer line in the reply; lines that are not commands are listed as not understood.
The pipeline never hands auto-replies or bounces to this route, and an address gets at
most ``REPLIES_PER_DAY`` replies, so a broken auto-responder cannot keep us talking; past
that its mail is neither carried out nor answered (the spool row says so).
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from mailhub.addresses import InvalidAddress, Kind, normalise_address
from mailhub.communities import list_themes
from mailhub.cron import next_due
from mailhub.errors import InvalidInput
from mailhub.inbound.closings import is_valediction
from mailhub.inbound.outcomes import Incoming, Outcome
from mailhub.inbound.trim import trim_reply
from mailhub.member_tokens import LEAVE
from mailhub.members import AFFILIATIONS, DIGEST_FORMATS
from mailhub.models import Delivery, MembershipStatus, Person
from mailhub.outbound.compose import Notice, send_rendered
from mailhub.subscriptions import (
    Member,
    Result,
    find_member,
    mails_since,
    request_subscription,
    request_unsubscription,
    send_confirmation,
    set_delivery,
    set_preferences,
    set_profile,
    set_themes,
    unsubscribe,
)
from mailhub.threads.subjects import normalise_subject
from mailhub.times import human

MAX_LINES = 20
REPLIES_PER_DAY = 5
_DAY = timedelta(days=1)
# Every answer we send to mail from a person counts towards that person's daily cap.
REPLY_KINDS = ("command-reply", "confirmation-reply", "unsubscribe-reply", "search-reply")
SEARCHES_PER_MAIL = 3
STOP_WORDS = {"end", "stop"}
NEUTRAL = "This request cannot be carried out for your address."
FORMAT_NAMES = {"mime": "text and HTML (MIME)", "rfc1153": "one plain text (RFC 1153)"}
_ATTRIBUTION = re.compile(
    r"^(on|le|am|el|il|op|em)\s.*(wrote|écrit|schrieb|escribió|scritto|schreef|escreveu)\s*:?$",
    re.IGNORECASE,
)
_HISTORY = re.compile(r"^(-{2,}\s*(original|forwarded) message|_{5,}$|(from|von|de)\s*:)", re.I)


@dataclass
class Answer:
    line: str
    answer: str


@dataclass
class Request:
    """One command mail being answered: who sent it, where, and what was said back."""

    incoming: Incoming
    sender: str
    name: str
    answers: list[Answer] = field(default_factory=list)
    show_help: bool = False
    searches: int = 0

    @property
    def community_name(self) -> str:
        return self.incoming.community.name

    def member(self) -> Member | None:
        return find_member(self.incoming.session, self.incoming.community, self.sender)

    def request_address(self) -> str:
        book = self.incoming.ctx.address_book(self.incoming.session)
        return book.address(self.incoming.community.slug, Kind.REQUEST)


Command = Callable[[Request, list[str]], str]


def command_lines(subject: str, text: str, sender: str = "") -> tuple[list[str], bool]:
    """The lines to read as commands, and whether some were left unread past MAX_LINES.

    Reading stops at a signature, quoted history or a sign-off ("Thanks,", then the name
    and title below it), which are not commands however they read."""
    lines: list[str] = []
    first = command_words(normalise_subject(subject))
    if first and first[0].lower() in COMMANDS:
        lines.append(normalise_subject(subject))
    for raw in trim_reply(text, sender).text.splitlines():
        line = raw.strip()
        if raw.rstrip() in ("--", "-- ") or line.startswith(">"):
            break
        if _ATTRIBUTION.match(line) or _HISTORY.match(line):
            break
        if not line:
            continue
        if is_valediction(line):
            if lines:
                break
            continue
        if line.lower() in STOP_WORDS:
            return lines, False
        if len(lines) == MAX_LINES:
            return lines, True
        lines.append(line)
    return lines, False


# Commands whose words after the first are the member's own text, kept as written.
VERBATIM = {"profile", "search"}
COURTESY = {"please", "pls", "thanks"}


def command_words(line: str) -> list[str]:
    """A line's words as a command reads them: "Please unsubscribe me", "Digest, please."
    and "Events off." are written by people and mean "unsubscribe me", "digest" and
    "events off"; a profile's or a search's words stay as written."""
    words = line.split()
    while words and words[0].lower().strip(".,;:!?") in COURTESY:
        words = words[1:]
    if not words:
        return []
    command = words[0].rstrip(".,;:!?")
    if command.lower() in VERBATIM:
        return [command, *words[1:]]
    args = [w.rstrip(".,;:!?") for w in words[1:]]
    return [command, *(a for a in args if a and a.lower() not in COURTESY)]


def handle_request(incoming: Incoming) -> Outcome:
    """The route for ``<list>-request@``: carry out the commands, then reply once."""
    parsed, session, ctx = incoming.parsed, incoming.session, incoming.ctx
    try:
        sender = normalise_address(parsed.from_address or "")
    except InvalidAddress:
        return incoming.outcome("command", "no usable sender address; not answered")
    if ctx.address_book(session).resolve(sender) is not None:
        return incoming.outcome("command", f"sent by our own address {sender}; not answered")
    since = ctx.now() - _DAY
    if mails_since(session, sender, REPLY_KINDS, since) >= REPLIES_PER_DAY:
        reason = f"{sender} had {REPLIES_PER_DAY} replies in a day; neither done nor answered"
        return incoming.outcome("command", reason)
    request = Request(incoming, sender, parsed.from_name)
    lines, truncated = command_lines(
        parsed.subject, parsed.text, parsed.from_name or parsed.from_address or ""
    )
    unknown: list[str] = []
    seen: set[str] = set()
    for line in lines:
        words = command_words(line) or [line]
        command = COMMANDS.get(words[0].lower())
        if command is None:
            unknown.append(line)
        elif line.lower() not in seen:
            seen.add(line.lower())
            request.answers.append(Answer(line, command(request, words[1:])))
    # A mail of searches only is answered by its results, without a second mail.
    if unknown or truncated or request.searches < len(request.answers):
        send_reply(request, unknown, truncated)
    done = "; ".join(command_words(a.line)[0].lower() for a in request.answers) or "none"
    reason = f"commands from {sender}: {done}; {len(unknown)} not understood"
    return incoming.outcome("command", reason)


def send_reply(request: Request, unknown: list[str], truncated: bool) -> None:
    incoming = request.incoming
    community, ctx = incoming.community, incoming.ctx
    subject = incoming.parsed.subject.strip()
    key = hashlib.sha256(incoming.item.message_id.encode()).hexdigest()[:24]
    member = request.member()
    notice = Notice(
        to=request.sender,
        subject=f"Re: {subject}" if subject else f"Your commands to {community.name}",
        kind="command-reply",
        dedup_key=f"command-reply:{community.id}:{key}",
        person_id=member.person.id if member else None,
        in_reply_to=incoming.item.message_id,
    )
    send_rendered(
        ctx,
        incoming.session,
        community,
        "notices/command-reply.txt",
        notice,
        results=request.answers,
        unknown=unknown,
        truncated=truncated,
        max_lines=MAX_LINES,
        show_help=request.show_help or not request.answers,
    )


# The commands. Each changes what it must and returns its answer line.


def _subscribe(request: Request, args: list[str]) -> str:
    """``subscribe`` joins the list; ``subscribe newsletter`` asks for the newsletter only."""
    if any("@" in word for word in args):
        return "To join, write from the address that should join; nothing was done."
    incoming = request.incoming
    newsletter = bool(args) and args[0].lower() == Delivery.NEWSLETTER.value
    result, _member = request_subscription(
        incoming.ctx,
        incoming.session,
        incoming.community,
        request.sender,
        name=request.name,
        delivery=Delivery.NEWSLETTER.value if newsletter else None,
    )
    goal = "receive the newsletter" if newsletter else "join"
    already = f"You are already a member of {request.community_name}."
    if newsletter:
        already += ' To receive the newsletter only, write "newsletter".'
    return {
        Result.SENT: (
            f"A confirmation has been sent to {request.sender}. Reply to it (or open its "
            f"link) to {goal}; nothing happens until then."
        ),
        Result.LIMITED: (
            f"Several confirmations went to {request.sender} today already: please answer "
            "one of them, or try again tomorrow."
        ),
        Result.ALREADY: already,
    }.get(result, NEUTRAL)


def _unsubscribe(request: Request, args: list[str]) -> str:
    """Leaving by command is confirmed by the address itself, as joining is: From is not
    proof, and a forged ``unsubscribe`` must only mail the real member a confirmation."""
    incoming = request.incoming
    member = request.member()
    if member is not None and member.banned:
        return NEUTRAL
    # "unsubscribe me", "leave IRNet", "unsubscribe please" are the sender leaving; only
    # an address names someone else.
    if args and "@" in args[0] and args[0].lower() != request.sender:
        return _unsubscribe_other(request, args[0])
    if member is None or member.membership.status == MembershipStatus.UNSUBSCRIBED.value:
        return f"You are not a member of {request.community_name}, so nothing changed."
    if member.membership.status == MembershipStatus.PENDING.value:
        # Withdrawing a join that was never confirmed costs nobody anything: the join's
        # confirmation still works.
        unsubscribe(member, incoming.ctx.now())
        return f"Your request to join {request.community_name} is withdrawn."
    result = send_confirmation(incoming.ctx, incoming.session, member, LEAVE)
    if result is Result.LIMITED:
        return (
            f"Several confirmations went to {request.sender} today already: please answer "
            "one of them, or try again tomorrow."
        )
    return (
        f"A confirmation has been sent to {request.sender}. Reply to it (or open its link) "
        f"to leave {request.community_name}; nothing changes until then."
    )


def _unsubscribe_other(request: Request, address: str) -> str:
    incoming = request.incoming
    try:
        other = normalise_address(address)
    except InvalidAddress:
        return f"{address!r} is not an e-mail address; nothing was done."
    request_unsubscription(incoming.ctx, incoming.session, incoming.community, other)
    # The same answer whatever happened, so nobody can learn who is a member.
    return (
        f"If {other} is a member of {request.community_name}, a confirmation has been sent "
        "to that address; it leaves once the confirmation is answered."
    )


def _not_member(request: Request, member: Member | None) -> str:
    if member is not None and member.banned:
        return NEUTRAL
    if member is not None and member.membership.status == MembershipStatus.PENDING.value:
        return "You are not a member yet: please answer the confirmation mail first."
    return (
        f"You are not a member of {request.community_name}, so nothing changed. "
        f'To join, write "subscribe" to {request.request_address()}.'
    )


DELIVERY_ANSWERS = {
    Delivery.EACH: "You will receive every post as it is approved.",
    Delivery.DIGEST: "You will receive a digest of the posts instead of each one.",
    Delivery.NONE: (
        'You will receive no posts, and remain a member. Write "each" or "digest" to '
        "receive them again."
    ),
    Delivery.NEWSLETTER: (
        "You will receive the newsletter and the event digest only, and no posts. Write "
        '"each" or "digest" to receive the posts again.'
    ),
}


def _delivery(mode: Delivery) -> Command:
    def command(request: Request, args: list[str]) -> str:
        member = request.member()
        if member is None or not member.active:
            return _not_member(request, member)
        result = set_delivery(member, mode.value, request.incoming.ctx.now())
        prefix = "Nothing to change: " if result is Result.ALREADY else ""
        return (
            prefix
            + DELIVERY_ANSWERS[mode]
            + (_next_digest(request) if mode is Delivery.DIGEST else "")
        )

    return command


def _next_digest(request: Request) -> str:
    """When the member's first digest comes, in their community's time."""
    community = request.incoming.community
    due = next_due(community.digest_cron, community.timezone, request.incoming.ctx.now())
    if due is None:
        return ""
    return f" The next one goes out {human(due, community.timezone)}, if there is anything new."


def _themes(request: Request, args: list[str]) -> str:
    """``themes SLUG ...`` chooses; ``themes only [SLUG ...]`` also narrows digests to them;
    ``themes all`` widens digests to every post again."""
    member = request.member()
    if member is None or not member.active:
        return _not_member(request, member)
    now = request.incoming.ctx.now()
    if [a.lower() for a in args] == ["all"]:
        result = set_preferences(member, now, only_my_themes=False)
        prefix = "Nothing to change: your" if result is Result.ALREADY else "Your"
        return f"{prefix} digests have every post, whatever its themes."
    only = bool(args) and args[0].lower() == "only"
    if only:
        args = args[1:]
        if not args and not member.membership.themes:
            return 'You have no themes yet: write "themes only SLUG ..." to choose them.'
    answer = _choose_themes(request, member, args) if args or not only else ""
    if only and not answer.startswith("Unknown theme"):
        set_preferences(member, now, only_my_themes=True)
        mine = ", ".join(member.membership.themes)
        if not mine:  # "themes only none": no theme narrows anything
            return (
                "You have no themes now, so your digests have every post. Write "
                '"themes only SLUG ..." to have only posts on those themes.'
            )
        answer = f"Your digests now have only posts tagged with your themes: {mine}."
    return answer


def theme_table(themes: list[tuple[str, str]]) -> str:
    """One theme a line, its slug (what to write) before its name, so that eighteen themes
    read as a list and not as one long sentence."""
    if not themes:
        return " none yet."
    width = max(len(slug) for slug, _ in themes) + 2
    return ":\n" + "\n".join(f"  {slug.ljust(width)}{name}" for slug, name in themes)


def _choose_themes(request: Request, member: Member, args: list[str]) -> str:
    session = request.incoming.session
    available = theme_table([(t.slug, t.name) for t in list_themes(session)])
    slugs = [s for word in args for s in word.lower().split(",") if s]
    if not slugs:
        mine = ", ".join(member.membership.themes) or "none"
        return f"Your themes: {mine}.\nThemes you can choose{available}"
    if slugs == ["none"]:
        slugs = []
    try:
        result = set_themes(session, member, slugs, request.incoming.ctx.now())
    except InvalidInput:
        known = {t.slug for t in list_themes(session)}
        wrong = ", ".join(s for s in slugs if s not in known)
        return f"Unknown theme: {wrong}; nothing changed.\nThemes you can choose{available}"
    mine = ", ".join(member.membership.themes) or "none"
    prefix = "Nothing to change: your" if result is Result.ALREADY else "Your"
    return f"{prefix} themes are now: {mine}."


def _format(request: Request, args: list[str]) -> str:
    """``format mime`` or ``format rfc1153``: how digests are put together."""
    member = request.member()
    if member is None or not member.active:
        return _not_member(request, member)
    wanted = args[0].lower() if args else ""
    if wanted not in DIGEST_FORMATS:
        return 'Write "format mime" (text and HTML) or "format rfc1153" (one plain text).'
    result = set_preferences(member, request.incoming.ctx.now(), digest_format=wanted)
    prefix = "Nothing to change: your" if result is Result.ALREADY else "Your"
    answer = f"{prefix} digests come as {FORMAT_NAMES[wanted]}."
    if member.membership.delivery != Delivery.DIGEST.value:
        # The format is kept for later; say so, or the member waits for a digest.
        answer += ' You receive no digests now: write "digest" to get them instead.'
    return answer


def _events(request: Request, args: list[str]) -> str:
    """``events on`` or ``events off``: a reminder before each event."""
    member = request.member()
    if member is None or not member.active:
        return _not_member(request, member)
    wanted = args[0].lower() if args else ""
    if wanted not in ("on", "off"):
        return 'Write "events on" or "events off" (reminders before each event).'
    now = request.incoming.ctx.now()
    result = set_preferences(member, now, event_reminders=wanted == "on")
    prefix = "Nothing to change: you" if result is Result.ALREADY else "You"
    if wanted == "on":
        return f"{prefix} will get a reminder, with its calendar file, before each event."
    return f"{prefix} will get no event reminders."


def _profile(request: Request, args: list[str]) -> str:
    """``profile affiliation=workers country=TH organisation="..."``: what the network's
    participation figures count; ``profile`` alone shows it."""
    member = request.member()
    if member is None or not member.active:
        return _not_member(request, member)
    person = member.person
    if not args:
        return f"Your profile:\n{profile_table(person)}\nAffiliations: {', '.join(AFFILIATIONS)}."
    try:
        pairs = [word.partition("=") for word in shlex.split(" ".join(args))]
    except ValueError:
        return 'Write for example: profile affiliation=workers country=TH organisation="..."'
    if any(not sep for _, sep, _ in pairs):
        return 'Write for example: profile affiliation=workers country=TH organisation="..."'
    try:
        result = set_profile(member, {key.lower(): value for key, _, value in pairs})
    except InvalidInput as exc:
        return f"{exc}; nothing changed."
    prefix = "Nothing to change: your" if result is Result.ALREADY else "Your"
    return f"{prefix} profile:\n{profile_table(person)}"


def profile_table(person: Person) -> str:
    """The profile as a member reads it, one field a line; what is unset says so (it read
    ``country=- organisation=""``)."""
    fields = [
        ("affiliation", person.affiliation),
        ("country", person.country or ""),
        ("organisation", person.organisation),
    ]
    return "\n".join(f"  {key.ljust(14)}{value or 'not given'}" for key, value in fields)


def _search(request: Request, args: list[str]) -> str:
    """``search WORDS``: the top results, by mail, from what the portal shows the sender
    (search/bymail.py says why From may be trusted that far)."""
    from mailhub.search import bymail  # the search readers, only when someone searches

    if not args:
        return 'Write what to look for after "search", e.g. search "minimum wage" country:TH.'
    if request.searches == SEARCHES_PER_MAIL:
        return f"At most {SEARCHES_PER_MAIL} searches are answered per mail."
    request.searches += 1
    incoming = request.incoming
    member = request.member()
    person_id = member.person.id if member is not None and member.active else None
    return bymail.answer(
        incoming.ctx,
        incoming.session,
        incoming.community,
        request.sender,
        person_id,
        " ".join(args),
        incoming.item.message_id,
    )


def _help(request: Request, args: list[str]) -> str:
    request.show_help = True
    return "The commands are listed below."


COMMANDS: dict[str, Command] = {
    "subscribe": _subscribe,
    "join": _subscribe,
    "unsubscribe": _unsubscribe,
    "leave": _unsubscribe,
    "each": _delivery(Delivery.EACH),
    "digest": _delivery(Delivery.DIGEST),
    "nomail": _delivery(Delivery.NONE),
    "newsletter": _delivery(Delivery.NEWSLETTER),
    "themes": _themes,
    "format": _format,
    "events": _events,
    "profile": _profile,
    "search": _search,
    "help": _help,
}
