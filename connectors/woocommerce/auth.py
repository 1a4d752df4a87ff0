"""Key-based connect: the `/wc-auth/v1/authorize` URL and the key body it posts back.

The owner approves on their own shop; WooCommerce then POSTs JSON with the new REST keys to our
`callback_url` (and revokes them if we do not answer 200), then sends the owner to `return_url`.
https://woocommerce.github.io/woocommerce-rest-api-docs/#rest-api-keys
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

SCOPE = "read_write"


class InvalidKeyBody(ValueError):
    """The callback body is not the JSON WooCommerce sends."""


@dataclass(frozen=True)
class KeyGrant:
    key_id: int
    #: Echo of the `user_id` we put in the authorize URL (our one-time state).
    user_id: str
    consumer_key: str
    consumer_secret: str
    key_permissions: str


def authorize_url(
    base_url: str, *, app_name: str, user_id: str, return_url: str, callback_url: str
) -> str:
    query = urlencode(
        {
            "app_name": app_name,
            "scope": SCOPE,
            "user_id": user_id,
            "return_url": return_url,
            "callback_url": callback_url,
        }
    )
    return f"{base_url.rstrip('/')}/wc-auth/v1/authorize?{query}"


def parse_key_body(raw: bytes) -> KeyGrant:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        raise InvalidKeyBody("the body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidKeyBody("the body is not a JSON object")
    key, secret = body.get("consumer_key"), body.get("consumer_secret")
    if not isinstance(key, str) or not key.startswith("ck_"):
        raise InvalidKeyBody("consumer_key is missing")
    if not isinstance(secret, str) or not secret.startswith("cs_"):
        raise InvalidKeyBody("consumer_secret is missing")
    if body.get("user_id") in (None, ""):
        raise InvalidKeyBody("user_id is missing")
    key_id = body.get("key_id") or 0
    if isinstance(key_id, str) and key_id.isdigit():
        key_id = int(key_id)
    if isinstance(key_id, bool) or not isinstance(key_id, int) or key_id < 0:
        raise InvalidKeyBody("key_id is not a number")
    return KeyGrant(
        key_id=key_id,
        user_id=str(body["user_id"]),
        consumer_key=key,
        consumer_secret=secret,
        key_permissions=str(body.get("key_permissions") or ""),
    )
