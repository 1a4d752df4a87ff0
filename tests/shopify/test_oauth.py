"""Installing from a link: signed queries, single-use state, expiring tokens and their refresh."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from connectors.errors import AuthFailed
from connectors.shopify import auth
from plugin.models import OAuthState, Store, StoreStatus
from plugin.shopify.client import refresh_if_due
from plugin.shopify.embedded import verify_session_token
from plugin.shopify.install import TOPICS
from tests.fakes.shopify import FakeShopify, sign_query

VECTORS = json.loads((Path(__file__).parents[1] / "data" / "hmac_test_vectors.json").read_text())


def _signed(fake: FakeShopify, **params: str) -> dict[str, str]:
    params.setdefault("shop", fake.domain)
    params.setdefault("timestamp", str(int(time.time())))
    params["hmac"] = sign_query(params, fake.secret)
    return params


def _states(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(OAuthState)) or 0


@pytest.mark.parametrize("vector", VECTORS["shopify_oauth_query_hmac"][:3])
def test_query_hmac_matches_shopifys_published_vectors(vector: dict) -> None:
    params = dict(vector["params"])
    assert auth.query_hmac(params, vector["secret"]) == vector["hmac_hex"]
    if "timestamp" in params:  # the install query always carries one
        params["hmac"] = vector["hmac_hex"]
        now = float(params["timestamp"])
        assert auth.verify_query(params, vector["secret"], now=now) is True


def test_query_hmac_vector_fails_with_another_secret_or_an_old_timestamp() -> None:
    vector = VECTORS["shopify_oauth_query_hmac"][0]
    params = dict(vector["params"], hmac=vector["hmac_hex"])
    assert auth.verify_query(params, "not-hush", now=1337178173) is False
    assert auth.verify_query(params, "hush", now=1337178173 + 2 * 86400) is False


def test_install_redirects_to_authorize_with_a_single_use_state(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    response = client.get("/shopify/install", query_string=_signed(fake))
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    query = parse_qs(target.query)
    assert f"{target.scheme}://{target.netloc}{target.path}" == f"{fake.url}/admin/oauth/authorize"
    assert query["client_id"] == [fake.api_key]
    assert query["redirect_uri"] == ["http://shopnudge.test/shopify/callback"]
    state = session.scalars(select(OAuthState)).one()
    assert query["state"] == [state.nonce]
    assert state.shop == fake.domain


def test_full_install_stores_expiring_token_and_registers_webhooks(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    # given the owner starts the install and approves on Shopify's page
    start = client.get("/shopify/install", query_string=_signed(fake))
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(approved.headers["Location"])
    # when Shopify sends them back to our callback
    response = client.get(f"{callback.path}?{callback.query}")
    # then the shop is installed with its token pair and expiry, and every topic subscribed
    assert response.status_code == 302
    assert response.headers["Location"] == f"{fake.url}/admin/apps/{fake.api_key}"
    store = session.scalars(select(Store)).one()
    assert store.domain == fake.domain and store.status == StoreStatus.ACTIVE
    assert store.credentials["access_token"] in fake.tokens
    assert store.credentials["refresh_token"] in fake.refresh_tokens
    remaining = store.token_expires_at - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < remaining <= dt.timedelta(hours=1)
    assert [w["topic"] for w in fake.webhooks] == list(TOPICS)
    assert {w["webhookSubscription"]["uri"] for w in fake.webhooks} == {
        "http://shopnudge.test/webhooks/shopify"
    }
    # and the same state cannot be used again
    again = client.get(f"{callback.path}?{callback.query}")
    assert again.status_code == 403
    assert session.scalar(select(func.count()).select_from(Store)) == 1


def test_reinstall_updates_the_token_of_the_same_shop(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: Store
) -> None:
    shop.status, shop.credentials = StoreStatus.UNINSTALLED, None
    session.commit()
    start = client.get("/shopify/install", query_string=_signed(fake))
    approved = requests.get(start.headers["Location"], allow_redirects=False, timeout=5)
    callback = urlsplit(approved.headers["Location"])
    assert client.get(f"{callback.path}?{callback.query}").status_code == 302
    session.expire_all()
    store = session.scalars(select(Store)).one()
    assert store.id == shop.id
    assert store.status == StoreStatus.ACTIVE
    assert store.credentials["access_token"] in fake.tokens


def test_forged_hmac_is_refused_and_sets_no_state(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    params = _signed(fake)
    params["hmac"] = "0" * 64
    assert client.get("/shopify/install", query_string=params).status_code == 401
    tampered = _signed(fake)
    tampered["timestamp"] = str(int(tampered["timestamp"]) + 1)
    assert client.get("/shopify/install", query_string=tampered).status_code == 401
    assert _states(session) == 0


@pytest.mark.parametrize(
    "shop", ["evil.com", "x.myshopify.com.evil.com", "-x.myshopify.com", "a/b.myshopify.com", ""]
)
def test_bad_shop_domains_are_refused(
    client: FlaskClient, session: Session, fake: FakeShopify, shop: str
) -> None:
    params = _signed(fake, shop=shop)
    assert client.get("/shopify/install", query_string=params).status_code == 400
    assert client.get("/shopify/callback", query_string=params).status_code == 400
    assert _states(session) == 0


def test_callback_with_missing_or_unknown_state_is_refused(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    fake.codes.add("code1")
    missing = client.get("/shopify/callback", query_string=_signed(fake, code="code1"))
    unknown = client.get(
        "/shopify/callback", query_string=_signed(fake, code="code1", state="guess")
    )
    assert (missing.status_code, unknown.status_code) == (403, 403)
    assert "code1" in fake.codes  # never exchanged
    assert session.scalar(select(func.count()).select_from(Store)) == 0


def test_state_for_another_shop_is_refused(
    client: FlaskClient, session: Session, fake: FakeShopify
) -> None:
    client.get("/shopify/install", query_string=_signed(fake, shop="other.myshopify.com"))
    nonce = session.scalars(select(OAuthState)).one().nonce
    response = client.get("/shopify/callback", query_string=_signed(fake, code="c", state=nonce))
    assert response.status_code == 403


def test_token_is_refreshed_before_expiry_and_the_new_pair_saved(
    app, session: Session, fake: FakeShopify, shop: Store
) -> None:
    # given a shop whose token expires in five minutes
    old_refresh = "shprt_old"
    fake.refresh_tokens.add(old_refresh)
    shop.credentials = {"access_token": fake.issue_token(), "refresh_token": old_refresh}
    shop.token_expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    session.commit()
    # when the client is prepared
    assert refresh_if_due(session, shop, app.config["SHOPNUDGE"]) is True
    session.commit()
    # then a new access and refresh token are stored together, and the old refresh is spent
    session.expire_all()
    store = session.get(Store, shop.id)
    assert store.credentials["access_token"] in fake.tokens
    assert store.credentials["refresh_token"] in fake.refresh_tokens
    assert old_refresh not in fake.refresh_tokens
    assert store.token_expires_at > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=55)
    # and a fresh token is not refreshed again
    assert refresh_if_due(session, store, app.config["SHOPNUDGE"]) is False


def test_refused_refresh_keeps_the_old_pair(
    app, session: Session, fake: FakeShopify, shop: Store
) -> None:
    shop.credentials = {"access_token": "a", "refresh_token": "revoked"}
    shop.token_expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)
    session.commit()
    with pytest.raises(AuthFailed):
        refresh_if_due(session, shop, app.config["SHOPNUDGE"])
    session.rollback()
    assert session.get(Store, shop.id).credentials["refresh_token"] == "revoked"


def _session_token(fake: FakeShopify, **claims: object) -> str:
    now = int(time.time())
    payload = {
        "iss": f"https://{fake.domain}/admin",
        "dest": f"https://{fake.domain}",
        "aud": fake.api_key,
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 5,
        "iat": now - 5,
        "jti": "abc",
        "sid": "s1",
    }
    key = str(claims.pop("key", fake.secret))
    payload.update(claims)
    return jwt.encode(payload, key, algorithm="HS256")


def test_session_token_names_its_shop(app, fake: FakeShopify) -> None:
    assert verify_session_token(_session_token(fake), app.config["SHOPNUDGE"]) == fake.domain


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "another-app"},
        {"exp": int(time.time()) - 30},
        {"dest": "https://evil.com"},
        {"iss": "https://other.myshopify.com/admin"},
        {"key": "another-app-secret-0123456789abcdef"},
    ],
)
def test_invalid_session_tokens_are_refused(app, fake: FakeShopify, claims: dict) -> None:
    with pytest.raises(AuthFailed):
        verify_session_token(_session_token(fake, **claims), app.config["SHOPNUDGE"])


def test_session_token_expired_within_leeway_is_accepted(app, fake: FakeShopify) -> None:
    token = _session_token(fake, exp=int(time.time()) - 3)
    assert verify_session_token(token, app.config["SHOPNUDGE"]) == fake.domain


def test_app_page_decorator_requires_a_valid_session_token(
    app, client: FlaskClient, fake: FakeShopify, shop: Store
) -> None:
    from flask import g

    from plugin.shopify.embedded import session_token_required
    from plugin.web.auth import current_store

    @session_token_required
    def whoami() -> str:
        return g.current_store.domain

    def by_authenticator() -> str:
        store = current_store()
        return store.domain if store else "nobody"

    app.add_url_rule("/app/test-whoami", view_func=whoami)
    app.add_url_rule("/app/test-current", view_func=by_authenticator)
    good = {"Authorization": f"Bearer {_session_token(fake)}"}
    bad = {"Authorization": f"Bearer {_session_token(fake, aud='x')}"}
    assert client.get("/app/test-whoami", headers=good).text == fake.domain
    assert client.get("/app/test-whoami", headers=bad).status_code == 401
    assert client.get("/app/test-whoami").status_code == 401
    assert client.get("/app/test-current", headers=good).text == fake.domain
    assert client.get("/app/test-current", headers=bad).text == "nobody"
