"""Meta's webhook deliveries: verify, split into one stored delivery per change, route, handle.

The signature (X-Hub-Signature-256: HMAC-SHA256 of the raw body with the app secret) is checked
before anything is parsed. Each status, message and preference becomes its own inbox delivery
so that duplicates are dropped by key (a status by wamid + status) and one bad item cannot
block the others. Deliveries are routed to the shop by phone number id (account-level fields
carry only the WABA id) and processed after the answer.
https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin import inbox
from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Store, WebhookDelivery, WhatsAppAccount
from plugin.whatsapp import accounts, identity, inbound, statuses
from plugin.whatsapp.templates import catalog

log = logging.getLogger(__name__)

SOURCE = "whatsapp"
TEMPLATE_FIELDS = frozenset(
    {
        "message_template_status_update",
        "message_template_quality_update",
        "template_category_update",
    }
)
#: Items of a `messages` or `user_preferences` change that become deliveries of their own.
ITEM_KEYS = ("statuses", "messages", "user_preferences")


class MalformedPayload(ValueError):
    """The verified body is not a WhatsApp Business Account notification."""


def signature_valid(raw: bytes, header: str | None, secret: str) -> bool:
    """Constant-time check of X-Hub-Signature-256 ("sha256=<hex>") over the raw body."""
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest().encode()
    given = header.removeprefix("sha256=").strip().lower().encode()  # bytes: any header text
    return hmac.compare_digest(expected, given)


@dataclass(frozen=True)
class Change:
    delivery_id: str
    topic: str
    waba_id: str
    phone_number_id: str | None
    body: dict[str, Any]


def split_changes(payload: Any) -> list[Change]:
    """One Change per status, message or preference, and one per other change."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        raise MalformedPayload("not a whatsapp_business_account notification")
    entries = payload.get("entry")
    if not isinstance(entries, list):
        raise MalformedPayload("entry is missing")
    changes: list[Change] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes", []), list):
            raise MalformedPayload("entry is not an object")
        for change in entry.get("changes") or []:
            value, field = change.get("value"), change.get("field")
            if not isinstance(value, dict) or not isinstance(field, str):
                raise MalformedPayload("change without field or value")
            waba_id = _waba_of(value) or str(entry.get("id") or "")
            changes.extend(_items(waba_id, field, value, entry.get("time")))
    return changes


def _waba_of(value: dict[str, Any]) -> str | None:
    """The WABA an account_update names itself when its entry is the business portfolio
    (MM_LITE_TERMS_SIGNED: `waba_info.waba_id`)."""
    info = value.get("waba_info")
    waba_id = info.get("waba_id") if isinstance(info, dict) else None
    return str(waba_id) if waba_id else None


def _items(waba_id: str, field: str, value: dict[str, Any], time: Any) -> list[Change]:
    metadata = value.get("metadata", {})
    if not isinstance(metadata, dict):
        raise MalformedPayload("metadata is not an object")
    phone_number_id = metadata.get("phone_number_id")
    phone_number_id = str(phone_number_id) if phone_number_id else None
    shared = {k: v for k, v in value.items() if k not in ITEM_KEYS}
    found: list[Change] = []
    for key in ITEM_KEYS:
        items = value.get(key) or []
        if not isinstance(items, list):
            raise MalformedPayload(f"{key} is not a list")
        for item in items:
            if not isinstance(item, dict):
                raise MalformedPayload(f"{key} item is not an object")
            delivery_id, topic = _identity(key, item)
            body = {"waba_id": waba_id, "field": field, "value": {**shared, key: [item]}}
            found.append(Change(delivery_id, topic, waba_id, phone_number_id, body))
    if not found:
        digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:40]
        body = {"waba_id": waba_id, "field": field, "value": value}
        found.append(
            Change(f"{field}:{waba_id}:{time}:{digest}", field, waba_id, phone_number_id, body)
        )
    return found


def _identity(key: str, item: dict[str, Any]) -> tuple[str, str]:
    if key == "statuses":
        return f"status:{item.get('id')}:{item.get('status')}", f"status.{item.get('status')}"
    if key == "messages":
        return f"message:{item.get('id')}", f"message.{item.get('type')}"
    buyer = item.get("wa_id") or item.get("user_id")  # a hidden number: only the BSUID
    return (
        f"preference:{buyer}:{item.get('value')}:{item.get('timestamp')}",
        f"user_preferences.{item.get('value')}",
    )


def route(session: Session, change: Change) -> WhatsAppAccount | None:
    """The account a change belongs to: by phone number id, else by WABA id."""
    if change.phone_number_id:
        return session.scalars(
            select(WhatsAppAccount).where(WhatsAppAccount.phone_number_id == change.phone_number_id)
        ).first()
    candidates = session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.waba_id == change.waba_id)
    ).all()
    display = str(change.body["value"].get("display_phone_number") or "")
    for account in candidates:
        if display and display == _digits(account.display_phone_number):
            return account
    return candidates[0] if candidates else None


def _digits(text: str | None) -> str:
    return "".join(ch for ch in text or "" if ch.isdigit())


def store_changes(session: Session, changes: list[Change]) -> list[int]:
    """Accept each routable change into the inbox; the ids of the new (non-replayed) ones."""
    ids = []
    for change in changes:
        account = route(session, change)
        if account is None:
            log.warning("whatsapp %s for an unknown number dropped", change.topic)
            continue
        delivery = inbox.accept(
            session,
            source=SOURCE,
            delivery_id=change.delivery_id[:255],
            topic=change.topic[:128],
            body=json.dumps(change.body).encode(),
            store_id=account.store_id,
        )
        if delivery is not None:
            ids.append(delivery.id)
    return ids


def handle_delivery(session: Session, delivery: WebhookDelivery, settings: Settings) -> None:
    """The inbox handler: apply one stored change to its shop."""
    body = json.loads(delivery.body or b"{}")
    store = session.get(Store, delivery.store_id)
    if store is None:
        return
    account = catalog.account_of(session, store)
    field, value = body["field"], body["value"]
    now = utcnow()
    if field == "messages":
        identity.remember_pairs(session, store, value)
        for status in value.get("statuses") or []:
            statuses.apply_status(session, store, status)
        if value.get("messages"):
            inbound.handle_message(session, settings, store, account, value)
    elif field == "user_preferences":
        identity.remember_pairs(session, store, value)
        for preference in value.get("user_preferences") or []:
            inbound.apply_preference(session, store, preference)
    elif field in TEMPLATE_FIELDS:
        catalog.apply_template_update(session, store, field, value, now)
    elif field == "business_capability_update":
        accounts.apply_capability_update(session, str(body.get("waba_id") or ""), value)
    elif field == "phone_number_quality_update" and account is not None:
        accounts.apply_quality_update(account, value)
    elif field == "account_update" and account is not None:
        accounts.apply_account_update(session, store, account, value, now)
    session.flush()
