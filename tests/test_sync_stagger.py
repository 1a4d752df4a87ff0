"""Each shop syncs in its own minute of the period, so 10,000 shops do not sync at once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from plugin.scheduler import own_minute, whose_turn

#: A full hour: its minute count since the epoch is a multiple of 15 and of 60.
HOUR = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)


def test_ten_thousand_shops_spread_over_every_minute_of_the_period() -> None:
    shops = list(range(1, 10_001))

    per_quarter = Counter(own_minute(shop, 15) for shop in shops)
    per_hour = Counter(own_minute(shop, 60) for shop in shops)

    assert sorted(per_quarter) == list(range(15))
    assert (min(per_quarter.values()), max(per_quarter.values())) == (620, 712)  # 667 even
    assert sorted(per_hour) == list(range(60))
    assert max(per_hour.values()) < 2 * 10_000 / 60


def test_a_period_of_minutes_gives_every_shop_exactly_one_turn() -> None:
    shops = list(range(1, 2_001))

    turns = [
        whose_turn(shops, HOUR + dt.timedelta(minutes=minute, seconds=59), 15)
        for minute in range(15)
    ]

    assert sorted(shop for turn in turns for shop in turn) == shops
    assert all(len(turn) < 2_000 / 15 * 1.3 for turn in turns)
    # the next quarter hour repeats the same order
    assert whose_turn(shops, HOUR + dt.timedelta(minutes=15), 15) == turns[0]
