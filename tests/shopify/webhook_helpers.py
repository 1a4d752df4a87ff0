"""Deliver signed Shopify webhooks to our app the way Shopify does."""

from __future__ import annotations

import copy
import json
import uuid
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fakes.shopify import FakeShopify, sign_body

DATA = Path(__file__).parents[1] / "data" / "shopify"


def payload(name: str) -> dict[str, Any]:
    return copy.deepcopy(json.loads((DATA / f"webhook_{name}.json").read_text()))


def deliver(
    client: FlaskClient,
    fake: FakeShopify,
    topic: str,
    body: dict[str, Any] | bytes,
    *,
    secret: str | None = None,
    event_id: str | None = None,
    shop: str | None = None,
) -> TestResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/webhooks/shopify",
        data=raw,
        headers={
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": sign_body(raw, secret or fake.secret),
            "X-Shopify-Shop-Domain": shop or fake.domain,
            "X-Shopify-API-Version": "2026-07",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": "2026-11-24T10:00:00.000000Z",
        },
    )
