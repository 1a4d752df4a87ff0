"""The demo shop: realistic, deterministic, seeded once."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from itertools import combinations

import phonenumbers
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.demo.catalog import COMPLEMENTS
from plugin.demo.shop import seed_demo
from plugin.engine.outbox import format_money
from plugin.models import (
    Cart,
    CartState,
    Customer,
    Order,
    OrderLine,
    Product,
    Subscription,
    SubscriptionState,
)

NOW = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model))


def fingerprint(session: Session) -> str:
    rows = session.execute(
        select(Order.platform_id, Order.placed_at, OrderLine.title, OrderLine.quantity)
        .join(OrderLine.order)
        .order_by(Order.platform_id, OrderLine.title)
    ).all()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def test_demo_seeds_a_realistic_shop(session: Session) -> None:
    seed_demo(session, now=NOW)
    session.commit()

    assert count(session, Product) >= 60
    assert len(set(session.scalars(select(Product.product_type)))) >= 5
    assert count(session, Customer) == 300
    assert count(session, Order) == 2000
    assert session.scalar(select(func.count()).where(Cart.state == CartState.ABANDONED)) == 15
    oldest = session.scalar(select(func.min(Order.placed_at)))
    assert NOW - oldest > dt.timedelta(days=150)
    countries = {
        phonenumbers.region_code_for_number(phonenumbers.parse(p))
        for p in session.scalars(select(Customer.phone))
    }
    assert len(countries) >= 5
    states = Counter(session.scalars(select(Subscription.state)))
    assert states[SubscriptionState.CONFIRMED] > 0
    assert states[SubscriptionState.OPTED_OUT] > 0


def test_demo_twice_adds_nothing(session: Session) -> None:
    first = seed_demo(session, now=NOW)
    session.commit()
    second = seed_demo(session, now=NOW + dt.timedelta(days=1))
    session.commit()
    assert (first.created, second.created, first.store_id) == (True, False, second.store_id)
    assert count(session, Order) == 2000
    assert count(session, Customer) == 300


def test_demo_is_deterministic(session: Session) -> None:
    seed_demo(session, now=NOW)
    session.commit()
    first = fingerprint(session)
    from plugin.models import Store

    session.delete(session.scalars(select(Store)).one())
    session.commit()
    session.expunge_all()
    seed_demo(session, now=NOW)
    session.commit()
    assert fingerprint(session) == first


def test_demo_baskets_pair_complementary_categories(session: Session) -> None:
    seed_demo(session, now=NOW)
    session.commit()
    baskets: dict[int, set[str]] = {}
    for order_id, category in session.execute(
        select(OrderLine.order_id, Product.product_type).join(
            Product, OrderLine.product_id == Product.id
        )
    ):
        baskets.setdefault(order_id, set()).add(category)
    pairs = Counter(frozenset(p) for b in baskets.values() for p in combinations(sorted(b), 2))
    complementary = sum(
        n
        for pair, n in pairs.items()
        if any(b in COMPLEMENTS[a] for a in pair for b in pair if a != b)
    )
    assert complementary / sum(pairs.values()) > 0.7


def test_first_page_shows_the_demo_shops_numbers(session: Session, client: FlaskClient) -> None:
    seed_demo(session, now=NOW)
    session.commit()
    from plugin.models import Store
    from tests.owner import sign_in  # the first page shows a shop only to its owner

    sign_in(client, session, session.scalars(select(Store)).one())
    html = client.get("/").get_data(as_text=True)
    assert "Bohne &amp; Blatt" in html
    assert '<dd data-metric="orders">2000</dd>' in html
    assert '<dd data-metric="customers">300</dd>' in html
    assert '<dd data-metric="abandoned_carts">15</dd>' in html


def test_demo_messages_carry_the_parameters_the_engine_composes(session: Session) -> None:
    from plugin.models import Notification, Store, WhatsAppTemplate
    from plugin.whatsapp.templates.wording import unsubscribe_button

    seed_demo(session, now=NOW)
    session.commit()
    store = session.scalars(select(Store)).one()
    rows = session.scalars(select(Notification).order_by(Notification.id)).all()
    carts = {c.id: c for c in session.scalars(select(Cart))}
    subscriptions = {s.id: s for s in session.scalars(select(Subscription))}
    templates = {(t.name, t.language): t for t in session.scalars(select(WhatsAppTemplate))}

    assert len(rows) > 400
    assert [row.id for row in rows if not row.parameters] == []
    for row in rows:
        body = [value["text"] for value in row.parameters["body"]]
        assert len(body) == 3 and all(value.strip() for value in body), row.id
        assert body[1] == store.name
        if row.cart_id is not None:
            cart = carts[row.cart_id]
            assert body[2] == format_money(cart.total_minor, cart.currency, row.language)
        buttons = row.parameters["buttons"]
        assert buttons[0] == {"index": 0, "sub_type": "url",
                              "parameters": [{"type": "text", "text": row.link_token}]}  # fmt: skip
        template = templates[(row.template_name, row.language)]
        token = subscriptions[row.subscription_id].unsubscribe_token
        assert buttons[1:] == [unsubscribe_button(template.components, token)]
        assert row.parameters["header"][0]["image"]["link"].endswith(".svg")
        assert row.context["link_url"].startswith(f"https://{store.domain}/")
    assert len({row.link_token for row in rows}) == len(rows)


def test_demo_message_page_shows_its_parameters(session: Session, client: FlaskClient) -> None:
    from plugin.models import Notification, Store
    from tests.owner import sign_in

    seed_demo(session, now=NOW)
    session.commit()
    store = session.scalars(select(Store)).one()
    row = session.scalars(
        select(Notification).where(Notification.cart_id.is_not(None)).order_by(Notification.id)
    ).first()
    sign_in(client, session, store)

    html = client.get(f"/app/outbox/{row.id}", headers={"Accept-Language": "en"}).get_data(
        as_text=True
    )

    cart = session.get(Cart, row.cart_id)
    assert format_money(cart.total_minor, cart.currency, row.language) in html
    assert "<pre>{}</pre>" not in html
