"""Dispatch at its edges: which rows a claim takes, when reconciliation and expiry act (to the
second), what a run leaves on a row it defers, sends or settles, and the message it builds."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.engine import claims, dispatch
from plugin.models import Notification
from tests.engine.conftest import NOW, Shop, due_rows
from tests.factories import make_notification, make_subscription

SECOND = dt.timedelta(seconds=1)


def row_at(session: Session, shop: Shop, key: str, **fields: Any) -> Notification:
    """A recommendation to the shop's buyer, due a minute before NOW unless told."""
    values: dict[str, Any] = {
        "phone": shop.subscription.phone,
        "flow": "recommendation",
        "template_name": "shopnudge_recommendation",
        "context": {"purpose": "recommendation"},
        "due_at": NOW - dt.timedelta(minutes=1),
        "cost_micros": 113_100,
    }
    values.update(fields)
    return make_notification(session, shop.store, key, **values)


def fresh(session: Session, row_id: int) -> Notification:
    session.expire_all()
    row = session.get(Notification, row_id)
    assert row is not None
    return row


def test_a_claim_takes_the_earliest_due_pending_rows_and_nothing_not_yet_due(
    session: Session, database: Database, shop: Shop
) -> None:
    # given pending rows due exactly now, at the same earlier moment (two), earliest of all
    # and a second later, written in that order, and a skipped row due long ago
    minute = dt.timedelta(minutes=1)
    now_due = row_at(session, shop, "now", due_at=NOW)
    tied = [row_at(session, shop, f"tie:{n}", due_at=NOW - minute) for n in range(2)]
    first = row_at(session, shop, "a", due_at=NOW - 3 * minute)
    row_at(session, shop, "later", due_at=NOW + SECOND)
    row_at(session, shop, "settled", due_at=NOW - 9 * minute, state="skipped")
    session.commit()
    # when claims of two rows run one after the other
    batches = [claims.claim(database, NOW, batch=2, token=f"w{n}") for n in range(3)]
    # then they take the earliest due first, not the first written (ties by id), then what is
    # due now, then nothing
    assert batches == [sorted([first.id, tied[0].id]), sorted([tied[1].id, now_due.id]), []]
    claimed = fresh(session, tied[1].id)
    assert (claimed.state, claimed.claimed_by, claimed.claimed_at, claimed.handed_at) == (
        "sending",
        "w1",
        NOW,
        None,
    )


def test_a_claim_given_back_returns_only_the_rows_never_handed_off(
    session: Session, database: Database, shop: Shop
) -> None:
    # given two rows claimed by one run, one of them handed to the network
    handed, kept = due_rows(session, shop, 2)
    claims.claim(database, NOW, token="w1")
    assert claims.hand_off(database, "w1", [handed], NOW) == [handed]
    # when another run gives them back (nothing happens), and then their own run does
    claims.give_back(database, "w2", [handed, kept])
    assert fresh(session, kept).claimed_by == "w1"
    claims.give_back(database, "w1", [handed, kept])
    # then the one never handed off is pending for anyone; the other stays with its run
    back, sent = fresh(session, kept), fresh(session, handed)
    assert (back.state, back.claimed_by, back.claimed_at, back.reason) == (
        "pending",
        None,
        None,
        None,
    )
    assert (sent.state, sent.claimed_by, sent.handed_at) == ("sending", "w1", NOW)


def test_a_hand_off_takes_each_row_once(session: Session, database: Database, shop: Shop) -> None:
    ids = due_rows(session, shop, 2)
    claims.claim(database, NOW, token="w1")
    assert claims.hand_off(database, "w1", ids, NOW) == ids
    assert claims.hand_off(database, "w1", ids, NOW + SECOND) == []
    assert claims.hand_off(database, "w1", [], NOW) == []
    assert {fresh(session, i).handed_at for i in ids} == {NOW}


