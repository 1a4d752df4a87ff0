"""Behind a reverse proxy: X-Forwarded-For counts only for as many hops as the owner trusts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import load_settings
from plugin.consent import wording
from plugin.models import ConsentEvent, Store
from tests.factories import make_store

PROXY = "10.0.0.2"
BUYER = "198.51.100.23"
OTHER_BUYER = "198.51.100.77"
ORIGIN = "https://kaffee.myshopify.com"


def optin_store(session: Session) -> Store:
    store = make_store(session, domain="kaffee.myshopify.com", name="Kaffeerösterei Wagner")
    wording.ensure_default_wordings(session, store)
    session.commit()
    return store


def post_optin(client: FlaskClient, store: Store, phone: str, forwarded_for: str) -> Any:
    """An opt-in as the proxy passes it on: the peer is the proxy, the buyer is in the header."""
    return client.post(
        f"/api/v1/stores/{store.public_key}/optins",
        json={
            "phone": phone,
            "consent": True,
            "wording_version": 1,
            "locale": "de",
            "source": "widget",
        },
        headers={"Origin": ORIGIN, "X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": PROXY},
    )


def numbers(count: int) -> list[str]:
    return [f"0151 2345{index:04d}" for index in range(count)]


def test_trusted_proxies_default_to_none(tmp_path: Path) -> None:
    settings = load_settings(env={"SHOPNUDGE_INSTANCE_PATH": str(tmp_path)})
    assert settings.trusted_proxies == 0


def test_trusted_proxies_come_from_the_environment(tmp_path: Path) -> None:
    settings = load_settings(
        env={"SHOPNUDGE_INSTANCE_PATH": str(tmp_path), "SHOPNUDGE_TRUSTED_PROXIES": "2"}
    )
    assert settings.trusted_proxies == 2


def test_a_negative_number_of_trusted_proxies_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="SHOPNUDGE_TRUSTED_PROXIES"):
        load_settings(
            env={
                "SHOPNUDGE_INSTANCE_PATH": str(tmp_path),
                "SHOPNUDGE_TRUSTED_PROXIES": "-1",
            }
        )


class TestTrustingNothing:
    """The default: a forged X-Forwarded-For is ignored, the peer's address is the proof."""

    def test_consent_proof_records_the_peer_address(
        self, client: FlaskClient, session: Session
    ) -> None:
        store = optin_store(session)

        response = post_optin(client, store, "0151 23456789", forwarded_for=BUYER)

        assert response.status_code == 202
        assert session.scalars(select(ConsentEvent.ip)).all() == [PROXY]

    def test_forged_addresses_do_not_escape_the_rate_limit(
        self, client: FlaskClient, session: Session
    ) -> None:
        store = optin_store(session)

        statuses = [
            post_optin(client, store, phone, forwarded_for=f"198.51.100.{index}").status_code
            for index, phone in enumerate(numbers(11))
        ]

        assert statuses == [202] * 10 + [429]


class TestTrustingOneProxy:
    """One proxy in front: the address it appends is the buyer's."""

    @pytest.fixture
    def app_overrides(self) -> dict[str, Any]:
        return {"trusted_proxies": 1}

    def test_consent_proof_records_the_forwarded_client_address(
        self, client: FlaskClient, session: Session
    ) -> None:
        store = optin_store(session)

        # A buyer's forged first entry is ignored: only the hop the proxy added is trusted.
        response = post_optin(client, store, "0151 23456789", forwarded_for=f"1.2.3.4, {BUYER}")

        assert response.status_code == 202
        assert session.scalars(select(ConsentEvent.ip)).all() == [BUYER]

    def test_the_rate_limit_keys_on_the_forwarded_client_address(
        self, client: FlaskClient, session: Session
    ) -> None:
        store = optin_store(session)
        phones = numbers(12)

        first = [post_optin(client, store, phone, forwarded_for=BUYER) for phone in phones[:11]]
        other = post_optin(client, store, phones[11], forwarded_for=OTHER_BUYER)

        assert [response.status_code for response in first] == [202] * 10 + [429]
        assert other.status_code == 202
        assert sorted(set(session.scalars(select(ConsentEvent.ip)))) == [BUYER, OTHER_BUYER]
