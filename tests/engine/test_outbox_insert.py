"""Composed rows go into the outbox once per dedupe key, on SQLite and on PostgreSQL (by COPY),
with the column defaults an ordinary INSERT would have filled in."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from plugin import migrate
from plugin.engine.outbox import format_money, insert_rows
from plugin.models import Notification, NotificationState
from tests.factories import make_store

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def row(store_id: int, key: str, **fields: Any) -> dict[str, Any]:
    return {
        "store_id": store_id,
        "dedupe_key": key,
        "flow": "recommendation",
        "phone": "+4915112340000",
        "template_name": "shopnudge_recommendation",
        "language": "de",
        "parameters": {"body": [{"type": "text", "text": "Erika"}]},
        "context": {"purpose": "recommendation", "ids": [1, 2]},
        "state": NotificationState.PENDING,
        "due_at": NOW,
        "cost_micros": 113_100,
        "created_at": NOW,
        "updated_at": NOW,
        **fields,
    }


def check_insert(session: Session) -> None:
    # given a shop whose outbox already holds the key "a"
    store = make_store(session)
    assert insert_rows(session, [row(store.id, "a")]) == 1
    # when "a" comes again with two new keys (and nothing at all is inserted once)
    inserted = insert_rows(
        session, [row(store.id, "a", phone="+4900"), row(store.id, "b"), row(store.id, "c")]
    )
    # then only the two new rows went in, each with what it was given and the defaults
    assert inserted == 2
    assert insert_rows(session, []) == 0
    session.expire_all()
    rows = session.scalars(
        select(Notification).where(Notification.store_id == store.id).order_by(Notification.id)
    ).all()
    assert [(n.dedupe_key, n.phone) for n in rows] == [
        ("a", "+4915112340000"),
        ("b", "+4915112340000"),
        ("c", "+4915112340000"),
    ]
    last = rows[-1]
    assert last.context == {"purpose": "recommendation", "ids": [1, 2]}
    assert last.parameters == {"body": [{"type": "text", "text": "Erika"}]}
    assert (last.state, last.due_at, last.cost_micros) == ("pending", NOW, 113_100)
    assert (last.sent_at, last.reason, last.provider_message_id) == (None, None, None)


def test_rows_are_inserted_once_per_key_on_sqlite(session: Session) -> None:
    check_insert(session)


@pytest.mark.postgres
def test_rows_are_copied_in_once_per_key_on_postgresql(postgres_url: str) -> None:
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        with sessionmaker(engine)() as session:
            check_insert(session)
    finally:
        engine.dispose()


def test_money_in_a_message_is_written_as_the_buyers_language_writes_it() -> None:
    amounts = (0, 5, 1990, 123456)
    assert [format_money(m, "EUR", "de") for m in amounts] == [
        "0,00\xa0€",
        "0,05\xa0€",
        "19,90\xa0€",
        "1.234,56\xa0€",
    ]
    assert [format_money(m, "EUR", "en") for m in amounts] == [
        "€0.00",
        "€0.05",
        "€19.90",
        "€1,234.56",
    ]
    assert format_money(2350, "JPY", "ja") == "￥2,350"
    assert format_money(1990, "CHF", "de-CH") == "CHF\xa019.90"
    assert format_money(1990, "EUR", "not a language") == "€19.90"
