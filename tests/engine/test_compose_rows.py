"""What compose writes for a draft, field by field: who it is for, which template and language,
the parameters Meta will get (header, body, tracked link, unsubscribe link) and its context."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.engine.outbox import Draft, compose, template_parameters
from plugin.models import WhatsAppTemplate
from tests.engine.conftest import at, notifications, ready_shop
from tests.factories import make_cart, make_subscription, make_template

NOW = at("2026-01-05T10:00:00Z")  # a Monday, 11:00 in Berlin
UNSUBSCRIBE = [
    {
        "type": "BUTTONS",
        "buttons": [
            {"type": "URL", "text": "Shop", "url": "https://shop.example/r/{{1}}"},
            {"type": "URL", "text": "Abmelden", "url": "https://nudge.example/u/{{1}}"},
        ],
    }
]


def test_a_draft_becomes_exactly_this_row(session: Session) -> None:
    # given a buyer with a cart, and a template with a tracked and an unsubscribe button
    shop = ready_shop(session)
    template = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == shop.store.id,
            WhatsAppTemplate.purpose == "cart_reminder_1",
        )
    ).one()
    template.components = UNSUBSCRIBE
    cart = make_cart(session, shop.store, shop.products[:1], customer_id=shop.customer.id)
    draft = Draft(
        dedupe_key="cart:1:step:1",
        flow="cart_reminder",
        purpose="cart_reminder_1",
        subscription=shop.subscription,
        due_at=NOW,
        expires_at=NOW + dt.timedelta(days=1),
        customer=shop.customer,
        cart=cart,
        body=["Erika", "19.90 EUR"],
        header_image="https://shop.example/bohne.jpg",
        link_url="https://shop.example/cart",
        context={"step": 1},
    )
    # when it is composed
    counts = compose(session, shop.store, [draft], NOW)
    # then one pending row holds exactly what the draft and the template say
    assert (counts.pending, counts.skipped, counts.expired, counts.existing) == (1, 0, 0, 0)
    (row,) = notifications(session, shop.store)
    assert (row.dedupe_key, row.flow, row.phone) == (
        "cart:1:step:1",
        "cart_reminder",
        shop.subscription.phone,
    )
    assert (row.subscription_id, row.customer_id, row.cart_id) == (
        shop.subscription.id,
        shop.customer.id,
        cart.id,
    )
    assert (row.state, row.reason, row.due_at, row.expires_at) == (
        "pending",
        None,
        NOW,
        NOW + dt.timedelta(days=1),
    )
    assert (row.cost_micros, row.cost_currency) == (113_100, "EUR")
    assert row.context == {
        "step": 1,
        "purpose": "cart_reminder_1",
        "link_url": "https://shop.example/cart",
    }
    assert row.link_token is not None and len(row.link_token) == 24  # 18 random bytes
    assert row.parameters == {
        "header": [{"type": "image", "image": {"link": "https://shop.example/bohne.jpg"}}],
        "body": [{"type": "text", "text": "Erika"}, {"type": "text", "text": "19.90 EUR"}],
        "buttons": [
            {
                "index": 0,
                "sub_type": "url",
                "parameters": [{"type": "text", "text": row.link_token}],
            },
            {
                "index": 1,
                "sub_type": "url",
                "parameters": [{"type": "text", "text": shop.subscription.unsubscribe_token}],
            },
        ],
    }
    assert (row.template_name, row.language) == (template.name, "de")


def test_a_draft_without_link_or_image_has_a_body_only() -> None:
    draft = Draft(
        dedupe_key="k",
        flow="recommendation",
        purpose="recommendation",
        subscription=None,  # type: ignore[arg-type]
        due_at=NOW,
        expires_at=None,
        body=["Erika"],
    )
    assert template_parameters(draft, None) == {"body": [{"type": "text", "text": "Erika"}]}


def test_a_buyer_without_a_language_of_their_own_gets_the_customers_then_the_shops(
    session: Session,
) -> None:
    # given an English template beside the German one, and two buyers without a locale
    shop = ready_shop(session)
    make_template(session, shop.store, "recommendation", language="en")
    english = make_subscription(session, shop.store, phone="+4915100000011", locale=None)
    shop.customer.locale = "en"
    unknown = make_subscription(session, shop.store, phone="+4915100000012", locale=None)
    drafts = [
        Draft(
            dedupe_key=f"rec:{n}",
            flow="recommendation",
            purpose="recommendation",
            subscription=subscription,
            due_at=NOW,
            expires_at=None,
            customer=customer,
            body=["x"],
        )
        for n, (subscription, customer) in enumerate([(english, shop.customer), (unknown, None)])
    ]
    # when both are composed
    compose(session, shop.store, drafts, NOW)
    # then the customer's language picks the English template; the other gets the shop's
    rows = {row.dedupe_key: row for row in notifications(session, shop.store)}
    assert (rows["rec:0"].language, rows["rec:0"].customer_id) == ("en", shop.customer.id)
    assert (rows["rec:1"].language, rows["rec:1"].customer_id) == (
        shop.store.default_locale,
        None,
    )
    assert rows["rec:1"].cart_id is None and rows["rec:1"].link_token is None
