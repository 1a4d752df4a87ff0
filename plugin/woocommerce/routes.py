"""WooCommerce endpoints: connect (authorize, key callback, return) and webhook deliveries."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue

from connectors.woocommerce.auth import InvalidKeyBody, parse_key_body
from connectors.woocommerce.webhooks import (
    TOPICS,
    delivery_key,
    ping_webhook_id,
    verify_signature,
)
from plugin import inbox
from plugin.db import request_session
from plugin.models import Platform
from plugin.stores.lookup import StoreKey, store_by_id
from plugin.stores.registry import InvalidStore, normalise_woocommerce_url
from plugin.web.auth import current_store, store_required
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.webhooks import WOOCOMMERCE_ANSWER, WOOCOMMERCE_CONNECTED, WOOCOMMERCE_KEYS
from plugin.webhook_handlers import HANDLERS
from plugin.woocommerce.install import (
    ConnectFailed,
    InsecureCallback,
    check_callback_url,
    complete_connect,
    connect_outcome,
    connected_store,
    start_connect,
)
from plugin.woocommerce.setup import woocommerce_setup_problem as setup_problem
from plugin.woocommerce.webhooks import SOURCE

bp = Blueprint("woocommerce", __name__)
log = logging.getLogger(__name__)


@bp.get("/woocommerce/connect")
@store_required
def connect() -> ResponseReturnValue:
    """A signed-in WooCommerce shop owner renews its keys; a new shop starts from the CLI
    (`shopnudge stores connect URL`). Nobody else may write a state row or be sent anywhere."""
    owner = current_store()
    assert owner is not None  # store_required ran
    store_url = request.args.get("store_url") or owner.base_url
    settings = current_app.config["SHOPNUDGE"]
    session = request_session()
    try:
        check_callback_url(settings)  # our own set-up problem comes first (503)
        domain, _base_url = normalise_woocommerce_url(store_url, settings)
        if owner.platform != Platform.WOOCOMMERCE or domain != owner.domain:
            text = "Cannot connect: you are signed in to another shop."
            return text, 403, {"Content-Type": "text/plain; charset=utf-8"}
        url = start_connect(session, settings, store_url)
    except InvalidStore as error:
        return f"Cannot connect: {error}", 400, {"Content-Type": "text/plain; charset=utf-8"}
    except InsecureCallback as error:  # our set-up, not the owner's input: 503
        return f"Cannot connect: {error}", 503, {"Content-Type": "text/plain; charset=utf-8"}
    session.commit()
    return redirect(url)


@bp.post("/woocommerce/callback")
@documented(
    "WooCommerce's key callback (/wc-auth/v1/authorize): the new REST keys",
    "webhooks",
    {200: Answer(WOOCOMMERCE_CONNECTED), **errors(400, 413, 503)},
    body=WOOCOMMERCE_KEYS,
)
def callback() -> ResponseReturnValue:
    """WooCommerce POSTs the new keys here; anything but 200 makes it revoke them.

    It waits for this answer, so nothing here calls the shop: the keys are stored and the
    setup job (plugin.woocommerce.setup) proves them and makes the webhooks right after.
    """
    session = request_session()
    try:
        grant = parse_key_body(request.get_data())
        store = complete_connect(session, current_app.config["SHOPNUDGE"], grant)
    except (InvalidKeyBody, ConnectFailed, InvalidStore) as error:
        session.rollback()
        return jsonify(error="invalid_callback", message=str(error)), 400
    session.commit()
    return jsonify(store_id=store.id, status="connected")


@bp.app_context_processor
def setup_problem_helper() -> dict[str, Any]:
    """`woocommerce_setup_problem(store)` for the owner's pages (a failed setup, or None)."""
    return {"woocommerce_setup_problem": lambda store: setup_problem(request_session(), store)}


@bp.get("/woocommerce/return")
def return_to_app() -> ResponseReturnValue:
    """Where WooCommerce sends the owner after approving (or refusing): what happened, and
    how to sign in. Connecting signs nobody in (whoever started it need not own the shop), so
    the page names the sign-in link instead of sending the owner to a sign-in wall.

    WooCommerce appends `success=1&user_id=<our one-time state>`; the state names the shop,
    and only while it is young does the page show the store's details.
    """
    if request.args.get("success") == "0":
        return "The shop did not grant access.", 400, {"Content-Type": "text/plain"}
    session = request_session()
    settings = current_app.config["SHOPNUDGE"]
    store = connected_store(session, settings, request.args.get("user_id", ""))
    setup = connect_outcome(session, store) if store is not None else None
    return render_template("woocommerce/connected.html", store=store, setup=setup)


def _host(url: str) -> str:
    host = (urlsplit(url.strip()).hostname or "").lower()
    return host.removeprefix("www.")


def _source_matches(store: StoreKey, source: str | None) -> bool:
    """X-WC-Webhook-Source is the site's home URL (`home_url('/')`), which may differ from the
    address the owner typed in path or `www.`: the host decides."""
    return bool(source) and _host(source or "") == _host(store.base_url)


@bp.post("/webhooks/woocommerce/<int:store_id>")
@documented(
    "A WooCommerce webhook delivery (or the unsigned creation ping `webhook_id=N`)",
    "webhooks",
    {200: Answer(WOOCOMMERCE_ANSWER), **errors(400, 401, 404, 413, 503)},
    body={"type": "object", "description": "the resource of X-WC-Webhook-Topic"},
    headers={
        "X-WC-Webhook-Signature": Header("base64 HMAC-SHA256 of the raw body, webhook secret"),
        "X-WC-Webhook-Source": Header("the shop's home URL"),
        "X-WC-Webhook-Topic": Header("e.g. order.updated"),
    },
)
def receive(store_id: int) -> ResponseReturnValue:
    body = request.get_data(cache=False)
    signature = request.headers.get("X-WC-Webhook-Signature")
    webhook_id = ping_webhook_id(body, signature)
    if webhook_id is not None:
        return jsonify(ping=webhook_id)  # the creation ping: answered, never data
    session = request_session()
    store = store_by_id(session, store_id)
    if store is None or store.platform != Platform.WOOCOMMERCE:
        abort(404, description="no such WooCommerce store")
    if not verify_signature(body, store.webhook_secret, signature):
        abort(401, description="missing or wrong X-WC-Webhook-Signature")
    if not _source_matches(store, request.headers.get("X-WC-Webhook-Source")):
        abort(401, description="X-WC-Webhook-Source is not this store")
    topic = request.headers.get("X-WC-Webhook-Topic", "")
    if not topic:
        abort(400, description="X-WC-Webhook-Topic is required")
    try:
        payload = json.loads(body)
    except ValueError:
        abort(400, description="the body is not JSON")
    if not isinstance(payload, dict) or "id" not in payload:
        abort(400, description="the body is not a WooCommerce resource")
    if topic not in TOPICS:
        return jsonify(ignored=topic)
    stored = inbox.acknowledge(
        session,
        source=SOURCE,
        # X-WC-Webhook-Delivery-ID is shared by a webhook's deliveries within one second
        delivery_id=f"{store.id}:{delivery_key(topic, body)}",
        topic=topic,
        body=body,
        store_id=store.id,
    )
    session.commit()
    if stored is None:
        return jsonify(duplicate=True)
    response = jsonify(received=True)
    inbox.process_after_answer(current_app._get_current_object(), response, [stored], HANDLERS)  # type: ignore[attr-defined]
    return response