def test_reconciliation_gives_back_a_stale_claim_only_after_the_claim_timeout(
    session: Session, database: Database, shop: Shop
) -> None:
    # given a row claimed at NOW by a worker that then died before handing it off
    (row_id,) = due_rows(session, shop, 1)
    claims.claim(database, NOW, token="dead")
    # when reconciliation runs exactly a claim timeout later, the claim may still be live
    assert claims.reconcile_sending(database, NOW + claims.CLAIM_TIMEOUT) == (0, 0)
    assert fresh(session, row_id).state == "sending"
    # and a second after it, the row is pending again for any worker
    assert claims.reconcile_sending(database, NOW + claims.CLAIM_TIMEOUT + SECOND) == (0, 0)
    row = fresh(session, row_id)
    assert (row.state, row.claimed_by, row.claimed_at, row.handed_at) == (
        "pending",
        None,
        None,
        None,
    )


def test_reconciliation_settles_handed_off_rows_only_after_the_sending_timeout(
    session: Session, database: Database, shop: Shop
) -> None:
    # given three rows handed to the network at NOW by a worker that died: Meta's status
    # webhook reported one as delivered (no id recorded), nothing came for the others
    reported, silent, young = due_rows(session, shop, 3)
    claims.claim(database, NOW, token="dead")
    claims.hand_off(database, "dead", [reported, silent, young], NOW)
    session.expire_all()
    session.get(Notification, reported).delivery_status = "delivered"  # type: ignore[union-attr]
    session.get(Notification, young).claimed_at = NOW + SECOND  # type: ignore[union-attr]
    session.commit()
    # when reconciliation runs exactly a sending timeout later, nothing is settled yet
    later = NOW + claims.SENDING_TIMEOUT
    assert claims.reconcile_sending(database, later) == (0, 0)
    # and a second after it, the reported one is sent and the silent one expired unconfirmed
    assert claims.reconcile_sending(database, later + SECOND) == (1, 1)
    states = [(fresh(session, i).state, fresh(session, i).reason) for i in (reported, silent)]
    assert states == [("sent", None), ("expired", "sending_unconfirmed")]
    assert fresh(session, young).state == "sending"


def test_pending_rows_expire_at_their_moment_and_no_others(
    session: Session, database: Database, shop: Shop
) -> None:
    # given pending rows whose moment is now, a second away, or never; and a skipped one
    gone = row_at(session, shop, "gone", expires_at=NOW)
    kept = row_at(session, shop, "kept", expires_at=NOW + SECOND)
    open_ended = row_at(session, shop, "open", expires_at=None)
    skipped = row_at(session, shop, "skip", expires_at=NOW - SECOND, state="skipped", reason="x")
    session.commit()
    # when expiry runs now
    assert claims.expire_pending(database, NOW) == 1
    # then only the row whose moment came ended, with its reason
    outcome = [
        (fresh(session, r.id).state, fresh(session, r.id).reason)
        for r in (gone, kept, open_ended, skipped)
    ]
    assert outcome == [
        ("expired", "expired"),
        ("pending", None),
        ("pending", None),
        ("skipped", "x"),
    ]


def test_a_row_due_in_quiet_hours_goes_back_pending_for_their_end_unclaimed(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    # given a row due at 06:00 Berlin time, inside quiet hours (until 09:00)
    early = dt.datetime(2026, 1, 6, 5, 0, tzinfo=dt.UTC)
    row = row_at(session, shop, "early", due_at=early)
    session.commit()
    # when dispatch runs then
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], early)
    # then it waits for 09:00 Berlin time, free for any worker, and nothing was sent
    assert (counts.sent, counts.deferred, counts.skipped, counts.expired) == (0, 1, 0, 0)
    waiting = fresh(session, row.id)
    assert (waiting.state, waiting.due_at, waiting.claimed_by, waiting.claimed_at) == (
        "pending",
        dt.datetime(2026, 1, 6, 8, 0, tzinfo=dt.UTC),
        None,
        None,
    )


