"""A campaign's day-by-day chart and its per-recipient CSV, both from the same recipients list.

The CSV is for spreadsheets and scripts: machine codes and ISO times in UTC, money as decimals
in its currency, one line per outbox row (messaged, held out or not sent, and why). A cell that
a spreadsheet would run as a formula is prefixed with an apostrophe (OWASP's CSV injection
advice); a phone number such as +4915… is a number, so it stays as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections import Counter
from collections.abc import Iterator, Sequence
from decimal import Decimal
from zoneinfo import ZoneInfo

from markupsafe import Markup

from connectors.money import from_minor
from plugin.campaigns.results import Recipient
from plugin.charts import Series, line_chart
from plugin.i18n import current_language
from plugin.i18n import gettext as _
from plugin.models import NotificationState

COLUMNS = (
    "phone",
    "group",
    "state",
    "reason",
    "language",
    "due_at",
    "sent_at",
    "delivered_at",
    "read_at",
    "clicked_at",
    "replied",
    "opted_out",
    "cost",
    "cost_currency",
    "orders",
    "revenue",
    "revenue_currency",
)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
#: The chart covers at most this many days from the first send (a campaign's tail is flat).
CHART_DAYS = 31
#: Up to this long from the first to the last event, the chart counts per hour.
HOURLY_SPAN_HOURS = 48


def group_of(recipient: Recipient) -> str:
    """held_out (the control group), messaged, waiting (not yet sent) or not_sent (see reason)."""
    state = recipient.row.state
    if recipient.row.reason == "holdout":
        return "held_out"
    if state == NotificationState.SENT:
        return "messaged"
    return (
        "waiting" if state in (NotificationState.PENDING, NotificationState.SENDING) else "not_sent"
    )


def _time(moment: dt.datetime | None) -> str:
    if moment is None:
        return ""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _safe(value: object) -> str:
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def csv_line(recipient: Recipient) -> list[str]:
    row = recipient.row
    cost = Decimal(row.cost_micros or 0) / 1_000_000 if row.cost_micros is not None else None
    revenue = (
        from_minor(recipient.revenue_minor, recipient.revenue_currency)
        if recipient.orders
        else None
    )
    values: list[object] = [
        row.phone,
        group_of(recipient),
        row.state,
        row.reason,
        row.language,
        _time(row.due_at),
        _time(row.sent_at),
        _time(row.delivered_at),
        _time(row.read_at),
        _time(row.clicked_at),
        "yes" if recipient.replied else "no",
        "yes" if recipient.opted_out else "no",
        f"{cost:f}" if cost is not None else "",
        row.cost_currency if cost is not None else "",
        recipient.orders,
        f"{revenue:.2f}" if revenue is not None else "",
        recipient.revenue_currency or "",
    ]
    return [_safe(v) for v in values]


def csv_chunks(lines: Sequence[list[str]]) -> Iterator[str]:
    """The CSV in chunks of about 64 KB from lines already read (csv_line of each recipient).

    The lines are read before the answer starts, inside the request: a generator that read
    rows later would need the request's context kept open while the client downloads.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for line in lines:
        writer.writerow(line)
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def activity_chart(everyone: Sequence[Recipient], timezone: str) -> Markup | None:
    """Sent, delivered, read and clicked over time in the shop's zone; None before any send.

    A campaign mostly goes out within a day or two, spread over hours: then the chart counts
    per hour, else per day (at most CHART_DAYS of them from the first send).
    """
    zone = ZoneInfo(timezone)
    columns = {
        _("Sent"): "sent_at",
        _("Delivered"): "delivered_at",
        _("Read"): "read_at",
        _("Clicked"): "clicked_at",
    }
    moments: dict[str, list[dt.datetime]] = {name: [] for name in columns}
    for recipient in everyone:
        for name, column in columns.items():
            moment = getattr(recipient.row, column)
            if moment is not None:
                moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
                # naive local time: Babel shows a naive label as it is
                moments[name].append(moment.astimezone(zone).replace(tzinfo=None))
    seen = sorted(m for found in moments.values() for m in found)
    if not seen:
        return None
    hourly = seen[-1] - seen[0] <= dt.timedelta(hours=HOURLY_SPAN_HOURS)
    step = dt.timedelta(hours=1) if hourly else dt.timedelta(days=1)
    first = seen[0].replace(minute=0, second=0, microsecond=0)
    if not hourly:
        first = first.replace(hour=0)
    buckets = int((seen[-1] - first) / step) + 1
    if not hourly:
        buckets = min(buckets, CHART_DAYS)
    labels = [first + step * n for n in range(buckets)]
    series = []
    for name in columns:
        counts: Counter[int] = Counter(int((m - first) / step) for m in moments[name])
        series.append(Series(name, [counts[n] for n in range(buckets)]))
    return line_chart(
        _("Messages per hour") if hourly else _("Messages per day"),
        labels,
        series,
        locale=current_language(),
        last_week=(
            _("%(series)s: %(value)s in the last hour")
            if hourly
            else _("%(series)s: %(value)s on the last day")
        ),
        skeleton=("EHm" if labels[0].date() != labels[-1].date() else "Hm") if hourly else "MMMd",
    )
