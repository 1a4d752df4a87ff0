"""`keys rotate` re-encrypts every kind of stored secret, so the old key can really be dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import text

from plugin import crypto
from plugin.db import get_database
from plugin.models import Store, WhatsAppAccount
from plugin.secrets import encrypted_columns
from tests.conftest import TEST_ENCRYPTION_KEY, clear_database, make_app
from tests.factories import make_store

#: Every secret column and the value this test stores in it.
SECRETS = {
    ("stores", "credentials"): 2,  # a Shopify token pair and WooCommerce REST keys
    ("stores", "webhook_secret"): 1,  # the WooCommerce webhook secret
    ("whatsapp_accounts", "token"): 1,  # the Meta system-user token
}


def test_keys_rotate_reencrypts_shopify_woocommerce_and_whatsapp_secrets(
    database_url: str, tmp_path: Path
) -> None:
    # given secrets of every kind written under the old key
    old_key = Fernet.generate_key().decode()
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "encryption_keys").write_text(old_key + "\n")
    app = make_app(
        database_url, instance, encryption_keys=(old_key,), encryption_keys_in_instance=True
    )
    database = get_database(app)
    clear_database(database)
    assert {(c.table.name, c.name) for c in encrypted_columns()} == set(SECRETS)
    with database.session() as session:
        shopify = make_store(
            session, credentials={"access_token": "shpat_old", "refresh_token": "shprt_old"}
        )
        woo = make_store(
            session,
            platform="woocommerce",
            credentials={"consumer_key": "ck_old", "consumer_secret": "cs_old"},
            webhook_secret="whsec_old",
        )
        session.add(
            WhatsAppAccount(
                store_id=shopify.id, phone_number_id="1065", waba_id="2001", token="EAAG"
            )
        )
        ids = (shopify.id, woo.id)
    # when the owner rotates the keys
    result = app.test_cli_runner().invoke(args=["keys", "rotate"])
    # then every secret was rewritten and opens with the new key alone
    assert result.exit_code == 0, result.output
    assert result.output == f"re-encrypted {sum(SECRETS.values())} secrets with the newest key\n"
    new_key = (instance / "encryption_keys").read_text().split()[0]
    assert new_key != old_key
    crypto.configure([new_key])
    try:
        with database.session() as session:
            shopify_row, woo_row = (session.get(Store, store_id) for store_id in ids)
            account = session.query(WhatsAppAccount).one()
            assert shopify_row.credentials == {
                "access_token": "shpat_old",
                "refresh_token": "shprt_old",
            }
            assert woo_row.credentials == {"consumer_key": "ck_old", "consumer_secret": "cs_old"}
            assert woo_row.webhook_secret == "whsec_old"
            assert account.token == "EAAG"
            raw = [
                value
                for (table, column) in SECRETS
                for value in session.scalars(
                    text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
                )
            ]
        # and no stored ciphertext opens with the old key any more
        old = Fernet(old_key.encode())
        assert len(raw) == sum(SECRETS.values())
        for value in raw:
            with pytest.raises(InvalidToken):
                old.decrypt(value.encode())
    finally:
        crypto.configure([TEST_ENCRYPTION_KEY])
        clear_database(database)
        database.dispose()
