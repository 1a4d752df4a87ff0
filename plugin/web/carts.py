"""Cart snapshots from the storefront widget, and the recovery link that rebuilds a cart."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import phonenumbers
from flask import Blueprint, Response, abort, current_app, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from plugin import ratelimit
from plugin.carts import (
    CartSnapshot,
    SnapshotItem,
    remaining_items,
    restore_target,
    save_snapshot,
)
from plugin.db import request_session, utcnow
from plugin.i18n import buyer_reason, pick_language
from plugin.models import Cart, Store
from plugin.phones import InvalidPhone, parse_phone
from plugin.web.cors import cors_for_store, origin_allowed
from plugin.web.guards import MAX_DATABASE_INTEGER
from plugin.web.openapi import Answer, documented, errors
from plugin.web.schemas.carts import CART, CART_ACCEPTED, CART_SNAPSHOT
from plugin.web.schemas.errors import REFUSAL

bp = Blueprint("carts", __name__)

#: A cart snapshot is a few hundred bytes per line; 64 KiB is far beyond any real cart.
MAX_SNAPSHOT_BYTES = 64 * 1024
MAX_ITEMS = 250
#: A widget posts on every cart change; one address gets a burst of 30, then one a second.
SNAPSHOTS_PER_SECOND = 1.0
BURST = 30.0


class BadSnapshot(ValueError):
    """The body is not a cart snapshot; the message names the field."""


def _store(store_key: str) -> Store:
    store = request_session().scalars(select(Store).where(Store.public_key == store_key)).first()
    if store is None:
        abort(404, description="unknown store key")
    return store


def _int(value: Any, field: str, minimum: int) -> int:
    """A count or an amount in minor units, within what an INTEGER column holds everywhere."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not minimum <= value <= MAX_DATABASE_INTEGER
    ):
        raise BadSnapshot(f"{field} must be an integer from {minimum} to {MAX_DATABASE_INTEGER}")
    return value


def _text(value: Any, field: str, *, required: bool = False, limit: int = 512) -> str | None:
    if value is None and not required:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        raise BadSnapshot(f"{field} must be a string of at most {limit} characters")
    return value.strip() or None


def _item(raw: Any, index: int) -> SnapshotItem:
    if not isinstance(raw, dict):
        raise BadSnapshot(f"items[{index}] must be an object")
    where = f"items[{index}]"
    return SnapshotItem(
        product_id=_text(raw.get("product_id"), f"{where}.product_id", required=True, limit=64)
        or "",
        variation_id=_text(raw.get("variation_id"), f"{where}.variation_id", limit=64),
        quantity=_int(raw.get("quantity"), f"{where}.quantity", 1),
        name=_text(raw.get("name", ""), f"{where}.name") or "",
        price_minor=_int(raw.get("price_minor"), f"{where}.price_minor", 0),
    )


def _country(value: Any) -> str | None:
    """The buyer's address country (the Store API cart's), when it is one phonenumbers knows."""
    text = _text(value, "country", limit=2)
    return text.upper() if text and text.upper() in phonenumbers.SUPPORTED_REGIONS else None


def parse_snapshot(body: Any) -> tuple[CartSnapshot, str | None]:
    """The snapshot and the phone as typed (checked separately: it answers 422, not 400)."""
    if not isinstance(body, dict):
        raise BadSnapshot("the body must be a JSON object")
    items = body.get("items")
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise BadSnapshot(f"items must be a list of at most {MAX_ITEMS} objects")
    currency = _text(body.get("currency"), "currency", required=True, limit=3) or ""
    if len(currency) != 3 or not currency.isalpha():
        raise BadSnapshot("currency must be an ISO 4217 code such as EUR")
    snapshot = CartSnapshot(
        cart_token=_text(body.get("cart_token"), "cart_token", required=True, limit=255) or "",
        items=tuple(_item(raw, i) for i, raw in enumerate(items)),
        total_minor=_int(body.get("total_minor"), "total_minor", 0),
        currency=currency.upper(),
        email=_text(body.get("email"), "email", limit=320),
        locale=_text(body.get("locale"), "locale", limit=35),
        country=_country(body.get("country")),
    )
    return snapshot, _text(body.get("phone"), "phone", limit=64)


def _cors(response: Response, store: Store) -> Response:
    return cors_for_store(response, store, request.headers.get("Origin"))


