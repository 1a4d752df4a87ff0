"""The storefront side of the fake WooCommerce site: TLS, /wc-auth approval, cart and Store API."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import secrets
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
    return request.cookies.get("wp_woocommerce_session_fake") or secrets.token_hex(8)


def _cart_response(session_id: str, body: Any) -> Response:
    response = body if isinstance(body, Response) else jsonify(body)
    response.set_cookie("wp_woocommerce_session_fake", session_id, httponly=True)
    response.headers["Nonce"] = hashlib.sha256(f"nonce-{session_id}".encode()).hexdigest()[:10]
    return response


def cart_items(fake: FakeWooCommerce, session_id: str) -> dict[int, int]:
    return dict(fake.carts.get(session_id, {}))


def _add_to_cart(fake: FakeWooCommerce, session_id: str, item_id: int, quantity: int) -> bool:
    known = item_id in fake.products or any(
        item_id == v["id"] for vs in fake.variations.values() for v in vs
    )
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
        items = [{"id": k, "quantity": q} for k, q in cart_items(fake, session_id).items()]
        return _cart_response(session_id, {"items": items})

    @app.post("/wp-json/wc/store/v1/cart/add-item")
    def store_add_item() -> Response:
        session_id = _session()
        expected = hashlib.sha256(f"nonce-{session_id}".encode()).hexdigest()[:10]
        if request.headers.get("Nonce") != expected:
            return _error("woocommerce_rest_missing_nonce", "Missing the Nonce header.", 401)
        body = request.get_json()
        if not _add_to_cart(fake, session_id, int(body["id"]), int(body.get("quantity", 1))):
            return _error("woocommerce_rest_cart_invalid_product", "Cannot add.", 400)
        items = [{"id": k, "quantity": q} for k, q in cart_items(fake, session_id).items()]
        response = _cart_response(session_id, {"items": items})
        response.status_code = 201
        return response
