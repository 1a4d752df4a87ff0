"""The recommender's rules on arbitrary histories: what may never be picked, the order of picks,
determinism, and the long tail of catalogues larger than the ridge model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from plugin.engine.localtime import region_of
from plugin.engine.recommend import fitting, picking
from plugin.engine.recommend.history import History

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)
DAY = 86_400


def make_history(orders: list[tuple[int, int, list[int]]], items: int) -> History:
    """orders: (customer id or -1, days before NOW, item indices)."""
    rows = [n for n, (_, _, basket) in enumerate(orders) for _ in basket]
    cols = [item for _, _, basket in orders for item in basket]
    return History(
        items=np.arange(100, 100 + items, dtype=np.int64),
        titles=[f"Item {n}" for n in range(items)],
        item_categories=sp.csr_matrix((items, 0), dtype=np.float32),
        categories=[],
        order_ids=np.arange(1, len(orders) + 1, dtype=np.int64),
        order_customer=np.array([c for c, _, _ in orders], dtype=np.int64),
        order_time=np.array([NOW.timestamp() - d * DAY for _, d, _ in orders], dtype=np.int64),
        order_items=sp.csr_matrix(
            (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(orders), items)
        ),
    )


ITEMS = 12
baskets = st.lists(st.integers(0, ITEMS - 1), min_size=1, max_size=4, unique=True)
histories = st.lists(
    st.tuples(st.integers(-1, 7), st.integers(0, 150), baskets), min_size=1, max_size=40
)


@settings(max_examples=150, deadline=None)
@given(
    orders=histories,
    available=st.lists(st.booleans(), min_size=ITEMS, max_size=ITEMS),
    consumable=st.lists(st.booleans(), min_size=ITEMS, max_size=ITEMS),
    count=st.integers(1, 5),
    dense_items=st.sampled_from([ITEMS, 4, 0]),
)
def test_picks_never_break_the_rules_and_are_deterministic(
    orders: list[tuple[int, int, list[int]]],
    available: list[bool],
    consumable: list[bool],
    count: int,
    dense_items: int,
) -> None:
    history = make_history(orders, ITEMS)
    customers = sorted({c for c, _, _ in orders if c >= 0})
    free, repeat = np.array(available), np.array(consumable)
    model = fitting.fit(history, dense_limit=dense_items)
    picks = picking.recommend_for_customers(model, customers, NOW, free, repeat, count)
    again = picking.recommend_for_customers(
        fitting.fit(history, dense_limit=dense_items), customers, NOW, free, repeat, count
    )
    assert picks == again
    assert sorted(picks) == customers
    for customer, chosen in picks.items():
        mine = sorted((d, -n) for n, (c, d, _) in enumerate(orders) if c == customer)
        last = set(orders[-mine[0][1]][2])  # the most recent order (the later one on a tie)
        earlier = {i for c, _, basket in orders if c == customer for i in basket}
        items = [p.product_id - 100 for p in chosen]
        assert len(items) <= count and len(set(items)) == len(items)
        for item in items:
            assert free[item], "an unavailable item was picked"
            assert item not in last, "an item of the last order was picked"
            assert item not in earlier or repeat[item], "a bought item was picked again"
        scores = [(-p.score, p.product_id) for p in chosen]
        assert scores == sorted(scores), "picks are not best first, ties to the lower id"
        assert all(p.score > 0 and p.reason for p in chosen)


def test_items_outside_the_ridge_model_are_still_recommended_from_co_purchases() -> None:
    # given a shop whose ridge model holds only its two bestsellers (items 0 and 1)
    orders = [(10 + n, 60, [0, 1]) for n in range(6)]
    orders += [(20 + n, 50, [2, 3]) for n in range(3)]  # the long tail: 2 goes with 3
    orders += [(30, 5, [2])]
    model = fitting.fit(make_history(orders, 5), dense_limit=2)
    assert sorted(model.dense_items.tolist()) == [0, 1]
    # when the buyer of item 2 gets picks
    (pick, *_) = picking.recommend_for_customers(
        model, [30], NOW, np.ones(5, bool), np.zeros(5, bool), 3
    )[30]
    # then item 3, bought with it, comes first, with its evidence
    assert (pick.product_id, pick.reason) == (103, "bought together with Item 2 in 3 orders")


def test_what_sells_now_ranks_first_among_equally_fitting_items() -> None:
    # given two items bought with the grinder (0) equally often, long ago
    orders = [(10 + n, 120, [0, 1]) for n in range(3)] + [(20 + n, 120, [0, 2]) for n in range(3)]
    # and item 2 selling again this month, item 1 not
    orders += [(30 + n, 3, [2]) for n in range(4)]
    orders += [(40, 10, [0])]
    model = fitting.fit(make_history(orders, 3))
    picks = picking.recommend_for_customers(
        model, [40], NOW, np.ones(3, bool), np.zeros(3, bool), 3
    )[40]
    assert [p.product_id for p in picks] == [102, 101]


def test_no_buyers_get_no_picks() -> None:
    model = fitting.fit(make_history([(1, 3, [0, 1])], 2))
    assert (
        picking.recommend_for_customers(model, [], NOW, np.ones(2, bool), np.zeros(2, bool)) == {}
    )


def test_number_regions_are_cached_per_prefix_not_shared_across_countries() -> None:
    assert [region_of(n) for n in ("+4915112345678", "+12125550123", "+4915112345679")] == [
        "DE",
        "US",
        "DE",
    ]
