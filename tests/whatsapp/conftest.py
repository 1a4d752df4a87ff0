"""A fake Graph API on a real port, the app pointed at it, and a shop with a connected number."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.consent import wording
from plugin.models import Store, WhatsAppAccount
from plugin.whatsapp.templates.catalog import ensure_default_templates
from tests.factories import make_store
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import meta_contract
from tests.fakes.server import LocalServer

DATA = Path(__file__).parent.parent / "data" / "whatsapp"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "verify-me-123"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"


def load(name: str, key: str | None = None) -> dict[str, Any]:
    data = json.loads((DATA / name).read_text())
    return copy.deepcopy(data[key] if key else data)


def sign(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def for_shop(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as Meta would send it for our test number (ids rewritten)."""
    payload = copy.deepcopy(payload)
    for entry in payload["entry"]:
        entry["id"] = WABA_ID
        for change in entry["changes"]:
            metadata = change["value"].get("metadata")
            if metadata is not None:
                metadata["phone_number_id"] = PHONE_NUMBER_ID
    return payload


def post_webhook(client: FlaskClient, payload: dict[str, Any], secret: str = APP_SECRET) -> Any:
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/whatsapp",
        data=body,
        headers={"X-Hub-Signature-256": sign(body, secret), "Content-Type": "application/json"},
    )
    response.close()  # runs the after-answer processing, as a WSGI server does
    return response


@pytest.fixture
def meta() -> Iterator[tuple[FakeMeta, str]]:
    # Meta's spec is read now, once per process, not inside the first send: on a busy
    # machine reading it can take longer than the client's 2 s timeout.
    meta_contract()
    fake = FakeMeta()
    fake.add_phone_number(PHONE_NUMBER_ID, display_phone_number="+1 555-078-3881")
    with LocalServer(fake.app, keep_alive=True) as server:
        yield fake, server.url


@pytest.fixture
def fake_meta(meta: tuple[FakeMeta, str]) -> FakeMeta:
    return meta[0]


@pytest.fixture
def app_overrides(meta: tuple[FakeMeta, str]) -> dict[str, Any]:
    return {
        "graph_api_url": meta[1],
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_verify_token": VERIFY_TOKEN,
        "whatsapp_api_version": "v23.0",
        "http_timeout": 2.0,
    }


@pytest.fixture
def shop(session: Session, fake_meta: FakeMeta) -> Store:
    """A shop in Germany with a connected (not dry-run) number."""
    store = make_store(session, name="Bohne & Blatt")
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id=PHONE_NUMBER_ID,
            waba_id=WABA_ID,
            token=fake_meta.token,
            display_phone_number="+1 555-078-3881",
            quality_rating="GREEN",
            messaging_limit_tier="TIER_2K",
        )
    )
    session.commit()
    return store


@pytest.fixture
def store(session: Session, fake_meta: FakeMeta, app: Flask) -> Store:
    """A Berlin shop on the fake Graph API, default templates approved, default wording.

    No platform credentials: `shopnudge tick` composes and dispatches, it pulls nothing.
    """
    store = make_store(
        session,
        name="Kaffeerösterei Wagner",
        timezone="Europe/Berlin",
        credentials=None,
        settings={"holdout_percent": 0},
    )
    wording.ensure_default_wordings(session, store)
    session.add(
        WhatsAppAccount(
            store_id=store.id,
            phone_number_id=PHONE_NUMBER_ID,
            waba_id=WABA_ID,
            token=fake_meta.token,
            display_phone_number="+1 555-078-3881",
            quality_rating="GREEN",
            messaging_limit_tier="TIER_2K",
        )
    )
    for row in ensure_default_templates(session, store, app.config["SHOPNUDGE"]):
        row.status = "APPROVED"
    session.commit()
    return store
