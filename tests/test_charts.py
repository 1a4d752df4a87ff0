"""The dashboard's charts: whole-number ticks for counts, every line visible, labels that fit."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from plugin.charts import WIDTH, Series, line_chart, whole_steps

WEEKS = [dt.date(2026, 9, 5) + dt.timedelta(weeks=n) for n in range(13)]


@pytest.mark.parametrize(
    ("highest", "expected"),
    [(0, (1, 1)), (3, (3, 1)), (6, (6, 2)), (9, (10, 2)), (11, (15, 5)), (88, (100, 20))],
)
def test_count_axes_step_by_whole_numbers(highest: int, expected: tuple[int, int]) -> None:
    assert whole_steps(highest) == expected


def test_an_opt_in_chart_ticks_only_whole_numbers() -> None:
    svg = line_chart("Opt-ins per week", WEEKS, [Series("Opt-ins", [0, 3, 9, 2] + [1] * 9)])

    ticks = re.findall(r'text-anchor="end" font-size="12" fill="#475467">([^<]+)<', svg)

    assert ticks[:6] == ["0", "2", "4", "6", "8", "10"]
    assert not [tick for tick in ticks if "." in tick or "," in tick]


def test_equal_lines_are_drawn_differently_so_neither_hides_the_other() -> None:
    same = [4, 5, 6, 5, 4, 6, 7, 8, 6, 5, 4, 3, 5]
    svg = line_chart("Opt-ins per week", WEEKS, [Series("Opt-ins", same), Series("Conf", same)])

    lines = re.findall(r"<polyline [^>]*>", svg)

    assert len(lines) == 2
    assert "stroke-dasharray" not in lines[0]
    assert 'stroke-dasharray="9 5"' in lines[1]


def test_the_first_and_last_date_stay_inside_the_picture() -> None:
    svg = line_chart("Messages per week", WEEKS, [Series("Sent", [1] * 13)], locale="en")

    labels = re.findall(r'<text x="([\d.]+)" y="\d+" text-anchor="(\w+)"[^>]*>([^<]+)<', svg)

    assert labels[0] == ("56.0", "start", "Sep 5")
    assert labels[-1] == (f"{WIDTH - 16:.1f}", "end", "Nov 28")
    assert len(labels) <= 7


def test_a_money_chart_keeps_its_own_format() -> None:
    svg = line_chart(
        "Spend", WEEKS, [Series("Spend", [0.5] * 13)], format_value=lambda v: f"{v:.2f}"
    )

    assert ">1.00<" in svg and ">0.25<" in svg
