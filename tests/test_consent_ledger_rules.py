"""The ledger's bookkeeping, exactly: the times each state change stamps, what it clears, the
proof an opt-out keeps, the wording's first use, and two requests racing for one number."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from plugin import migrate
from plugin.consent.ledger import (
    NothingToConfirm,
    is_sendable,
    next_state,
    opt_out,
    record,
)
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    OptinWording,
    Store,
    Subscription,
    SubscriptionState,
)
from tests.factories import make_store, make_subscription

T0 = dt.datetime(2026, 5, 4, 10, 0, tzinfo=dt.UTC)
MINUTE = dt.timedelta(minutes=1)
PHONE = "+4915112340000"


def test_an_unknown_event_kind_is_refused_by_name() -> None:
    with pytest.raises(ValueError) as raised:
        next_state(SubscriptionState.CONFIRMED, "maybe")
    assert str(raised.value) == "unknown consent event kind 'maybe'"
    assert next_state(SubscriptionState.CONFIRMED, ConsentKind.ERASED) is None


def test_confirming_a_number_without_a_request_names_the_event(session: Session) -> None:
    store = make_store(session)
    with pytest.raises(NothingToConfirm) as raised:
        record(session, store, PHONE, "confirmed", "reply")
    assert str(raised.value) == "no subscription to apply 'confirmed' to"
    assert session.scalar(select(func.count()).select_from(Subscription)) == 0


def test_a_new_request_opens_a_pending_subscription_with_its_own_token(session: Session) -> None:
    store = make_store(session)
    first, _ = record(session, store, PHONE, ConsentKind.REQUESTED, "widget", at=T0)
    second, _ = record(session, store, "+4915112340001", ConsentKind.REQUESTED, "widget", at=T0)
    assert (first.state, first.confirmed_at, first.opted_out_at) == ("pending", None, None)
    # 24 random bytes, URL-safe: 32 characters, different per buyer
    assert len(first.unsubscribe_token) == 32 and len(second.unsubscribe_token) == 32
    assert first.unsubscribe_token != second.unsubscribe_token


def test_each_state_change_stamps_its_moment_and_clears_what_it_ends(session: Session) -> None:
    # given a request with a pending confirmation code
    store = make_store(session)
    subscription, _ = record(
        session, store, PHONE, ConsentKind.REQUESTED, "widget", locale="de", at=T0
    )
    assert subscription.locale == "de"
    subscription.confirmation_code = "482913"
    subscription.pending_expires_at = T0 + 60 * MINUTE
    # when the buyer confirms: confirmed at that moment, code and expiry gone
    record(session, store, PHONE, ConsentKind.CONFIRMED, "reply", at=T0 + MINUTE)
    assert (subscription.state, subscription.confirmed_at) == ("confirmed", T0 + MINUTE)
    assert (subscription.confirmation_code, subscription.pending_expires_at) == (None, None)
    assert subscription.locale == "de"  # an event without a locale keeps the one known
    # and confirming again keeps the first confirmation's moment
    record(session, store, PHONE, ConsentKind.CONFIRMED, "reply", at=T0 + 2 * MINUTE)
    assert subscription.confirmed_at == T0 + MINUTE
    # when the buyer opts out with a code pending: opted out then, code and expiry gone
    subscription.confirmation_code = "111111"
    subscription.pending_expires_at = T0 + 60 * MINUTE
    record(session, store, PHONE, ConsentKind.OPTED_OUT, "stop", at=T0 + 3 * MINUTE)
    assert (subscription.state, subscription.opted_out_at) == ("opted_out", T0 + 3 * MINUTE)
    assert (subscription.confirmation_code, subscription.pending_expires_at) == (None, None)
    assert subscription.confirmed_at == T0 + MINUTE  # the history is kept, not rewritten
    # when they ask again: pending, and the old confirmation no longer stands
    record(session, store, PHONE, ConsentKind.REQUESTED, "widget", locale="en", at=T0 + 4 * MINUTE)
    assert (subscription.state, subscription.confirmed_at) == ("pending", None)
    assert (subscription.opted_out_at, subscription.locale) == (T0 + 3 * MINUTE, "en")


def test_an_opt_out_keeps_its_proof(session: Session) -> None:
    store = make_store(session)
    make_subscription(session, store, PHONE)
    subscription = opt_out(
        session,
        store,
        PHONE,
        source="whatsapp_reply",
        message_id="wamid.STOP1",
        detail={"text": "STOP"},
        at=T0,
    )
    event = session.scalars(select(ConsentEvent)).one()
    assert (event.kind, event.source, event.message_id, event.detail, event.occurred_at) == (
        "opted_out",
        "whatsapp_reply",
        "wamid.STOP1",
        {"text": "STOP"},
        T0,
    )
    assert (subscription.state, subscription.opted_out_at) == ("opted_out", T0)


def test_a_subscription_without_events_takes_its_first_event_at_its_own_time(
    session: Session,
) -> None:
    # given a subscription row with no ledger events yet (e.g. imported)
    store = make_store(session, name="Imported")
    subscription = make_subscription(session, store, PHONE, state=SubscriptionState.PENDING)
    # when an event is recorded, then it keeps its own moment
    _, event = record(session, store, PHONE, ConsentKind.CONFIRMED, "reply", at=T0)
    assert (event.occurred_at, subscription.confirmed_at) == (T0, T0)


def test_a_wording_becomes_evidence_at_its_first_use_only(session: Session) -> None:
    store = make_store(session)
    wording = OptinWording(store_id=store.id, locale="de", version=1, text="Ja, per WhatsApp")
    session.add(wording)
    session.flush()
    record(session, store, PHONE, ConsentKind.REQUESTED, "widget", wording=wording, at=T0)
    record(
        session, store, "+4915112340002", ConsentKind.REQUESTED, "widget", wording=wording, at=T0
    )
    assert wording.first_used_at == T0
    record(
        session,
        store,
        "+4915112340003",
        ConsentKind.REQUESTED,
        "widget",
        wording=wording,
        at=T0 + MINUTE,
    )
    assert wording.first_used_at == T0


def test_a_hold_ends_at_its_moment() -> None:
    held = Subscription(state=SubscriptionState.CONFIRMED, undeliverable=False, held_until=T0)
    assert is_sendable(held, T0) is True
    assert is_sendable(held, T0 - dt.timedelta(seconds=1)) is False


@pytest.mark.postgres
def test_two_requests_racing_for_one_number_share_one_subscription(postgres_url: str) -> None:
    # given one request that created the number's subscription and has not committed yet
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    sessions = sessionmaker(engine)
    try:
        with sessions() as setup:
            store_id = make_store(setup).id
            setup.commit()
        with sessions() as first, sessions() as second, sessions() as watcher:
            record(
                first,
                first.get_one(Store, store_id),
                PHONE,
                ConsentKind.REQUESTED,
                "widget",
                at=T0,
            )
            outcome: dict[str, object] = {}

            def second_request() -> None:
                try:
                    subscription, event = record(
                        second,
                        second.get_one(Store, store_id),
                        PHONE,
                        ConsentKind.REQUESTED,
                        "widget",
                        at=T0 - MINUTE,  # stamped earlier than the first, which it follows
                    )
                    outcome["ids"] = (subscription.id, event.id)
                    second.commit()
                except Exception as error:
                    outcome["error"] = error

            # when a second request for the number waits on the first's insert
            racer = threading.Thread(target=second_request)
            racer.start()
            waiting = 0
            while waiting == 0 and racer.is_alive():
                waiting = watcher.scalar(
                    text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
                )
                watcher.rollback()
            first.commit()
            racer.join()
        # then it finds the first's subscription and appends its event after the first one
        assert "error" not in outcome, outcome
        subscription_id, event_id = outcome["ids"]  # type: ignore[misc]
        with sessions() as check:
            assert check.scalar(select(func.count()).select_from(Subscription)) == 1
            rows = check.scalars(select(ConsentEvent).order_by(ConsentEvent.id)).all()
            assert [(row.subscription_id, row.occurred_at) for row in rows] == [
                (subscription_id, T0),
                (subscription_id, T0),
            ]
            assert event_id == rows[1].id
    finally:
        engine.dispose()
