"""Recommendations: what fits the last purchase, what is never picked, the flow that sends it."""

from __future__ import annotations

import datetime as dt
import gc

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from plugin.engine.jobs import model_cache
from plugin.engine.outbox import cycle_collector_paused
from plugin.engine.recommend import fitting, picking
from plugin.engine.recommend.history import available_items, in_categories
from plugin.models import Product, Store
from tests.engine.conftest import at, notifications, ready_shop, tick
from tests.factories import make_customer, make_order, make_product, make_store

NOW = dt.datetime(2026, 3, 1, 9, 0, tzinfo=dt.UTC)


def catalogue(session: Session, store: Store) -> dict[str, Product]:
    names = ["grinder", "beans", "filter", "mug", "kettle", "tea"]
    return {
        name: make_product(
            session, store, title=name.title(), categories=["Tea" if name == "tea" else "Coffee"]
        )
        for name in names
    }


def history(session: Session, store: Store, items: dict[str, Product]) -> None:
    """Five buyers bought grinder with beans, two also a filter; the mug sells on its own."""
    day = NOW - dt.timedelta(days=40)
    for n in range(5):
        buyer = make_customer(session, store)
        basket = [items["grinder"], items["beans"]] + ([items["filter"]] if n < 2 else [])
        make_order(session, store, buyer, basket, placed_at=day + dt.timedelta(hours=n))
    for n in range(8):
        make_order(
            session,
            store,
            make_customer(session, store),
            [items["mug"]],
            placed_at=NOW - dt.timedelta(days=n + 1),
        )


def picks_for(
    session: Session, store: Store, customer_id: int, count: int = 3
) -> list[picking.Pick]:
    model = fitting.ModelCache().model_for(session, store, NOW)
    available = available_items(session, store, model.history)
    consumable = in_categories(model.history, store.setting("consumable_categories"))
    return picking.recommend_for_customers(model, [customer_id], NOW, available, consumable, count)[
        customer_id
    ]


def test_recommends_what_others_bought_with_the_last_purchase_and_says_why(
    session: Session,
) -> None:
    # given a buyer whose last order was a grinder
    store = make_store(session)
    items = catalogue(session, store)
    history(session, store, items)
    buyer = make_customer(session, store)
    make_order(session, store, buyer, [items["grinder"]], placed_at=NOW - dt.timedelta(days=14))
    # when recommending
    picks = picks_for(session, store, buyer.id)
    # then beans come first, with the evidence, then the filter; the grinder never
    assert [p.product_id for p in picks[:2]] == [items["beans"].id, items["filter"].id]
    assert picks[0].reason == "bought together with Grinder in 5 orders"
    assert items["grinder"].id not in [p.product_id for p in picks]


def test_never_recommends_bought_out_of_stock_unpublished_deleted_or_excluded(
    session: Session,
) -> None:
    store = make_store(session, settings={"excluded_categories": ["Tea"]})
    items = catalogue(session, store)
    history(session, store, items)
    buyer = make_customer(session, store)
    make_order(session, store, buyer, [items["beans"]], placed_at=NOW - dt.timedelta(days=30))
    make_order(session, store, buyer, [items["grinder"]], placed_at=NOW - dt.timedelta(days=14))
    # given the filter out of stock and the mug unpublished, the kettle deleted
    items["filter"].variants[0].in_stock = False
    items["mug"].published = False
    items["kettle"].deleted_at = NOW
    session.flush()
    # then nothing is left to recommend: beans were bought, tea is excluded
    assert picks_for(session, store, buyer.id) == []


def test_consumables_may_be_recommended_again(session: Session) -> None:
    store = make_store(session, settings={"consumable_categories": ["coffee"]})
    items = catalogue(session, store)
    history(session, store, items)
    buyer = make_customer(session, store)
    make_order(session, store, buyer, [items["beans"]], placed_at=NOW - dt.timedelta(days=30))
    make_order(session, store, buyer, [items["grinder"]], placed_at=NOW - dt.timedelta(days=14))
    assert picks_for(session, store, buyer.id)[0].product_id == items["beans"].id


