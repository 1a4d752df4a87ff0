"""A fake WooCommerce site on a real local HTTPS port: REST API v3, /wc-auth, webhooks, cart.

It answers in the documented JSON shapes (tests/data/woocommerce/), with real pagination headers
(X-WP-Total, X-WP-TotalPages, Link), the per_page cap (400 above 100), Basic auth or
query-string keys over HTTPS, OAuth 1.0a over plain HTTP, and switches for what real hosts do:
`strip_basic_auth` (the host drops the Authorization header), `version` (below 5.8 the
`modified_after` filter is ignored), `fail_next` (429/5xx answers).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import itertools
import json
import math
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server
from woocommerce.oauth import OAuth

from tests.fakes.woocommerce_coupons import add_coupon_routes
from tests.fakes.woocommerce_site import add_auth_routes, add_cart_routes

DATA = Path(__file__).parent.parent / "data" / "woocommerce"
ORDER_TEMPLATE = json.loads((DATA / "order_727.json").read_text())
CUSTOMER_TEMPLATE = json.loads((DATA / "customer_25.json").read_text())
START = dt.datetime(2026, 1, 5, 9, 0, 0)


def _gmt(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S")


def _error(code: str, message: str, status: int, **data: Any) -> Response:
    response = jsonify(code=code, message=message, data={"status": status, **data})
    response.status_code = status
    return response


_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}

#: A product's fields the fake does not vary, as WooCommerce 10.2 answers them for a new
#: simple product (captured `rest/rest-product-create.json`).
PRODUCT_DEFAULTS: dict[str, Any] = {
    "featured": False,
    "description": "",
    "short_description": "",
    "date_on_sale_from": None,
    "date_on_sale_from_gmt": None,
    "date_on_sale_to": None,
    "date_on_sale_to_gmt": None,
    "on_sale": False,
    "purchasable": True,
    "total_sales": 0,
    "virtual": False,
    "downloadable": False,
    "downloads": [],
    "download_limit": -1,
    "download_expiry": -1,
    "external_url": "",
    "button_text": "",
    "tax_status": "taxable",
    "tax_class": "",
    "backorders": "no",
    "backorders_allowed": False,
    "backordered": False,
    "low_stock_amount": None,
    "sold_individually": False,
    "weight": "",
    "dimensions": {"length": "", "width": "", "height": ""},
    "shipping_required": True,
    "shipping_taxable": True,
    "shipping_class": "",
    "shipping_class_id": 0,
    "reviews_allowed": True,
    "average_rating": "0",
    "rating_count": 0,
    "upsell_ids": [],
    "cross_sell_ids": [],
    "parent_id": 0,
    "purchase_note": "",
    "brands": [],
    "default_attributes": [],
    "grouped_products": [],
    "menu_order": 0,
    "related_ids": [],
    "global_unique_id": "",
    "post_password": "",
    "permalink_template": "",
    "generated_slug": "",
}


def _invalid_param(name: str, reason: str) -> Response:
    """WordPress's answer to an argument that fails its schema (`rest_parse_request_arg`)."""
    return _error("rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: reason})


#: `wc_get_webhook_statuses()`: the `status` enum of the webhook schema.
WEBHOOK_STATUSES = ("active", "paused", "disabled")
#: Writable webhook fields and their JSON types (WC_REST_Webhooks_V1_Controller schema);
#: WordPress ignores fields the schema does not name, as the real API does.
WEBHOOK_FIELDS: dict[str, type] = {"name": str, "status": str, "topic": str, "secret": str}
#: `wc_is_webhook_valid_topic`: resource.event of the core resources and events.
WEBHOOK_RESOURCES = ("coupon", "customer", "order", "product")
WEBHOOK_EVENTS = ("created", "updated", "deleted", "restored")
_TYPE_NAMES = {str: "string", int: "integer", bool: "boolean"}


def invalid_params(body: Any, fields: dict[str, type]) -> Response | None:
    """The first schema violation in `body` as WordPress reports it, else None."""
    if not isinstance(body, dict):
        return _error("rest_invalid_json", "Invalid JSON body passed.", 400)
    for name, kind in fields.items():
        if name in body and (not isinstance(body[name], kind) or isinstance(body[name], bool)):
            return _invalid_param(name, f"{name} is not of type {_TYPE_NAMES[kind]}.")
    if "status" in body and body["status"] not in WEBHOOK_STATUSES:
        return _invalid_param("status", "status is not one of active, paused, and disabled.")
    return None


def refuse_webhook_body(body: Any) -> Response | None:
    """What `POST /wc/v3/webhooks` refuses: schema violations, then an invalid topic, then a
    delivery URL that is not http(s) (`WC_REST_Webhooks_V1_Controller::create_item`)."""
    refusal = invalid_params(body, WEBHOOK_FIELDS)
    if refusal is not None:
        return refusal
    resource, _, event = str(body.get("topic") or "").lower().partition(".")
    if resource not in WEBHOOK_RESOURCES or event not in WEBHOOK_EVENTS:
        return _error(
            "woocommerce_rest_shop_webhook_invalid_topic",
            "Webhook topic is required and must be valid.",
            400,
        )
    url = body.get("delivery_url")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _error(
            "woocommerce_rest_shop_webhook_invalid_delivery_url",
            "Webhook delivery URL must be a valid URL starting with http:// or https://.",
            400,
        )
    return None


#: `status` values of GET /products besides `any` (`WC_REST_Products_Controller`).
PRODUCT_STATUSES = ("future", "trash", "draft", "pending", "private", "publish")


@dataclass
class FakeOrder:
    id: int
    status: str
    created: dt.datetime
    modified: dt.datetime
    customer_id: int = 0
    phone: str = ""
    email: str = ""
    country: str = "DE"
    #: (product_id, variation_id, quantity, unit price as text)
    lines: list[tuple[int, int, int, str]] = field(default_factory=list)
    meta: dict[str, str] = field(default_factory=dict)


class FakeWooCommerce:
    """State of one fake shop, and the Flask app that serves it.

    The public surface other tests (the journeys) rely on, kept stable:
    - `with FakeWooCommerce(tls=...) as woo` (or the `make_woo`/`woo` fixtures), `woo.url`;
    - shop data: `add_keys()`, `add_product(name, price, variations=[(option, price)])`,
      `add_customer(email, phone)`, `add_order(lines, status=...)`, `update_order(id, ...)`,
      `render_order(order)` (the REST v3 order, which is also the webhook body);
    - webhooks: `deliver(topic, payload)` signs and posts to every active webhook of the topic
      with WooCommerce's headers; `deliveries`, `webhooks`, `requests` record what happened;
      `delivery_id(hook_id)` is WooCommerce's per-second delivery id;
    - storefront (tests.fakes.woocommerce_site): `widget_url` embeds our widget in `/cart/`;
      `carts[session]` is each buyer session's cart; the Store API answers `GET /cart`,
      `POST /cart/add-item` and `GET /products/{id}` in WooCommerce 10.2's shapes
      (`render_cart`, `render_store_product`, `cart_items`).
    """

    def __init__(
        self,
        *,
        version: str = "9.4.2",
        strip_basic_auth: bool = False,
        currency: str = "EUR",
        country: str = "DE",
        timezone: str = "Europe/Berlin",
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        self.version = version
        self.strip_basic_auth = strip_basic_auth
        self.currency = currency
        #: WooCommerce's "Country / State" setting, e.g. "US:CA" (`woocommerce_default_country`).
        self.country = country
        #: WordPress's `timezone_string` ("" where the owner chose a bare UTC offset).
        self.timezone = timezone
        self.tls = tls
        self.keys: dict[str, str] = {}
        #: Our widget's script URL, embedded in the cart page when set (browser tests).
        self.widget_url = ""
        self.products: dict[int, dict[str, Any]] = {}
        self.variations: dict[int, list[dict[str, Any]]] = {}
        self.customers: dict[int, dict[str, Any]] = {}
        self.orders: dict[int, FakeOrder] = {}
        self.webhooks: dict[int, dict[str, Any]] = {}
        self.coupons: dict[str, dict[str, Any]] = {}  # by code, lower-case
        self.carts: dict[str, dict[int, int]] = {}
        #: (method, path, query args, how it authenticated) of every API request.
        self.requests: list[tuple[str, str, dict[str, str], str]] = []
        #: Statuses to answer the next API requests with, in order (429, 503, ...).
        self.fail_next: list[int] = []
        #: (path suffix, page) answered 503 with Retry-After: 0 until cleared (a broken page).
        self.broken_page: tuple[str, int] | None = None
        #: Webhook deliveries sent: (webhook id, topic, HTTP status or error).
        self.deliveries: list[tuple[int, str, int]] = []
        self._ids = itertools.count(100)
        self._clock = itertools.count(1)
        self._lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self.app = self._build_app()

    # --- lifecycle ---------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server is not None
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_port}"

    def __enter__(self) -> FakeWooCommerce:
        context = (str(self.tls[0]), str(self.tls[1])) if self.tls else None
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True, ssl_context=context)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # --- data --------------------------------------------------------------------------------

    def tick(self) -> dt.datetime:
        """The shop's clock: every change is one second after the previous one."""
        return START + dt.timedelta(seconds=next(self._clock))

    def new_id(self) -> int:
        with self._lock:
            return next(self._ids)

    def add_keys(self) -> tuple[str, str]:
        key, secret = f"ck_{secrets.token_hex(20)}", f"cs_{secrets.token_hex(20)}"
        self.keys[key] = secret
        return key, secret

    def add_product(
        self, name: str, price: str, *, variations: list[tuple[str, str]] | None = None
    ) -> dict[str, Any]:
        """A simple product, or a variable one with (size option, price) variations."""
        product_id, moment = self.new_id(), self.tick()
        slug = name.lower().replace(" ", "-")
        product = {
            **PRODUCT_DEFAULTS,
            "id": product_id,
            "name": name,
            "slug": slug,
            "permalink": f"{self.site_url()}/product/{slug}/",
            "date_created": _gmt(moment),
            "date_created_gmt": _gmt(moment),
            "date_modified": _gmt(moment),
            "date_modified_gmt": _gmt(moment),
            "has_options": bool(variations),
            "price_html": f"<span>{price}</span>",
            "_links": {
                "self": [{"href": f"{self.site_url()}/wp-json/wc/v3/products/{product_id}"}],
                "collection": [{"href": f"{self.site_url()}/wp-json/wc/v3/products"}],
            },
            "type": "variable" if variations else "simple",
            "status": "publish",
            "catalog_visibility": "visible",
            "sku": "",
            "price": price,
            "regular_price": price,
            "sale_price": "",
            "manage_stock": not variations,
            "stock_quantity": 12 if not variations else None,
            "stock_status": "instock",
            "categories": [{"id": 9, "name": "Coffee", "slug": "coffee"}],
            "tags": [{"id": 3, "name": "organic", "slug": "organic"}],
            "images": [{"id": 7, "src": f"{self.site_url()}/wp-content/uploads/{slug}.jpg"}],
            "attributes": [],
            "variations": [],
            "meta_data": [],
        }
        self.products[product_id] = product
        for option, variation_price in variations or []:
            variation_id = self.new_id()
            product["variations"].append(variation_id)
            self.variations.setdefault(product_id, []).append(
                {
                    "id": variation_id,
                    "date_created_gmt": _gmt(moment),
                    "date_modified_gmt": _gmt(moment),
                    "permalink": f"{product['permalink']}?attribute_size={option}",
                    "sku": f"{slug}-{option}".upper(),
                    "price": variation_price,
                    "regular_price": variation_price,
                    "status": "publish",
                    "manage_stock": True,
                    "stock_quantity": 0 if option == "XL" else 5,
                    "stock_status": "outofstock" if option == "XL" else "instock",
                    "attributes": [{"id": 0, "name": "Size", "option": option}],
                    "meta_data": [],
                }
            )
        return product

    def trash_product(self, product_id: int) -> None:
        """The owner moves a product to the bin: it leaves the default list, no webhook sent."""
        self.products[product_id].update(status="trash", date_modified_gmt=_gmt(self.tick()))

    def delete_product(self, product_id: int) -> None:
        """The owner deletes a product for good: no list shows it any more."""
        del self.products[product_id]
        self.variations.pop(product_id, None)

    def add_customer(self, email: str, phone: str, country: str = "DE") -> dict[str, Any]:
        customer = copy.deepcopy(CUSTOMER_TEMPLATE)
        customer_id, moment = self.new_id(), self.tick()
        customer.update(
            id=customer_id,
            email=email,
            username=email.split("@")[0],
            date_created_gmt=_gmt(moment),
            date_modified_gmt=_gmt(moment),
        )
        customer["billing"].update(email=email, phone=phone, country=country)
        customer["shipping"]["country"] = country
        customer["_links"] = {}
        self.customers[customer_id] = customer
        return customer

    def update_customer(self, customer_id: int, **fields: Any) -> None:
        customer = self.customers[customer_id]
        customer.update(fields)
        customer["date_modified_gmt"] = _gmt(self.tick())

    def add_order(
        self,
        lines: list[tuple[int, int, int, str]],
        *,
        status: str = "processing",
        customer_id: int = 0,
        phone: str = "",
        email: str = "",
        at: dt.datetime | None = None,
    ) -> FakeOrder:
        moment = at or self.tick()
        order = FakeOrder(
            id=self.new_id(),
            status=status,
            created=moment,
            modified=moment,
            customer_id=customer_id,
            phone=phone,
            email=email,
            lines=lines,
        )
        self.orders[order.id] = order
        return order

    def update_order(self, order_id: int, **fields: Any) -> FakeOrder:
        order = self.orders[order_id]
        for name, value in fields.items():
            setattr(order, name, value)
        order.modified = self.tick()
        return order

    def site_url(self) -> str:
        return self.url if self._server else "https://shop.example"

    def render_order(self, order: FakeOrder) -> dict[str, Any]:
        """The order in the REST v3 shape of WooCommerce 10.2 (tests/data/woocommerce/
        order_727.json with the fields the captured `rest/rest-order-create.json` adds)."""
        body = dict(ORDER_TEMPLATE)
        total = sum(int(qty) * float(price) for _p, _v, qty, price in order.lines)
        paid = _gmt(order.created) if order.status in ("processing", "completed") else None
        completed = _gmt(order.modified) if order.status == "completed" else None
        unpaid = order.status in ("pending", "on-hold", "failed", "checkout-draft")
        body.update(
            id=order.id,
            number=str(order.id),
            order_key=f"wc_order_{order.id:08x}",
            status=order.status,
            currency=self.currency,
            date_created=_gmt(order.created),
            date_created_gmt=_gmt(order.created),
            date_modified=_gmt(order.modified),
            date_modified_gmt=_gmt(order.modified),
            date_paid=paid,
            date_paid_gmt=paid,
            date_completed=completed,
            date_completed_gmt=completed,
            currency_symbol=_SYMBOLS.get(self.currency, self.currency),
            is_editable=order.status in ("pending", "on-hold", "auto-draft", "checkout-draft"),
            needs_payment=unpaid,
            needs_processing=True,
            payment_url=f"{self.site_url()}/checkout/order-pay/{order.id}/"
            f"?pay_for_order=true&key=wc_order_{order.id:08x}",
            total=f"{total:.2f}",
            customer_id=order.customer_id,
            billing={
                **ORDER_TEMPLATE["billing"],
                "email": order.email,
                "phone": order.phone,
                "country": order.country,
            },
            shipping={**ORDER_TEMPLATE["shipping"], "phone": ""},  # since WooCommerce 5.6
            meta_data=[{"id": 1, "key": k, "value": v} for k, v in order.meta.items()],
            line_items=[
                {
                    "id": order.id * 10 + n,
                    "name": self.products.get(pid, {}).get("name", f"Product {pid}"),
                    "product_id": pid,
                    "variation_id": vid,
                    "quantity": qty,
                    "tax_class": "",
                    "subtotal": f"{qty * float(price):.2f}",
                    "subtotal_tax": "0.00",
                    "total": f"{qty * float(price):.2f}",
                    "total_tax": "0.00",
                    "taxes": [],
                    "meta_data": [],
                    "sku": "",
                    "global_unique_id": "",
                    "price": float(price),
                    "image": {"id": "", "src": ""},
                    "parent_name": self.products.get(pid, {}).get("name") if vid else None,
                }
                for n, (pid, vid, qty, price) in enumerate(order.lines)
            ],
        )
        return body

    # --- webhooks ----------------------------------------------------------------------------

    def deliver(self, topic: str, payload: dict[str, Any]) -> list[int]:
        """Send `payload` to every active webhook of `topic`, signed with its secret."""
        statuses = []
        for hook in list(self.webhooks.values()):
            if hook["topic"] != topic or hook["status"] != "active":
                continue
            body = json.dumps(payload).encode()
            digest = hmac.new(hook["secret"].encode(), body, hashlib.sha256).digest()
            resource, event = topic.split(".")
            headers = {
                "Content-Type": "application/json",
                "User-Agent": f"WooCommerce/{self.version} Hookshot (WordPress/6.8.12)",
                "X-WC-Webhook-Source": f"{self.url}/",
                "X-WC-Webhook-Topic": topic,
                "X-WC-Webhook-Resource": resource,
                "X-WC-Webhook-Event": event,
                "X-WC-Webhook-Signature": base64.b64encode(digest).decode(),
                "X-WC-Webhook-ID": str(hook["id"]),
                "X-WC-Webhook-Delivery-ID": self.delivery_id(hook["id"]),
            }
            statuses.append(self._post_delivery(hook, body, headers))
        return statuses

    @staticmethod
    def delivery_id(hook_id: int) -> str:
        """`WC_Webhook::get_new_delivery_id`: `wp_hash(webhook id . strtotime('now'))`, so
        every delivery of one webhook within one second carries the same id."""
        return hashlib.md5(f"{hook_id}{int(time.time())}".encode()).hexdigest()

    def _post_delivery(self, hook: dict[str, Any], body: bytes, headers: dict[str, str]) -> int:
        try:
            status = requests.post(hook["delivery_url"], data=body, headers=headers, timeout=10)
            code = status.status_code
        except requests.RequestException:
            code = 0
        self.deliveries.append((hook["id"], hook["topic"], code))
        # WooCommerce disables a webhook after 5 consecutive failed deliveries.
        hook["failure_count"] = 0 if 200 <= code < 300 else hook.get("failure_count", 0) + 1
        if hook["failure_count"] > 5 - 1:
            hook["status"] = "disabled"
        return code

    def _ping(self, hook: dict[str, Any]) -> None:
        """The unsigned creation ping; recorded in `deliveries` with topic "ping"."""
        try:
            answer = requests.post(
                hook["delivery_url"],
                data=f"webhook_id={hook['id']}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                timeout=10,
            )
            code = answer.status_code
        except requests.RequestException:
            code = 0
        self.deliveries.append((hook["id"], "ping", code))

    # --- the HTTP side -------------------------------------------------------------------------

    def _authenticate(self) -> tuple[str, Response | None]:
        """How the request authenticated (basic, query, oauth), or the error WordPress sends."""
        if request.scheme == "https":
            auth = None if self.strip_basic_auth else request.authorization
            if auth is not None and auth.type == "basic":
                key, secret, how = auth.username, auth.password, "basic"
            elif "consumer_key" in request.args:
                key, secret = request.args["consumer_key"], request.args.get("consumer_secret")
                how = "query"
            else:
                return "none", _error(
                    "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401
                )
            if key not in self.keys:
                return how, _error(
                    "woocommerce_rest_authentication_error", "Consumer key is invalid.", 401
                )
            if self.keys[key] != secret:
                return how, _error(
                    "woocommerce_rest_authentication_error", "Consumer secret is invalid.", 401
                )
            return how, None
        return self._authenticate_oauth()

    def _authenticate_oauth(self) -> tuple[str, Response | None]:
        """OAuth 1.0a (HMAC-SHA256) over plain HTTP, the only way WooCommerce accepts there."""
        args = OrderedDict(request.args.items(multi=False))
        key, signature = args.get("oauth_consumer_key"), args.pop("oauth_signature", None)
        if key not in self.keys or not signature:
            return "none", _error(
                "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.", 401
            )
        url = request.base_url
        signer = OAuth(url, key, self.keys[key], version="wc/v3", method=request.method)
        if not hmac.compare_digest(signer.generate_oauth_signature(args, url), signature):
            return "oauth", _error(
                "woocommerce_rest_authentication_error", "Invalid signature - provided.", 401
            )
        return "oauth", None

    def _paginate(self, items: list[Any], render: Any) -> Response:
        raw_per_page = request.args.get("per_page", "10")
        per_page = int(raw_per_page) if raw_per_page.isdigit() else 0
        if not 1 <= per_page <= 100:
            return _error(
                "rest_invalid_param",
                "Invalid parameter(s): per_page",
                400,
                params={"per_page": "per_page must be between 1 (inclusive) and 100 (inclusive)"},
            )
        page = int(request.args.get("page", "1"))
        total = len(items)
        pages = max(math.ceil(total / per_page), 1) if total else 0
        chunk = items[(page - 1) * per_page : page * per_page]
        response = jsonify([render(item) for item in chunk])
        response.headers["X-WP-Total"] = str(total)
        response.headers["X-WP-TotalPages"] = str(pages)
        links = []
        query = {k: v for k, v in request.args.items() if not k.startswith(("oauth_", "consumer_"))}
        if page < pages:
            links.append(
                f'<{request.base_url}?{urlencode({**query, "page": page + 1})}>; rel="next"'
            )
        if page > 1:
            links.append(
                f'<{request.base_url}?{urlencode({**query, "page": page - 1})}>; rel="prev"'
            )
        if links:
            response.headers["Link"] = ", ".join(links)
        return response

    def _modified_after(self, items: list[Any], modified: Any) -> list[Any]:
        """The filter exists since WooCommerce 5.8; older versions ignore the parameter."""
        raw = request.args.get("modified_after")
        major_minor = tuple(int(p) for p in self.version.split(".")[:2])
        if not raw or major_minor < (5, 8):
            return items
        since = dt.datetime.fromisoformat(raw.replace("Z", "")).replace(tzinfo=None)
        return [item for item in items if modified(item) > since]

    def _ordered(self, rows: dict[int, Any]) -> list[Any]:
        descending = request.args.get("order", "desc") == "desc"
        return [rows[k] for k in sorted(rows, reverse=descending)]

    def _build_app(self) -> Flask:
        app = Flask("fake_woocommerce")
        api = "/wp-json/wc/v3"

        @app.before_request
        def gate() -> Response | None:
            if not request.path.startswith(api):
                return None
            how, refusal = self._authenticate()
            self.requests.append((request.method, request.path, dict(request.args), how))
            if refusal is not None:
                return refusal
            broken = self.broken_page
            if broken and (request.path, request.args.get("page")) == (
                f"{api}{broken[0]}",
                str(broken[1]),
            ):
                response = _error("fake_failure", "Broken page", 503)
                response.headers["Retry-After"] = "0"
                return response
            if self.fail_next:
                status = self.fail_next.pop(0)
                response = _error("fake_failure", "Injected failure", status)
                if status == 429:
                    response.headers["Retry-After"] = "0"
                return response
            return None

        self._add_resource_routes(app, api)
        self._add_webhook_routes(app, api)
        add_auth_routes(app, self)
        add_cart_routes(app, self)
        add_coupon_routes(app, self.coupons, api)
        return app

    def _add_resource_routes(self, app: Flask, api: str) -> None:
        @app.get(f"{api}/system_status")
        def system_status() -> Response:
            return jsonify(
                environment={
                    "home_url": self.url,
                    "site_url": self.url,
                    "version": self.version,
                    "wp_version": "6.6.2",
                },
                settings={"currency": self.currency},
            )

        @app.get(f"{api}/settings/general")
        def general_settings() -> Response:
            """The general settings group (`WC_Settings_General`), in the REST setting shape."""
            return jsonify([self._setting(name, value) for name, value in self._general().items()])

        @app.get("/wp-json/")
        def index() -> Response:
            """WordPress's REST index (public), limited to `_fields` as WordPress does."""
            site = {
                "name": "Fake shop",
                "description": "",
                "url": self.site_url(),
                "home": self.site_url(),
                "gmt_offset": "1" if self.timezone == "Europe/Berlin" else "0",
                "timezone_string": self.timezone,
                "namespaces": ["wp/v2", "wc/v3", "wc/store/v1"],
                "authentication": {},
                "routes": {},
            }
            fields = [f for f in request.args.get("_fields", "").split(",") if f]
            return jsonify({k: v for k, v in site.items() if not fields or k in fields})

        @app.get(f"{api}/products")
        def products() -> Response:
            """`status` defaults to `any`, which (as WP_Query's `any`) leaves trash out."""
            status = request.args.get("status", "any")
            if status not in ("any", *PRODUCT_STATUSES):
                return _invalid_param(
                    "status", "status is not one of any, " + ", ".join(PRODUCT_STATUSES) + "."
                )
            rows = [
                p
                for p in self._ordered(self.products)
                if (p["status"] != "trash" if status == "any" else p["status"] == status)
            ]
            rows = self._modified_after(
                rows, lambda p: dt.datetime.fromisoformat(p["date_modified_gmt"])
            )
            return self._paginate(rows, lambda p: p)

        @app.get(f"{api}/products/<int:product_id>")
        def product(product_id: int) -> Response:
            if product_id not in self.products:
                return _error("woocommerce_rest_product_invalid_id", "Invalid ID.", 404)
            return jsonify(self.products[product_id])

        @app.get(f"{api}/products/<int:product_id>/variations")
        def variations(product_id: int) -> Response:
            return self._paginate(self.variations.get(product_id, []), lambda v: v)

        @app.get(f"{api}/customers")
        def customers() -> Response:
            return self._paginate(self._ordered(self.customers), lambda c: c)

        @app.get(f"{api}/orders")
        def orders() -> Response:
            rows = self._modified_after(self._ordered(self.orders), lambda o: o.modified)
            return self._paginate(rows, self.render_order)

    def _add_webhook_routes(self, app: Flask, api: str) -> None:
        @app.get(f"{api}/webhooks")
        def webhooks() -> Response:
            status = request.args.get("status", "all")
            if status not in ("all", *WEBHOOK_STATUSES):
                return _invalid_param(
                    "status", "status is not one of all, active, paused, and disabled."
                )
            rows = [h for h in self._ordered(self.webhooks) if status in ("all", h["status"])]
            return self._paginate(rows, self._render_webhook)

        @app.post(f"{api}/webhooks")
        def create_webhook() -> Response:
            body = request.get_json()
            refusal = refuse_webhook_body(body)
            if refusal is not None:
                return refusal
            hook = {
                "id": self.new_id(),
                "name": body.get("name", ""),
                "status": body.get("status", "active"),
                "topic": body["topic"],
                "delivery_url": body["delivery_url"],
                "secret": body.get("secret") or secrets.token_hex(16),
                "failure_count": 0,
            }
            self.webhooks[hook["id"]] = hook
            self._ping(hook)
            response = jsonify(self._render_webhook(hook))
            response.status_code = 201
            return response

        @app.put(f"{api}/webhooks/<int:hook_id>")
        def update_webhook(hook_id: int) -> Response:
            hook = self.webhooks[hook_id]
            body = request.get_json()
            refusal = invalid_params(body, WEBHOOK_FIELDS)
            if refusal is not None:
                return refusal
            hook.update({k: v for k, v in body.items() if k in ("status", "secret", "name")})
            hook["modified"] = self.tick()
            if hook["status"] == "active":
                hook["failure_count"] = 0
            return jsonify(self._render_webhook(hook))

        @app.delete(f"{api}/webhooks/<int:hook_id>")
        def delete_webhook(hook_id: int) -> Response:
            """`WC_REST_Webhooks_V1_Controller::delete_item`: no trash for webhooks."""
            if request.args.get("force") not in ("true", "1"):
                return _error(
                    "woocommerce_rest_trash_not_supported",
                    "Webhooks do not support trashing.",
                    501,
                )
            if hook_id not in self.webhooks:
                return _error("woocommerce_rest_webhook_invalid_id", "Invalid ID.", 404)
            return jsonify(self._render_webhook(self.webhooks.pop(hook_id)))

    def _general(self) -> dict[str, str]:
        return {
            "woocommerce_store_address": "1 Main Street",
            "woocommerce_store_city": "Springfield",
            "woocommerce_default_country": self.country,
            "woocommerce_store_postcode": "12345",
            "woocommerce_currency": self.currency,
            "woocommerce_currency_pos": "left",
            "woocommerce_price_thousand_sep": ",",
            "woocommerce_price_decimal_sep": ".",
            "woocommerce_price_num_decimals": "2",
        }

    def _setting(self, name: str, value: str) -> dict[str, Any]:
        """A setting as GET /settings/general lists it (`WC_REST_Setting_Options_Controller`)."""
        link = f"{self.site_url()}/wp-json/wc/v3/settings/general"
        return {
            "id": name,
            "label": name.removeprefix("woocommerce_").replace("_", " ").capitalize(),
            "description": "",
            "type": "select"
            if name in ("woocommerce_default_country", "woocommerce_currency")
            else "text",
            "default": "",
            "tip": "",
            "value": value,
            "_links": {"self": [{"href": f"{link}/{name}"}], "collection": [{"href": link}]},
        }

    def _render_webhook(self, hook: dict[str, Any]) -> dict[str, Any]:
        """The webhook as WooCommerce 10.2 answers it (captured `rest/rest-webhook-create.json`):
        no secret; `date_modified` is null until it is changed."""
        resource, event = hook["topic"].split(".")
        modified = hook.get("modified")
        return {
            "id": hook["id"],
            "name": hook["name"],
            "status": hook["status"],
            "topic": hook["topic"],
            "resource": resource,
            "event": event,
            "hooks": [f"woocommerce_{event}_{resource}"],
            "delivery_url": hook["delivery_url"],
            "date_created": _gmt(START),
            "date_created_gmt": _gmt(START),
            "date_modified": _gmt(modified) if modified else None,
            "date_modified_gmt": _gmt(modified) if modified else None,
            "_links": {
                "self": [{"href": f"{self.site_url()}/wp-json/wc/v3/webhooks/{hook['id']}"}],
                "collection": [{"href": f"{self.site_url()}/wp-json/wc/v3/webhooks"}],
            },
        }
