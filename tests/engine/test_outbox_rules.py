"""What compose decides from the facts it gathers itself: the buyer's number places them in a
zone, a cart reminder checks its cart, earlier sends fill the cap, a missing template holds the
row; and what insert_rows fills in for columns a row leaves out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from plugin import migrate
from plugin.engine.outbox import Draft, compose, insert_rows, link_tokens
from plugin.models import CartState, Notification, NotificationState, Subscription
from tests.engine.conftest import Shop, at, notifications, ready_shop
from tests.factories import (
    make_cart,
    make_notification,
    make_store,
    make_subscription,
    make_template,
)

#: A Monday, 10:00 UTC: 11:00 in Berlin (allowed), 05:00 in New York (quiet until 09:00).
MONDAY = at("2026-01-05T10:00:00Z")
UNSUBSCRIBE_ONLY = [
    {
        "type": "BUTTONS",
        "buttons": [{"type": "URL", "text": "Abmelden", "url": "https://nudge.example/u/{{1}}"}],
    }
]


def draft_for(subscription: Subscription, **fields: Any) -> Draft:
    values: dict[str, Any] = {
        "dedupe_key": f"rec:{subscription.phone}",
        "flow": "recommendation",
        "purpose": "recommendation",
        "subscription": subscription,
        "due_at": MONDAY,
        "expires_at": None,
        "body": ["Erika"],
    }
    values.update(fields)
    return Draft(**values)


def compose_one(session: Session, shop: Shop, draft: Draft) -> Notification:
    compose(session, shop.store, [draft], MONDAY)
    (row,) = [n for n in notifications(session, shop.store) if n.dedupe_key == draft.dedupe_key]
    return row


def test_a_buyer_known_only_by_a_new_york_number_waits_for_nine_in_new_york(
    session: Session,
) -> None:
    # given a Berlin shop and a buyer with a +1 212 number and no customer record
    shop = ready_shop(session)
    buyer = make_subscription(session, shop.store, phone="+12125550147")
    # when a message is composed at 11:00 Berlin time (05:00 in New York)
    row = compose_one(session, shop, draft_for(buyer))
    # then it waits for 09:00 in New York (14:00 UTC)
    assert (row.state, row.reason, row.due_at) == ("pending", None, at("2026-01-05T14:00:00Z"))


@pytest.mark.parametrize("state", [CartState.RECOVERED, CartState.EXPIRED])
def test_a_reminder_for_a_cart_no_longer_open_is_skipped_at_compose(
    session: Session, state: str
) -> None:
    # given a buyer's cart that was bought meanwhile (or expired)
    shop = ready_shop(session)
    cart = make_cart(
        session, shop.store, shop.products[:1], phone=shop.subscription.phone, state=state
    )
    draft = draft_for(
        shop.subscription,
        dedupe_key=f"cart:{cart.id}:step:1",
        flow="cart_reminder",
        purpose="cart_reminder_1",
        customer=shop.customer,
        cart=cart,
    )
    # when its reminder is composed
    row = compose_one(session, shop, draft)
    # then the row is written skipped, naming the cart guard
    assert (row.state, row.reason, row.due_at) == ("skipped", "cart_open", MONDAY)


def test_a_reminder_for_an_open_cart_is_pending(session: Session) -> None:
    shop = ready_shop(session)
    cart = make_cart(session, shop.store, shop.products[:1], phone=shop.subscription.phone)
    cart.last_activity_at = MONDAY - dt.timedelta(hours=1)
    draft = draft_for(
        shop.subscription,
        dedupe_key=f"cart:{cart.id}:step:1",
        flow="cart_reminder",
        purpose="cart_reminder_1",
        customer=shop.customer,
        cart=cart,
    )
    row = compose_one(session, shop, draft)
    assert (row.state, row.reason, row.due_at) == ("pending", None, MONDAY)


def test_a_buyer_messaged_an_hour_ago_waits_until_the_day_has_room(session: Session) -> None:
    # given a buyer who got a recommendation an hour ago (the cap is one a day)
    shop = ready_shop(session)
    make_notification(
        session,
        shop.store,
        "earlier",
        phone=shop.subscription.phone,
        state="sent",
        sent_at=MONDAY - dt.timedelta(hours=1),
    )
    # when another message is composed for them
    row = compose_one(session, shop, draft_for(shop.subscription, customer=shop.customer))
    # then it waits 24 hours from the earlier one
    assert (row.state, row.reason, row.due_at) == (
        "pending",
        None,
        MONDAY + dt.timedelta(hours=23),
    )


def test_a_draft_without_an_approved_template_is_held_and_named_by_its_purpose(
    session: Session,
) -> None:
    # given a shop with no approved template for the purpose
    shop = ready_shop(session)
    make_template(session, shop.store, "back_in_stock", status="REJECTED")
    draft = draft_for(shop.subscription, purpose="back_in_stock", link_url="https://s.example/p")
    # when a draft for it is composed
    row = compose_one(session, shop, draft)
    # then it is skipped by the template guard, under the purpose and the buyer's language,
    # with the tracked link and no unsubscribe button (no template says where one would be)
    assert (row.state, row.reason) == ("skipped", "template_approved")
    assert (row.template_name, row.language) == ("back_in_stock", "de")
    assert row.parameters == {
        "body": [{"type": "text", "text": "Erika"}],
        "buttons": [
            {
                "index": 0,
                "sub_type": "url",
                "parameters": [{"type": "text", "text": row.link_token}],
            }
        ],
    }


def test_a_draft_without_a_link_gets_the_unsubscribe_button_alone(session: Session) -> None:
    # given a template whose only button is the unsubscribe link
    shop = ready_shop(session)
    make_template(session, shop.store, "winback", components=UNSUBSCRIBE_ONLY)
    # when a draft without a tracked link is composed
    row = compose_one(session, shop, draft_for(shop.subscription, purpose="winback"))
    # then the buyer's /u/ token fills that button, at its own index
    assert (row.state, row.template_name, row.link_token) == ("pending", "shopnudge_winback", None)
    assert row.parameters == {
        "body": [{"type": "text", "text": "Erika"}],
        "buttons": [
            {
                "index": 0,
                "sub_type": "url",
                "parameters": [{"type": "text", "text": shop.subscription.unsubscribe_token}],
            }
        ],
    }


@pytest.mark.postgres
def test_rows_copied_without_json_or_times_get_what_an_insert_would_fill_in(
    postgres_url: str,
) -> None:
    # given a row that leaves out its parameters, context and times
    migrate.upgrade(postgres_url)
    engine = create_engine(postgres_url)
    try:
        with sessionmaker(engine)() as session:
            store = make_store(session, credentials=None)  # nothing to encrypt: no app here
            row = {
                "store_id": store.id,
                "dedupe_key": "bare",
                "flow": "recommendation",
                "phone": "+4915112340000",
                "template_name": "shopnudge_recommendation",
                "language": "de",
                "due_at": MONDAY,
            }
            before = dt.datetime.now(dt.UTC)
            # when it is copied in
            assert insert_rows(session, [row]) == 1
            # then it has the model's defaults: empty JSON, pending, no attempts, written now
            stored = session.scalars(select(Notification)).one()
            assert (stored.parameters, stored.context) == ({}, {})
            assert (stored.state, stored.attempts) == (NotificationState.PENDING, 0)
            after = dt.datetime.now(dt.UTC)
            assert before <= stored.created_at <= after
            assert before <= stored.updated_at <= after
    finally:
        engine.dispose()


def test_composing_again_writes_nothing_and_counts_what_exists(session: Session) -> None:
    # given another shop whose outbox holds the same key, and two drafts of this shop's buyers
    shop, elsewhere = ready_shop(session), ready_shop(session)
    make_notification(session, elsewhere.store, f"rec:{shop.subscription.phone}")
    other = make_subscription(session, shop.store, phone="+4915100000031")
    drafts = [draft_for(shop.subscription), draft_for(other), draft_for(other)]  # one twice
    # when they are composed, and composed again
    first = compose(session, shop.store, drafts, MONDAY)
    again = compose(session, shop.store, drafts, MONDAY)
    # then the first writes one row per key (the other shop's key is not this shop's; the
    # twin is counted as existing), the second writes nothing
    assert (first.pending, first.written, first.existing) == (3, 3, 1)
    assert (again.pending, again.written, again.existing) == (0, 0, 3)
    assert len(notifications(session, shop.store)) == 2


def test_a_held_draft_without_a_template_keeps_the_buyers_own_language(session: Session) -> None:
    shop = ready_shop(session)
    buyer = make_subscription(session, shop.store, phone="+4915100000032", locale="en")
    row = compose_one(session, shop, draft_for(buyer, purpose="back_in_stock"))
    assert (row.state, row.reason, row.template_name, row.language) == (
        "skipped",
        "template_approved",
        "back_in_stock",
        "en",
    )


def test_link_tokens_drawn_at_once_are_distinct_url_safe_and_24_characters() -> None:
    # when 1,000 tokens are drawn in one read of randomness (and none are asked for)
    tokens = link_tokens(1000)
    # then each is a token_urlsafe(18): 24 URL-safe characters, none repeated, none empty
    assert len(tokens) == 1000
    assert {len(token) for token in tokens} == {24}
    assert len(set(tokens)) == 1000
    alphabet = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert set("".join(tokens)) <= alphabet
    assert link_tokens(0) == []
