"""Bar and line charts drawn on the server as SVG (no script, no inline style: strict CSP).

A chart carries its own words (title, description) and its figures, so the template can
render the picture, its accessible name and a table of the same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

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
    kind: ClassVar[str] = "bar"

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


LINE_HEIGHT = 160
AXIS_LEFT = 48
AXIS_BOTTOM = 20
AXIS_TOP = 8
AXIS_RIGHT = 8


@dataclass(frozen=True)
class Point:
    """One value of a series, placed in SVG user units."""

    label: str
    value: int
    shown: str
    x: float
    y: float


@dataclass(frozen=True)
class LineChart:
    """A series over time drawn as a line, or as steps when the value holds until it changes
    (stock on hand)."""

    kind: ClassVar[str] = "line"

    key: str
    title: str
    description: str
    column: str
    value_column: str
    points: list[Point] = field(default_factory=list)
    step: bool = False
    top: int = 0
    empty: str = "Nothing yet."

    @property
    def width(self) -> int:
        return WIDTH

    @property
    def height(self) -> int:
        return LINE_HEIGHT

    @property
    def plot_left(self) -> int:
        return AXIS_LEFT

    @property
    def plot_right(self) -> int:
        return WIDTH - AXIS_RIGHT

    @property
    def plot_top(self) -> int:
        return AXIS_TOP

    @property
    def baseline(self) -> int:
        return LINE_HEIGHT - AXIS_BOTTOM

    @property
    def top_shown(self) -> str:
        return f"{self.top:,}"

    @property
    def has_data(self) -> bool:
        return any(point.value for point in self.points)

    @property
    def path(self) -> str:
        """The SVG path: straight segments between points, or horizontal then vertical."""
        if not self.points:
            return ""
        first, *rest = self.points
        parts = [f"M{first.x:g} {first.y:g}"]
        for point in rest:
            if self.step:
                parts.append(f"H{point.x:g} V{point.y:g}")
            else:
                parts.append(f"L{point.x:g} {point.y:g}")
        return " ".join(parts)


def line_chart(
    key: str,
    *,
    title: str,
    description: str,
    column: str,
    value_column: str,
    rows: list[tuple[str, int]],
    step: bool = False,
    empty: str = "Nothing yet.",
) -> LineChart:
    """Place `rows` (label, whole-number value, oldest first) evenly from left to right and
    scale them from 0 (the baseline) to the largest value (the top of the plot)."""
    top = max([value for _, value in rows] + [1])
    span = WIDTH - AXIS_RIGHT - AXIS_LEFT
    room = LINE_HEIGHT - AXIS_BOTTOM - AXIS_TOP
    gaps = max(len(rows) - 1, 1)
    points = [
        Point(
            label=label,
            value=value,
            shown=f"{value:,}",
            x=round(AXIS_LEFT + index * span / gaps, 1),
            y=round(LINE_HEIGHT - AXIS_BOTTOM - max(value, 0) / top * room, 1),
        )
        for index, (label, value) in enumerate(rows)
    ]
    return LineChart(key, title, description, column, value_column, points, step, top, empty)
