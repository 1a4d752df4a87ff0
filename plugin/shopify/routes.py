"""Shopify's ways in: the OAuth install, and every webhook topic at one address."""

from __future__ import annotations

import json
import logging

from flask import Blueprint, abort, current_app, jsonify, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from connectors.shopify import auth, webhooks
from plugin import inbox
from plugin.config import Settings
from plugin.db import request_session
from plugin.shopify import install
from plugin.shopify.app_metafield import write_app_metafield
from plugin.shopify.client import client_for
from plugin.stores.lookup import StoreKey, shopify_store
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.validation import first_problem
from plugin.web.schemas.webhooks import SHOPIFY_ANSWER, SHOPIFY_WEBHOOKS, shopify_webhook_schema
from plugin.webhook_handlers import HANDLERS

log = logging.getLogger(__name__)

bp = Blueprint("shopify", __name__)

#: Topics whose work may take longer than Shopify's 5-second answer window: the
#: process_webhooks job does them right after, from the stored delivery.
DEFERRED_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


def _settings() -> Settings:
    return current_app.config["SHOPNUDGE"]


def _signed_shop() -> str:
    """The shop of a signed install or callback query: 400 bad shop, 401 bad signature."""
    shop = auth.valid_shop_domain(request.args.get("shop"))
    if shop is None:
        abort(400, description="shop must be a name.myshopify.com domain")
    params = auth.query_params(list(request.args.items(multi=True)))
    if not auth.verify_query(params, _settings().shopify_api_secret):
        abort(401, description="the request is not signed by Shopify")
    return shop


@bp.get("/shopify/install")
def install_start() -> ResponseReturnValue:
    settings = _settings()
    shop = _signed_shop()
    session = request_session()
    state = install.new_state(session, shop)
    session.commit()
    return redirect(
        auth.authorize_url(
            settings.shopify_shop_url(shop),
            api_key=settings.shopify_api_key,
            scopes=settings.shopify_scopes,
            redirect_uri=f"{settings.public_url}/shopify/callback",
            state=state,
        )
    )


@bp.get("/shopify/callback")
def install_callback() -> ResponseReturnValue:
    settings = _settings()
    shop = _signed_shop()
    session = request_session()
    if not install.spend_state(session, request.args.get("state"), shop):
        abort(403, description="the install link expired or was already used; start again")
    session.commit()  # the nonce is spent even if the exchange fails
    code = request.args.get("code")
    if not code:
        abort(400, description="Shopify sent no authorization code")
    try:
        store = install.complete_install(session, settings, shop, code)
        session.commit()
        refused = install.register_webhooks(client_for(session, store, settings), settings)
        write_app_metafield(session, settings, store)  # the storefront pieces' configuration
        session.commit()
    except PlatformError as error:
        session.rollback()
        log.warning("install for a shop failed: %s", error)
        abort(502, description="Shopify refused the installation; please try again")
    if refused:
        log.warning("store %s: %d webhook topics were not registered", store.id, len(refused))
    return redirect(f"{settings.shopify_shop_url(shop)}/admin/apps/{settings.shopify_api_key}")


def _installed_store(session: Session, shop_header: str | None) -> StoreKey | None:
    shop = auth.valid_shop_domain(shop_header)
    if shop is None:
        return None
    return shopify_store(session, shop)


@bp.post("/webhooks/shopify")
@documented(
    "Every Shopify webhook topic, the three compliance topics included",
    "webhooks",
    {200: Answer(SHOPIFY_ANSWER), **errors(400, 401, 404, 413, 503)},
    body={"type": "object", "description": "the topic's body (X-Shopify-Topic)"},
    headers={
        "X-Shopify-Hmac-Sha256": Header("base64 HMAC-SHA256 of the raw body, app secret"),
        "X-Shopify-Shop-Domain": Header("the shop's name.myshopify.com domain"),
        "X-Shopify-Topic": Header("e.g. orders/create"),
        "X-Shopify-Event-Id": Header("the delivery's id (deduplication)"),
    },
    extra={"x-topic-schemas": SHOPIFY_WEBHOOKS},
)
def receive_webhook() -> ResponseReturnValue:
    """Verify on the raw body before anything else; store, answer, then do the work."""
    body = request.get_data(cache=False)
    session = request_session()
    store = _installed_store(session, request.headers.get("X-Shopify-Shop-Domain"))
    signature = request.headers.get("X-Shopify-Hmac-Sha256")
    secrets = [_settings().shopify_api_secret, store.webhook_secret if store else None]
    if not any(webhooks.verify(body, signature, secret) for secret in secrets if secret):
        abort(401, description="invalid webhook signature")
    if store is None:
        abort(404, description="this shop has not installed ShopNudge")
    topic = request.headers.get("X-Shopify-Topic", "")
    delivery_id = request.headers.get("X-Shopify-Event-Id") or request.headers.get(
        "X-Shopify-Webhook-Id"
    )
    try:
        payload = json.loads(body)
    except ValueError:
        abort(400, description="the body is not JSON")
    if not topic or not delivery_id:
        abort(400, description="X-Shopify-Topic and X-Shopify-Event-Id are required")
    # A body that is not the topic's shape would fail in the handler and be retried for 4 h.
    problem = first_problem(payload, shopify_webhook_schema(topic))
    if problem is not None:
        where = problem.field or "the body"
        abort(400, description=f"not a {topic} body: {where} fails {problem.keyword}")
    stored = inbox.acknowledge(
        session,
        source="shopify",
        delivery_id=delivery_id,
        topic=topic,
        body=body,
        store_id=store.id,
    )
    session.commit()
    if stored is None:
        return jsonify(status="duplicate"), 200
    response = jsonify(status="accepted")
    if topic not in DEFERRED_TOPICS:
        inbox.process_after_answer(current_app._get_current_object(), response, [stored], HANDLERS)  # type: ignore[attr-defined]
    return response, 200
