"""Geometry for the dashboard's SVG charts, drawn on the server so they need no script.

The numbers here end up in SVG attributes, so the chart templates print them under
`{% localize off %}`: a decimal comma would break the drawing.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from metrics.scoring import is_small_sample

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 44, 28, 12, 28


@dataclass(frozen=True)
class Tick:
    y: float
    label: str


@dataclass(frozen=True)
class Dot:
    x: float
    y: float
    label: str
    value: float
    n: int | None = None  # how many answers the value comes from, when known
    few: bool = False  # too few answers to trust: drawn hollow


@dataclass(frozen=True)
class LineChart:
    width: int
    height: int
    lines: list[str]  # SVG polyline points, one per unbroken run of values
    dots: list[Dot]
    ticks: list[Tick]
    labels: list[Dot]  # x-axis labels, thinned out to stay readable
    baseline: float  # y of the zero line, or of the bottom

    @property
    def has_few(self) -> bool:
        return any(dot.few for dot in self.dots)


def line_chart(
    points: Sequence[tuple[str, float | None]],
    low: float,
    high: float,
    step: float,
    *,
    counts: Sequence[int] | None = None,
) -> LineChart:
    """A line over `points` (label, value or None for a gap) on a fixed scale low..high.

    `counts`, one per point, are the answers behind each value: points with a small
    sample are marked `few`.
    """
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    spacing = plot_w / max(len(points) - 1, 1)

    def y_of(value: float) -> float:
        return round(TOP + plot_h * (high - value) / (high - low), 1)

    dots: list[Dot] = []
    lines: list[str] = []
    run: list[str] = []
    for index, (label, value) in enumerate(points):
        x = round(LEFT + index * spacing, 1)
        if value is None:
            if run:
                lines.append(" ".join(run))
            run = []
            continue
        n = None if counts is None else counts[index]
        few = n is not None and is_small_sample(n)
        dots.append(Dot(x, y_of(value), label, value, n, few))
        run.append(f"{x},{y_of(value)}")
    if run:
        lines.append(" ".join(run))
    ticks: list[Tick] = []
    value = low
    while value <= high:
        ticks.append(Tick(y_of(value), f"{value:g}"))
        value += step
    every = max(1, round(len(points) / 8))
    labels = [
        Dot(round(LEFT + i * spacing, 1), HEIGHT - 8, label, 0.0)
        for i, (label, _) in enumerate(points)
        if i % every == 0
    ]
    return LineChart(WIDTH, HEIGHT, lines, dots, ticks, labels, y_of(max(low, min(0, high))))


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    count: int
    tone: str  # "good", "neutral" or "bad": the colour


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]


def bar_chart(bars: Sequence[tuple[str, int, str]]) -> BarChart:
    """Vertical bars (label, count, tone) scaled to the largest count."""
    plot_w, plot_h = WIDTH - 2 * RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(bars), 1)
    top = max((count for _, count, _ in bars), default=0) or 1
    drawn = []
    for index, (label, count, tone) in enumerate(bars):
        height = round(plot_h * count / top, 1)
        drawn.append(
            Bar(
                x=round(RIGHT + index * slot + slot * 0.15, 1),
                y=round(TOP + plot_h - height, 1),
                width=round(slot * 0.7, 1),
                height=height,
                label=label,
                count=count,
                tone=tone,
            )
        )
    return BarChart(WIDTH, HEIGHT, drawn)
