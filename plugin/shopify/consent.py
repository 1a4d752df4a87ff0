"""WhatsApp marketing consent kept in step with Shopify's (API 2026-07 and later).

Shopify's SUBSCRIBED is a request we still confirm ourselves (double opt-in); its UNSUBSCRIBED
is an opt-out we honour at once. Our confirmations and opt-outs are written back with
`push_whatsapp_consent`. https://shopify.dev/changelog/whatsapp-marketing-consent-now-available
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from connectors.errors import PlatformError
from connectors.shopify import queries
from connectors.shopify.client import raise_user_errors
from plugin.config import Settings
from plugin.consent.ledger import find_subscription, opt_out, record
from plugin.models import ConsentKind, Customer, Store, Subscription, SubscriptionState
from plugin.phones import normalise_phone
from plugin.shopify.client import client_for

log = logging.getLogger(__name__)

SOURCE = "shopify_consent"
STATES = ("SUBSCRIBED", "UNSUBSCRIBED")


def apply_whatsapp_consent(
    session: Session, store: Store, customer: Customer | None, payload: dict[str, Any]
) -> str | None:
    """Act on a customers_whats_app_marketing_consent/update body; returns what was recorded."""
    consent = payload.get("whats_app_marketing_consent") or {}
    state = (consent.get("state") or "").upper() or None
    if customer is not None:
        customer.platform_marketing_state = state
    raw_phone = payload.get("phone_number") or (customer.phone if customer else None)
    phone = normalise_phone(raw_phone, (customer.country if customer else None) or store.country)
    if phone is None or state not in STATES:
        return None
    subscription = find_subscription(session, store.id, phone)
    current = subscription.state if subscription else None
    detail = {
        "collected_from": consent.get("collected_from"),
        "opt_in_level": consent.get("opt_in_level"),
        "platform_customer_id": str(payload.get("customer_id") or ""),
    }
    if state == "SUBSCRIBED":
        if current == SubscriptionState.CONFIRMED:
            return None  # already confirmed with us (often our own push echoed back)
        record(session, store, phone, ConsentKind.REQUESTED, SOURCE, detail=detail)
        if customer is not None:
            _link(session, store, phone, customer)
        return ConsentKind.REQUESTED
    if current == SubscriptionState.OPTED_OUT:
        return None  # our own opt-out echoed back by Shopify
    opt_out(session, store, phone, source=SOURCE, detail=detail)
    return ConsentKind.OPTED_OUT


def _link(session: Session, store: Store, phone: str, customer: Customer) -> None:
    subscription = find_subscription(session, store.id, phone)
    if subscription is not None and subscription.customer_id is None:
        subscription.customer_id = customer.id


def push_whatsapp_consent(
    session: Session,
    settings: Settings,
    store: Store,
    customer_platform_id: str,
    state: str,
) -> None:
    """Write our confirmed opt-in (SUBSCRIBED) or opt-out (UNSUBSCRIBED) back to Shopify.

    Raises connectors.errors.PlatformError when Shopify refuses (userErrors) or fails.
    https://shopify.dev/docs/api/admin-graphql/2026-07/mutations/customerWhatsAppMarketingConsentUpdate
    """
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}, not {state!r}")
    client = client_for(session, store, settings)
    customer_gid = (
        customer_platform_id
        if customer_platform_id.startswith("gid://")
        else f"gid://shopify/Customer/{customer_platform_id}"
    )
    consent: dict[str, Any] = {"state": state}
    if state == "SUBSCRIBED":
        consent["optInLevel"] = "CONFIRMED_OPT_IN"  # we confirmed it by double opt-in
    payload = client.execute(
        queries.WHATSAPP_CONSENT_UPDATE,
        {"input": {"customerId": customer_gid, "whatsAppMarketingConsent": consent}},
    )["customerWhatsAppMarketingConsentUpdate"]
    raise_user_errors(payload)


#: Pushes per shop and run; the next run takes the rest (Shopify's cost budget is shared).
PUSH_BATCH = 100


def consent_to_push(session: Session, store: Store) -> list[tuple[Customer, str]]:
    """Customers whose Shopify WhatsApp consent disagrees with our ledger, and the state to set.

    Confirmed with us but not SUBSCRIBED on Shopify: push SUBSCRIBED. Opted out with us but not
    UNSUBSCRIBED on Shopify: push UNSUBSCRIBED. Pending opt-ins are not pushed: they are not
    consent yet.
    """
    wanted = case(
        (Subscription.state == SubscriptionState.CONFIRMED, "SUBSCRIBED"),
        else_="UNSUBSCRIBED",
    )
    rows = session.execute(
        select(Customer, wanted)
        .join(
            Subscription,
            (Subscription.store_id == Customer.store_id)
            & (
                (Subscription.customer_id == Customer.id)
                | ((Subscription.customer_id.is_(None)) & (Subscription.phone == Customer.phone))
            ),
        )
        .where(
            Customer.store_id == store.id,
            Customer.erased_at.is_(None),
            Subscription.state.in_([SubscriptionState.CONFIRMED, SubscriptionState.OPTED_OUT]),
            Customer.platform_marketing_state.is_distinct_from(wanted),
        )
        .order_by(Customer.id)
        .limit(PUSH_BATCH)
    )
    return [(customer, state) for customer, state in rows]


def push_pending_consent(session: Session, settings: Settings, store: Store) -> int:
    """Write back every disagreement found; returns how many Shopify accepted."""
    pushed = 0
    for customer, state in consent_to_push(session, store):
        try:
            push_whatsapp_consent(session, settings, store, customer.platform_id, state)
        except PlatformError as error:  # one customer's refusal must not stop the others
            log.warning("store %s: consent push refused: %s", store.id, error)
            continue
        customer.platform_marketing_state = state
        pushed += 1
    return pushed
