"""Platform and WhatsApp tokens are encrypted at rest and keys can be rotated."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from flask.testing import FlaskCliRunner
from sqlalchemy import text
from sqlalchemy.orm import Session

from plugin import crypto
from plugin.models import Store, WhatsAppAccount
from tests.conftest import TEST_ENCRYPTION_KEY, make_app
from tests.factories import make_store


def raw_row(session: Session, table: str, row_id: int) -> str:
    row = session.execute(text(f"SELECT * FROM {table} WHERE id = :id"), {"id": row_id}).one()
    return " ".join(str(value) for value in row)


def test_tokens_round_trip_and_never_appear_in_the_raw_row(session: Session) -> None:
    store = make_store(
        session, credentials={"access_token": "shpat_secret_123"}, webhook_secret="whsec_456"
    )
    account = WhatsAppAccount(
        store_id=store.id, phone_number_id="1065", waba_id="2001", token="EAAG_meta_token_789"
    )
    session.add(account)
    session.commit()
    session.expire_all()

    assert session.get(Store, store.id).credentials == {"access_token": "shpat_secret_123"}
    assert session.get(Store, store.id).webhook_secret == "whsec_456"
    assert session.get(WhatsAppAccount, account.id).token == "EAAG_meta_token_789"
    store_row = raw_row(session, "stores", store.id)
    account_row = raw_row(session, "whatsapp_accounts", account.id)
    for secret in ("shpat_secret_123", "whsec_456"):
        assert secret not in store_row
    assert "EAAG_meta_token_789" not in account_row


def test_a_secret_cannot_be_read_without_its_key() -> None:
    crypto.configure([Fernet.generate_key().decode()])
    token = crypto.encrypt("shpat_secret")
    crypto.configure([TEST_ENCRYPTION_KEY])
    with pytest.raises(crypto.KeyringError):
        crypto.decrypt(token)


def test_keys_rotate_reencrypts_so_the_old_key_can_be_dropped(
    database_url: str, tmp_path: Path
) -> None:
    old_key = Fernet.generate_key().decode()
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "encryption_keys").write_text(old_key + "\n")
    app = make_app(
        database_url, instance, encryption_keys=(old_key,), encryption_keys_in_instance=True
    )
    from plugin.db import get_database
    from tests.conftest import clear_database

    database = get_database(app)
    clear_database(database)
    with database.session() as session:
        store_id = make_store(session, credentials={"access_token": "shpat_rotate"}).id

    result: FlaskCliRunner = app.test_cli_runner().invoke(args=["keys", "rotate"])

    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 secrets" in result.output
    keys = (instance / "encryption_keys").read_text().split()
    assert len(keys) == 2 and keys[1] == old_key
    crypto.configure([keys[0]])  # the old key is gone: the secret must still open
    with database.session() as session:
        assert session.get(Store, store_id).credentials == {"access_token": "shpat_rotate"}
    clear_database(database)
    database.dispose()
    crypto.configure([TEST_ENCRYPTION_KEY])