def test_a_run_counts_what_it_sent_and_what_it_skipped(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    # given a row to the shop's buyer and one to a buyer who opted out
    goes = row_at(session, shop, "goes")
    stopped = make_subscription(session, shop.store, phone="+4915177000002", state="opted_out")
    held = row_at(session, shop, "held", phone=stopped.phone)
    session.commit()
    # when dispatch runs
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then one was sent and one skipped, each counted once and settled with its reason
    assert (counts.sent, counts.skipped, counts.deferred, counts.expired) == (1, 1, 0, 0)
    assert (fresh(session, goes.id).state, fresh(session, goes.id).reason) == ("sent", None)
    assert (fresh(session, held.id).state, fresh(session, held.id).reason) == (
        "skipped",
        "subscription_sendable",
    )


def test_a_row_that_would_wait_past_its_expiry_expires_naming_the_wait(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    # given a row due at 06:00 Berlin time that must go before 08:00
    early = dt.datetime(2026, 1, 6, 5, 0, tzinfo=dt.UTC)
    row = row_at(session, shop, "early", due_at=early, expires_at=early + dt.timedelta(hours=2))
    session.commit()
    # when dispatch runs then
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], early)
    # then it ends expired by quiet hours, at the moment they end
    assert (counts.sent, counts.deferred, counts.expired) == (0, 0, 1)
    ended = fresh(session, row.id)
    assert (ended.state, ended.reason) == ("expired", "quiet_hours")


def test_a_sent_row_keeps_what_a_status_webhook_said_first_and_drops_its_old_reason(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    # given a row retried after Meta's throttling, whose delivery a status webhook reported
    # before the send's answer was recorded; and an ordinary row
    retried = row_at(
        session, shop, "retried", reason="whatsapp 130429: Rate limit hit", delivery_status="read"
    )
    other = make_subscription(session, shop.store, phone="+4915177000001")
    plain = row_at(session, shop, "plain", phone=other.phone)
    session.commit()
    # when dispatch sends them
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then both are sent now with Meta's id; the reported status stays, the other reads "sent"
    assert counts.sent == 2
    one, two = fresh(session, retried.id), fresh(session, plain.id)
    assert (one.state, one.reason, one.sent_at, one.delivery_status) == ("sent", None, NOW, "read")
    assert (two.state, two.reason, two.sent_at, two.delivery_status) == ("sent", None, NOW, "sent")
    assert one.provider_message_id.startswith("wamid.dryrun.")
    assert one.provider_message_id != two.provider_message_id


def test_a_cart_reminder_lives_on_meta_only_until_it_expires_and_at_least_30_seconds(
    session: Session, shop: Shop
) -> None:
    # given cart reminders that expire in an hour and in ten seconds, and a recommendation
    hour = row_at(session, shop, "h", flow="cart_reminder", expires_at=NOW + dt.timedelta(hours=1))
    soon = row_at(session, shop, "s", flow="cart_reminder", expires_at=NOW + 10 * SECOND)
    recommendation = row_at(session, shop, "r", expires_at=NOW + dt.timedelta(hours=1))
    # when their messages are built
    messages = [dispatch.message_for(r, NOW, "MARKETING") for r in (hour, soon, recommendation)]
    # then the reminders carry their time to live, the recommendation none
    assert [m.ttl_seconds for m in messages] == [3600, 30, None]
    first = messages[0]
    assert (first.to, first.template, first.language, first.callback_data, first.category) == (
        shop.subscription.phone,
        "shopnudge_recommendation",
        "de",
        str(hour.id),
        "MARKETING",
    )
    assert first.components == hour.parameters


def test_a_run_claims_a_quarter_second_of_its_own_rate_within_the_bounds() -> None:
    # a run that has handed off nothing yet, or at Meta's default 80 msg/s, claims the least;
    # one at 1,000 msg/s claims a quarter second of it; a run far faster, the most
    assert claims.batch_size(0, 0.0) == claims.BATCH == 50
    assert claims.batch_size(80, 1.0) == 50
    assert claims.batch_size(1000, 1.0) == 250
    assert claims.batch_size(3000, 0.5) == claims.MOST_BATCH == 500


@given(
    handed=st.integers(min_value=0, max_value=10**7),
    seconds=st.floats(min_value=0.0, max_value=3600.0, allow_nan=False),
    more=st.integers(min_value=0, max_value=10**6),
)
def test_a_claim_never_leaves_its_bounds_and_never_shrinks_as_a_run_hands_off_more(
    handed: int, seconds: float, more: int
) -> None:
    size = claims.batch_size(handed, seconds)
    assert claims.BATCH <= size <= claims.MOST_BATCH
    assert claims.batch_size(handed + more, seconds) >= size
