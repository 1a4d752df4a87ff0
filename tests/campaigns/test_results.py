"""A campaign's results: clicks, replies, revenue per unit spent and the holdout difference."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from fractions import Fraction

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, lifecycle
from plugin.campaigns.results import (
    campaign_results,
    mean_difference,
    recipients,
    returns_by_currency,
    revenue_per_spend,
)
from plugin.db import Database
from plugin.engine.attribution import attribute_order
from plugin.engine.dispatch import dispatch_due
from plugin.models import Campaign, Store, Subscription
from tests.campaigns.test_campaigns import NOW, rows, shop
from tests.factories import make_customer, make_order, make_product, make_subscription

#: Revenue per buyer in minor units: most buyers order nothing, a few order for up to 5,000 EUR.
AMOUNTS = st.lists(st.integers(0, 500_000), min_size=2, max_size=60)


@given(AMOUNTS, AMOUNTS)
def test_revenue_difference_is_the_difference_of_means_inside_its_interval(
    messaged: list[int], held: list[int]
) -> None:
    interval = mean_difference(messaged, held)

    assert interval is not None
    exact = Fraction(sum(messaged), len(messaged)) - Fraction(sum(held), len(held))
    assert math.isclose(interval.estimate, float(exact), rel_tol=1e-9, abs_tol=1e-6)
    assert interval.low <= interval.estimate <= interval.high
    assert math.isclose(
        interval.high - interval.estimate, interval.estimate - interval.low, abs_tol=1e-6
    )


@given(AMOUNTS, AMOUNTS, st.integers(2, 100))
def test_revenue_difference_scales_with_the_money_and_flips_with_the_groups(
    messaged: list[int], held: list[int], factor: int
) -> None:
    base = mean_difference(messaged, held)
    scaled = mean_difference([v * factor for v in messaged], [v * factor for v in held])
    flipped = mean_difference(held, messaged)

    assert base is not None and scaled is not None and flipped is not None
    for mine, theirs in ((scaled.low, base.low), (scaled.high, base.high)):
        assert math.isclose(mine, theirs * factor, rel_tol=1e-9, abs_tol=1e-4)
    assert math.isclose(flipped.low, -base.high, abs_tol=1e-6)
    assert math.isclose(flipped.high, -base.low, abs_tol=1e-6)


@given(st.integers(0, 10**6), st.integers(2, 50), st.integers(2, 50))
def test_groups_without_spread_have_no_width_and_a_lone_buyer_has_no_interval(
    amount: int, size_a: int, size_b: int
) -> None:
    flat = mean_difference([amount] * size_a, [0] * size_b)

    assert flat is not None
    assert flat.low == flat.estimate == flat.high == amount
    assert mean_difference([amount], [0] * size_b) is None
    assert mean_difference([amount] * size_a, []) is None


@given(st.integers(0, 10**9), st.integers(1, 10**10))
def test_revenue_per_unit_spent_is_the_exact_ratio_rounded_half_up_to_the_cent(
    revenue_minor: int, cost_micros: int
) -> None:
    ratio = revenue_per_spend(revenue_minor, cost_micros)

    exact = Fraction(revenue_minor * 10_000, cost_micros)  # minor units -> micros
    assert ratio is not None
    assert ratio == ratio.quantize(Decimal("0.01"))
    assert abs(Fraction(ratio) - exact) <= Fraction(1, 200)
    if abs(Fraction(ratio) - exact) == Fraction(1, 200):
        assert Fraction(ratio) > exact  # a half cent goes up


@given(st.integers(0, 10**9), st.integers(-(10**6), 0))
def test_nothing_spent_gives_no_revenue_per_unit_spent(revenue: int, cost: int) -> None:
    assert revenue_per_spend(revenue, cost) is None
    assert returns_by_currency({"EUR": revenue}, {"EUR": cost}) == {}


def test_revenue_per_unit_spent_is_left_out_where_revenue_is_in_another_currency() -> None:
    cost = {"EUR": 452_400, "USD": 100_000}

    assert returns_by_currency({"EUR": 12_000}, cost) == {"EUR": 265.25}
    assert returns_by_currency({"EUR": 12_000, "CHF": 5_000}, cost) == {}
    assert returns_by_currency({"USD": 41_495}, {"EUR": 226_200}) == {}
    assert returns_by_currency({}, cost) == {"EUR": 0.0, "USD": 0.0}


def run_campaign(
    app: Flask, database: Database, session: Session, holdout: float = 0
) -> tuple[Store, Campaign]:
    store = shop(session)
    campaign = drafts.create_campaign(
        session, store, name="Winter", template="winter_sale", holdout_percent=holdout
    )
    session.commit()
    lifecycle.start_campaign(session, app.config["SHOPNUDGE"], store, campaign, NOW, None)
    session.commit()
    dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))
    session.expire_all()
    return store, campaign


def test_clicks_replies_opt_outs_orders_and_revenue_per_euro_count_only_after_the_message(
    app: Flask, database: Database, session: Session
) -> None:
    # given four buyers who got the campaign, each delivered at 0.1131 EUR
    store, campaign = run_campaign(app, database, session)
    sent = rows(session, store)
    for row in sent:
        row.delivery_status, row.delivered_at = "delivered", NOW + dt.timedelta(minutes=2)
    clicker, replier, quitter, early = sent
    subscriptions = {s.id: s for s in session.query(Subscription)}

    # when one clicks and orders, one replies, one opts out, one wrote only before the message
    clicker.clicked_at = NOW + dt.timedelta(minutes=5)
    subscriptions[replier.subscription_id].last_inbound_at = NOW + dt.timedelta(hours=1)
    quitting = subscriptions[quitter.subscription_id]
    quitting.state, quitting.opted_out_at = "opted_out", NOW + dt.timedelta(hours=2)
    quitting.last_inbound_at = NOW + dt.timedelta(hours=2)
    subscriptions[early.subscription_id].last_inbound_at = NOW - dt.timedelta(days=1)
    buyer = make_customer(session, store, phone=clicker.phone)
    order = make_order(
        session, store, buyer, [make_product(session, store)], NOW + dt.timedelta(hours=3)
    )
    attribute_order(session, store, order, NOW + dt.timedelta(hours=4))
    session.commit()
    results = campaign_results(session, store, campaign)

    # then each counts once, and revenue per euro is the order over what the deliveries cost
    assert {k: results[k] for k in ("sent", "delivered", "clicked", "replied", "opted_out")} == {
        "sent": 4,
        "delivered": 4,
        "clicked": 1,
        "replied": 2,  # the reply and the STOP; the earlier message does not count
        "opted_out": 1,
    }
    assert results["orders"] == 1
    assert results["revenue_minor"] == {"EUR": order.total_minor}
    assert results["cost_micros"] == {"EUR": 4 * 113_100}
    assert results["revenue_per_cost"] == {
        "EUR": float(revenue_per_spend(order.total_minor, 4 * 113_100))  # type: ignore[arg-type]
    }
    by_phone = {r.row.phone: r for r in recipients(session, store, campaign)}
    assert (by_phone[clicker.phone].orders, by_phone[clicker.phone].revenue_minor) == (
        1,
        order.total_minor,
    )
    assert [by_phone[r.phone].replied for r in sent] == [False, True, True, False]


def test_holdout_difference_has_rate_and_revenue_per_buyer_with_intervals(
    app: Flask, database: Database, session: Session
) -> None:
    # given sixteen buyers, half of them held out, and one order in each group
    store = shop(session)
    for number in range(12):
        make_subscription(session, store, f"+49151222000{number:02d}")
    campaign = drafts.create_campaign(
        session, store, name="Half", template="winter_sale", holdout_percent=50
    )
    session.commit()
    lifecycle.start_campaign(session, app.config["SHOPNUDGE"], store, campaign, NOW, None)
    session.commit()
    dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))
    written = rows(session, store)
    messaged = [r for r in written if r.state == "sent"]
    held = [r for r in written if r.reason == "holdout"]
    product = make_product(session, store, price_minor=4_000)
    for row, at in ((messaged[0], 1), (messaged[1], 2), (held[0], 3)):
        make_order(
            session,
            store,
            make_customer(session, store, phone=row.phone),
            [product],
            NOW + dt.timedelta(hours=at),
        )
    session.commit()

    # when the results are read
    holdout = campaign_results(session, store, campaign)["holdout"]

    # then the rates, revenue per buyer and their differences come from those three orders
    a, b = len(messaged), len(held)
    assert holdout["messaged"]["ordered"] == 2 and holdout["held_out"]["ordered"] == 1
    assert holdout["messaged"]["buyers"] == a and holdout["held_out"]["buyers"] == b
    rate = holdout["difference"]["conversion_rate"]
    assert math.isclose(rate["estimate"], 2 / a - 1 / b)
    assert rate["low"] < rate["estimate"] < rate["high"]
    money = holdout["difference"]["revenue_per_buyer_minor"]["EUR"]
    assert math.isclose(money["estimate"], 8_000 / a - 4_000 / b)
    assert money["low"] < money["estimate"] < money["high"]
