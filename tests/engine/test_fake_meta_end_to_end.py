"""The reminder sequence against the fake Meta Graph API: exactly these requests reach it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from plugin.consent import ledger
from plugin.db import Database
from plugin.engine import dispatch
from plugin.whatsapp.templates.catalog import account_of
from tests.engine.conftest import NOW, Shop, at, due_rows, notifications, ready_shop, tick
from tests.factories import make_cart, make_order
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import meta_contract
from tests.fakes.server import LocalServer


@pytest.fixture
def meta() -> Iterator[tuple[FakeMeta, str]]:
    # Meta's spec is read now, once per process, not inside the first 50 concurrent sends: on a
    # busy machine reading it takes longer than the client's 2 s timeout.
    meta_contract()
    fake = FakeMeta()
    with LocalServer(fake.app, keep_alive=True) as server:
        yield fake, server.url


@pytest.fixture
def app_overrides(meta: tuple[FakeMeta, str]) -> dict[str, Any]:
    return {"graph_api_url": meta[1], "whatsapp_api_version": "v23.0", "http_timeout": 2.0}


@pytest.fixture
def live_shop(session: Session, meta: tuple[FakeMeta, str]) -> Shop:
    """The ready shop, its number connected to the fake instead of the dry run."""
    shop = ready_shop(session)
    account = account_of(session, shop.store)
    account.dry_run, account.token = False, meta[0].token
    session.commit()
    return shop


def sends(fake: FakeMeta) -> list[tuple[str, str, str, str]]:
    """(endpoint, to, template, our row id) of every send: MARKETING templates go through the
    Marketing Messages API (`/marketing_messages`), as Meta's routing guidance asks."""
    return [
        (
            r.path.rsplit("/", 1)[1],
            r.json["to"],
            r.json["template"]["name"],
            r.json["biz_opaque_callback_data"],
        )
        for r in fake.sends()
    ]


def test_reminders_reach_meta_at_0900_and_a_day_later_once_each(
    session: Session, runner: FlaskCliRunner, live_shop: Shop, meta: tuple[FakeMeta, str]
) -> None:
    fake = meta[0]
    # given a cart abandoned at 21:30 Berlin time
    make_cart(
        session,
        live_shop.store,
        live_shop.products[:1],
        phone=live_shop.subscription.phone,
        customer_id=live_shop.customer.id,
        last_activity_at=at("2026-01-05T21:30:00+01:00"),
    )
    session.commit()
    # when tick runs through the night, twice at 09:00, and through the next day
    for when in (
        "2026-01-05T21:30:00Z",
        "2026-01-06T07:59:00Z",
        "2026-01-06T08:00:00Z",
        "2026-01-06T08:00:00Z",
        "2026-01-06T20:30:00Z",
        "2026-01-07T08:00:00Z",
        "2026-01-07T08:00:00Z",
    ):
        tick(runner, when)
    # then exactly two requests reached Meta, one per step, each carrying its row's id
    first, second = notifications(session, live_shop.store)
    phone = live_shop.subscription.phone.removeprefix("+")  # Meta's format: digits only
    assert sends(fake) == [
        ("marketing_messages", phone, "shopnudge_cart_reminder_1", str(first.id)),
        ("marketing_messages", phone, "shopnudge_cart_reminder_2", str(second.id)),
    ]
    assert first.sent_at.isoformat() == "2026-01-06T08:00:00+00:00"
    assert second.sent_at.isoformat() == "2026-01-07T08:00:00+00:00"
    assert first.provider_message_id.startswith("wamid.")
    assert fake.refused == []  # each body as Meta's OpenAPI description wants it


def test_nothing_reaches_meta_after_the_order_or_after_stop(
    session: Session, runner: FlaskCliRunner, live_shop: Shop, meta: tuple[FakeMeta, str]
) -> None:
    fake = meta[0]
    # given two carts waiting for the morning: one buyer orders, the other (same buyer) says STOP
    for hour in ("21:30", "22:00"):
        make_cart(
            session,
            live_shop.store,
            live_shop.products[:1],
            phone=live_shop.subscription.phone,
            customer_id=live_shop.customer.id,
            last_activity_at=at(f"2026-01-05T{hour}:00+01:00"),
        )
    session.commit()
    tick(runner, "2026-01-05T21:30:00Z")
    make_order(
        session,
        live_shop.store,
        live_shop.customer,
        live_shop.products[1:2],
        placed_at=at("2026-01-06T06:00:00Z"),
    )
    ledger.opt_out(session, live_shop.store, live_shop.subscription.phone, source="whatsapp_reply")
    session.commit()
    for when in ("2026-01-06T08:00:00Z", "2026-01-06T21:00:00Z", "2026-01-07T08:00:00Z"):
        tick(runner, when)
    # then no request reached Meta
    assert fake.sends() == []
    assert {n.state for n in notifications(session, live_shop.store)} == {"skipped"}


def test_throttled_send_is_retried_later_and_reaches_meta_once(
    session: Session, runner: FlaskCliRunner, live_shop: Shop, meta: tuple[FakeMeta, str]
) -> None:
    fake = meta[0]
    make_cart(
        session,
        live_shop.store,
        live_shop.products[:1],
        phone=live_shop.subscription.phone,
        customer_id=live_shop.customer.id,
        last_activity_at=at("2026-01-05T10:00:00+01:00"),
    )
    session.commit()
    # when Meta throttles the first attempt
    fake.fail_next_send(130429)
    tick(runner, "2026-01-05T10:00:00Z")
    (row,) = notifications(session, live_shop.store)
    assert (row.state, row.attempts, row.reason) == (
        "pending",
        1,
        "whatsapp 130429: Rate limit hit",
    )
    # then the retry after the backoff is accepted, and nothing more is sent
    tick(runner, "2026-01-05T10:01:00Z")
    tick(runner, "2026-01-05T10:02:00Z")
    assert len(fake.sends()) == 2  # the refused attempt and the accepted one
    (row,) = notifications(session, live_shop.store)
    assert (row.state, row.sent_at.isoformat()) == ("sent", "2026-01-05T10:01:00+00:00")


def test_a_worker_keeps_every_sender_busy_across_batches_while_meta_is_slow(
    app: Flask, session: Session, database: Database, live_shop: Shop, meta: tuple[FakeMeta, str]
) -> None:
    # given 130 due messages to as many buyers (three claims of up to 50), a number allowed
    # 1,000 messages a second, and Meta taking 0.3 s to answer each
    fake = meta[0]
    fake.stall_seconds = 0.3
    account_of(session, live_shop.store).throughput_mps = 1000
    due_rows(session, live_shop, 130)
    # when one worker with 64 senders dispatches them
    with app.app_context():
        counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, concurrency=64)
    # then each reached Meta once, and 64 waited for their answers at once: more than one
    # claim's worth, never more than the senders
    assert counts.sent == 130
    assert sorted(r.json["to"] for r in fake.sends()) == [f"4915177{n:06d}" for n in range(130)]
    assert fake.most_in_flight == 64
    assert {n.state for n in notifications(session, live_shop.store)} == {"sent"}
