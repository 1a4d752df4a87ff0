"""The WhatsApp tick of WooCommerce's checkout, read from the order it came with.

The ShopNudge plugin registers a checkbox with the Additional Checkout Fields API (block
checkout) or the classic checkout's hook; either way the order's `meta_data` carries it as
`_wc_other/shopnudge/whatsapp-optin`, beside the wording version and locale the buyer was shown.
The order arrives in a signed webhook, so the tick is recorded with the same ledger, proof and
double opt-in as the widget's, source `checkout_checkbox`.
https://developer.woocommerce.com/docs/block-development/extensible-blocks/cart-and-checkout-blocks/additional-checkout-fields/
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent import doubleoptin, ledger
from plugin.db import utcnow
from plugin.models import ConsentEvent, ConsentKind, Customer, OptinWording, Store
from plugin.phones import InvalidPhone, parse_phone

log = logging.getLogger(__name__)

SOURCE = "checkout_checkbox"
#: The plugin's field namespace and what WooCommerce makes of its fields in the order meta.
OPTIN_KEY = "_wc_other/shopnudge/whatsapp-optin"
PHONE_KEY = "_wc_other/shopnudge/whatsapp-phone"
#: Written by the plugin beside the tick: which wording (of which locale) the label showed.
VERSION_KEY = "_shopnudge_wording_version"
LOCALE_KEY = "_shopnudge_wording_locale"
#: How WordPress stores a ticked checkbox (the block API writes "1", the classic form "yes").
TICKED = frozenset({"1", "yes", "true", "on"})


def order_meta(payload: dict[str, Any]) -> dict[str, Any]:
    """The order's `meta_data` as key -> value (the last entry wins, as in WordPress)."""
    return {
        str(entry.get("key")): entry.get("value")
        for entry in payload.get("meta_data") or []
        if isinstance(entry, dict)
    }


def record_checkout_consent(
    session: Session, store: Store, payload: dict[str, Any], now: dt.datetime | None = None
) -> ConsentEvent | None:
    """Record the order's WhatsApp tick as an opt-in request; None when there is none to record.

    An order seen again (order.updated, a redelivery, the REST sync) records nothing new.
    """
    meta = order_meta(payload)
    if str(meta.get(OPTIN_KEY, "")).strip().lower() not in TICKED:
        return None
    order_id = str(payload.get("id") or "")
    wording = _shown_wording(session, store, meta)
    if wording is None or not order_id:
        log.warning("store %s: a checkout tick without a known wording version", store.id)
        return None
    billing = payload.get("billing") or {}
    raw_phone = str(meta.get(PHONE_KEY) or billing.get("phone") or "")
    try:
        phone = parse_phone(raw_phone, str(billing.get("country") or store.country))
    except InvalidPhone as error:
        log.info("store %s: a checkout tick without a usable number (%s)", store.id, error.reason)
        return None
    if _already_recorded(session, store, phone, order_id):
        return None
    now = now or utcnow()
    subscription, event = ledger.record(
        session,
        store,
        phone,
        ConsentKind.REQUESTED,
        SOURCE,
        wording=wording,
        locale=wording.locale,
        ip=str(payload.get("customer_ip_address") or "")[:64] or None,
        user_agent=str(payload.get("customer_user_agent") or "")[:1024] or None,
        detail={"order_id": order_id, "order_key": str(payload.get("order_key") or "")[:64]},
        at=now,
    )
    _link_customer(session, store, subscription, payload.get("customer_id"))
    doubleoptin.start_confirmation(session, store, subscription, event, now)
    return event


def _shown_wording(session: Session, store: Store, meta: dict[str, Any]) -> OptinWording | None:
    """Exactly the version the label showed, even if the owner has changed it since."""
    try:
        version = int(str(meta.get(VERSION_KEY, "")))
    except ValueError:
        return None
    locale = str(meta.get(LOCALE_KEY) or store.default_locale)
    return session.scalars(
        select(OptinWording).where(
            OptinWording.store_id == store.id,
            OptinWording.locale == locale,
            OptinWording.version == version,
        )
    ).first()


def _already_recorded(session: Session, store: Store, phone: str, order_id: str) -> bool:
    subscription = ledger.find_subscription(session, store.id, phone)
    if subscription is None:
        return False
    details = session.scalars(
        select(ConsentEvent.detail).where(
            ConsentEvent.subscription_id == subscription.id, ConsentEvent.source == SOURCE
        )
    )
    return any((detail or {}).get("order_id") == order_id for detail in details)


def _link_customer(session: Session, store: Store, subscription: Any, platform_id: Any) -> None:
    if not platform_id or subscription.customer_id is not None:
        return  # a guest order (customer_id 0) has no customer to link
    customer = session.scalars(
        select(Customer).where(
            Customer.store_id == store.id, Customer.platform_id == str(platform_id)
        )
    ).first()
    if customer is not None:
        subscription.customer_id = customer.id
