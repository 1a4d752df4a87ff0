"""The campaign page's chart: per hour while a campaign goes out, per day when it runs longer."""

from __future__ import annotations

import datetime as dt
import re

from flask import Flask

from plugin.campaigns.results import Recipient
from plugin.models import Notification
from plugin.web.app.campaign_report import activity_chart

BERLIN_TEN = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)  # 10:00 in Berlin


def sent(*moments: dt.datetime, read: dt.datetime | None = None) -> list[Recipient]:
    return [
        Recipient(
            row=Notification(state="sent", sent_at=moment, read_at=read),
            replied=False,
            opted_out=False,
            orders=0,
            revenue_minor=0,
            revenue_currency=None,
        )
        for moment in moments
    ]


def polyline(chart: str, index: int) -> list[str]:
    return re.findall(r'points="([^"]*)"', chart)[index].split()


def test_a_campaign_sent_within_hours_is_counted_per_hour_in_the_shops_time(app: Flask) -> None:
    minutes = (5, 40, 130)  # 10:05, 10:40 and 12:10 in Berlin
    everyone = sent(*(BERLIN_TEN + dt.timedelta(minutes=m) for m in minutes))

    with app.test_request_context(headers={"Accept-Language": "de"}):
        chart = str(activity_chart(everyone, "Europe/Berlin"))

    assert "<title" in chart and "Nachrichten pro Stunde" in chart
    texts = re.findall(r"<text[^>]*>([^<]+)</text>", chart)
    assert [text for text in texts if ":" in text] == ["10:00", "11:00", "12:00"]  # the hours
    heights = [float(point.split(",")[1]) for point in polyline(chart, 0)]
    assert heights[0] < heights[2] < heights[1]  # two, then none, then one


def test_a_campaign_running_for_days_is_counted_per_day(app: Flask) -> None:
    everyone = sent(BERLIN_TEN, BERLIN_TEN + dt.timedelta(days=4))

    with app.test_request_context(headers={"Accept-Language": "en"}):
        chart = str(activity_chart(everyone, "Europe/Berlin"))

    assert "Messages per day" in chart
    assert len(polyline(chart, 0)) == 5


def test_no_chart_before_anything_is_sent(app: Flask) -> None:
    waiting = [
        Recipient(Notification(state="pending"), False, False, 0, 0, None),
    ]

    with app.test_request_context():
        assert activity_chart(waiting, "Europe/Berlin") is None
