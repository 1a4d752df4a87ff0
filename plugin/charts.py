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
    format_value = format_value or (lambda value: format_count(value, locale))
    count = len(labels)
    top = nice_ceiling(max((max(s.values, default=0) for s in series), default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(i: int) -> float:
        return LEFT + (plot_w * i / (count - 1) if count > 1 else plot_w / 2)

    def y(v: float) -> float:
        return TOP + plot_h * (1 - v / top)

    parts = [_grid(top, y, format_value), _x_labels(labels, x, locale, skeleton)]
    for colour, item in zip(PALETTE, series, strict=False):
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(item.values))
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2.5" '
            f'points="{points}"/>'
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


def _grid(top: float, y: Callable[[float], float], format_value: Callable[[float], str]) -> str:
    lines = []
    for step in range(5):
        value = top * step / 4
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(value):.1f}" y2="{y(value):.1f}" '
            f'stroke="#d0d5dd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end" '
            f'font-size="11" fill="#475467">{escape(format_value(value))}</text>'
        )
    return "".join(lines)


def _x_labels(
    labels: Sequence[dt.date], x: Callable[[int], float], locale: str, skeleton: str = "MMMd"
) -> str:
    every = max(1, len(labels) // 6)
    texts = []
    for i, label in enumerate(labels):
        if i % every == 0 or i == len(labels) - 1:
            texts.append(
                f'<text x="{x(i):.1f}" y="{HEIGHT - 12}" text-anchor="middle" font-size="11" '
                f'fill="#475467">{escape(format_skeleton(skeleton, label, locale=locale))}</text>'
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
        f'<figure class="chart"><svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-{key}-t chart-{key}-d" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="chart-{key}-t">{escape(title)}</title>'
        f'<desc id="chart-{key}-d">{escape(description)}</desc>{body}</svg>'
        f"<figcaption>{escape(title)}{legend}</figcaption></figure>"
    )
