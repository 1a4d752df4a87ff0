"""The fake WooCommerce speaks what a real WooCommerce 10.2.4 answered, and refuses what it refuses.

Shapes are compared with the answers captured from a real store
(`woocommerce/captured-10.2.4/`, see the vendor SOURCES.md); refusals follow WooCommerce's REST
schema (`WC_REST_Webhooks_V1_Controller`, the Store API's `CartAddItem`) and WordPress's
argument checks, which answer 400 `rest_invalid_param` naming the parameter.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import requests
from flask import Flask, request

from tests.fakes.server import LocalServer
from tests.fakes.woocommerce import FakeWooCommerce
from tests.fakes.woocommerce_site import render_cart
from tests.vendor import vendor_file

CAPTURED = ("woocommerce", "captured-10.2.4")


def captured(*parts: str) -> Any:
    return json.loads(vendor_file(*CAPTURED, *parts).read_text())


def shape(value: Any) -> Any:
    """Keys and JSON types, recursively (a list by the shape of its first element)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def api(woo: FakeWooCommerce, path: str) -> str:
    return f"{woo.url}/wp-json/wc/v3/{path}"


def test_fake_cart_item_has_the_keys_and_types_of_the_real_store_api(
    woo: FakeWooCommerce,
) -> None:
    real = captured("store", "store-cart-add-item.json")
    beans = woo.add_product("Espresso Beans", "19.99")
    woo.carts["buyer"] = {beans["id"]: 1}
    fake = render_cart(woo, "buyer")
    assert shape(fake) == shape(real)
    assert "parent" not in fake["items"][0]


def test_fake_variation_line_names_the_variation_and_no_parent(woo: FakeWooCommerce) -> None:
    real_item = captured("store", "store-cart-add-item.json")["items"][0]
    shirt = woo.add_product("Shirt", "25.00", variations=[("S", "25.00"), ("M", "26.00")])
    medium = shirt["variations"][1]
    woo.carts["buyer"] = {medium: 2}
    line = render_cart(woo, "buyer")["items"][0]
    assert sorted(line) == sorted(real_item)
    assert (line["id"], line["type"], line["quantity"]) == (medium, "variation", 2)
    assert line["variation"] == [
        {"raw_attribute": "attribute_size", "attribute": "Size", "value": "M"}
    ]
    assert (line["prices"]["price"], line["totals"]["line_total"]) == ("2600", "5200")


def test_store_api_product_of_a_variation_names_its_parent(woo: FakeWooCommerce) -> None:
    shirt = woo.add_product("Shirt", "25.00", variations=[("S", "25.00")])
    small = shirt["variations"][0]
    answer = requests.get(f"{woo.url}/wp-json/wc/store/v1/products/{small}", timeout=10)
    assert answer.status_code == 200
    assert (answer.json()["id"], answer.json()["parent"]) == (small, shirt["id"])
    missing = requests.get(f"{woo.url}/wp-json/wc/store/v1/products/999999", timeout=10)
    assert (missing.status_code, missing.json()["code"]) == (
        404,
        "woocommerce_rest_product_invalid_id",
    )


def test_fake_webhook_answer_has_the_real_shape(woo: FakeWooCommerce) -> None:
    real = captured("rest", "rest-webhook-create.json")
    key, secret = woo.add_keys()
    body = {"name": "n", "topic": "order.created", "delivery_url": "https://x.example/h"}
    answer = requests.post(api(woo, "webhooks"), json=body, auth=(key, secret), timeout=10)
    assert answer.status_code == 201
    fake = answer.json()
    real_links = {name: [{"href": "str"}] for name in real["_links"]}
    assert {**shape(fake), "_links": real_links} == {**shape(real), "_links": real_links}
    assert sorted(fake["_links"]) == sorted(real["_links"])
    assert "secret" not in fake


def test_fake_delivery_carries_the_headers_of_a_real_delivery(
    make_woo: Callable[..., FakeWooCommerce],
) -> None:
    real = captured("webhooks", "delivery-005-order_updated.json")["headers"]
    woo = make_woo(version="10.2.4")
    received: list[dict[str, str]] = []
    receiver = Flask("receiver")

    @receiver.post("/hook")
    def hook() -> str:
        received.append(dict(request.headers))
        return "ok"

    with LocalServer(receiver) as server:
        for hook_id in (1, 2):
            woo.webhooks[hook_id] = {
                "id": hook_id,
                "name": "n",
                "status": "active",
                "topic": "order.updated",
                "delivery_url": f"{server.url}/hook",
                "secret": "ci-secret",
            }
        woo.deliver("order.updated", {"id": 1})
    assert [d[2] for d in woo.deliveries] == [200, 200]
    for headers in received:
        assert sorted(n for n in headers if n.startswith("X-Wc-")) == sorted(
            n.title() for n in real if n.startswith("X-WC-")
        )
        assert headers["User-Agent"] == real["User-Agent"]
    # delivery ids as WooCommerce makes them: per webhook and second, not per delivery
    ids = [h["X-Wc-Webhook-Delivery-Id"] for h in received]
    assert len(ids[0]) == len(real["X-WC-Webhook-Delivery-ID"]) == 32
    assert (
        FakeWooCommerce.delivery_id(1)
        == FakeWooCommerce.delivery_id(1)
        != (FakeWooCommerce.delivery_id(2))
    )


def test_fake_refuses_an_unknown_webhook_status(woo: FakeWooCommerce) -> None:
    key, secret = woo.add_keys()
    body = {"topic": "order.created", "delivery_url": "https://x.example/h", "status": "on"}
    answer = requests.post(api(woo, "webhooks"), json=body, auth=(key, secret), timeout=10)
    assert answer.status_code == 400
    assert answer.json() == {
        "code": "rest_invalid_param",
        "message": "Invalid parameter(s): status",
        "data": {
            "status": 400,
            "params": {"status": "status is not one of active, paused, and disabled."},
        },
    }
    assert woo.webhooks == {}


