"""Each 5xx the fuzzers of tests/test_fuzz.py found, as a plain repro that now gets a 4xx."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.test_consent_optin import optin_store, post_optin

APP_SECRET = "findings-meta-app-secret"


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"whatsapp_app_secret": APP_SECRET}


def post_signed_whatsapp(client: FlaskClient, payload: Any) -> Any:
    body = json.dumps(payload).encode()
    signature = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return client.post(
        "/webhooks/whatsapp",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )


@pytest.mark.parametrize("metadata", [[], "x", 7])
def test_signed_whatsapp_change_whose_metadata_is_not_an_object_is_400(
    client: FlaskClient, metadata: Any
) -> None:
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": {"metadata": metadata}}]}],
    }

    response = post_signed_whatsapp(client, payload)

    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_request"


@pytest.mark.parametrize("key_id", [[1], {"id": 1}, "abc", 1.5e400])
def test_woocommerce_key_callback_with_a_key_id_that_is_no_number_is_400(
    client: FlaskClient, key_id: Any
) -> None:
    body = {
        "key_id": key_id,
        "user_id": 1,
        "consumer_key": "ck_" + "a" * 40,
        "consumer_secret": "cs_" + "b" * 40,
        "key_permissions": "read_write",
    }

    response = client.post("/woocommerce/callback", json=body)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_callback"


@pytest.mark.parametrize("path", ["/healthz", "/webhooks/shopify", "/api/v1/stores/k/optins"])
def test_a_method_a_json_route_does_not_serve_is_405_naming_those_it_does(
    client: FlaskClient, path: str
) -> None:
    response = client.open(path, method="TRACE")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert response.headers["Allow"]


@pytest.mark.parametrize("source", [["widget"], {"a": 1}])
def test_an_optin_whose_source_is_not_text_is_422_source_unknown(
    client: FlaskClient, session: Session, source: Any
) -> None:
    store = optin_store(session)

    response = post_optin(client, store, source=source)

    assert (response.status_code, response.get_json()["reason"]) == (422, "source_unknown")
