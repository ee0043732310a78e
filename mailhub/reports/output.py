"""A report as people and programs read it: tables at a terminal (tab-separated when
piped), JSON, or CSV with one block per section."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import timedelta

from mailhub.reports.sections import Report, Section


def as_csv(reports: Sequence[Report]) -> str:
    """One block per section, each with its header row, blocks apart by a blank line; the
    first two columns name the community and the section, so blocks can be told apart."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    first = True
    for report in reports:
        for section in report.sections:
            if not first:
                buffer.write("\n")
            first = False
            writer.writerow(("community", "section", *section.columns))
            for row in section.rows:
                cells = ("" if cell is None else cell for cell in row)
                writer.writerow((report.community, section.name, *cells))
    return buffer.getvalue()


def heading(report: Report) -> str:
    """The period with both days included, as it was asked for."""
    last = (report.period.until - timedelta(days=1)).date()
    return (
        f"{report.name} ({report.community}): {report.kind}, {report.period.since.date()} to {last}"
    )


def text_table(section: Section) -> str:
    """A section as aligned plain text, numbers to the right, for the mail's text part."""
    cells = [list(section.columns)] + [
        ["–" if cell is None else str(cell) for cell in row] for row in section.rows
    ]
    widths = [max(len(row[i]) for row in cells) for i in range(len(section.columns))]

    def line(row: list[str], numbers: bool) -> str:
        return "  ".join(
            cell.rjust(w) if numbers and i else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ).rstrip()

    return "\n".join([line(cells[0], False), *(line(row, True) for row in cells[1:])])