def test_model_is_cached_until_the_shop_orders_change_and_is_deterministic(
    session: Session,
) -> None:
    store = make_store(session)
    items = catalogue(session, store)
    history(session, store, items)
    models = fitting.ModelCache()
    first = models.model_for(session, store, NOW)
    assert models.model_for(session, store, NOW) is first
    make_order(
        session,
        store,
        make_customer(session, store),
        [items["tea"]],
        placed_at=NOW - dt.timedelta(days=1),
    )
    second = models.model_for(session, store, NOW)
    assert second is not first
    again = fitting.fit(second.history)
    assert (again.tail != second.tail).nnz == 0
    assert np.array_equal(again.ridge, second.ridge)
    assert np.array_equal(second.history.items, again.history.items)


def test_model_cache_keeps_the_last_shops_up_to_its_capacity(session: Session) -> None:
    # given a cache for one shop and two shops with orders
    first_shop, second_shop = make_store(session), make_store(session)
    for store in (first_shop, second_shop):
        history(session, store, catalogue(session, store))
    models = fitting.ModelCache(capacity=1)
    first = models.model_for(session, first_shop, NOW)
    # when the second shop's model is asked for
    second = models.model_for(session, second_shop, NOW)
    # then it is kept, and the first shop's was let go (fitted again, unchanged orders or not)
    assert models.model_for(session, second_shop, NOW) is second
    assert models.model_for(session, first_shop, NOW) is not first


def test_each_app_owns_its_own_model_cache(app: Flask) -> None:
    assert model_cache(app) is model_cache(app)
    assert model_cache(Flask("another")) is not model_cache(app)


def test_recommendation_flow_sends_one_per_buyer_per_period_at_the_local_hour(
    session: Session, runner: FlaskCliRunner
) -> None:
    # given a buyer who ordered a grinder 14 days ago, in a shop where others bought beans with it
    shop = ready_shop(session)
    items = catalogue(session, shop.store)
    history(session, shop.store, items)
    make_order(
        session, shop.store, shop.customer, [items["grinder"]], placed_at=at("2026-02-15T08:00:00Z")
    )
    session.commit()
    # when the clock ticks at 09:00 and at 10:00 Berlin time, and again the next days
    tick(runner, "2026-03-01T08:00:00Z")
    assert notifications(session, shop.store) == []
    for when in ("2026-03-01T09:00:00Z", "2026-03-01T09:30:00Z", "2026-03-02T09:00:00Z"):
        tick(runner, when)
    # then one message went, with the beans' image, the shop and the beans' name in the
    # template's order ({{1}} buyer, {{2}} shop, {{3}} product) and a tracked link
    (message,) = notifications(session, shop.store)
    assert (message.state, message.flow, message.sent_at.isoformat()) == (
        "sent",
        "recommendation",
        "2026-03-01T09:00:00+00:00",
    )
    assert message.parameters["header"] == [
        {"type": "image", "image": {"link": items["beans"].image_url}}
    ]
    body = [p["text"] for p in message.parameters["body"]]
    assert body == ["Erika", shop.store.name, "Beans"]
    assert message.context["link_url"] == items["beans"].url
    assert message.context["picks"][0]["reason"] == "bought together with Grinder in 5 orders"


def test_composing_pauses_the_cycle_collector_and_leaves_it_as_it_found_it() -> None:
    # given the collector running
    assert gc.isenabled()
    # when composing pauses it and fails inside
    with pytest.raises(RuntimeError), cycle_collector_paused():
        assert not gc.isenabled()
        raise RuntimeError("composing failed")
    # then it runs again; and one paused by someone else before stays paused afterwards
    assert gc.isenabled()
    gc.disable()
    try:
        with cycle_collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()
