"""Horizontal bar charts drawn on the server as SVG (no script, no inline style: strict CSP).

A chart carries its own words (title, description) and its figures, so the template can
render the picture, its accessible name and a table of the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

WIDTH = 360
LABEL_WIDTH = 110
VALUE_ROOM = 56
BAR_HEIGHT = 20
BAR_GAP = 6


@dataclass(frozen=True)
class Bar:
    """One row of the chart, in SVG user units."""

    label: str
    short: str  # what fits beside the bar; the description and the table carry `label`
    value: int
    shown: str
    y: int
    width: int
    href: str | None = None


@dataclass(frozen=True)
class BarChart:
    key: str
    title: str
    description: str
    column: str
    bars: list[Bar] = field(default_factory=list)
    empty: str = "Nothing yet."

    @property
    def height(self) -> int:
        return max(len(self.bars), 1) * (BAR_HEIGHT + BAR_GAP)

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def label_width(self) -> int:
        return LABEL_WIDTH

    @property
    def bar_height(self) -> int:
        return BAR_HEIGHT

    @property
    def has_data(self) -> bool:
        return any(bar.value for bar in self.bars)


def bar_chart(
    key: str,
    *,
    title: str,
    description: str,
    column: str,
    rows: list[tuple[str, int]],
    hrefs: dict[str, str] | None = None,
    empty: str = "Nothing yet.",
) -> BarChart:
    """Scale `rows` (label, whole-number value) to the chart's width; the longest bar is the
    largest value, a non-zero value is never drawn thinner than 2 units."""
    top = max([value for _, value in rows] + [1])
    room = WIDTH - LABEL_WIDTH - VALUE_ROOM
    bars = [
        Bar(
            label=label,
            short=label if len(label) <= 18 else label[:17] + "…",
            value=value,
            shown=f"{value:,}",
            y=index * (BAR_HEIGHT + BAR_GAP),
            width=max(2, round(value / top * room)) if value else 0,
            href=(hrefs or {}).get(label),
        )
        for index, (label, value) in enumerate(rows)
    ]
    return BarChart(key, title, description, column, bars, empty)
