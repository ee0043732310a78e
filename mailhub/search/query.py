"""The query language, read into a small tree that each backend writes in its own syntax.

    words            every word must be there (in any order)
    "a phrase"       these words, in this order
    -word, -"a b"    not this
    work*            words starting with "work"
    a b OR c d       either side (OR binds loosest: (a and b) or (c and d))
    theme:skills  country:TH  affiliation:workers  kind:policy  community:irnet
    in:synopsis|discussion|post|news|event|resource  from:name (or from:address, admins)
    before:2027-03  after:2027-01-15   (a year, a month or a day, in UTC)

Filters hold for the whole query, whichever side of an OR they stand; a filter given twice
must hold twice, and commas give alternatives (theme:skills,green-jobs). A bad value is a
QueryError naming it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from mailhub.errors import InvalidInput
from mailhub.members import AFFILIATIONS
from mailhub.portal.web import is_country
from mailhub.search.documents import KINDS, email_tag, tag
from mailhub.search.text import query_tokens, single_paired, token_texts

RESOURCE_KINDS = ("legislation", "policy", "case-study", "research", "training", "other")
FILTERS = (
    "theme",
    "country",
    "affiliation",
    "kind",
    "community",
    "in",
    "from",
    "before",
    "after",
)
_PIECE = re.compile(
    r'(?P<neg>-)?(?:(?P<name>[a-z]+):(?:"(?P<qvalue>[^"]*)"?|(?P<value>\S*))'
    r'|"(?P<phrase>[^"]*)"?|(?P<word>\S+))',
    re.IGNORECASE,
)


class QueryError(InvalidInput):
    """A query that cannot be read; the message says what to change."""


@dataclass(frozen=True)
class Term:
    """A word or phrase as index tokens, in order; ``prefix``: its last token is a prefix."""

    tokens: tuple[str, ...]
    prefix: bool = False


@dataclass
class Clause:
    """Terms that must all be there, and terms that must not."""

    must: list[Term] = field(default_factory=list)
    must_not: list[Term] = field(default_factory=list)


@dataclass
class Query:
    """One read query: clauses joined by OR, and filters for all of them."""

    clauses: list[Clause] = field(default_factory=list)
    tag_groups: list[list[str]] = field(default_factory=list)  # each group: one must match
    communities: list[list[str]] = field(default_factory=list)  # each: one slug must match
    before: datetime | None = None
    after: datetime | None = None

    @property
    def terms(self) -> list[Term]:
        """Every positive term, for highlighting."""
        return [term for clause in self.clauses for term in clause.must]

    @property
    def empty(self) -> bool:
        return not self.clauses and not self.tag_groups and not self.communities


def _term(text: str, allow_prefix: bool = True) -> Term | None:
    prefix = allow_prefix and text.endswith("*") and len(text) > 1
    found = query_tokens(text.rstrip("*") if prefix else text)
    if not found:
        return None
    # A lone character of a script indexed in pairs is the start of a pair, or a run's end.
    lone = len(found) == 1 and single_paired(found[0])
    return Term(tuple(found), prefix=prefix or lone)


def _date(name: str, value: str) -> datetime:
    for pattern in ("%Y-%m-%d", "%Y-%m", "%Y"):
        try:
            return datetime.strptime(value, pattern).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise QueryError(f"{name}:{value}: write a date as 2027, 2027-03 or 2027-03-15")


def _choices(name: str, value: str, allowed: tuple[str, ...]) -> list[str]:
    wanted = [v for v in value.lower().split(",") if v]
    wrong = [v for v in wanted if v not in allowed]
    if wrong or not wanted:
        raise QueryError(f"{name}:{value}: choose from {', '.join(allowed)}")
    return wanted


def _filter(query: Query, name: str, value: str, *, addresses: bool) -> None:
    if not value:
        raise QueryError(f"{name}: needs a value, e.g. {name}:{_EXAMPLES[name]}")
    if name in ("before", "after"):
        when, earlier = _date(name, value), getattr(query, name)
        if earlier is not None:  # both must hold: the narrower bound
            when = min(when, earlier) if name == "before" else max(when, earlier)
        setattr(query, name, when)
    elif name == "community":
        slugs = [v for v in value.lower().split(",") if v]
        if not slugs:
            raise QueryError(f"community:{value}: name a community, e.g. community:irnet")
        query.communities.append(slugs)
    elif name == "in":
        query.tag_groups.append([tag("i", v) for v in _choices(name, value, KINDS)])
    elif name == "kind":
        query.tag_groups.append([tag("k", v) for v in _choices(name, value, RESOURCE_KINDS)])
    elif name == "affiliation":
        query.tag_groups.append([tag("a", v) for v in _choices(name, value, AFFILIATIONS)])
    elif name == "country":
        codes = [v for v in value.split(",") if v]
        wrong = [c for c in codes if not is_country(c)]
        if wrong or not codes:
            raise QueryError(f"country:{value}: write a two-letter ISO code, e.g. country:TH")
        query.tag_groups.append([tag("n", c) for c in codes])
    elif name == "theme":
        query.tag_groups.append([tag("t", v) for v in value.split(",") if v])
    elif "@" in value:
        if not addresses:
            raise QueryError("from: takes a name here, not an address")
        query.tag_groups.append([email_tag(value)])
    else:
        query.tag_groups += [["f" + token] for token in token_texts(value)]


_EXAMPLES = {
    "theme": "skills",
    "country": "TH",
    "affiliation": "workers",
    "kind": "policy",
    "community": "irnet",
    "in": "synopsis",
    "from": "Somchai",
    "before": "2027-03",
    "after": "2027-01-15",
}


def parse(text: str, *, addresses: bool = False) -> Query:
    """Read a query; ``addresses``: from: may name an address (admins only)."""
    query = Query()
    clause = Clause()
    for match in _PIECE.finditer(text):
        negative = bool(match.group("neg"))
        name = (match.group("name") or "").lower()
        if name in FILTERS:
            if negative:
                raise QueryError(f"-{name}: filters cannot be negated; leave it out instead")
            value = match.group("qvalue") if match.group("qvalue") is not None else ""
            _filter(query, name, value or match.group("value") or "", addresses=addresses)
            continue
        if match.group("word") == "OR" and not negative:
            query.clauses.append(clause)
            clause = Clause()
            continue
        if match.group("phrase") is not None:
            term = _term(match.group("phrase"), allow_prefix=False)
        else:
            term = _term(match.group(0)[1:] if negative else match.group(0))
        if term is not None:
            (clause.must_not if negative else clause.must).append(term)
    query.clauses.append(clause)
    query.clauses = [c for c in query.clauses if c.must or c.must_not]
    if len(query.clauses) > 1 and any(not c.must for c in query.clauses):
        raise QueryError("each side of OR needs a word to look for, not only -words")
    return query
