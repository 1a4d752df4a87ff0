"""Dispatch: exclusive claims, outcomes of Meta's errors, and rows a dead worker left behind."""

from __future__ import annotations

import datetime as dt
import logging
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.engine import claims, dispatch
from plugin.models import Notification, RateBucket, Subscription
from plugin.whatsapp import limits
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.statuses import apply_status
from plugin.whatsapp.templates.catalog import account_of
from tests.engine.conftest import NOW, Shop, due_rows, ready_shop
from tests.fakes.meta import FakeMeta
from tests.fakes.server import LocalServer


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    fake = FakeMeta()
    with LocalServer(fake.app, keep_alive=True) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def app_overrides(meta: FakeMeta) -> dict[str, Any]:
    """Numbers not on the dry run send to the fake Graph API."""
    return {"graph_api_url": meta.url, "whatsapp_api_version": "v23.0"}  # type: ignore[attr-defined]


def test_two_claims_never_share_a_row(session: Session, database: Database, shop: Shop) -> None:
    # given a batch and ten more due rows
    due_rows(session, shop, claims.BATCH + 10)
    # when two workers claim one after the other
    first, second = claims.claim(database, NOW, "w1"), claims.claim(database, NOW, "w2")
    # then their batches are disjoint and marked sending
    assert len(first) == claims.BATCH and len(second) == 10 and not set(first) & set(second)
    session.expire_all()
    assert {session.get(Notification, i).state for i in first + second} == {"sending"}