def test_fake_refuses_an_unknown_webhook_topic_and_a_missing_delivery_url(
    woo: FakeWooCommerce,
) -> None:
    key, secret = woo.add_keys()
    unknown_topic = {"topic": "order.paid", "delivery_url": "https://x.example/h"}
    no_url = {"topic": "order.created"}
    answers = [
        requests.post(api(woo, "webhooks"), json=body, auth=(key, secret), timeout=10)
        for body in (unknown_topic, no_url)
    ]
    assert [(a.status_code, a.json()["code"]) for a in answers] == [
        (400, "woocommerce_rest_shop_webhook_invalid_topic"),
        (400, "woocommerce_rest_shop_webhook_invalid_delivery_url"),
    ]
    assert woo.webhooks == {}


def test_fake_refuses_an_ill_typed_field_and_ignores_an_unknown_one(
    woo: FakeWooCommerce,
) -> None:
    key, secret = woo.add_keys()
    base = {"topic": "order.created", "delivery_url": "https://x.example/h"}
    ill_typed = requests.post(
        api(woo, "webhooks"), json={**base, "name": ["x"]}, auth=(key, secret), timeout=10
    )
    assert (ill_typed.status_code, ill_typed.json()["data"]["params"]) == (
        400,
        {"name": "name is not of type string."},
    )
    assert woo.webhooks == {}
    # WordPress drops body fields the schema does not name; it does not refuse them
    unknown = requests.post(
        api(woo, "webhooks"), json={**base, "colour": "red"}, auth=(key, secret), timeout=10
    )
    assert unknown.status_code == 201 and "colour" not in unknown.json()


def test_fake_store_api_refuses_an_ill_typed_add_item(woo: FakeWooCommerce) -> None:
    beans = woo.add_product("Espresso Beans", "12.90")
    shop = requests.Session()
    nonce = shop.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).headers["Nonce"]
    refused = shop.post(
        f"{woo.url}/wp-json/wc/store/v1/cart/add-item",
        json={"id": str(beans["id"]), "quantity": 1},
        headers={"Nonce": nonce},
        timeout=10,
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "rest_invalid_param")
    assert refused.json()["data"]["params"] == {"id": "id is not of type integer."}
    cart = shop.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).json()
    assert cart["items"] == []


def test_fake_order_has_the_keys_and_types_of_a_real_order(woo: FakeWooCommerce) -> None:
    real = captured("rest", "rest-order-create.json")
    beans = woo.add_product("Espresso Beans", "19.99")
    order = woo.add_order([(beans["id"], 0, 2, "19.99")], status=real["status"])
    fake = woo.render_order(order)
    for name in ("line_items", "billing", "shipping"):
        fake_part, real_part = fake[name], real[name]
        assert shape(fake_part) == shape(real_part), name
    assert sorted(fake) == sorted(real)
    mismatched = {
        key: (shape(real[key]), shape(fake[key]))
        for key in real
        # `_links` relations vary with the site's plugins; nothing of ours reads them
        if key != "_links"
        and not isinstance(real[key], list)
        and shape(real[key]) != shape(fake[key])
    }
    assert mismatched == {}


def test_fake_product_has_the_keys_and_types_of_a_real_product(woo: FakeWooCommerce) -> None:
    real = captured("rest", "rest-product-create.json")
    fake = woo.add_product("CI Widget", "19.99")
    assert sorted(fake) == sorted(real)
    mismatched = {
        key: (shape(real[key]), shape(fake[key]))
        for key in real
        # lists by their element only where both have one; `_links` vary with plugins
        if key != "_links"
        and not (isinstance(real[key], list) and not (real[key] and fake[key]))
        and shape(real[key]) != shape(fake[key])
    }
    assert mismatched == {}


def jwt_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(header, claims) of a JWT, read without checking its signature."""
    header, payload, _signature = token.split(".")
    return tuple(  # type: ignore[return-value]
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in (header, payload)
    )


def test_fake_store_api_signs_a_new_cart_token_of_the_same_session_on_every_answer(
    woo: FakeWooCommerce,
) -> None:
    # given the Cart-Token a real WooCommerce 10.2.4 sent with its cart
    headers = vendor_file(*CAPTURED, "store", "store-cart-get.headers.txt").read_text()
    (real,) = [
        line.split(":", 1)[1].strip()
        for line in headers.splitlines()
        if line.startswith("Cart-Token:")
    ]
    real_header, real_claims = jwt_parts(real)
    # when one buyer session asks the fake for its cart twice
    buyer = requests.Session()
    tokens = [
        buyer.get(f"{woo.url}/wp-json/wc/store/v1/cart", timeout=10).headers["Cart-Token"]
        for _ in range(2)
    ]
    (first_header, first), (_, second) = (jwt_parts(token) for token in tokens)
    # then each token is shaped like the real one, signed anew (a later iat), for one session
    assert first_header == real_header == {"alg": "HS256", "typ": "JWT"}
    assert sorted(first) == sorted(real_claims) == ["exp", "iat", "iss", "user_id"]
    assert first["iss"] == real_claims["iss"] == "store-api"
    assert first["exp"] - first["iat"] == real_claims["exp"] - real_claims["iat"]
    assert tokens[0] != tokens[1] and second["iat"] > first["iat"]
    assert first["user_id"] == second["user_id"] == buyer.cookies["wp_woocommerce_session_fake"]
    assert len(first["user_id"]) == len(real_claims["user_id"]) and first["user_id"][:2] == "t_"
