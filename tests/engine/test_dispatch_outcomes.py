"""What a dispatch run does with each row and what it reports: Meta's every answer recorded on
its row and counted once, each guard's verdict counted once, a buyer's cap within one batch,
the run's time budget, and the rows a run gives back or settles left to nobody else.

Meta is the fake Graph API (tests/fakes/meta.py) with a client timeout far beyond any answer
of a local server, however loaded the machine: these tests measure no time."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.orm import Session

from plugin.db import Database
from plugin.engine import claims, dispatch
from plugin.models import Notification, Subscription
from plugin.whatsapp.templates.catalog import account_of
from tests.engine.conftest import NOW, Shop, due_rows, ready_shop
from tests.engine.test_dispatch_rules import fresh, row_at
from tests.factories import make_subscription
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import meta_contract
from tests.fakes.server import LocalServer

SECOND = dt.timedelta(seconds=1)
#: A buyer whose number places them in New York: 05:00 there at NOW, inside quiet hours.
NEW_YORK_PHONES = ("+12125550147", "+12125550148")


@pytest.fixture
def meta() -> Iterator[FakeMeta]:
    meta_contract()  # Meta's spec is read once, before the first send
    fake = FakeMeta()
    with LocalServer(fake.app, keep_alive=True) as server:
        fake.url = server.url  # type: ignore[attr-defined]
        yield fake


@pytest.fixture
def http_timeout() -> float:
    """Far beyond any answer of the local fake; a test parametrizes it to see a call time out."""
    return 30.0


@pytest.fixture
def app_overrides(meta: FakeMeta, http_timeout: float) -> dict[str, Any]:
    return {
        "graph_api_url": meta.url,  # type: ignore[attr-defined]
        "whatsapp_api_version": "v23.0",
        "http_timeout": http_timeout,
    }


@pytest.fixture
def live_shop(session: Session, meta: FakeMeta) -> Shop:
    """The ready shop, its number connected to the fake instead of the dry run."""
    shop = ready_shop(session)
    account = account_of(session, shop.store)
    account.dry_run, account.token = False, meta.token
    session.commit()
    return shop


def counted(counts: dispatch.DispatchCounts) -> tuple[int, ...]:
    """(sent, skipped, deferred, failed, expired, uncertain) of a run."""
    return (
        counts.sent,
        counts.skipped,
        counts.deferred,
        counts.failed,
        counts.expired,
        counts.uncertain,
    )


def sent_to_meta(fake: FakeMeta) -> list[tuple[str, str, str]]:
    """(endpoint, to, our row id) of every send, in the order they reached the fake."""
    return [
        (r.path.rsplit("/", 1)[1], r.json["to"], r.json["biz_opaque_callback_data"])
        for r in fake.sends()
    ]


def set_row(session: Session, row_id: int, **values: Any) -> None:
    session.execute(update(Notification).where(Notification.id == row_id).values(**values))
    session.commit()


def test_each_answer_of_meta_is_recorded_on_its_row_and_counted_once(
    app: Flask, session: Session, database: Database, live_shop: Shop, meta: FakeMeta
) -> None:
    # given five due rows to five buyers, the first already throttled once, the fourth with
    # the buyer's name; Meta throttles the first again, finds the second's number
    # undeliverable, holds the third for pacing and takes the last two
    ids = due_rows(session, live_shop, 5)
    set_row(session, ids[0], attempts=1, reason="whatsapp 130429: Rate limit hit")
    named = {"body": [{"type": "text", "text": "Erika"}]}
    set_row(session, ids[3], parameters=named)
    meta.fail_next_send(130429)
    meta.fail_next_send(131026)
    meta.next_message_statuses.append("held_for_quality_assessment")
    # when a worker with one sender dispatches them
    with app.app_context():
        counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, concurrency=1)
    # then each call went out once, in order, to the Marketing Messages API (the templates are
    # MARKETING), naming its row; only the fourth carries parameters
    phones = [f"4915177{n:06d}" for n in range(5)]
    assert sent_to_meta(meta) == [
        ("marketing_messages", phone, str(i)) for phone, i in zip(phones, ids, strict=True)
    ]
    templates = [r.json["template"] for r in meta.sends()]
    assert {(t["name"], t["language"]["code"]) for t in templates} == {
        ("shopnudge_recommendation", "de")
    }
    assert [t["components"] for t in templates] == [
        [],
        [],
        [],
        [{"type": "body", "parameters": named["body"]}],
        [],
    ]
    # and the run counts three sent, one deferred, one failed, with one hand-off per call
    assert counted(counts) == (3, 0, 1, 1, 0, 0)
    assert counts.hand_offs == 5
    assert counts.hand_off_seconds > 0
    throttled, undeliverable, held, *taken = (fresh(session, i) for i in ids)
    # the throttled row waits 15 to 30 s (its second attempt), free for any worker
    assert (throttled.state, throttled.reason, throttled.attempts) == (
        "pending",
        "whatsapp 130429: Rate limit hit",
        2,
    )
    assert (throttled.claimed_by, throttled.claimed_at, throttled.handed_at) == (None, None, None)
    assert NOW + 15 * SECOND <= throttled.due_at <= NOW + 30 * SECOND
    assert (throttled.sent_at, throttled.provider_message_id) == (None, None)
    # the undeliverable one failed with Meta's reason, and its buyer is flagged
    assert (undeliverable.state, undeliverable.reason, undeliverable.attempts) == (
        "failed",
        "whatsapp 131026: Message undeliverable",
        1,
    )
    buyer = session.query(Subscription).filter_by(phone=undeliverable.phone).one()
    assert buyer.undeliverable is True
    # the held one and the two taken are sent now with Meta's ids; the held one shows as held
    outcome = [
        (r.state, r.reason, r.sent_at, r.delivery_status, r.attempts) for r in (held, *taken)
    ]
    assert outcome == [
        ("sent", None, NOW, "held", 0),
        ("sent", None, NOW, "sent", 0),
        ("sent", None, NOW, "sent", 0),
    ]
    wamids = [r.provider_message_id for r in (held, *taken)]
    assert all(w.startswith("wamid.HBgL") for w in wamids) and len(set(wamids)) == 3


@pytest.mark.parametrize("http_timeout", [0.5])
def test_a_call_meta_never_answered_stays_sending_uncertain_and_is_counted(
    app: Flask, session: Session, database: Database, live_shop: Shop, meta: FakeMeta
) -> None:
    # given a due row, and Meta holding every call far longer than the client waits
    (row_id,) = due_rows(session, live_shop, 1)
    meta.stall_seconds = 3.0
    # when a worker dispatches it
    with app.app_context():
        counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, concurrency=1)
    # then it may have been sent: it stays `sending`, handed off, with the reason, counted once
    assert counted(counts) == (0, 0, 0, 0, 0, 1)
    row = fresh(session, row_id)
    assert (row.state, row.reason, row.attempts, row.handed_at) == (
        "sending",
        "transport: no response",
        1,
        NOW,
    )
    # and no later run sends it again
    assert claims.claim(database, NOW + claims.CLAIM_TIMEOUT + SECOND, "w2") == []
    assert len(meta.sends()) == 1


def test_each_verdict_of_the_guards_is_counted_once_and_left_on_its_row(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    # given rows at 10:00 UTC: to the shop's Berlin buyer; to a buyer who opted out; without a
    # number; to a New York buyer (05:00 there, quiet until 09:00); and to another New York
    # buyer that must go within the hour
    stopped = make_subscription(session, shop.store, phone="+4915177000002", state="opted_out")
    for phone in NEW_YORK_PHONES:
        make_subscription(session, shop.store, phone=phone)
    goes = row_at(session, shop, "goes")
    held = row_at(session, shop, "held", phone=stopped.phone)
    nobody = row_at(session, shop, "nobody", phone=None)
    night = row_at(session, shop, "night", phone=NEW_YORK_PHONES[0])
    late = row_at(
        session, shop, "late", phone=NEW_YORK_PHONES[1], expires_at=NOW + dt.timedelta(hours=1)
    )
    session.commit()
    # when dispatch runs
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then one is sent, two skipped, one deferred and one expired, each counted once
    assert counted(counts) == (1, 2, 1, 0, 1, 0)
    rows = {r.dedupe_key: fresh(session, r.id) for r in (goes, held, nobody, night, late)}
    assert {key: (r.state, r.reason) for key, r in rows.items()} == {
        "goes": ("sent", None),
        "held": ("skipped", "subscription_sendable"),
        "nobody": ("skipped", "subscription_sendable"),
        "night": ("pending", None),
        "late": ("expired", "quiet_hours"),
    }
    # and the New York buyer's row waits for 09:00 there (14:00 UTC), free for any worker
    waiting = rows["night"]
    assert (waiting.due_at, waiting.claimed_by, waiting.claimed_at, waiting.handed_at) == (
        dt.datetime(2026, 1, 6, 14, 0, tzinfo=dt.UTC),
        None,
        None,
        None,
    )


def test_a_buyer_with_three_messages_in_one_batch_gets_only_what_the_cap_allows(
    app: Flask, session: Session, database: Database
) -> None:
    # given a shop allowing two marketing messages a day, a buyer sent one an hour ago, and
    # three more due to them, claimed in one batch
    shop = ready_shop(session, cap_per_24h=2, cap_per_7d=10)
    row_at(session, shop, "earlier", state="sent", sent_at=NOW - dt.timedelta(hours=1))
    first, second, third = (row_at(session, shop, f"due:{n}") for n in range(3))
    session.commit()
    # when dispatch runs
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW)
    # then each row, judged in turn, no longer counts once it waits: the first waits for the
    # day after the two others, the second only for the earlier send's day; the third goes
    assert counted(counts) == (1, 0, 2, 0, 0, 0)
    outcome = [(fresh(session, r.id).state, fresh(session, r.id).due_at) for r in (first, second)]
    assert outcome == [
        ("pending", NOW + dt.timedelta(hours=24)),
        ("pending", NOW + dt.timedelta(hours=23)),
    ]
    assert (fresh(session, third.id).state, fresh(session, third.id).sent_at) == ("sent", NOW)


def test_a_run_without_time_left_claims_nothing(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    ids = due_rows(session, shop, 3)
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, budget_seconds=0)
    assert counted(counts) == (0, 0, 0, 0, 0, 0) and counts.hand_offs == 0
    assert {(fresh(session, i).state, fresh(session, i).claimed_by) for i in ids} == {
        ("pending", None)
    }


def test_a_run_with_an_hour_to_spare_sends_everything_due(
    app: Flask, session: Session, database: Database, shop: Shop
) -> None:
    ids = due_rows(session, shop, 3)
    counts = dispatch.dispatch_due(database, app.config["SHOPNUDGE"], NOW, budget_seconds=3600)
    assert counted(counts) == (3, 0, 0, 0, 0, 0)
    assert {fresh(session, i).state for i in ids} == {"sent"}


def test_a_run_whose_time_ends_before_the_next_token_gives_the_rest_back_unsent(
    app: Flask, session: Session, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    # given a number allowed one message a second (a burst of one), four due rows, and one
    # more to a New York buyer, which waits for the end of quiet hours there
    shop = ready_shop(session)
    account_of(session, shop.store).throughput_mps = 1
    make_subscription(session, shop.store, phone=NEW_YORK_PHONES[0])
    row_at(session, shop, "night", phone=NEW_YORK_PHONES[0])
    ids = due_rows(session, shop, 4)
    caplog.set_level(logging.INFO, logger="plugin.engine.sending")
    # when a run with a second and a half, and one sender, dispatches them
    counts = dispatch.dispatch_due(
        database, app.config["SHOPNUDGE"], NOW, budget_seconds=1.5, concurrency=1
    )
    # then it sent what the tokens allowed within its time (the burst, and at most the one
    # token that came within it), however slow the machine; the rest is pending for anyone,
    # never handed to the network, and counted deferred with the New York buyer's row
    attempted = sorted(int(a) for a in re.findall(r"notification (\d+) sending", caplog.text))
    assert 1 <= counts.sent <= 2 and attempted == ids[: counts.sent]
    assert counted(counts) == (counts.sent, 0, 5 - counts.sent, 0, 0, 0)
    rest = [fresh(session, i) for i in ids[counts.sent :]]
    assert {(r.state, r.claimed_by, r.claimed_at, r.handed_at) for r in rest} == {
        ("pending", None, None, None)
    }


def test_a_give_back_returns_only_the_rows_named_and_clears_their_old_reason(
    session: Session, database: Database, shop: Shop
) -> None:
    # given two rows of one claim, one of them throttled by Meta before
    throttled, other = due_rows(session, shop, 2)
    set_row(session, throttled, reason="whatsapp 130429: Rate limit hit")
    claims.claim(database, NOW, token="w1")
    # when the run gives back only the throttled one
    claims.give_back(database, "w1", [throttled])
    # then it is pending without its old reason; the other is still the run's
    back, kept = fresh(session, throttled), fresh(session, other)
    assert (back.state, back.reason, back.claimed_by) == ("pending", None, None)
    assert (kept.state, kept.claimed_by) == ("sending", "w1")


def test_rows_a_run_settled_itself_are_never_handed_off_nor_given_back_by_reconciliation(
    session: Session, database: Database, shop: Shop
) -> None:
    # given a claim of a row to the buyer and one to a buyer who opted out, judged by the run
    stopped = make_subscription(session, shop.store, phone="+4915177000002", state="opted_out")
    goes, held = row_at(session, shop, "goes"), row_at(session, shop, "held", phone=stopped.phone)
    session.commit()
    ids = claims.claim(database, NOW, token="w1")
    ready = dispatch.prepare(database, ids, NOW, dispatch.DispatchCounts())
    assert [item.notification_id for item in ready] == [goes.id]
    # when the run hands off both, and reconciliation runs past the claim timeout
    assert claims.hand_off(database, "w1", ids, NOW) == [goes.id]
    claims.reconcile_sending(database, NOW + claims.CLAIM_TIMEOUT + SECOND)
    # then the skipped row stays skipped, with its reason, and was never handed off
    row = fresh(session, held.id)
    assert (row.state, row.reason, row.handed_at) == ("skipped", "subscription_sendable", None)


def test_reconciliation_clears_the_old_reason_of_a_claim_it_gives_back(
    session: Session, database: Database, shop: Shop
) -> None:
    # given a row throttled by Meta before, claimed again by a worker that died
    (row_id,) = due_rows(session, shop, 1)
    set_row(session, row_id, reason="whatsapp 130429: Rate limit hit")
    claims.claim(database, NOW, token="dead")
    # when reconciliation gives it back
    claims.reconcile_sending(database, NOW + claims.CLAIM_TIMEOUT + SECOND)
    # then it is pending for any worker, without the reason of the attempt before
    row = fresh(session, row_id)
    assert (row.state, row.reason, row.claimed_by) == ("pending", None, None)
