"""The storefront side of the fake WooCommerce site: TLS, /wc-auth approval, cart and Store API."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import ipaddress
import itertools
import json
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask, Response, jsonify, redirect, request

if TYPE_CHECKING:
    from tests.fakes.woocommerce import FakeWooCommerce


def _error(code: str, message: str, status: int) -> Response:
    response = jsonify(code=code, message=message, data={"status": status})
    response.status_code = status
    return response


def _invalid_param(name: str, reason: str) -> Response:
    """WordPress's answer to an argument that fails its schema (`rest_parse_request_arg`)."""
    response = jsonify(
        code="rest_invalid_param",
        message=f"Invalid parameter(s): {name}",
        data={"status": 400, "params": {name: reason}},
    )
    response.status_code = 400
    return response


def write_self_signed_cert(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost; point REQUESTS_CA_BUNDLE at the first path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-woocommerce.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "fake-woo.pem", folder / "fake-woo.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def add_auth_routes(app: Flask, fake: FakeWooCommerce) -> None:
    """/wc-auth/v1/authorize: the owner is signed in and approves at once."""

    @app.get("/wc-auth/v1/authorize")
    def authorize() -> Any:
        """The owner is signed in and clicks Approve: keys are made and POSTed back."""
        args = request.args
        required = ("app_name", "scope", "user_id", "return_url", "callback_url")
        if any(not args.get(name) for name in required) or args["scope"] not in (
            "read",
            "write",
            "read_write",
        ):
            return "Error: Missing parameter or invalid scope", 400
        if not args["callback_url"].lower().startswith("https://"):
            # WC_Auth::make_validation, before the owner sees an Approve button
            return "Error: The callback_url needs to be over SSL", 400
        key, secret = fake.add_keys()
        body = {
            "key_id": len(fake.keys),
            "user_id": args["user_id"],
            "consumer_key": key,
            "consumer_secret": secret,
            "key_permissions": args["scope"],
        }
        answer = requests.post(args["callback_url"], json=body, timeout=30)
        if answer.status_code != 200:
            del fake.keys[key]  # WooCommerce revokes keys the callback did not accept
            return f"Error: An error occurred in the request ({answer.status_code})", 401
        sep = "&" if "?" in args["return_url"] else "?"
        return redirect(f"{args['return_url']}{sep}success=1&user_id={args['user_id']}")


def _session() -> str:
    """The buyer's cart session: a guest's is `t_` and 30 hex digits (`WC_Session_Handler`)."""
    return request.cookies.get("wp_woocommerce_session_fake") or f"t_{secrets.token_hex(15)}"


#: The key the fake signs Cart-Tokens with (WooCommerce uses a per-site secret).
CART_TOKEN_SECRET = b"fake-woocommerce-cart-token-secret"
#: A Cart-Token lives two days, as WooCommerce's `CartTokenUtils::get_cart_token` makes it.
CART_TOKEN_LIFETIME = 2 * 24 * 3600
_issued = itertools.count(1)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def cart_token(session_id: str) -> str:
    """A freshly signed HS256 JWT for the session, as the Store API sends on every answer.

    Its claims are those of a real one (`store/store-cart-get.headers.txt`): `user_id` (the
    cart session), `exp`, `iss` and `iat`. The real `iat` is the second of issue; here every
    token is at least one second younger than the last, so no two answers share a token.
    """
    issued = int(time.time()) + next(_issued)
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {
        "user_id": session_id,
        "exp": issued + CART_TOKEN_LIFETIME,
        "iss": "store-api",
        "iat": issued,
    }
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = hmac.new(CART_TOKEN_SECRET, f"{header}.{payload}".encode(), hashlib.sha256)
    return f"{header}.{payload}.{_b64url(signature.digest())}"


def _cart_response(session_id: str, body: Any) -> Response:
    response = body if isinstance(body, Response) else jsonify(body)
    response.set_cookie("wp_woocommerce_session_fake", session_id, httponly=True)
    response.headers["Nonce"] = hashlib.sha256(f"nonce-{session_id}".encode()).hexdigest()[:10]
    if not isinstance(body, Response):  # the Store API's answers, not the shop's pages
        response.headers["Cart-Token"] = cart_token(session_id)
    return response


def cart_items(fake: FakeWooCommerce, session_id: str) -> dict[int, int]:
    """What a buyer session's cart holds: product or variation id -> quantity."""
    return dict(fake.carts.get(session_id, {}))


_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


def _money(fake: FakeWooCommerce) -> dict[str, Any]:
    """The currency block every Store API price carries (`CurrencyFormatter`)."""
    symbol = _SYMBOLS.get(fake.currency, fake.currency)
    return {
        "currency_code": fake.currency,
        "currency_symbol": symbol,
        "currency_minor_unit": 2,
        "currency_decimal_separator": ".",
        "currency_thousand_separator": ",",
        "currency_prefix": symbol,
        "currency_suffix": "",
    }


def _minor(price: str) -> str:
    """A REST price ("12.90") as the Store API sends it: minor units as a string ("1290")."""
    return str(round(float(price or 0) * 100))


def find_purchasable(
    fake: FakeWooCommerce, item_id: int
) -> tuple[dict[str, Any], dict[str, Any] | None] | None:
    """(product, variation or None) for a product or variation id, as `wc_get_product` does."""
    if item_id in fake.products:
        return fake.products[item_id], None
    for product_id, variations in fake.variations.items():
        for variation in variations:
            if variation["id"] == item_id:
                return fake.products[product_id], variation
    return None


def render_cart_item(fake: FakeWooCommerce, item_id: int, quantity: int) -> dict[str, Any]:
    """One line in the shape of `CartItemSchema` (WooCommerce 10.2): no `parent`; for a
    variation `id` is the variation's id and `variation` lists its chosen attributes."""
    found = find_purchasable(fake, item_id)
    assert found is not None, f"no product or variation {item_id}"
    product, variation = found
    source = variation or product
    price = _minor(source["price"])
    line = str(int(price) * quantity)
    name = product["name"]
    return {
        "key": hashlib.md5(str(item_id).encode()).hexdigest(),
        "id": item_id,
        "type": "variation" if variation else product["type"],
        "quantity": quantity,
        "quantity_limits": {"minimum": 1, "maximum": 9999, "multiple_of": 1, "editable": True},
        "name": name,
        "short_description": "",
        "description": "",
        "sku": source.get("sku", ""),
        "low_stock_remaining": None,
        "backorders_allowed": False,
        "show_backorder_badge": False,
        "sold_individually": False,
        "permalink": source["permalink"],
        "images": [],
        "variation": [
            {
                "raw_attribute": f"attribute_{a['name'].lower()}",
                "attribute": a["name"],
                "value": a["option"],
            }
            for a in (variation or {}).get("attributes", [])
        ],
        "item_data": [],
        "prices": {
            "price": price,
            "regular_price": _minor(source.get("regular_price") or source["price"]),
            "sale_price": price,
            "price_range": None,
            **_money(fake),
            "raw_prices": {
                "precision": 6,
                "price": str(int(price) * 10_000),
                "regular_price": str(int(price) * 10_000),
                "sale_price": str(int(price) * 10_000),
            },
        },
        "totals": {
            "line_subtotal": line,
            "line_subtotal_tax": "0",
            "line_total": line,
            "line_total_tax": "0",
            **_money(fake),
        },
        "catalog_visibility": product.get("catalog_visibility", "visible"),
        "extensions": {},
    }


def render_cart(fake: FakeWooCommerce, session_id: str) -> dict[str, Any]:
    """The Store API cart (`CartSchema`), as `GET /wc/store/v1/cart` answers it."""
    items = [render_cart_item(fake, k, q) for k, q in cart_items(fake, session_id).items()]
    total = str(sum(int(item["totals"]["line_total"]) for item in items))
    address = {
        "first_name": "",
        "last_name": "",
        "company": "",
        "address_1": "",
        "address_2": "",
        "city": "",
        "state": "",
        "postcode": "",
        "country": "DE",
        "phone": "",
    }
    return {
        "items": items,
        "coupons": [],
        "fees": [],
        "totals": {
            "total_items": total,
            "total_items_tax": "0",
            "total_fees": "0",
            "total_fees_tax": "0",
            "total_discount": "0",
            "total_discount_tax": "0",
            "total_shipping": None,
            "total_shipping_tax": None,
            "total_price": total,
            "total_tax": "0",
            "tax_lines": [],
            **_money(fake),
        },
        "shipping_address": address,
        "billing_address": {**address, "email": ""},
        "needs_payment": bool(items),
        "needs_shipping": False,
        "payment_requirements": ["products"],
        "has_calculated_shipping": False,
        "shipping_rates": [],
        "items_count": sum(item["quantity"] for item in items),
        "items_weight": 0,
        "cross_sells": [],
        "errors": [],
        "payment_methods": ["bacs", "cod"],
        "extensions": {},
    }


def render_store_product(fake: FakeWooCommerce, item_id: int) -> dict[str, Any]:
    """`GET /wc/store/v1/products/{id}` (`ProductSchema`, the fields a storefront reads):
    a variation answers too, with `parent` naming its product."""
    found = find_purchasable(fake, item_id)
    assert found is not None
    product, variation = found
    source = variation or product
    price = _minor(source["price"])
    return {
        "id": item_id,
        "name": product["name"],
        "slug": product["slug"],
        "parent": product["id"] if variation else 0,
        "type": "variation" if variation else product["type"],
        "variation": ", ".join(
            f"{a['name']}: {a['option']}" for a in (variation or {}).get("attributes", [])
        ),
        "permalink": source["permalink"],
        "sku": source.get("sku", ""),
        "short_description": "",
        "description": "",
        "on_sale": False,
        "prices": {
            "price": price,
            "regular_price": price,
            "sale_price": price,
            "price_range": None,
            **_money(fake),
        },
        "images": [],
        "categories": [],
        "tags": [],
        "attributes": [],
        "variations": [],
        "has_options": bool(product["variations"]) and not variation,
        "is_purchasable": True,
        "is_in_stock": source.get("stock_status") == "instock",
        "is_on_backorder": False,
        "low_stock_remaining": None,
        "sold_individually": False,
        "extensions": {},
    }


def _add_to_cart(fake: FakeWooCommerce, session_id: str, item_id: int, quantity: int) -> bool:
    known = find_purchasable(fake, item_id) is not None
    if not known or quantity < 1 or fake.products.get(item_id, {}).get("type") == "variable":
        return False
    cart = fake.carts.setdefault(session_id, {})
    cart[item_id] = cart.get(item_id, 0) + quantity
    return True


def add_cart_routes(app: Flask, fake: FakeWooCommerce) -> None:
    """Core's /cart/?add-to-cart and the Store API cart, with a session cookie and a Nonce."""

    @app.get("/cart/")
    def cart_page() -> Response:
        """Core's `?add-to-cart=ID&quantity=N`: one product or variation per request."""
        session_id = _session()
        if "add-to-cart" in request.args:
            _add_to_cart(
                fake,
                session_id,
                int(request.args["add-to-cart"]),
                int(request.args.get("quantity", "1")),
            )
        script = f'<script src="{fake.widget_url}"></script>' if fake.widget_url else ""
        page = f'<!doctype html><html lang="en"><body><h1>Cart</h1>{script}</body></html>'
        return _cart_response(session_id, Response(page, mimetype="text/html"))

    @app.get("/wp-json/wc/store/v1/cart")
    def store_cart() -> Response:
        session_id = _session()
        return _cart_response(session_id, render_cart(fake, session_id))

    @app.get("/wp-json/wc/store/v1/products/<int:item_id>")
    def store_product(item_id: int) -> Response:
        if find_purchasable(fake, item_id) is None:
            return _error("woocommerce_rest_product_invalid_id", "Invalid product ID.", 404)
        return jsonify(render_store_product(fake, item_id))

    @app.post("/wp-json/wc/store/v1/cart/add-item")
    def store_add_item() -> Response:
        session_id = _session()
        expected = hashlib.sha256(f"nonce-{session_id}".encode()).hexdigest()[:10]
        if request.headers.get("Nonce") != expected:
            return _error("woocommerce_rest_missing_nonce", "Missing the Nonce header.", 401)
        body = request.get_json(silent=True)
        for name in ("id", "quantity"):  # CartAddItem's args: both "type" => "integer"
            value = (body or {}).get(name, 1)
            if not isinstance(value, int) or isinstance(value, bool):
                return _invalid_param(name, f"{name} is not of type integer.")
        if not _add_to_cart(fake, session_id, int(body["id"]), int(body.get("quantity", 1))):
            return _error("woocommerce_rest_cart_invalid_product", "Cannot add.", 400)
        response = _cart_response(session_id, render_cart(fake, session_id))
        response.status_code = 201
        return response