@bp.route("/api/v1/stores/<store_key>/carts", methods=["OPTIONS"])
@bp.route("/api/v1/stores/<store_key>/carts/<path:token>", methods=["OPTIONS"])
@documented(
    "CORS preflight: the shop's own origins only",
    "storefront",
    {204: Answer(), **errors(404, 503)},
)
def preflight(store_key: str, token: str | None = None) -> ResponseReturnValue:
    return _cors(Response(status=204), _store(store_key))


@bp.post("/api/v1/stores/<store_key>/carts")
@documented(
    "Save the widget's snapshot of a cart (a contact is filled, never replaced)",
    "storefront",
    {
        202: Answer(CART_ACCEPTED),
        **errors(400, 403, 404, 413, 429, 503),
        422: Answer(REFUSAL, "The phone number is not one"),
    },
    body=CART_SNAPSHOT,
)
def post_snapshot(store_key: str) -> ResponseReturnValue:
    """The opt-in API's rules: no foreign origin, JSON only (a browser must preflight it)."""
    store = _store(store_key)
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(store, origin):
        body = jsonify(error="origin_not_allowed", message="This page may not post carts here.")
        return _cors(body, store), 403
    if not request.is_json:
        body = jsonify(error="body_invalid", message="Send the snapshot as application/json.")
        return _cors(body, store), 400
    session = request_session()
    wait = ratelimit.take(
        session, f"carts:{store.id}:{request.remote_addr}", rate=SNAPSHOTS_PER_SECOND, burst=BURST
    )
    session.commit()  # the spend counts even when the body turns out to be bad
    if wait:
        response = jsonify(error="rate_limited", message="too many cart snapshots; slow down")
        response.headers["Retry-After"] = str(max(1, round(wait)))
        return _cors(response, store), 429
    if (request.content_length or 0) > MAX_SNAPSHOT_BYTES:
        abort(413, description=f"a cart snapshot is at most {MAX_SNAPSHOT_BYTES} bytes")
    raw = request.get_data()
    if len(raw) > MAX_SNAPSHOT_BYTES:
        abort(413, description=f"a cart snapshot is at most {MAX_SNAPSHOT_BYTES} bytes")
    try:
        snapshot, typed_phone = parse_snapshot(json.loads(raw))
    except ValueError as error:  # BadSnapshot, and json's JSONDecodeError
        message = str(error) if isinstance(error, BadSnapshot) else "the body is not JSON"
        return _cors(jsonify(error="bad_request", message=message), store), 400
    if typed_phone:
        try:
            # a number typed without +prefix is read in the buyer's country, else the shop's
            phone = parse_phone(typed_phone, snapshot.country or store.country)
        except InvalidPhone as error:
            language = pick_language(snapshot.locale, request.accept_languages)
            message = buyer_reason(error.reason, language)
            body = jsonify(error="invalid_phone", reason=error.reason, message=message)
            return _cors(body, store), 422
        snapshot = dataclasses.replace(snapshot, phone=phone)
    cart = save_snapshot(session, current_app.config["SHOPNUDGE"], store, snapshot, utcnow())
    session.commit()
    return _cors(jsonify(cart={"token": cart.platform_id, "state": cart.state}), store), 202


def _cart(store: Store, token: str) -> Cart:
    cart = (
        request_session()
        .scalars(
            select(Cart)
            .where(Cart.store_id == store.id, Cart.platform_id == token)
            .options(selectinload(Cart.lines))
        )
        .first()
    )
    if cart is None:
        abort(404, description="unknown cart")
    return cart


@bp.get("/api/v1/stores/<store_key>/carts/<path:token>")
@documented(
    "A cart's lines that a recovery link could not add",
    "storefront",
    {200: Answer(CART), **errors(404, 503)},
)
def get_cart(store_key: str, token: str) -> ResponseReturnValue:
    """What the widget needs to finish a restore: the lines the link did not add."""
    store = _store(store_key)
    cart = _cart(store, token)
    body = {
        "token": cart.platform_id,
        "state": cart.state,
        "remaining_items": remaining_items(cart),
        "store_api_path": "/wp-json/wc/store/v1/cart/add-item",
    }
    return _cors(jsonify(cart=body), store)


@bp.get("/carts/<store_key>/<path:token>/restore")
def restore(store_key: str, token: str) -> ResponseReturnValue:
    store = _store(store_key)
    return redirect(restore_target(store, _cart(store, token)))
