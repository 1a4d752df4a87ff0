"""Shopify's storefront doors: the app proxy (theme embed) and the UI extensions' opt-in API.

- `/proxy/shopify/...` is the app proxy's URL: a buyer's `/apps/shopnudge/...` on any of the
  shop's domains arrives here signed by Shopify, so the shop is the signed `shop`, never a
  key in the page, and the browser stays on the shop's own origin (no CORS).
- `/api/v1/shopify/checkout-optins` takes the Thank-you and Order-status extensions' opt-ins.
  Those extensions run in a web worker with a null origin and authenticate with a session
  token, never a cookie, so any origin may call it (`Access-Control-Allow-Origin: *`).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from connectors.errors import AuthFailed
from plugin.consent import optin
from plugin.db import request_session
from plugin.models import Platform, Store, StoreStatus
from plugin.shopify.app_proxy import verify_proxy_request
from plugin.shopify.session_token import ExtensionToken, verify_extension_token
from plugin.web import storefront
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.errors import REFUSAL
from plugin.web.schemas.optin import OPTIN_ACCEPTED, OPTIN_REQUEST
from plugin.web.schemas.validation import first_problem
from plugin.web.widget_script import widget_script

bp = Blueprint("shopify_storefront", __name__)

CHECKOUT_SOURCE = "thank_you_page"


def _shopify_store(shop: str) -> Store | None:
    return (
        request_session()
        .scalars(
            select(Store).where(
                Store.platform == Platform.SHOPIFY,
                Store.domain == shop,
                Store.status != StoreStatus.UNINSTALLED,
            )
        )
        .first()
    )


def _proxied_store() -> Store:
    """The shop Shopify signed this proxied request for (401 forged or stale, 404 unknown)."""
    settings = current_app.config["SHOPNUDGE"]
    try:
        shop = verify_proxy_request(
            list(request.args.items(multi=True)), settings.shopify_api_secret
        )
    except AuthFailed as error:
        abort(401, description=str(error))
    store = _shopify_store(shop)
    if store is None:
        abort(404, description="unknown store")
    return store


@bp.get("/proxy/shopify/widget/<name>.js")
def proxied_widget(name: str) -> ResponseReturnValue:
    """The widget script, served on the shop's own domain through the proxy."""
    _proxied_store()
    response = Response(widget_script(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "private, max-age=300"
    return response


@bp.get("/proxy/shopify/api/optin-form")
def proxied_optin_form() -> ResponseReturnValue:
    return storefront.optin_form(_proxied_store().public_key)


@bp.post("/proxy/shopify/api/optins")
def proxied_optin() -> ResponseReturnValue:
    """An opt-in from the theme embed; the source is the widget whatever the page claims."""
    store = _proxied_store()
    return _record_optin(store, "widget", {})


@bp.route("/api/v1/shopify/checkout-optins", methods=["OPTIONS"])
@documented(
    "CORS preflight for the checkout extensions (a web worker's null origin)",
    "storefront",
    {204: Answer()},
)
def checkout_preflight() -> ResponseReturnValue:
    return "", 204


@bp.post("/api/v1/shopify/checkout-optins", provide_automatic_options=False)
@documented(
    "Record an opt-in from the Thank-you or Order-status page (session token of the extension)",
    "storefront",
    {
        202: Answer(OPTIN_ACCEPTED),
        **errors(400, 422, 429, schema=REFUSAL),
        **errors(401, 404, 413, 503),
    },
    body=OPTIN_REQUEST,
    headers={"Authorization": Header("Bearer <the extension's session token>")},
)
def checkout_optin() -> ResponseReturnValue:
    token = _extension_token()
    store = _shopify_store(token.shop)
    if store is None:
        abort(404, description="unknown store")
    detail = {"session_token_id": token.token_id[:64]} if token.token_id else {}
    customer_id = token.customer_gid.rsplit("/", 1)[-1] if token.customer_gid else None
    return _record_optin(store, CHECKOUT_SOURCE, detail, customer_id=customer_id)


@bp.after_request
def _cors(response: Response) -> Response:
    if request.path == "/api/v1/shopify/checkout-optins":
        response.headers["Access-Control-Allow-Origin"] = "*"
        response.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type"
        response.headers["Access-Control-Max-Age"] = "600"
    return response


def _extension_token() -> ExtensionToken:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        abort(401, description="a session token is required")
    settings = current_app.config["SHOPNUDGE"]
    try:
        return verify_extension_token(
            header[len("Bearer ") :].strip(),
            api_key=settings.shopify_api_key,
            secret=settings.shopify_api_secret,
        )
    except AuthFailed as error:
        abort(401, description=str(error))


def _record_optin(
    store: Store, source: str, detail: dict[str, Any], customer_id: str | None = None
) -> ResponseReturnValue:
    """The widget's opt-in flow with the source fixed by the door it came through."""
    body = request.get_json(silent=True)
    language = storefront._buyer_language(store, body)
    if not isinstance(body, dict):
        return storefront._refuse("body_invalid", language, 400)
    body = {**body, "source": source}
    if customer_id and not body.get("customer_id"):
        body["customer_id"] = customer_id
    problem = first_problem(body, OPTIN_REQUEST)
    if problem is not None:
        return storefront._refuse(storefront._problem_reason(problem, body), language, 422)
    session = request_session()
    try:
        result = optin.request_optin(session, store, storefront._optin_request(body))
    except optin.OptinRejected as rejected:
        session.commit()  # keep the rate-limit spend; nothing else was written
        response = storefront._refuse(rejected.reason, language, rejected.status)
        if rejected.retry_after is not None:
            response.headers["Retry-After"] = str(int(rejected.retry_after) + 1)
        return response
    if detail:
        result.event.detail = {**(result.event.detail or {}), **detail}
    session.commit()
    step = result.confirmation
    return jsonify(
        state=result.subscription.state,
        locale=result.event.locale,
        wording_version=body.get("wording_version"),
        confirmation={"mode": step.mode, "url": step.url},
    ), 202