def test_two_workers_at_once_send_each_row_once(
    app: Flask,
    session: Session,
    database: Database,
    shop: Shop,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # given 60 due rows
    ids = due_rows(session, shop, 60)
    caplog.set_level(logging.INFO, logger="plugin.engine.sending")
    # when two workers dispatch at the same time
    threads = [
        threading.Thread(
            target=dispatch.dispatch_due, args=(database, app.config["SHOPNUDGE"], NOW)
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # then every row was attempted once and is sent
    attempts = re.findall(r"notification (\d+) sending", caplog.text)
    assert sorted(int(a) for a in attempts) == ids
    session.expire_all()
    assert {session.get(Notification, i).state for i in ids} == {"sent"}


def test_retryable_error_gives_the_row_back_for_later(
    session: Session, database: Database, shop: Shop
) -> None:
    (row_id,) = due_rows(session, shop, 1)
    claims.claim(database, NOW, "w1")
    # when Meta answers 130429 (throughput)
    outcome = claims.record_error(database, row_id, SendError(130429, "Rate limit hit"), NOW)
    # then the row waits with backoff, unclaimed
    session.expire_all()
    row = session.get(Notification, row_id)
    assert outcome is claims.Outcome.DEFERRED
    assert (row.state, row.attempts, row.claimed_by) == ("pending", 1, None)
    assert NOW + dt.timedelta(seconds=15) <= row.due_at <= NOW + dt.timedelta(seconds=30)


def test_terminal_error_ends_the_row_with_metas_reason(
    session: Session, database: Database, shop: Shop
) -> None:
    (row_id,) = due_rows(session, shop, 1)
    claims.claim(database, NOW, "w1")
    # when Meta says the number cannot receive messages
    outcome = claims.record_error(database, row_id, SendError(131026, "Message undeliverable"), NOW)
    # then the row fails with the reason and the subscription is flagged
    session.expire_all()
    row = session.get(Notification, row_id)
    assert outcome is claims.Outcome.FAILED
    assert (row.state, row.reason) == ("failed", "whatsapp 131026: Message undeliverable")
    buyer = session.query(Subscription).filter_by(phone=row.phone).one()
    assert buyer.undeliverable is True


def test_maybe_sent_row_is_never_resent_and_is_settled_by_reconciliation(
    session: Session, database: Database, shop: Shop
) -> None:
    # given two rows handed to the network whose calls timed out after sending (maybe sent)
    first, second = due_rows(session, shop, 2)
    claims.claim(database, NOW, token="w1")
    claims.hand_off(database, "w1", [first, second], NOW)
    for row_id in (first, second):
        claims.record_error(database, row_id, SendError(0, "timeout", maybe_sent=True), NOW)
    # when dispatch runs again, nothing is claimed
    assert claims.claim(database, NOW + dt.timedelta(minutes=5), "w2") == []
    # and a status webhook reported the first one before the timeout
    session.get(Notification, first).provider_message_id = "wamid.from-status-webhook"
    session.commit()
    confirmed, expired = claims.reconcile_sending(database, NOW + dt.timedelta(minutes=11))
    # then the first is sent, the second expired unconfirmed; neither was sent again
    session.expire_all()
    assert (confirmed, expired) == (1, 1)
    assert session.get(Notification, first).state == "sent"
    assert (session.get(Notification, second).state, session.get(Notification, second).reason) == (
        "expired",
        "sending_unconfirmed",
    )


def test_red_quality_number_sends_nothing(app: Flask, session: Session, database: Database) -> None:
    shop = ready_shop(session)
    ids = due_rows(session, shop, 1)

    account_of(session, shop.store).quality_rating = "RED"
    session.commit()
    dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    session.expire_all()
    row = session.get(Notification, ids[0])
    assert (row.state, row.reason, row.sent_at) == ("skipped", "phone_quality", None)


def test_budget_exhausted_sends_nothing(app: Flask, session: Session, database: Database) -> None:
    # given a budget of 0.10 EUR and a message that costs 0.1131 EUR
    shop = ready_shop(session, monthly_budget_minor=10)
    ids = due_rows(session, shop, 1)
    dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    session.expire_all()
    row = session.get(Notification, ids[0])
    assert (row.state, row.reason, row.sent_at) == ("skipped", "monthly_budget", None)


def test_each_number_in_a_batch_spends_its_own_throughput(
    app: Flask, session: Session, database: Database
) -> None:
    # given two shops, each with its own number, with due rows claimed in one batch
    first, second = ready_shop(session), ready_shop(session)
    ids = due_rows(session, first, 3) + due_rows(session, second, 2)
    # when a worker dispatches them
    dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then every row is sent and each number's bucket paid for its own messages
    session.expire_all()
    assert {session.get(Notification, i).state for i in ids} == {"sent"}
    numbers = [account_of(session, shop.store) for shop in (first, second)]
    assert set(session.scalars(select(RateBucket.key))) == {limits.bucket_key(n) for n in numbers}


def test_messaging_tier_admits_reached_buyers_and_holds_back_new_ones_past_it(
    app: Flask, session: Session, database: Database
) -> None:
    # given a number in the 50-buyer tier that reached 49 buyers in the last 24 hours
    shop = ready_shop(session, cap_per_24h=5)
    account_of(session, shop.store).messaging_limit_tier = "TIER_50"
    reached = due_rows(session, shop, 49, prefix="+4915188")
    session.execute(
        Notification.__table__.update()
        .where(Notification.id.in_(reached))
        .values(state="sent", sent_at=NOW - dt.timedelta(hours=2))
    )
    session.commit()
    # and due messages to one of those buyers and to two new ones
    earlier = session.get(Notification, reached[0])
    again = Notification(
        store_id=shop.store.id,
        dedupe_key="test:again",
        flow="recommendation",
        phone=earlier.phone,
        template_name=earlier.template_name,
        language="de",
        context=earlier.context,
        due_at=NOW - dt.timedelta(minutes=1),
        cost_micros=113100,
    )
    session.add(again)
    session.commit()
    ids = [again.id, *due_rows(session, shop, 2)]
    # when a worker dispatches them
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then the reached buyer and the first new buyer get theirs; the other new one waits
    assert (counts.sent, counts.deferred, counts.skipped) == (2, 1, 0)
    session.expire_all()
    rows = [session.get(Notification, i) for i in ids]
    assert [row.state for row in rows] == ["sent", "sent", "pending"]
    assert rows[2].due_at == NOW + dispatch.TIER_RETRY


def test_a_run_out_of_time_gives_back_what_it_has_no_tokens_for_and_ends(
    app: Flask, session: Session, database: Database
) -> None:
    # given a number allowed 20 messages a second (a burst of 2) and 20 due rows
    shop = ready_shop(session)
    account_of(session, shop.store).throughput_mps = 20
    ids = due_rows(session, shop, 20)
    # when a run with 40 ms left dispatches them (the next token is 50 ms away)
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, budget_seconds=0.04)
    # then the burst went out, the rest is due again for anyone, and the run claimed no more
    session.expire_all()
    rows = [session.get(Notification, i) for i in ids]
    assert (counts.sent, counts.deferred) == (2, 18)
    assert sorted(row.state for row in rows) == ["pending"] * 18 + ["sent"] * 2
    assert {row.claimed_by for row in rows if row.state == "pending"} == {None}


def test_a_claimed_row_no_worker_handed_off_goes_back_to_pending_and_is_sent_once(
    app: Flask, session: Session, database: Database, shop: Shop, caplog: pytest.LogCaptureFixture
) -> None:
    # given three rows claimed by a worker that died before handing any to the network
    ids = due_rows(session, shop, 3)
    assert claims.claim(database, NOW, "dead") == ids
    caplog.set_level(logging.INFO, logger="plugin.engine.sending")
    # when reconciliation finds them a claim timeout later
    later = NOW + claims.CLAIM_TIMEOUT + dt.timedelta(seconds=1)
    assert claims.reconcile_sending(database, later) == (0, 0)
    session.expire_all()
    rows = [session.get(Notification, i) for i in ids]
    assert {(r.state, r.claimed_by, r.reason) for r in rows} == {("pending", None, None)}
    # then the next run sends each of them, once
    assert dispatch.dispatch_due(database, app.config["SHOPNUDGE"], later).sent == 3
    attempts = re.findall(r"notification (\d+) sending", caplog.text)
    assert sorted(int(a) for a in attempts) == ids
    session.expire_all()
    assert {session.get(Notification, i).state for i in ids} == {"sent"}


def test_only_rows_handed_to_the_network_by_a_dead_worker_expire_unconfirmed(
    session: Session, database: Database, shop: Shop
) -> None:
    # given two rows claimed by one worker, which handed the first to the network and died
    first, second = due_rows(session, shop, 2)
    assert claims.claim(database, NOW, token="w1") == [first, second]
    assert claims.hand_off(database, "w1", [first], NOW) == [first]
    # when reconciliation runs after the sending timeout
    later = NOW + claims.SENDING_TIMEOUT + dt.timedelta(seconds=1)
    assert claims.reconcile_sending(database, later) == (0, 1)
    # then the first is uncertain and expired with its reason; the second is pending again
    session.expire_all()
    one, two = session.get(Notification, first), session.get(Notification, second)
    assert (one.state, one.reason, one.handed_at) == ("expired", "sending_unconfirmed", NOW)
    assert (two.state, two.reason, two.handed_at, two.claimed_by) == ("pending", None, None, None)


def test_a_worker_whose_claim_was_given_back_hands_off_none_of_it(
    session: Session, database: Database, shop: Shop
) -> None:
    # given rows a stalled worker claimed, given back by reconciliation and claimed by another
    ids = due_rows(session, shop, 2)
    claims.claim(database, NOW, token="stalled")
    later = NOW + claims.CLAIM_TIMEOUT + dt.timedelta(seconds=1)
    claims.reconcile_sending(database, later)
    assert claims.claim(database, later, token="alive") == ids
    # when the stalled worker wakes up and hands them off
    handed = claims.hand_off(database, "stalled", ids, later)
    # then none of them is its to send; the live claimant's hand-off takes them
    assert handed == []
    session.expire_all()
    assert {session.get(Notification, i).handed_at for i in ids} == {None}
    assert claims.hand_off(database, "alive", ids, later) == ids


def test_a_late_status_webhook_settles_a_row_that_expired_unconfirmed_as_sent(
    session: Session, database: Database, shop: Shop
) -> None:
    # given a row handed to the network by a worker that died, expired unconfirmed
    (row_id,) = due_rows(session, shop, 1)
    claims.claim(database, NOW, token="w1")
    claims.hand_off(database, "w1", [row_id], NOW)
    claims.reconcile_sending(database, NOW + claims.SENDING_TIMEOUT + dt.timedelta(seconds=1))
    # when Meta's status webhook for it arrives late, naming our id
    status = {
        "id": "wamid.late",
        "status": "sent",
        "timestamp": str(int(NOW.timestamp()) + 5),
        "recipient_id": "4915177000000",
        "biz_opaque_callback_data": str(row_id),
    }
    session.expire_all()
    apply_status(session, shop.store, status)
    session.commit()
    # then the row is sent, with Meta's id and time
    session.expire_all()
    row = session.get(Notification, row_id)
    assert (row.state, row.provider_message_id, row.delivery_status) == (
        "sent",
        "wamid.late",
        "sent",
    )
    assert row.sent_at == NOW + dt.timedelta(seconds=5)


def test_the_rows_handed_off_are_exactly_the_calls_in_flight(
    app: Flask, session: Session, database: Database, meta: FakeMeta
) -> None:
    # given 12 due rows for a number on the fake Graph API, which holds each call 2 s
    shop = ready_shop(session)
    account = account_of(session, shop.store)
    account.dry_run, account.token = False, meta.token
    session.commit()
    ids = due_rows(session, shop, 12)
    meta.stall_seconds = 2.0

    # when a worker with 4 senders dispatches them, and the fake holds its first calls
    def dispatch_with_four_senders() -> None:
        with app.app_context():
            dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, concurrency=4)

    run = threading.Thread(target=dispatch_with_four_senders)
    run.start()
    deadline = time.monotonic() + 10
    while meta.in_flight < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    in_flight = meta.in_flight
    rows = session.execute(select(Notification.state, Notification.handed_at.is_not(None))).all()
    run.join()
    # then the rows a kill would leave uncertain were the four calls in flight, no more,
    # though the whole batch was claimed; and each row went out once
    assert in_flight == 4
    assert sorted(rows) == [("sending", False)] * 8 + [("sending", True)] * 4
    assert meta.most_in_flight == 4
    received = sorted(int(r.json["biz_opaque_callback_data"]) for r in meta.sends())
    assert received == ids
    session.expire_all()
    assert {session.get(Notification, i).state for i in ids} == {"sent"}
