"""The ledger rule over any sequence of events, in memory and on the database."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.consent import ledger
from plugin.db import get_database
from plugin.models import ConsentKind, SubscriptionState
from tests.conftest import clear_database
from tests.factories import make_store

KINDS = [ConsentKind.REQUESTED, ConsentKind.CONFIRMED, ConsentKind.OPTED_OUT]
PHONE = "+4915123456789"
START = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def sendable_by_the_rule(kinds: list[str]) -> bool:
    """The rule stated independently: after the last opt-out there must be a request
    and then a confirmation of it (a confirmation with no open request confirms nothing)."""
    last_opt_out = max((i for i, k in enumerate(kinds) if k == ConsentKind.OPTED_OUT), default=-1)
    after = kinds[last_opt_out + 1 :]
    if ConsentKind.REQUESTED not in after:
        return False
    first_request = after.index(ConsentKind.REQUESTED)
    return ConsentKind.CONFIRMED in after[first_request + 1 :]


@given(st.lists(st.sampled_from(KINDS), max_size=12))
def test_derived_state_is_sendable_only_after_a_confirmed_optin_since_the_last_opt_out(
    kinds: list[str],
) -> None:
    state = ledger.derive_state(kinds)

    assert (state == SubscriptionState.CONFIRMED) == sendable_by_the_rule(kinds)
    if kinds and kinds[-1] == ConsentKind.OPTED_OUT:
        assert state == SubscriptionState.OPTED_OUT


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.sampled_from(KINDS), min_size=1, max_size=8))
def test_recorded_events_on_the_database_follow_the_same_rule(app: Flask, kinds: list[str]) -> None:
    database = get_database(app)
    clear_database(database)
    with database.session() as session:
        store = make_store(session)
        subscription = None
        for n, kind in enumerate(kinds):
            at = START + dt.timedelta(minutes=n)
            try:
                subscription, _ = ledger.record(session, store, PHONE, kind, "widget", at=at)
            except ledger.NothingToConfirm:
                assert kind == ConsentKind.CONFIRMED and subscription is None
        now = START + dt.timedelta(days=1)
        assert ledger.is_sendable(subscription, now) == sendable_by_the_rule(kinds)
        assert (subscription.state if subscription else None) == ledger.derive_state(kinds)


def test_a_reply_stamped_to_the_second_never_precedes_the_request_it_answers(app: Flask) -> None:
    # given a request recorded at 10:00:00.700 and Meta's reply stamped 10:00:00 (whole seconds)
    requested_at = dt.datetime(2026, 1, 5, 10, 0, 0, 700_000, tzinfo=dt.UTC)
    with get_database(app).session() as session:
        store = make_store(session)
        ledger.record(session, store, "+4915123456789", "requested", "widget", at=requested_at)
        _, confirmed = ledger.record(
            session,
            store,
            "+4915123456789",
            "confirmed",
            "whatsapp_reply",
            at=requested_at.replace(microsecond=0),
        )
        # then the confirmation stands after the request in the ledger's time order
        assert confirmed.occurred_at == requested_at
        session.rollback()
