"""Small server-rendered SVG charts: the trend at a glance, no script, no build step.

Each chart has a title and a description for screen readers, and the same numbers are always
shown in a table beside it, so the chart is never the only way to read them. Dates and numbers
are written the way the page's locale writes them (Babel), so an English page never shows `02.09.`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from babel.dates import format_skeleton
from babel.numbers import format_decimal
from markupsafe import Markup, escape

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 36
#: Colour-blind-safe palette (Okabe-Ito), with enough contrast on white.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
#: Each later line is dashed differently, so a line drawn over an equal one leaves it visible
#: (opt-ins and their confirmations are often the same numbers).
DASHES = ("", "9 5", "3 4", "12 4 3 4", "1 3")
#: Axis labels in SVG units; the page keeps the chart at least 36rem wide (app.css), so they
#: stay readable on a phone instead of shrinking to 5 px with the picture.
FONT_SIZE = 12


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float]


def nice_ceiling(value: float) -> float:
    """A round upper bound for the axis (1, 2, 2.5, 5 x 10^n)."""
    if value <= 0:
        return 1.0
    magnitude = 10 ** (len(str(int(value))) - 1)
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def whole_steps(value: float, most: int = 5) -> tuple[int, int]:
    """(top, step) for counts: a step of 1, 2 or 5 x 10^n and at most `most` of them, so every
    tick is a whole number (never 2.5 or 7.5)."""
    magnitude = 1
    while True:
        for step in (magnitude, 2 * magnitude, 5 * magnitude):
            count = max(1, -(-int(value) // step))  # ceiling division
            if count <= most:
                return count * step, step
        magnitude *= 10


def format_count(value: float, locale: str = "en") -> str:
    """Whole numbers without decimals; axis steps such as 2.5 with one."""
    return format_decimal(value, "#,##0" if value == int(value) else "#,##0.0", locale=locale)


def line_chart(
    title: str,
    labels: Sequence[dt.date],
    series: Sequence[Series],
    format_value: Callable[[float], str] | None = None,
    locale: str = "en",
    last_week: str = "%(series)s: %(value)s in the last week",
    skeleton: str = "MMMd",
) -> Markup:
    """Lines over weeks with a light grid, the y-axis in round steps and a legend.

    `last_week` is the screen-reader summary per series, already in the page's language;
    `skeleton` the Babel date skeleton of the x labels ("Hm" for hours of datetimes).
    """
    highest = max((max(s.values, default=0) for s in series), default=0)
    if format_value is None:  # counts: whole-number ticks
        top, step = whole_steps(highest)
        ticks = [float(step * n) for n in range(top // step + 1)]
        format_value = lambda value: format_count(value, locale)  # noqa: E731
    else:
        top = nice_ceiling(highest)
        ticks = [top * n / 4 for n in range(5)]
    count = len(labels)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [_grid(ticks, y, format_value), _x_labels(labels, x, locale, skeleton)]
    for colour, dash, item in zip(PALETTE, DASHES, series, strict=False):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(item.values))
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2.5"'
            f'{dashed} points="{points}"/>'
        )
        if item.values:
            last = len(item.values) - 1
            parts.append(
                f'<circle cx="{x(last):.1f}" cy="{y(item.values[last]):.1f}" r="3.5" '
                f'fill="{colour}"/>'
            )
    description = "; ".join(
        last_week % {"series": s.name, "value": format_value(s.values[-1]) if s.values else "-"}
        for s in series
    )
    return _svg(title, description, "".join(parts), _legend(series))


def _grid(
    ticks: Sequence[float], y: Callable[[float], float], format_value: Callable[[float], str]
) -> str:
    lines = []
    for value in ticks:
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="{FONT_SIZE}" fill="#475467">{escape(format_value(value))}</text>'
        )
    return "".join(lines)


def _x_labels(
    labels: Sequence[dt.date], x: Callable[[int], float], locale: str, skeleton: str = "MMMd"
) -> str:
    every = max(1, len(labels) // 5)
    last = len(labels) - 1
    texts = []
    for i, label in enumerate(labels):
        if (i % every == 0 and last - i >= every / 2) or i == last:
            # the first and last label end at the plot's edges, never past the picture's
            anchor = "start" if i == 0 and last else "end" if i == last and last else "middle"
            texts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}" '
                f'font-size="{FONT_SIZE}" fill="#475467">'
                f"{escape(format_skeleton(skeleton, label, locale=locale))}</text>"
            )
    return "".join(texts)


def _legend(series: Sequence[Series]) -> str:
    items = "".join(
        f'<li><span class="swatch swatch-{i}"></span>{escape(s.name)}</li>'
        for i, s in enumerate(series[: len(PALETTE)])
    )
    return f'<ul class="legend">{items}</ul>'


def _svg(title: str, description: str, body: str, legend: str) -> Markup:
    key = abs(hash((title, description))) % 10**8
    return Markup(
        f'<figure class="chart"><div class="plot"><svg viewBox="0 0 {WIDTH} {HEIGHT}" '
        'role="img" '
        f'aria-labelledby="chart-{key}-t chart-{key}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{key}-t">{escape(title)}</title>'
        f'<desc id="chart-{key}-d">{escape(description)}</desc>{body}</svg></div>'
        f"<figcaption>{escape(title)}{legend}</figcaption></figure>"
    )
