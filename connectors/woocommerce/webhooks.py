"""WooCommerce webhook deliveries: the signature check on the raw body, and the creation ping.

Every delivery carries `X-WC-Webhook-Signature`: base64 HMAC-SHA256 of the raw body, keyed with
the webhook's secret. On creation WooCommerce sends an unsigned form body `webhook_id=N`.
https://woocommerce.github.io/woocommerce-rest-api-docs/#webhooks
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

#: Topics ShopNudge subscribes to, one webhook each.
TOPICS = (
    "order.created",
    "order.updated",
    "order.deleted",
    "customer.created",
    "customer.updated",
    "product.created",
    "product.updated",
    "product.deleted",
)

_PING = re.compile(rb"webhook_id=(\d{1,20})")


def signature(body: bytes, secret: str) -> str:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_signature(body: bytes, secret: str | None, header: str | None) -> bool:
    """True when `header` is the signature of the raw `body` with `secret` (constant time)."""
    if not secret or not header:
        return False
    return hmac.compare_digest(signature(body, secret).encode(), header.strip().encode())


def delivery_key(topic: str, body: bytes) -> str:
    """What identifies a delivery: its topic and the SHA-256 of its verified raw body.

    `X-WC-Webhook-Delivery-ID` cannot: WooCommerce computes it as
    `wp_hash(webhook id . strtotime('now'))` (`WC_Webhook::get_new_delivery_id`), so every
    delivery of one webhook within one second shares it. The body is the resource as saved,
    `date_modified_gmt` included, and carries no delivery time: a resend is byte for byte the
    same, a later change of the resource is not. The topic, not the webhook id, so that a
    second webhook left on the same topic (a reconnect) does not apply one change twice.
    """
    return f"{topic}:{hashlib.sha256(body).hexdigest()}"


def ping_webhook_id(body: bytes, signature_header: str | None) -> int | None:
    """The webhook id of a creation ping (unsigned `webhook_id=N`), else None."""
    if signature_header:
        return None
    match = _PING.fullmatch(body.strip())
    return int(match.group(1)) if match else None
