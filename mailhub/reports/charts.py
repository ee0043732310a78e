"""Charts of a report drawn on the server as SVG: no JavaScript, no image to fetch, readable
by screen readers (a title, and each bar labelled with its number), and scaled to the width
of a phone by its viewBox. Every chart sits beside the table it draws, which stays the
reference.

One shape serves every chart: groups of horizontal bars, one bar per series, each with its
number at its end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

from mailhub.reports.participation import LEVELS
from mailhub.reports.sections import Report

# Narrow enough that a phone shows the text at about 10 px, wide enough for a desktop.
WIDTH = 460
LABEL = 112  # room for the group labels on the left
BAR = 16
GAP = 10
LEGEND = 28
LEGEND_STEP = 112
# Colours that keep 4.5:1 contrast against white for the numbers written in them.
COLOURS = ("#1f5f99", "#a34a00", "#2e7d32", "#6a3d9a")


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]


def bars(title: str, labels: Sequence[str], series: Sequence[Series], unit: str = "") -> Markup:
    """Groups of horizontal bars (one group per label, one bar per series)."""
    top = max((v or 0 for s in series for v in s.values), default=0) or 1
    span = WIDTH - LABEL - 56
    group = len(series) * BAR + GAP
    height = LEGEND + len(labels) * group + GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" role="img" aria-labelledby="{_id(title)}" '
        f'style="max-width:{WIDTH * 3 // 2}px;font-family:sans-serif;font-size:14px">',
        f'<title id="{_id(title)}">{escape(title)}</title>',
    ]
    for i, item in enumerate(series):
        x = LABEL + i * LEGEND_STEP
        parts.append(
            f'<rect x="{x}" y="4" width="13" height="13" fill="{COLOURS[i % len(COLOURS)]}"/>'
            f'<text x="{x + 17}" y="16">{escape(item.name)}</text>'
        )
    for row, label in enumerate(labels):
        y0 = LEGEND + row * group
        parts.append(
            f'<text x="{LABEL - 6}" y="{y0 + len(series) * BAR / 2 + 4:.0f}" '
            f'text-anchor="end">{escape(label)}</text>'
        )
        for i, item in enumerate(series):
            value = item.values[row]
            width = 0.0 if value is None else span * value / top
            y = y0 + i * BAR
            shown = "–" if value is None else f"{value:g}{unit}"
            parts.append(
                f'<rect x="{LABEL}" y="{y}" width="{width:.1f}" height="{BAR - 2}" '
                f'fill="{COLOURS[i % len(COLOURS)]}"><title>{escape(label)}, '
                f"{escape(item.name)}: {shown}</title></rect>"
                f'<text x="{LABEL + width + 4:.1f}" y="{y + BAR - 4}">{shown}</text>'
            )
    parts.append("</svg>")
    return Markup("".join(parts))


def _id(title: str) -> str:
    return "chart-" + "".join(c if c.isalnum() else "-" for c in title.lower())[:40]


def _number(cell: object) -> float | None:
    return float(cell) if isinstance(cell, int | float) else None


def participation_charts(report: Report) -> dict[str, Markup]:
    """The participation report's charts, by the section each draws."""
    balance = report.section("balance").rows
    mix = {row[0]: row[4] for row in report.section("target_mix").rows}
    labels = [str(row[0]) for row in balance]
    shares = bars(
        "Share of members, of posts and of the target, by constituency",
        labels,
        [
            Series("members %", [_number(row[2]) for row in balance]),
            Series("posts %", [_number(row[7]) for row in balance]),
            Series("target %", [_number(mix.get(label)) for label in labels]),
        ],
        "%",
    )
    levels = report.section("levels_by_affiliation").rows
    level_chart = bars(
        "Core, active and peripheral members by constituency",
        [str(row[0]) for row in levels],
        [Series(level, [_number(row[i + 1]) for row in levels]) for i, level in enumerate(LEVELS)],
    )
    growth = report.section("growth").rows
    growth_chart = bars(
        "Members who joined and left, by month",
        [str(row[0]) for row in growth],
        [
            Series("joined", [_number(row[1]) for row in growth]),
            Series("left", [_number(row[2]) for row in growth]),
        ],
    )
    return {"balance": shares, "levels_by_affiliation": level_chart, "growth": growth_chart}
