"""Each shop syncs in its own minute of the period, so 10,000 shops do not sync at once."""

from __future__ import annotations

import datetime as dt
from collections import Counter

from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.jobs import own_minute, whose_turn
from plugin.models import SyncState
from tests.factories import make_store

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


def test_a_period_of_minutes_gives_every_synced_shop_one_turn_and_a_new_shop_each_minute(
    database: Database, session: Session
) -> None:
    stores = [make_store(session) for _ in range(40)]
    new = stores.pop()  # connected a moment ago: its first sync has not started
    for store in stores:
        session.add(SyncState(store_id=store.id, resource="orders", status="idle"))
    session.commit()
    ids = [store.id for store in (*stores, new)]

    turns = [
        whose_turn(database, ids, HOUR + dt.timedelta(minutes=minute, seconds=59), 15)
        for minute in range(15)
    ]

    assert sorted(i for turn in turns for i in turn if i != new.id) == sorted(s.id for s in stores)
    assert all(new.id in turn for turn in turns)
    # the next quarter hour repeats the same order
    assert whose_turn(database, ids, HOUR + dt.timedelta(minutes=15), 15) == turns[0]
