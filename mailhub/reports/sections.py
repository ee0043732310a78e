"""A report as sections of rows: one shape that the command line prints as a table, JSON or
CSV, the moderators' page and the monthly mail render, and `masked` makes shareable ("< 3"
for every count fewer than 3 people make up). Shares are percentages with one decimal."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mailhub.reports.queries import NOT_A_MEMBER, UNKNOWN, Period
from mailhub.reports.targets import AFFILIATIONS

FEWEST_SHOWN = 3
FEW = "< 3"

Cell = str | int | float | None


@dataclass(frozen=True)
class Section:
    """One table of a report. ``guards`` names, for a column, the column counting the
    people behind it: a shareable report shows "< 3" where those are fewer than 3."""

    name: str
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[Cell, ...]]
    guards: dict[str, str] = field(default_factory=dict)

    def records(self) -> list[dict[str, Cell]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def masked(self) -> Section:
        where = {self.columns.index(c): self.columns.index(g) for c, g in self.guards.items()}

        def mask(row: tuple[Cell, ...]) -> tuple[Cell, ...]:
            def few(i: int) -> bool:
                people = row[where[i]] if i in where else None
                return isinstance(people, int) and 0 < people < FEWEST_SHOWN

            return tuple(FEW if few(i) else cell for i, cell in enumerate(row))

        return replace(self, rows=[mask(row) for row in self.rows])


@dataclass(frozen=True)
class Report:
    kind: str
    community: str
    name: str
    period: Period
    sections: list[Section]

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def masked(self) -> Report:
        return replace(self, sections=[s.masked() for s in self.sections])

    def as_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "community": self.community,
            "since": self.period.since.isoformat(),
            "until": self.period.until.isoformat(),
            **{s.name: s.records() for s in self.sections},
        }


def percent(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


ORDER = [*AFFILIATIONS, NOT_A_MEMBER, UNKNOWN]


def rank(affiliation: str) -> tuple[int, str]:
    """Affiliations in their usual order, then "not a member" and "not given"."""
    return (ORDER.index(affiliation) if affiliation in ORDER else len(ORDER), affiliation)


def ordered(keys: Iterable[str]) -> list[str]:
    return sorted(set(keys), key=rank)


def people(columns: Iterable[str]) -> dict[str, str]:
    return {c: c for c in columns}
