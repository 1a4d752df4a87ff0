"""Registering shops from the command line."""

from __future__ import annotations

import json

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import OptinWording, Store


def store_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Store))


def test_stores_add_shopify_prints_the_new_id(runner: FlaskCliRunner, session: Session) -> None:
    result = runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "shopify",
            "--domain",
            "kaffee-haus.myshopify.com",
            "--token",
            "shpat_abc",
        ]
    )
    assert result.exit_code == 0, result.output
    store = session.scalars(select(Store)).one()
    assert result.output.strip() == str(store.id)
    assert store.credentials == {"access_token": "shpat_abc"}
    locales = session.scalars(select(OptinWording.locale).order_by(OptinWording.locale)).all()
    assert locales == ["de", "en"]


def test_stores_add_with_a_bad_domain_exits_2_with_one_line(
    runner: FlaskCliRunner, session: Session
) -> None:
    for domain in ("evil.com", "x.myshopify.com.evil.com", "-x.myshopify.com"):
        result = runner.invoke(
            args=["stores", "add", "--platform", "shopify", "--domain", domain, "--token", "t"]
        )
        assert result.exit_code == 2
        assert result.output.count("\n") == 1
        assert result.output.startswith(f"error: '{domain}' is not a Shopify shop domain")
    assert store_count(session) == 0


def test_stores_add_without_credentials_exits_2(runner: FlaskCliRunner, session: Session) -> None:
    shopify = runner.invoke(
        args=["stores", "add", "--platform", "shopify", "--domain", "kaffee.myshopify.com"]
    )
    woo = runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "woocommerce",
            "--domain",
            "shop.example.de",
            "--consumer-key",
            "ck_1",
        ]
    )
    assert (shopify.exit_code, woo.exit_code) == (2, 2)
    assert "needs --token" in shopify.output
    assert "needs --consumer-key and --consumer-secret" in woo.output
    assert store_count(session) == 0


def test_woocommerce_store_needs_https_unless_the_host_is_allowed(
    runner: FlaskCliRunner, session: Session
) -> None:
    plain = runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "woocommerce",
            "--domain",
            "http://shop.example.de",
            "--consumer-key",
            "ck_1",
            "--consumer-secret",
            "cs_1",
        ]
    )
    assert plain.exit_code == 2
    assert "is not HTTPS" in plain.output

    secure = runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "woocommerce",
            "--domain",
            "shop.example.de/shop/",
            "--consumer-key",
            "ck_1",
            "--consumer-secret",
            "cs_1",
        ]
    )
    assert secure.exit_code == 0, secure.output
    store = session.scalars(select(Store)).one()
    assert (store.domain, store.base_url) == (
        "shop.example.de/shop",
        "https://shop.example.de/shop",
    )


def test_stores_list_json_shows_each_store(runner: FlaskCliRunner) -> None:
    runner.invoke(
        args=[
            "stores",
            "add",
            "--platform",
            "shopify",
            "--domain",
            "kaffee.myshopify.com",
            "--token",
            "t",
        ]
    )
    result = runner.invoke(args=["stores", "list", "--json"])
    rows = json.loads(result.output)
    assert [(r["platform"], r["domain"], r["status"]) for r in rows] == [
        ("shopify", "kaffee.myshopify.com", "active")
    ]
    assert len(rows[0]["public_key"]) == 16


def test_public_keys_never_start_with_a_dash() -> None:
    from plugin.models.store import new_public_key

    keys = [new_public_key() for _ in range(2000)]
    assert not [key for key in keys if key.startswith("-")]
    assert len(set(keys)) == 2000
