"""Deliver signed Shopify webhooks to our app the way Shopify does, with Shopify's own examples.

`example(topic)` reads Shopify's documented example payload for the topic (API 2026-07) from the
vendor folder. Tests may change only what differs between real deliveries of the same shape:
ids (and tokens, the shop's domain), times and phone numbers; and, for the WhatsApp consent
topic, the consent's state and opt-in level to values the Admin schema documents.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.fakes.shopify import FakeShopify, sign_body
from tests.fakes.shopify_schema import admin_schema
from tests.vendor import vendor_file

DATA = Path(__file__).parents[1] / "data" / "shopify"
EXAMPLES = ("shopify", "webhook-examples-2026-07")
#: The last key of a path a test may change: an id or token, a time, a phone number.
SUBSTITUTABLE = re.compile(r"(^|_)(id|token|domain)$|_at$|(^|_)phone(_number)?$")
CONSENT_TOPIC = "customers_whats_app_marketing_consent/update"
#: Consent fields a consent test may set, with the Admin schema enum that lists their values.
CONSENT_FIELDS = {
    "state": "CustomerMarketingConsentState",
    "opt_in_level": "CustomerMarketingOptInLevel",
}


def payload(name: str) -> dict[str, Any]:
    """A payload copied into tests/data/shopify/ (older copies; new tests use `example`)."""
    return copy.deepcopy(json.loads((DATA / f"webhook_{name}.json").read_text()))


def example(
    topic: str,
    changes: Mapping[str, Any] | None = None,
    *,
    consent: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Shopify's example payload for `topic`, with only ids, times and phone numbers changed.

    `changes` maps a dotted path that exists in the example ("customer.phone",
    "line_items.0.product_id") to its new value.
    """
    path = vendor_file(*EXAMPLES, f"{topic}.json")
    body = json.loads(path.read_text())["response"]
    for dotted, value in (changes or {}).items():
        *parents, last = dotted.split(".")
        if not SUBSTITUTABLE.search(last):
            raise ValueError(f"{dotted}: only ids, times and phone numbers may differ")
        _set(body, parents, last, value)
    if consent:
        _set_consent(topic, body, consent)
    return body


def _set(body: Any, parents: list[str], last: str, value: Any) -> None:
    node = body
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    if last not in node:
        raise KeyError(f"{last} is not in Shopify's example: add no fields")
    node[last] = value


def _set_consent(topic: str, body: dict[str, Any], consent: Mapping[str, str]) -> None:
    if topic != CONSENT_TOPIC:
        raise ValueError(f"consent values belong to {CONSENT_TOPIC}, not {topic}")
    schema = admin_schema()
    for name, value in consent.items():
        enum = schema.get_type(CONSENT_FIELDS[name]) if schema else None
        if enum is not None and value.upper() not in enum.values:  # type: ignore[attr-defined]
            raise ValueError(f"{name} {value!r} is not a value of {CONSENT_FIELDS[name]}")
        _set(body, ["whats_app_marketing_consent"], name, value)


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
