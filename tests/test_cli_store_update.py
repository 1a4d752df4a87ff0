"""`shopnudge stores update` on a Shopify store: the options that fit its platform only."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store
from tests.factories import make_store


def test_shopify_store_takes_a_new_token_and_name_and_refuses_woocommerce_keys(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = make_store(session, name="Old Name", credentials={"access_token": "shpat_old"})
    session.commit()
    refused = runner.invoke(args=["stores", "update", str(store.id), "--consumer-key", "ck_1"])
    assert (refused.exit_code, refused.output) == (
        2,
        "error: a Shopify store has --token, not WooCommerce keys\n",
    )
    nothing = runner.invoke(args=["stores", "update", str(store.id)])
    assert nothing.exit_code == 2
    result = runner.invoke(
        args=["stores", "update", str(store.id), "--token", "shpat_new", "--name", " New Name "]
    )
    assert (result.exit_code, result.output) == (0, f"store {store.id}: token, name changed\n")
    session.expire_all()
    updated = session.get(Store, store.id)
    assert updated is not None
    assert (updated.credentials, updated.name) == ({"access_token": "shpat_new"}, "New Name")
    audit = session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
    assert [(a.field, a.old_value, a.new_value) for a in audit] == [
        ("token", "(set)", "(changed)"),
        ("name", "Old Name", "New Name"),
    ]
