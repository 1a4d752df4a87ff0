"""A WooCommerce store typed without a scheme, corrected, and removed, from the command line."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, ConsentEvent, Store
from tests.factories import make_subscription
from tests.fakes.woocommerce import FakeWooCommerce


def add(runner: FlaskCliRunner, domain: str, key: str = "ck_1", secret: str = "cs_1") -> str:
    result = runner.invoke(
        args=["stores", "add", "--platform", "woocommerce", "--domain", domain,
              "--consumer-key", key, "--consumer-secret", secret]
    )  # fmt: skip
    return str(result.output)


def tick(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tick"])
    assert result.exit_code in (0, 1), result.output  # 1: some job reported trouble


def test_address_without_scheme_on_a_host_allowed_plain_http_is_refused_with_what_to_type(
    runner: FlaskCliRunner, session: Session
) -> None:
    result = runner.invoke(
        args=["stores", "add", "--platform", "woocommerce", "--domain", "127.0.0.1:8080",
              "--consumer-key", "ck_1", "--consumer-secret", "cs_1"]
    )  # fmt: skip
    assert result.exit_code == 2
    assert result.output == (
        "error: '127.0.0.1:8080' has no scheme and 127.0.0.1 may be reached without TLS: "
        "type http://127.0.0.1:8080 or https://127.0.0.1:8080\n"
    )
    assert session.scalars(select(Store)).all() == []


def test_address_without_scheme_elsewhere_is_https(
    runner: FlaskCliRunner, session: Session
) -> None:
    assert add(runner, "shop.example.com/store").strip().isdigit()
    store = session.scalars(select(Store)).one()
    assert (store.domain, store.base_url) == (
        "shop.example.com/store",
        "https://shop.example.com/store",
    )


def test_mistyped_store_is_corrected_audited_and_set_up_on_the_right_address(
    runner: FlaskCliRunner, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given a store added with a wrong port and keys that are not the shop's
    store_id = int(add(runner, "https://127.0.0.1:1"))
    assert "already registered as store" in add(runner, "https://127.0.0.1:1")
    key, secret = woo.add_keys()
    # when the owner corrects it
    result = runner.invoke(
        args=["stores", "update", str(store_id), "--domain", woo.url,
              "--consumer-key", key, "--consumer-secret", secret]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.output == f"store {store_id}: domain, consumer_key, consumer_secret changed\n"
    # then it is the same store at the right address, and the set-up job reaches the shop
    session.expire_all()
    store = session.get(Store, store_id)
    assert store is not None
    assert store.base_url == woo.url
    assert store.credentials == {"consumer_key": key, "consumer_secret": secret}
    tick(runner)
    assert len(woo.webhooks) == 8
    # and every change is audited, secrets without their values
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.action, a.field, a.old_value, a.new_value, a.actor) for a in audit] == [
        ("store_updated", "domain", "https://127.0.0.1:1", woo.url, "command line"),
        ("store_updated", "consumer_key", "(set)", "(changed)", "command line"),
        ("store_updated", "consumer_secret", "(set)", "(changed)", "command line"),
    ]
    assert key not in str([(a.old_value, a.new_value) for a in audit])


def test_removed_store_loses_its_webhooks_and_keys_and_keeps_its_consent_ledger(
    app: Flask, runner: FlaskCliRunner, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given a connected store with its webhooks and a confirmed buyer
    key, secret = woo.add_keys()
    store_id = int(add(runner, woo.url, key, secret))
    tick(runner)
    assert len(woo.webhooks) == 8
    foreign = woo.new_id()
    woo.webhooks[foreign] = {"id": foreign, "name": "Other app", "status": "active",
                             "topic": "order.created", "delivery_url": "https://other.example/hook",
                             "secret": "x", "failure_count": 0}  # fmt: skip
    store = session.get(Store, store_id)
    assert store is not None
    subscription = make_subscription(session, store)
    session.add(ConsentEvent(subscription_id=subscription.id, store_id=store_id,
                             kind="confirmed", source="widget"))  # fmt: skip
    session.commit()
    # when the owner removes it
    result = runner.invoke(args=["stores", "remove", str(store_id)])
    # then ShopNudge's webhooks are deleted on the shop and no other app's
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"store {store_id} removed; 8 webhooks deleted; its consent ledger is kept\n"
    )
    assert list(woo.webhooks) == [foreign]
    # and the store sends and syncs no more, without keys, while the ledger stays
    session.expire_all()
    store = session.get(Store, store_id)
    assert store is not None
    assert (store.status, store.credentials, store.webhook_secret) == ("uninstalled", None, None)
    assert session.scalar(select(func.count()).select_from(ConsentEvent)) == 1
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "store_removed"))
    assert (entry.field, entry.old_value, entry.new_value) == ("status", "active", "uninstalled")
    # and adding the shop again brings back the same store, with its ledger
    assert add(runner, woo.url, key, secret).strip() == str(store_id)


def test_new_webhook_secret_reaches_the_shops_webhooks_and_signs_what_is_accepted(
    runner: FlaskCliRunner, session: Session, woo: FakeWooCommerce, live: str
) -> None:
    # given a connected store whose webhooks are signed with its first secret
    key, secret = woo.add_keys()
    store_id = int(add(runner, woo.url, key, secret))
    tick(runner)
    beans = woo.add_product("Espresso Beans", "12.90")
    # when the owner gives it a new webhook secret and the set-up job runs
    result = runner.invoke(
        args=["stores", "update", str(store_id), "--webhook-secret", "a-new-secret"]
    )
    assert result.output == f"store {store_id}: webhook_secret changed\n"
    tick(runner)
    # then every webhook of ours on the shop signs with it, and its deliveries are accepted
    assert {hook["secret"] for hook in woo.webhooks.values()} == {"a-new-secret"}
    assert {hook["status"] for hook in woo.webhooks.values()} == {"active"}
    order = woo.add_order([(beans["id"], 0, 1, "12.90")], status="processing")
    assert woo.deliver("order.created", woo.render_order(order)) == [200]
