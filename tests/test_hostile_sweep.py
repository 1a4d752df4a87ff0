"""Every route, every method, a set of hostile inputs: the answer is never a 5xx.

A bounded sweep over the app's own URL map (so a new route is swept without editing this
file), anonymous and signed in, with hostile ids, bodies, content types and headers.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent import wording
from tests.factories import make_store
from tests.owner import sign_in

#: Values put into each URL variable: beyond BIGINT and INTEGER, zero, non-ASCII, traversal, NUL.
URL_VALUES = ("9223372036854775808", "2147483648", "0", "%C3%A9%E2%80%AE", "..%2F..%2Fetc", "%00")
#: (content type, body): deep, wrong shapes, broken JSON, bad UTF-8, a form, plain text.
BODIES: tuple[tuple[str | None, bytes], ...] = (
    (None, b""),
    ("application/json", b"[" * 4096),
    ("application/json", b"{" * 40 + b"}" * 40),
    ("application/json", b"null"),
    ("application/json", b"[1, 2]"),
    ("application/json", b'{"id": 18446744073709551616, "phone": 4915123456789}'),
    ("application/json", b'{"a": '),
    ("application/json", b"\xff\xfe\x00"),
    ("text/plain", b'{"phone": "+4915123456789", "consent": true}'),
    ("application/x-www-form-urlencoded", b"a=%ff%fe&phone=%00&csrf_token=x"),
)
#: Query parameters the views read, each hostile (NUL, bad UTF-8, broken URL, huge number).
QUERY = (
    "?shop=%00&locale=%ff&store_url=http://%5B::1&id_token=%00&text=%00&page=99999999999"
    "&state=%00&hub.mode=subscribe&hub.verify_token=%C3%A9&reload=//evil&code=%00&hmac=%ff"
)
#: Headers a forger or a broken client sends.
HEADERS = {
    "X-Hub-Signature-256": "sha256=\u00e9\u00e9",
    "X-Shopify-Hmac-Sha256": "\u00e9",
    "X-WC-Webhook-Signature": "\u00e9",
    "X-Shopify-Topic": "orders/create",
    "X-Shopify-Shop-Domain": "\u00e9.myshopify.com",
    "Origin": "https://evil.example",
}


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """An https public address, as production has (a plain one is a 503 set-up error)."""
    return {"public_url": "https://shopnudge.test", "whatsapp_app_secret": "secret"}


def paths(app: Flask) -> list[tuple[str, str]]:
    """(method, path) for every rule, each URL variable filled with each hostile value."""
    result = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
        names = sorted(rule.arguments)
        for values in itertools.product(URL_VALUES, repeat=len(names)) if names else [()]:
            path = rule.rule
            for name, value in zip(names, values, strict=True):
                path = path.replace(f"<{name}>", value)
                for converter in ("int", "path", "string"):
                    path = path.replace(f"<{converter}:{name}>", value)
            result.extend((method, path) for method in methods)
    return result


def sweep(client: FlaskClient, app: Flask) -> tuple[int, list[tuple[str, str, int]]]:
    tried, failures = 0, []
    requests = [(m, p + q) for m, p in paths(app) for q in ("", QUERY)]
    for method, path in requests:
        bodies = BODIES if method != "GET" else BODIES[:1]
        for content_type, body in bodies:
            headers: dict[str, Any] = dict(HEADERS)
            if content_type:
                headers["Content-Type"] = content_type
            tried += 1
            try:
                response = client.open(path, method=method, data=body, headers=headers)
                response.close()
            except Exception:  # the test app re-raises what production answers with a 500
                failures.append((method, path, 500))
                continue
            if response.status_code >= 500:
                failures.append((method, path, response.status_code))
    return tried, failures


def test_no_route_answers_5xx_to_hostile_input_anonymous_or_signed_in(
    app: Flask, client: FlaskClient, session: Session
) -> None:
    store = make_store(session, domain="kaffee.myshopify.com", webhook_secret="s")
    wording.ensure_default_wordings(session, store)
    session.commit()

    anonymous = sweep(client, app)
    sign_in(client, session, store)
    signed_in = sweep(client, app)

    tried = anonymous[0] + signed_in[0]
    print(f"hostile sweep: {tried} requests, {len(anonymous[1]) + len(signed_in[1])} 5xx")
    assert anonymous[1] == []
    assert signed_in[1] == []
    assert tried > 1000
