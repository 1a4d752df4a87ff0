"""`shopnudge sync` against the fake shop: bulk backfills, incremental pages, resuming."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.shopify import bulk
from connectors.shopify.client import ShopifyClient
from connectors.shopify.sync import ShopifyConnector
from plugin.config import Settings
from plugin.connect import NoConnector, connector_for
from plugin.db import Database
from plugin.models import Cart, Customer, Order, OrderLine, Product, Store, SyncState, Variant
from plugin.sync.run import sync_resource
from tests.factories import make_store
from tests.fakes.shopify import FakeShopify

DATA = Path(__file__).parents[1] / "data" / "shopify"


def _count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _expected_lines(fake: FakeShopify) -> int:
    return sum(len(o["lineItems"]["nodes"]) for o in fake.data.orders.values())


def test_full_sync_ends_with_exact_counts_and_a_second_run_writes_nothing(
    runner, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a shop with 500 products, 2,000 customers and 20,000 orders
    fake.data.seed(products=500, customers=2_000, orders=20_000, checkouts=300)
    # when the owner backfills everything
    first = runner.invoke(args=["sync", str(shop.id), "--full"])
    # then every record is there, once
    assert first.exit_code == 0, first.output
    assert "orders: 20000 created, 0 updated, 0 unchanged" in first.output
    assert _count(session, Product) == 500
    assert _count(session, Variant) == sum(
        len(p["variants"]["nodes"]) for p in fake.data.products.values()
    )
    assert _count(session, Customer) == 2_000
    assert _count(session, Order) == 20_000
    assert _count(session, OrderLine) == _expected_lines(fake)
    assert _count(session, Cart) == 300
    assert fake.operations.count("ShopNudgeBulkRun") == 4
    # when it runs again, nothing is written
    second = runner.invoke(args=["sync", str(shop.id), "--full"])
    assert second.exit_code == 0, second.output
    for resource, total in (("products", 500), ("customers", 2000), ("orders", 20000)):
        assert f"{resource}: 0 created, 0 updated, {total} unchanged" in second.output
    assert _count(session, Order) == 20_000


def test_incremental_sync_after_50_updates_fetches_only_those(
    runner, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a synced shop
    fake.data.seed(products=20, customers=50, orders=2_000)
    assert runner.invoke(args=["sync", str(shop.id), "--full"]).exit_code == 0
    # when 50 orders change on Shopify
    changed = sorted(fake.data.orders)[100:150]
    fake.data.touch(
        "orders", changed, dt.datetime(2027, 1, 1, tzinfo=dt.UTC), displayFinancialStatus="REFUNDED"
    )
    fake.served.clear()
    result = runner.invoke(args=["sync", str(shop.id)])
    # then only those 50 are fetched, plus the newest one again inside the overlap window
    assert result.exit_code == 0, result.output
    assert fake.served["orders"] == 50 + 1
    assert "orders: 0 created, 50 updated, 1 unchanged" in result.output
    assert fake.operations.count("ShopNudgeBulkRun") == 4  # the full run's, none since
    refunded = session.scalar(
        select(func.count()).select_from(Order).where(Order.financial_status == "refunded")
    )
    assert refunded == 50


def test_interrupted_backfill_resumes_from_its_saved_cursor(
    app: Flask, database: Database, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a backfill that dies after its first committed page of 1,000 orders
    fake.data.seed(customers=10, orders=2_500)
    settings: Settings = app.config["SHOPNUDGE"]
    connector = connector_for(shop, settings)
    pages = connector.fetch("orders", since=None, full=True)

    class Dies(ShopifyConnector):
        def fetch(self, resource, *, since, cursor=None, full=False):  # type: ignore[override]
            yield next(pages)
            raise ConnectionError("process killed")

    with pytest.raises(ConnectionError):
        sync_resource(database, shop.id, Dies(connector.client), "orders", full=True)
    state = session.scalars(select(SyncState)).one()
    assert state.status == "failed"
    assert state.cursor == "bulk:gid://shopify/BulkOperation/1:1000"
    # when the sync runs again (as a running one, the way a crash leaves it)
    state.status = "running"
    session.commit()
    fake.served.clear()
    counts = sync_resource(database, shop.id, connector_for(shop, settings), "orders")
    # then it continues in the same bulk file: 1,500 new rows, and no second bulk operation
    assert (counts.created, counts.unchanged) == (1_500, 0)
    assert fake.operations.count("ShopNudgeBulkRun") == 1
    session.expire_all()
    assert _count(session, Order) == 2_500


def test_bulk_children_arriving_after_siblings_are_attached_to_their_parent(
    app: Flask, fake: FakeShopify, shop: Store
) -> None:
    # given orders whose last line comes after the next order in the JSONL
    fake.data.seed(products=5, customers=5, orders=30)
    connector = connector_for(shop, app.config["SHOPNUDGE"])
    # when they are read by bulk operation
    records = [r for page in connector.fetch("orders", since=None, full=True) for r in page.records]
    # then each order has exactly its own lines
    assert len(records) == 30
    for record in records:
        node = fake.data.orders[int(record.platform_id)]
        assert len(record.lines) == len(node["lineItems"]["nodes"])
        assert {line.title for line in record.lines} == {
            line["title"] for line in node["lineItems"]["nodes"]
        }


def test_shop_without_credentials_is_never_synced(app: Flask, session: Session) -> None:
    demo = make_store(session, credentials=None)
    with pytest.raises(NoConnector):
        connector_for(demo, app.config["SHOPNUDGE"])


def test_shopifys_published_bulk_example_attaches_the_late_variant_to_its_product(
    fake: FakeShopify,
) -> None:
    # given Shopify's example result, whose last line is a variant of the first product
    fake.files["example.jsonl"] = (DATA / "bulk_operation_result_example.jsonl").read_bytes()
    client = ShopifyClient(fake.url, fake.issue_token(), "2026-07")
    # when it is streamed
    nodes = list(bulk.nodes(client, f"{fake.url}/files/example.jsonl"))
    # then five products come out, the first with both of its variants
    assert [n["id"].rsplit("/", 1)[-1] for n in nodes] == [
        "1921569226808",
        "1921569259576",
        "1921569292344",
        "1921569325112",
        "1921569357880",
    ]
    assert [v["title"] for v in nodes[0]["variants"]["nodes"]] == ["70", "52"]
    assert all(len(n["variants"]["nodes"]) == 1 for n in nodes[1:])


def test_incremental_cart_sync_reads_every_checkout_updated_since_the_watermark(
    runner, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a synced shop whose checkouts then change in an order unlike their ids
    fake.data.seed(products=5, customers=5, checkouts=40)
    assert runner.invoke(args=["sync", str(shop.id), "--full"]).exit_code == 0
    numbers = sorted(fake.data.checkouts)
    changed = numbers[::2]  # 20 checkouts: more than one page of carts
    for step, number in enumerate(reversed(changed)):
        at = dt.datetime(2026, 6, 1, tzinfo=dt.UTC) + dt.timedelta(minutes=step)
        fake.data.touch("carts", [number], at, completedAt=fake.data.checkouts[number]["createdAt"])
    fake.served.clear()
    fake.requests.clear()
    # when the incremental sync runs
    result = runner.invoke(args=["sync", str(shop.id)])
    # then Shopify was asked only what it accepts, filtered by updated_at since the watermark
    assert result.exit_code == 0, result.output
    assert fake.refused == []
    cart_requests = [r for r in fake.requests if r.operation == "ShopNudgeCarts"]
    assert len(cart_requests) == 2
    assert all(r.variables["query"].startswith("updated_at:>='2026-01-01T") for r in cart_requests)
    # and every changed checkout was read and stored, plus the newest one again in the overlap
    assert fake.served["carts"] == 20 + 1
    completed = session.scalars(select(Cart.platform_id).where(Cart.completed_at.is_not(None)))
    assert sorted(completed) == sorted(f"ck{n}" for n in changed)


def test_sms_consent_is_never_taken_for_whatsapp_consent(
    app: Flask, fake: FakeShopify, shop: Store
) -> None:
    # given a buyer subscribed to SMS on Shopify who never gave WhatsApp consent
    fake.data.seed(customers=2)
    sms_only, both = sorted(fake.data.customers)
    fake.data.customers[sms_only]["defaultPhoneNumber"]["marketingState"] = "SUBSCRIBED"
    fake.data.customers[both]["defaultPhoneNumber"].update(
        marketingState="SUBSCRIBED", whatsAppMarketingConsent={"state": "UNSUBSCRIBED"}
    )
    connector = connector_for(shop, app.config["SHOPNUDGE"])
    # when customers are read
    records = [r for page in connector.fetch("customers", since=None) for r in page.records]
    # then only WhatsApp consent becomes the marketing state, and SMS consent is never asked for
    states = {r.platform_id: r.marketing_state for r in records}
    assert states == {str(sms_only): "NEVER_SUBSCRIBED", str(both): "UNSUBSCRIBED"}
    asked = [r.query for r in fake.requests if r.operation == "ShopNudgeCustomers"]
    assert len(asked) == 1 and "marketingState" not in asked[0]
    assert fake.refused == []


def test_records_added_one_by_one_to_the_fake_sync_as_given(
    app: Flask, fake: FakeShopify, shop: Store
) -> None:
    # given one buyer with a checkout and an order from it, added through the fake's surface
    at = dt.datetime(2026, 6, 1, 9, tzinfo=dt.UTC)
    product = fake.data.add_product(title="Sencha", price_minor=1250)
    buyer = fake.data.add_customer(phone="+4915112345678", whatsapp_state="SUBSCRIBED", at=at)
    fake.data.add_checkout(products=[(product, 2)], customer=buyer, token="tok42", at=at)
    fake.data.add_order(products=[(product, 2)], customer=buyer, checkout_token="tok42", at=at)
    connector = connector_for(shop, app.config["SHOPNUDGE"])
    # when each resource is read
    customer, cart, order = (
        next(r for page in connector.fetch(resource, since=None) for r in page.records)
        for resource in ("customers", "carts", "orders")
    )
    # then each record is what was added
    assert (customer.platform_id, customer.phone, customer.marketing_state) == (
        str(buyer),
        "+4915112345678",
        "SUBSCRIBED",
    )
    assert (cart.platform_id, cart.customer_id, cart.total_minor, cart.updated_at) == (
        "tok42",
        str(buyer),
        2500,
        at,
    )
    assert (order.checkout_token, order.total_minor, [ln.quantity for ln in order.lines]) == (
        "tok42",
        2500,
        [2],
    )
    assert fake.refused == []


def test_a_checkout_changed_during_a_long_cart_sync_is_read_by_the_next_one(
    app: Flask, database: Database, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a synced shop with two pages of checkouts changed since, read in id order
    fake.data.seed(products=3, customers=3, checkouts=30)
    settings: Settings = app.config["SHOPNUDGE"]
    sync_resource(database, shop.id, connector_for(shop, settings), "carts")
    numbers = sorted(fake.data.checkouts)
    started = dt.datetime(2027, 1, 1, 12, tzinfo=dt.UTC)
    fake.data.touch("carts", numbers, started - dt.timedelta(hours=1))
    real = ShopifyConnector(connector_for(shop, settings).client, clock=lambda: started)

    class SlowRun(ShopifyConnector):
        """The run takes an hour: after its first page, two checkouts change on Shopify."""

        def fetch(self, resource, *, since, cursor=None, full=False):  # type: ignore[override]
            pages = real.fetch(resource, since=since, cursor=cursor, full=full)
            yield next(pages)
            fake.data.touch("carts", [numbers[0]], started + dt.timedelta(minutes=1))
            fake.data.touch("carts", [numbers[-1]], started + dt.timedelta(minutes=59))
            yield from pages

    # when that run ends and the next one starts
    sync_resource(database, shop.id, SlowRun(real.client), "carts")
    fake.requests.clear()
    later = ShopifyConnector(real.client, clock=lambda: started + dt.timedelta(hours=2))
    sync_resource(database, shop.id, later, "carts")
    # then the next run reads both changed checkouts, the one passed over included
    session.expire_all()
    stored = {c.platform_id: c.platform_updated_at for c in session.scalars(select(Cart))}
    assert stored[f"ck{numbers[0]}"] == started + dt.timedelta(minutes=1)
    assert stored[f"ck{numbers[-1]}"] == started + dt.timedelta(minutes=59)
    assert fake.refused == []


def test_a_resumed_cart_sync_keeps_the_bound_of_the_run_it_continues(
    app: Flask, fake: FakeShopify, shop: Store
) -> None:
    # given a cart sync that committed one page and died
    fake.data.seed(products=3, customers=3, checkouts=30)
    client = connector_for(shop, app.config["SHOPNUDGE"]).client
    started = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    first = next(ShopifyConnector(client, clock=lambda: started).fetch("carts", since=None))
    assert first.cursor is not None
    assert first.cursor.startswith("until:2026-03-01T00:00:00+00:00|")
    # when it is resumed a day later
    fake.requests.clear()
    later = ShopifyConnector(client, clock=lambda: started + dt.timedelta(days=1))
    rest = list(later.fetch("carts", since=None, cursor=first.cursor))
    # then it asks with the first run's bound and reads the other checkouts, each once
    searches = {r.variables["query"] for r in fake.requests if r.operation == "ShopNudgeCarts"}
    assert searches == {"updated_at:<='2026-03-01T00:00:00+00:00'"}
    read = [r.platform_id for page in [first, *rest] for r in page.records]
    assert sorted(read) == sorted(f"ck{n}" for n in fake.data.checkouts)
