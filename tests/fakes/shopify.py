"""A fake Shopify shop on a real local port: OAuth, the GraphQL Admin API, bulk operations.

It meters cost like Shopify (a leaky bucket read back in `extensions.cost.throttleStatus`),
answers HTTP 200 with a THROTTLED error when the bucket cannot pay for a query, and counts
throttles and the lowest level the bucket reached, so tests can prove a client paced itself.
Every request is first checked against Shopify's Admin schema of the pinned version (document
and variables, `tests/fakes/shopify_schema.py`); one Shopify would refuse is answered as Shopify
answers it: HTTP 200 with `errors` and no `data`, and nothing is resolved or metered.
Every token carries the access scopes the shop granted (what the app asked for at OAuth, or by
default what shopify.app.toml asks for, as a managed install grants); a field the schema says
needs a scope the token lacks is refused with ACCESS_DENIED (`tests/fakes/shopify_access.py`).

It recognises ShopNudge's operations by name and root field, honouring the connection
arguments that change what comes back (`first`, `after`, `sortKey`, `reverse`, and `query`
filters on `updated_at`), and then answers through graphql-core over the schema: only the
fields the document selects, in the schema's types (an enum value or a null the schema does not
allow is an error, so the fake's own records stay honest too).

For tests and journeys (the public surface; keep it stable):
- `fake.data` (`ShopData`): `seed(...)` fills the shop; `add_product(...)`, `add_customer(...)`,
  `add_checkout(...)`, `add_order(...)` add one record each and return its number (the last part
  of its gid, what webhooks call `id`); `touch(...)` changes records and their `updatedAt`.
- `fake.requests`: every GraphQL request in order, as `GraphQLRequest` (operation, query,
  variables, version, errors); `fake.refused` those answered with validation errors.
- `fake.operations` (operation names answered), `fake.served` (nodes handed out per resource),
  `fake.webhooks` (webhook subscriptions created), `fake.consent_updates` (WhatsApp consent
  written back), `fake.throttled`, `fake.lowest_available`.
- `fake.issue_token(scopes=...)` (a token with these scopes; default `fake.granted`),
  `fake.grant(scopes)` (what the shop approves from now on: later OAuth, the scopes read back),
  `fake.denied` (requests refused for missing scopes), `fake.fail_next(*statuses)`,
  `fake.drain(amount)`, `fake.sign(body)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, abort, jsonify, redirect, request
from werkzeug.serving import make_server

from tests.fakes.server import LocalServer
from tests.fakes.shopify_access import access_errors, app_scopes, parse_scopes
from tests.fakes.shopify_bulk import ROOT_RESOURCES, BulkOperations
from tests.fakes.shopify_data import ShopData
from tests.fakes.shopify_discounts import create_discount
from tests.fakes.shopify_query import connection_arguments, root_field, root_names, select_page
from tests.fakes.shopify_schema import PINNED_VERSION, admin_schema, project, request_errors


@dataclass
class GraphQLRequest:
    """One GraphQL call as the fake received it, and the errors it was refused with (if any)."""

    operation: str | None
    query: str
    variables: dict[str, Any]
    version: str
    errors: list[dict[str, Any]] = field(default_factory=list)


def sign_query(params: dict[str, str], secret: str) -> str:
    """Shopify's OAuth query HMAC (hex over the sorted `k=v` pairs)."""
    message = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "hmac")
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_body(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class QuickServer(LocalServer):
    """LocalServer that stops in milliseconds (serve_forever polls for shutdown)."""

    def start(self) -> QuickServer:
        self._server = make_server(self.host, 0, self.wsgi_app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()
        return self


class FakeShopify(BulkOperations):
    """One shop. Start with `with FakeShopify(...) as fake:`; point shopify_base_url at fake.url."""

    def __init__(
        self,
        *,
        domain: str = "tea-house.myshopify.com",
        api_key: str = "fake-key",
        secret: str = "fake-app-secret-0123456789abcdef0123",
        bucket_size: float = 1000.0,
        restore_rate: float = 1000.0,
        token_lifetime: int = 3600,
        scopes: str | None = None,
    ) -> None:
        self.domain, self.api_key, self.secret = domain, api_key, secret
        self.data = ShopData(domain)
        self.maximum, self.restore_rate = bucket_size, restore_rate
        self.available, self.refilled_at = bucket_size, time.monotonic()
        self.lowest_available, self.throttled = bucket_size, 0
        self.token_lifetime = token_lifetime
        self.tokens: dict[str, float] = {}  # access token -> expiry (epoch seconds)
        #: What the shop approves when the app asks for nothing in particular (managed install).
        self.granted = parse_scopes(scopes) if scopes is not None else app_scopes()
        self.token_scopes: dict[str, frozenset[str]] = {}  # access or refresh token -> scopes
        self.refresh_tokens: set[str] = set()
        self.codes: set[str] = set()
        self.code_scopes: dict[str, frozenset[str]] = {}  # authorization code -> scopes approved
        self.served: Counter[str] = Counter()  # nodes handed out per resource (pages + bulk)
        self.operations: list[str] = []
        self.requests: list[GraphQLRequest] = []
        self.webhooks: list[dict[str, Any]] = []
        self.consent_updates: list[dict[str, Any]] = []
        self.metafields: dict[tuple[str, str, str], dict[str, Any]] = {}  # (owner, ns, key)
        self.discounts: dict[str, dict[str, Any]] = {}  # discount codes by code (upper case)
        self.bulk: dict[str, dict[str, Any]] = {}
        self.files: dict[str, bytes] = {}  # served as-is at /files/<name> (recorded results)
        self.failures: list[int] = []  # HTTP statuses to answer the next GraphQL calls with
        self.lock = threading.Lock()
        self.app = self._build_app()
        self.server = QuickServer(self.app)

    # -- lifecycle and helpers for tests ------------------------------------------------------
    def __enter__(self) -> FakeShopify:
        # Built before the first request (once per process, about 2 s): a client's first call
        # would otherwise spend its timeout waiting for the schema on a busy machine.
        admin_schema()
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()

    @property
    def url(self) -> str:
        return self.server.url

    def issue_token(self, lifetime: int | None = None, scopes: str | None = None) -> str:
        """An offline token with these scopes (comma list; default: what the shop grants)."""
        token = "shpat_" + secrets.token_hex(12)
        self.tokens[token] = time.time() + (lifetime or self.token_lifetime)
        self.token_scopes[token] = parse_scopes(scopes) if scopes is not None else self.granted
        return token

    def grant(self, scopes: str) -> None:
        """The owner approves these scopes: every token of the app has them from now on, as a
        re-approval (managed install prompt or OAuth again) changes the installation's grant."""
        self.granted = parse_scopes(scopes)
        for token in self.token_scopes:
            self.token_scopes[token] = self.granted

    @property
    def denied(self) -> list[GraphQLRequest]:
        """Requests refused because the token lacked an access scope the schema requires."""
        return [r for r in self.requests if any(_code(e) == "ACCESS_DENIED" for e in r.errors)]

    @property
    def refused(self) -> list[GraphQLRequest]:
        """Requests answered with validation errors (what real Shopify would have refused)."""
        return [r for r in self.requests if r.errors]

    def sign(self, body: bytes) -> str:
        """X-Shopify-Hmac-Sha256 for a webhook body, with this app's secret."""
        return sign_body(body, self.secret)

    def drain(self, amount: float | None = None) -> None:
        """Another app spent the bucket (throttling follows until it restores)."""
        with self.lock:
            self._refill()
            self.available = max(0.0, self.available - (amount or self.available))

    # -- the HTTP surface ---------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("fake_shopify")
        app.add_url_rule("/admin/oauth/authorize", view_func=self._authorize)
        app.add_url_rule("/admin/oauth/access_token", view_func=self._token, methods=["POST"])
        app.add_url_rule(
            "/admin/api/<version>/graphql.json", view_func=self._graphql, methods=["POST"]
        )
        app.add_url_rule("/bulk/<number>.jsonl", view_func=self._bulk_file)
        app.add_url_rule("/files/<name>", view_func=lambda name: self.files[name])
        return app

    def _authorize(self) -> Any:
        """The owner approves at once: back to redirect_uri with a signed code."""
        if request.args.get("client_id") != self.api_key:
            abort(400)
        code = secrets.token_hex(8)
        asked = request.args.get("scope")  # the shop grants what the app asks for
        self.codes.add(code)
        self.code_scopes[code] = parse_scopes(asked) if asked is not None else self.granted
        params = {
            "code": code,
            "shop": self.domain,
            "state": request.args.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = sign_query(params, self.secret)
        return redirect(f"{request.args['redirect_uri']}?{urlencode(params)}")

    def _token(self) -> Any:
        body = request.get_json(force=True)
        if body.get("client_id") != self.api_key or body.get("client_secret") != self.secret:
            return jsonify(error="invalid_client"), 401
        if body.get("grant_type") == "refresh_token":
            if body.get("refresh_token") not in self.refresh_tokens:
                return jsonify(error="invalid_grant"), 400
            self.refresh_tokens.discard(body["refresh_token"])  # rotating
            scopes = self.token_scopes.pop(body["refresh_token"], self.granted)
        elif body.get("code") in self.codes:
            self.codes.discard(body["code"])
            scopes = self.code_scopes.pop(body["code"], self.granted)
        else:
            return jsonify(error="invalid_request"), 400
        refresh_token = "shprt_" + secrets.token_hex(12)
        self.refresh_tokens.add(refresh_token)
        self.token_scopes[refresh_token] = scopes
        listed = ",".join(sorted(scopes))
        return jsonify(
            access_token=self.issue_token(scopes=listed),
            scope=listed,
            expires_in=self.token_lifetime,
            refresh_token=refresh_token,
            refresh_token_expires_in=7_776_000,
        )

    def _refill(self) -> None:
        now = time.monotonic()
        self.available = min(
            self.maximum, self.available + (now - self.refilled_at) * self.restore_rate
        )
        self.refilled_at = now

    def _status(self) -> dict[str, Any]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": int(self.available),
            "restoreRate": self.restore_rate,
        }

    def fail_next(self, *statuses: int) -> None:
        """Answer the next GraphQL calls with these statuses (429, 502, ...), in order."""
        self.failures.extend(statuses)

    def _graphql(self, version: str) -> Any:
        if self.failures:
            status = self.failures.pop(0)
            headers = {"Retry-After": "0.01"} if status == 429 else {}
            return jsonify(errors="Exceeded 2 calls per second"), status, headers
        token = request.headers.get("X-Shopify-Access-Token", "")
        expiry = self.tokens.get(token)
        if expiry is None or expiry < time.time():
            return jsonify(errors="[API] Invalid API key or access token"), 401
        body = request.get_json(force=True)
        query, variables = body["query"], body.get("variables") or {}
        scopes = self.token_scopes.get(token, self.granted)
        errors = self._refusal(version, query, variables, scopes)
        if errors and all(_code(e) == "ACCESS_DENIED" for e in errors):
            return jsonify(data=self._nulled(query), errors=errors)
        if errors:
            return jsonify(errors=errors)
        requested = self._cost(query, variables)
        with self.lock:
            self._refill()
            if requested > self.available:
                self.throttled += 1
                return jsonify(
                    errors=[{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                    extensions={
                        "cost": {
                            "requestedQueryCost": requested,
                            "actualQueryCost": None,
                            "throttleStatus": self._status(),
                        }
                    },
                )
            self.available -= requested
            self.lowest_available = min(self.lowest_available, self.available)
        data, errors, actual = self._resolve(query, variables, requested, scopes)
        if data is not None and not errors:
            checked = version if admin_schema(version) is not None else PINNED_VERSION
            data, errors = project(query, variables, data, checked)
        with self.lock:
            self.available = min(self.maximum, self.available + requested - actual)
            cost = {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self._status(),
            }
        answer: dict[str, Any] = {"data": data, "extensions": {"cost": cost}}
        if errors:
            answer["errors"] = errors
        return jsonify(answer)

    def _refusal(
        self, version: str, query: str, variables: dict[str, Any], scopes: frozenset[str]
    ) -> list[dict[str, Any]]:
        """Log the request; the errors Shopify would answer it with ([] when it is valid):
        an invalid document first, then the fields the token's scopes do not reach."""
        checked = version if admin_schema(version) is not None else PINNED_VERSION
        errors = request_errors(query, variables, checked) or access_errors(query, checked, scopes)
        name = re.search(r"(?:query|mutation)\s+(\w+)", query)
        with self.lock:
            self.requests.append(
                GraphQLRequest(name.group(1) if name else None, query, variables, version, errors)
            )
        return errors

    @staticmethod
    def _nulled(query: str) -> dict[str, None]:
        """The data of a refused request: every root field null, nothing resolved or written."""
        return {name: None for name in root_names(query)}

    @staticmethod
    def _cost(query: str, variables: dict[str, Any]) -> int:
        """Connections cost `first` times their nodes; mutations 10; anything else 1."""
        if query.lstrip().startswith("mutation"):
            return 10
        if "$first" not in query:
            return 1
        nested = [int(n) for n in re.findall(r"\(first: (\d+)\)", query)]
        per_node = 3 + sum(2 + n * 3 for n in nested)
        return 2 + int(variables.get("first", 1)) * per_node

    def _resolve(
        self, query: str, variables: dict[str, Any], requested: int, scopes: frozenset[str]
    ) -> tuple:
        """Answer by the root field (whatever the operation is named), arguments resolved."""
        name = re.search(r"(?:query|mutation)\s+(\w+)", query)
        self.operations.append(name.group(1) if name else "anonymous")
        root = root_field(query)
        arguments = connection_arguments(query, variables)
        if root == "shop":
            shop = {
                "currencyCode": self.data.currency,
                "ianaTimezone": self.data.timezone,
                "shopAddress": {"countryCodeV2": self.data.country},
                "id": "gid://shopify/Shop/1",
                "myshopifyDomain": self.domain,
                "primaryDomain": {"url": f"https://{self.domain}"},
            }
            return {"shop": shop}, None, 1
        if root == "bulkOperationRunQuery":
            return self._bulk_run(arguments["query"], scopes), None, 10
        if root == "bulkOperations":
            return self._bulk_list(arguments), None, 1
        if root == "node":
            return self._bulk_node(arguments), None, 1
        if root == "webhookSubscriptionCreate":
            return self._subscribe(arguments), None, 10
        if root == "customerWhatsAppMarketingConsentUpdate":
            return self._consent_update(arguments["input"]), None, 10
        if root == "currentAppInstallation":
            granted = [{"handle": h, "description": h.replace("_", " ")} for h in sorted(scopes)]
            installation = {"id": "gid://shopify/AppInstallation/1", "accessScopes": granted}
            return {root: installation}, None, 1
        if root == "discountCodeBasicCreate":
            return create_discount(self.discounts, arguments["basicCodeDiscount"]), None, 10
        if root == "metafieldsSet":
            return self._metafields_set(arguments["metafields"]), None, 10
        if root in ROOT_RESOURCES:
            return self._page(ROOT_RESOURCES[root], query, variables)
        return None, [{"message": f"the fake shop does not answer {root}"}], 1

    def _subscribe(self, arguments: dict[str, Any]) -> dict[str, Any]:
        self.webhooks.append(arguments)
        return {
            "webhookSubscriptionCreate": {
                "webhookSubscription": {
                    "id": f"gid://shopify/WebhookSubscription/{len(self.webhooks)}",
                    "topic": arguments["topic"],
                },
                "userErrors": [],
            }
        }

    def _page(self, resource: str, query: str, variables: dict[str, Any]) -> tuple:
        arguments = connection_arguments(query, variables)
        page, more, end = select_page(list(self.data.collection(resource).values()), arguments)
        self.served[resource] += len(page)
        root = {v: k for k, v in ROOT_RESOURCES.items()}[resource]
        actual = 2 + sum(
            3 + sum(2 + 3 * len(child["nodes"]) for child in self._children(node)) for node in page
        )
        return (
            {root: {"pageInfo": {"hasNextPage": more, "endCursor": end}, "nodes": page}},
            None,
            actual,
        )

    @staticmethod
    def _children(node: dict[str, Any]) -> list[dict[str, Any]]:
        return [v for v in node.values() if isinstance(v, dict) and "nodes" in v]

    def _metafields_set(self, inputs: list[dict[str, Any]]) -> dict[str, Any]:
        """Keep each value by owner, namespace and key (the last write wins, as on Shopify)."""
        saved = []
        for n, entry in enumerate(inputs, start=1):
            key = (entry["ownerId"], entry["namespace"], entry["key"])
            self.metafields[key] = dict(entry)
            saved.append({"id": f"gid://shopify/Metafield/{n}", **entry})
        return {"metafieldsSet": {"metafields": saved, "userErrors": []}}

    def _consent_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        number = int(payload["customerId"].rsplit("/", 1)[-1])
        customer = self.data.customers.get(number)
        if customer is None:
            return {
                "customerWhatsAppMarketingConsentUpdate": {
                    "customerPhoneNumber": None,
                    "userErrors": [
                        {
                            "field": ["customerId"],
                            "message": "Customer not found",
                            "code": "INVALID",
                        }
                    ],
                }
            }
        self.consent_updates.append(payload)
        consent = customer["defaultPhoneNumber"]["whatsAppMarketingConsent"]
        consent["state"] = payload["whatsAppMarketingConsent"]["state"]
        return {
            "customerWhatsAppMarketingConsentUpdate": {
                "customerPhoneNumber": {
                    "phoneNumber": customer["defaultPhoneNumber"]["phoneNumber"],
                    "whatsAppMarketingConsent": consent,
                },
                "userErrors": [],
            }
        }


def _code(error: dict[str, Any]) -> str | None:
    return (error.get("extensions") or {}).get("code")
