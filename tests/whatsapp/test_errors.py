"""Every Cloud API error code, answered by the fake, and what ShopNudge does about it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from flask import Flask
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
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.client import CloudChannel
from plugin.whatsapp.errors import CODES, ErrorKind, apply_send_error
from tests.factories import make_notification, make_subscription
from tests.fakes.meta import FakeMeta

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
PHONE = "+4915112345678"
DOCS = Path(__file__).parent.parent.parent / "docs" / "whatsapp-errors.md"


@pytest.fixture
def outbox(session: Session, shop: Store) -> Notification:
    make_subscription(session, shop, phone=PHONE)
    session.add(
        WhatsAppTemplate(
            store_id=shop.id,
            name="shopnudge_cart_reminder_1",
            language="de",
            purpose="cart_reminder_1",
            status="APPROVED",
        )
    )
    notification = make_notification(
        session,
        shop,
        "cart:1:1",
        phone=PHONE,
        template_name="shopnudge_cart_reminder_1",
        attempts=1,
    )
    session.commit()
    return notification


def _send_failing(
    app: Flask, session: Session, shop: Store, fake: FakeMeta, code: int, status: int | None = None
) -> SendError:
    fake.fail_next_send(code, status)
    account = session.scalars(select(WhatsAppAccount)).one()
    with pytest.raises(SendError) as raised:
        CloudChannel(account, app.config["SHOPNUDGE"]).send_text(PHONE, "x")
    return raised.value


def _effects(session: Session, shop: Store) -> dict[str, object]:
    session.flush()
    subscription = session.scalars(select(Subscription)).one()
    template = session.scalars(select(WhatsAppTemplate)).one()
    account = session.scalars(select(WhatsAppAccount)).one()
    store = session.get(Store, shop.id)
    assert store is not None
    return {
        "held_until": subscription.held_until,
        "state": subscription.state,
        "undeliverable": subscription.undeliverable,
        "template": template.status,
        "marketing_paused": account.marketing_paused_reason is not None,
        "store": store.status,
        "opt_out_events": [e.source for e in session.scalars(select(ConsentEvent))],
    }


UNCHANGED = {
    "held_until": None,
    "state": "confirmed",
    "undeliverable": False,
    "template": "APPROVED",
    "marketing_paused": False,
    "store": StoreStatus.ACTIVE,
    "opt_out_events": [],
}

PAUSED = {"store": StoreStatus.PAUSED}
EXPECTED: dict[int, tuple[ErrorKind, dict[str, object]]] = {
    **{
        c: (ErrorKind.RETRY, {})
        for c in (1, 2, 4, 80007, 130429, 131000, 131016, 131056, 131057, 133004)
    },
    131049: (ErrorKind.HOLD_BUYER, {"held_until": NOW + dt.timedelta(hours=24)}),
    131050: (ErrorKind.OPT_OUT, {"state": "opted_out", "opt_out_events": ["send_error"]}),
    131026: (ErrorKind.UNDELIVERABLE, {"undeliverable": True}),
    **{c: (ErrorKind.TERMINAL, {}) for c in (131047, 130472, 130497, 131053, 131062)},
    **{
        c: (ErrorKind.TEMPLATE, {"template": "PAUSED"})
        for c in (132000, 132001, 132005, 132007, 132012, 132015, 132016)
    },
    131048: (ErrorKind.SPAM_LIMIT, {"marketing_paused": True}),
    **{
        c: (ErrorKind.ACCOUNT, PAUSED)
        for c in (0, 3, 10, 190, 200, 250, 299, 368, 131031, 131037, 131042, 133010)
    },
    # anything not in the table ends the message: neighbours of the ranges, Meta's
    # undocumented 131064, and a parameter error
    **{c: (ErrorKind.TERMINAL, {}) for c in (100, 199, 300, 131064)},
}


def test_the_expectations_cover_every_code_in_the_table() -> None:
    assert set(CODES) - set(range(201, 299)) <= set(EXPECTED)
    assert {CODES[c] for c in range(200, 300)} == {ErrorKind.ACCOUNT}


@pytest.mark.parametrize("code", sorted(EXPECTED))
def test_each_error_code_is_handled_as_documented(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, outbox: Notification, code: int
) -> None:
    # given Meta answers the send with this code
    error = _send_failing(app, session, shop, fake_meta, code)
    assert error.code == code
    assert error.maybe_sent is False

    # when the error is applied
    decision = apply_send_error(session, shop, outbox, error, NOW)

    # then the decision and its side effects are the documented ones, and nothing else changed
    kind, changes = EXPECTED[code]
    assert decision.kind == kind
    assert decision.reason.startswith(f"whatsapp {code}: ")
    assert _effects(session, shop) == {**UNCHANGED, **changes}
    if kind == ErrorKind.RETRY:
        assert decision.retry_at is not None
        factor = 4 if code == 131056 else 1  # the pair rate limit never bursts one buyer
        low, high = dt.timedelta(seconds=15 * factor), dt.timedelta(seconds=30 * factor)
        assert NOW + low <= decision.retry_at <= NOW + high
    else:
        assert decision.retry_at is None


def test_bare_server_error_is_retried(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, outbox: Notification
) -> None:
    error = _send_failing(app, session, shop, fake_meta, 0, 502)
    decision = apply_send_error(session, shop, outbox, error, NOW)
    assert (error.code, decision.kind) == (502, ErrorKind.RETRY)
    assert _effects(session, shop) == UNCHANGED


def test_retryable_error_gives_up_after_the_last_attempt(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, outbox: Notification
) -> None:
    outbox.attempts = errors.MAX_ATTEMPTS
    error = _send_failing(app, session, shop, fake_meta, 131000)
    decision = apply_send_error(session, shop, outbox, error, NOW)
    assert decision.kind == ErrorKind.RETRY
    assert decision.retry_at is None
    assert decision.reason.endswith(f"(gave up after {errors.MAX_ATTEMPTS})")


def test_a_send_that_may_have_reached_meta_is_never_retried(
    session: Session, shop: Store, outbox: Notification
) -> None:
    error = SendError(0, "no response", maybe_sent=True)
    decision = apply_send_error(session, shop, outbox, error, NOW)
    assert (decision.kind, decision.retry_at) == (ErrorKind.UNCERTAIN, None)
    assert _effects(session, shop) == UNCHANGED


def test_the_documented_table_is_rendered_from_the_code() -> None:
    # given the page owners read, when rendered again, then nothing differs
    assert DOCS.read_text() == errors.render_markdown()


def test_every_row_of_the_table_says_what_happens_and_where_meta_documents_it() -> None:
    for rule in errors.TABLE:
        assert rule.explanation.endswith("."), rule.codes
        assert rule.source.startswith("https://developers.facebook.com/"), rule.codes
    assert errors._codes_cell((3, 10, *range(200, 300))) == "3, 10, 200-299"
    assert errors._codes_cell((1, 2, 4)) == "1, 2, 4"
    assert len(set(CODES)) == sum(len(rule.codes) for rule in errors.TABLE)  # no code twice
