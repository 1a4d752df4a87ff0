"""Send errors at their edges: which codes count as server errors, how long each retry waits,
the last attempt, and exactly what each kind writes on the buyer, the template and the shop."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import (
    ConsentEvent,
    Notification,
    Store,
    StoreStatus,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)
from plugin.whatsapp import errors
from plugin.whatsapp.channel import TRANSPORT, SendError
from plugin.whatsapp.errors import NO_CODE, ErrorKind, apply_send_error, backoff, classify
from tests.factories import make_notification, make_store, make_subscription

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
PHONE = "+4915112345678"
SECOND = dt.timedelta(seconds=1)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (TRANSPORT, ErrorKind.RETRY),
        (0, ErrorKind.ACCOUNT),  # Meta's AuthException, not our network
        (NO_CODE, ErrorKind.TERMINAL),
        (499, ErrorKind.TERMINAL),
        (500, ErrorKind.RETRY),
        (599, ErrorKind.RETRY),
        (600, ErrorKind.TERMINAL),
        (131049, ErrorKind.HOLD_BUYER),
    ],
)
def test_transport_failures_and_only_5xx_statuses_are_retried(code: int, kind: ErrorKind) -> None:
    assert classify(SendError(code, "t")) == kind
    assert classify(SendError(code, "t", maybe_sent=True)) == ErrorKind.UNCERTAIN


def test_metas_auth_exception_pauses_the_shop_and_a_transport_failure_does_not(
    session: Session, shop: Store, row: Notification
) -> None:
    # given a connection that never opened
    decision = apply_send_error(session, shop, row, SendError(TRANSPORT, "connection failed"), NOW)
    # then it is retried, says it was the network, and the shop keeps sending
    assert (decision.kind, decision.reason) == (ErrorKind.RETRY, "transport: connection failed")
    assert decision.retry_at is not None
    assert (shop.status, shop.paused_reason) == (StoreStatus.ACTIVE, None)
    assert errors.explanation(SendError(TRANSPORT, "x")) == errors.TRANSPORT_EXPLANATION
    # when Meta answers with its code 0 (AuthException, HTTP 401)
    decision = apply_send_error(session, shop, row, SendError(0, "AuthException"), NOW)
    # then the shop pauses with Meta's code, and the owner reads what to do
    assert (decision.kind, decision.retry_at) == (ErrorKind.ACCOUNT, None)
    assert (shop.status, shop.paused_reason) == (StoreStatus.PAUSED, "whatsapp 0: AuthException")
    assert "new token" in errors.explanation(SendError(0, "AuthException"))


def test_a_failure_without_a_code_ends_the_message_and_touches_nothing_else(
    session: Session, shop: Store, row: Notification
) -> None:
    decision = apply_send_error(session, shop, row, SendError(NO_CODE, "failed"), NOW)
    assert (decision.kind, decision.retry_at, decision.reason) == (
        ErrorKind.TERMINAL,
        None,
        "whatsapp: failed",
    )
    assert shop.status == StoreStatus.ACTIVE
    assert errors.explanation(SendError(12345, "Odd")) == "Meta: Odd"


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 12), st.booleans(), st.randoms(use_true_random=False))
def test_backoff_doubles_per_attempt_up_to_an_hour_with_jitter_in_its_upper_half(
    attempts: int, pair_rate: bool, rng: random.Random
) -> None:
    random.seed(rng.random())
    delay = min(
        dt.timedelta(hours=1),
        dt.timedelta(seconds=30 * (4 if pair_rate else 1) * 2 ** max(0, attempts - 1)),
    )
    waited = backoff(attempts, NOW, pair_rate) - NOW
    assert delay / 2 <= waited <= delay


def test_backoff_waits_exactly_the_drawn_share_of_the_delay() -> None:
    random.seed(7)
    share = random.random()
    random.seed(7)
    # attempt 3: 30 s x 4 = 120 s; half of it fixed, the other half times the draw
    assert backoff(3, NOW) == NOW + dt.timedelta(seconds=60) + dt.timedelta(seconds=60) * share


@pytest.fixture
def row(session: Session, shop: Store) -> Notification:
    make_subscription(session, shop, phone=PHONE)
    # created before the row's own template, so a lookup that ignored name, language or shop
    # would find one of these first
    elsewhere = make_store(session)
    for store_id, name, language in (
        (elsewhere.id, "mine", "de"),
        (shop.id, "other", "de"),
        (shop.id, "mine", "ar"),
        (shop.id, "mine", "de"),
    ):
        session.add(
            WhatsAppTemplate(
                store_id=store_id,
                name=name,
                language=language,
                purpose="cart_reminder_1",
                status="APPROVED",
            )
        )
        session.flush()
    return make_notification(session, shop, "cart:1:1", phone=PHONE, template_name="mine")


def test_the_attempt_before_the_last_is_still_retried(
    session: Session, shop: Store, row: Notification
) -> None:
    row.attempts = errors.MAX_ATTEMPTS - 1
    decision = apply_send_error(session, shop, row, SendError(131000, "Something"), NOW)
    assert (decision.kind, decision.reason) == (ErrorKind.RETRY, "whatsapp 131000: Something")
    assert decision.retry_at is not None
    row.attempts = errors.MAX_ATTEMPTS
    decision = apply_send_error(session, shop, row, SendError(131000, "Something"), NOW)
    assert (decision.retry_at, decision.reason) == (
        None,
        "whatsapp 131000: Something (gave up after 6)",
    )


def test_a_template_error_pauses_only_that_approved_template_and_says_why(
    session: Session, shop: Store, row: Notification
) -> None:
    decision = apply_send_error(session, shop, row, SendError(132001, "Template missing"), NOW)
    templates = {
        (t.store_id == shop.id, t.name, t.language): t
        for t in session.scalars(select(WhatsAppTemplate))
    }
    mine = templates[True, "mine", "de"]
    untouched = [t for key, t in templates.items() if key != (True, "mine", "de")]
    assert (decision.kind, decision.retry_at) == (ErrorKind.TEMPLATE, None)
    assert (mine.status, mine.rejection_reason, mine.status_changed_at) == (
        "PAUSED",
        "whatsapp 132001: Template missing",
        NOW,
    )
    assert [(t.status, t.rejection_reason) for t in untouched] == [("APPROVED", None)] * 3
    # a template Meta already rejected keeps that status
    mine.status = "REJECTED"
    apply_send_error(session, shop, row, SendError(132000, "Params"), NOW + SECOND)
    assert (mine.status, mine.rejection_reason, mine.status_changed_at) == (
        "REJECTED",
        "whatsapp 132000: Params",
        NOW + SECOND,
    )


def test_spam_and_account_errors_record_their_reason(
    session: Session, shop: Store, row: Notification
) -> None:
    apply_send_error(session, shop, row, SendError(131048, "Spam rate limit hit"), NOW)
    account = session.scalars(select(WhatsAppAccount)).one()
    assert account.marketing_paused_reason == "whatsapp 131048: Spam rate limit hit"
    assert shop.status == StoreStatus.ACTIVE
    apply_send_error(session, shop, row, SendError(190, "Access token expired"), NOW)
    assert (shop.status, shop.paused_reason) == (
        StoreStatus.PAUSED,
        "whatsapp 190: Access token expired",
    )


def test_an_opt_out_error_records_its_code_as_proof(
    session: Session, shop: Store, row: Notification
) -> None:
    apply_send_error(session, shop, row, SendError(131050, "User stopped marketing"), NOW)
    event = session.scalars(select(ConsentEvent)).one()
    assert (event.kind, event.source, event.detail, event.occurred_at) == (
        "opted_out",
        "send_error",
        {"code": 131050},
        NOW,
    )


def test_buyer_errors_for_a_row_without_a_number_touch_no_one(
    session: Session, shop: Store, row: Notification
) -> None:
    row.phone = None
    for code in (131049, 131050, 131026):
        decision = apply_send_error(session, shop, row, SendError(code, "t"), NOW)
        assert decision.retry_at is None
    session.flush()
    assert session.scalars(select(ConsentEvent)).all() == []
    subscription = session.scalars(select(Subscription)).one()
    assert (subscription.held_until, subscription.undeliverable, subscription.state) == (
        None,
        False,
        "confirmed",
    )
