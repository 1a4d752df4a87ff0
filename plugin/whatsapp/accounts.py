"""A shop's WhatsApp number: connecting it, its quality and limits, and the periodic syncs.

Quality RED pauses marketing (WhatsAppAccount.marketing_paused_reason) until it recovers: a
number Meta rates low loses its messaging limit if it keeps sending what buyers report.
https://developers.facebook.com/docs/whatsapp/messaging-limits
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/phone_number_quality_update
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import get_database, utcnow
from plugin.jobs import Job
from plugin.models import AuditEntry, Store, StoreStatus, WhatsAppAccount
from plugin.whatsapp import limits, routing
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.client import GraphClient
from plugin.whatsapp.templates.catalog import account_of

log = logging.getLogger(__name__)

QUALITY_PAUSE = "phone number quality is RED"
DISABLED_PAUSE = "Meta disabled the WhatsApp Business Account"
#: account_update event when the business accepts the Marketing Messages API's terms; the
#: entry's id is then the business portfolio, the WABA is in `waba_info.waba_id`.
#: https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/onboarding
MARKETING_TERMS_SIGNED = "MM_LITE_TERMS_SIGNED"
PHONE_FIELDS = (
    "id,display_phone_number,verified_name,quality_rating,messaging_limit_tier,"
    "whatsapp_business_manager_messaging_limit,throughput"
)
#: Messages per second by Meta's throughput level (80 is the default, 1,000 when upgraded).
THROUGHPUT_MPS = {"STANDARD": 80, "HIGH": 1000, "NOT_APPLICABLE": 80}


class AccountError(Exception):
    """The number could not be connected; the message says why in one line."""


def messaging_limit(account: WhatsAppAccount) -> int | None:
    """Unique buyers per moving 24 h the portfolio's limit allows (None: unlimited or unknown)."""
    return limits.recipients_per_day(account.messaging_limit_tier)


def apply_capability_update(session: Session, waba_id: str, value: dict[str, Any]) -> int:
    """business_capability_update: the portfolio's messaging limit on every number of the WABA.

    `max_daily_conversations_per_business` is the portfolio's limit (-1: unlimited); the older
    `max_daily_conversation_per_phone` is read only when it is missing. Returns accounts changed.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/business_capability_update
    """
    limit = value.get("max_daily_conversations_per_business")
    if limit is None:
        limit = value.get("max_daily_conversation_per_phone")
    if not isinstance(limit, int) and not str(limit or "").lstrip("-").isdigit():
        return 0
    tier = limits.UNLIMITED if int(limit) < 0 else str(int(limit))
    accounts = session.scalars(select(WhatsAppAccount).where(WhatsAppAccount.waba_id == waba_id))
    changed = 0
    for account in accounts:
        changed += account.messaging_limit_tier != tier
        account.messaging_limit_tier = tier
    return changed


def apply_quality(account: WhatsAppAccount, rating: str | None) -> None:
    """Store the rating; RED pauses marketing, leaving RED lifts only our own pause."""
    rating = (rating or "UNKNOWN").upper()
    account.quality_rating = rating
    if rating == "RED":
        account.marketing_paused_reason = QUALITY_PAUSE
    elif account.marketing_paused_reason == QUALITY_PAUSE:
        account.marketing_paused_reason = None


def apply_details(account: WhatsAppAccount, details: dict[str, Any]) -> None:
    """Copy a phone number's details (GET /{phone_number_id}) onto the account."""
    account.display_phone_number = details.get("display_phone_number")
    account.verified_name = details.get("verified_name")
    tier = details.get("whatsapp_business_manager_messaging_limit") or details.get(
        "messaging_limit_tier"
    )
    account.messaging_limit_tier = str(tier) if tier else account.messaging_limit_tier
    level = str((details.get("throughput") or {}).get("level") or "STANDARD").upper()
    account.throughput_mps = THROUGHPUT_MPS.get(level, 80)
    apply_quality(account, details.get("quality_rating"))


def check_onboarding(client: GraphClient, account: WhatsAppAccount, now: dt.datetime) -> None:
    """Read whether the WABA's business is onboarded to the Marketing Messages API.

    A token without access to the WABA field leaves the state as it was (logged): the number
    still sends, its marketing through /marketing_messages with Meta's Cloud API fallback.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/onboarding
    """
    try:
        answer = client.request("GET", account.waba_id, params={"fields": routing.ONBOARDING_FIELD})
    except SendError as error:
        log.warning("account %s: onboarding not read: %s", account.id, error)
        return
    state = routing.state_of(answer.get(routing.ONBOARDING_FIELD))
    if state is not None:
        account.marketing_messages = state
        account.marketing_messages_checked_at = now


def connect_account(
    session: Session,
    store: Store,
    settings: Settings,
    *,
    phone_number_id: str,
    waba_id: str,
    token: str,
) -> WhatsAppAccount:
    """Read the number's details with the token and store the shop's account (replacing one)."""
    client = GraphClient(token, settings)
    try:
        details = client.request("GET", phone_number_id, params={"fields": PHONE_FIELDS})
    except SendError as error:
        raise AccountError(f"Meta refused the phone number or token: {error}") from None
    taken = session.scalars(
        select(WhatsAppAccount).where(
            WhatsAppAccount.phone_number_id == phone_number_id,
            WhatsAppAccount.store_id != store.id,
        )
    ).first()
    if taken is not None:
        raise AccountError("this phone number id is already connected to another shop")
    account = account_of(session, store) or WhatsAppAccount(store_id=store.id)
    account.phone_number_id = phone_number_id
    account.waba_id = waba_id
    account.token = token
    account.dry_run = False
    apply_details(account, details)
    check_onboarding(client, account, utcnow())
    session.add(account)
    session.flush()
    return account


def refresh_account(
    session: Session, account: WhatsAppAccount, settings: Settings, now: dt.datetime | None = None
) -> None:
    """Re-read the number's details and the WABA's Marketing Messages API onboarding."""
    client = GraphClient(account.token, settings)
    details = client.request("GET", account.phone_number_id, params={"fields": PHONE_FIELDS})
    apply_details(account, details)
    check_onboarding(client, account, now or utcnow())
    session.flush()


def apply_quality_update(account: WhatsAppAccount, value: dict[str, Any]) -> None:
    """phone_number_quality_update: FLAGGED means quality RED, UNFLAGGED that it recovered."""
    event = str(value.get("event") or "").upper()
    tier = value.get("max_daily_conversations_per_business") or value.get("current_limit")
    if tier:
        account.messaging_limit_tier = str(tier)
    if value.get("quality_rating"):
        apply_quality(account, str(value["quality_rating"]))
    elif event == "FLAGGED":
        apply_quality(account, "RED")
    elif event == "UNFLAGGED":
        apply_quality(account, "UNKNOWN")  # the next account sync reads the new rating
    if event == "THROUGHPUT_UPGRADE":
        account.throughput_mps = THROUGHPUT_MPS["HIGH"]


def apply_account_update(
    session: Session,
    store: Store,
    account: WhatsAppAccount,
    value: dict[str, Any],
    now: dt.datetime,
) -> None:
    """account_update: a ban pauses the shop; a restriction or violation pauses marketing;
    MM_LITE_TERMS_SIGNED onboards the account to the Marketing Messages API.

    https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/account_update
    """
    event = str(value.get("event") or "").upper()
    ban_state = (value.get("ban_info") or {}).get("waba_ban_state")
    states = {str(s).upper() for s in (ban_state if isinstance(ban_state, list) else [ban_state])}
    if event == "DISABLED_UPDATE" and states & {"DISABLE", "SCHEDULE_FOR_DISABLE"}:
        store.status = StoreStatus.PAUSED
        store.paused_reason = DISABLED_PAUSE
    elif event == "DISABLED_UPDATE" and "REINSTATE" in states:
        if store.paused_reason == DISABLED_PAUSE:
            store.status = StoreStatus.ACTIVE
            store.paused_reason = None
    elif event == "ACCOUNT_RESTRICTION":
        kinds = [str(r.get("restriction_type")) for r in value.get("restriction_info") or []]
        if "RESTRICTED_BIZ_INITIATED_MESSAGING" in kinds:
            account.marketing_paused_reason = "Meta restricted business-initiated messages"
    elif event == "ACCOUNT_VIOLATION":
        violation = (value.get("violation_info") or {}).get("violation_type") or "unknown"
        account.marketing_paused_reason = f"Meta reported a policy violation ({violation})"[:255]
    elif event == MARKETING_TERMS_SIGNED:
        # the business accepted the Marketing Messages API's terms: marketing may take that
        # route from the next send, without waiting for the hourly onboarding read
        account.marketing_messages = routing.ONBOARDED
        account.marketing_messages_checked_at = now
    session.add(
        AuditEntry(
            store_id=store.id,
            actor="meta",
            action="whatsapp_account_update",
            field=event.lower()[:128] or None,
            new_value={"event": event, "ban_state": sorted(s for s in states if s != "NONE")},
            occurred_at=now,
        )
    )


def _connected_accounts(session: Session) -> list[WhatsAppAccount]:
    return list(
        session.scalars(
            select(WhatsAppAccount)
            .join(Store, Store.id == WhatsAppAccount.store_id)
            .where(WhatsAppAccount.dry_run.is_(False), Store.status != StoreStatus.UNINSTALLED)
        )
    )


def sync_accounts_job(app: Flask, now: dt.datetime) -> None:
    """Re-read every connected number's quality, tier and throughput."""
    settings: Settings = app.config["SHOPNUDGE"]
    with get_database(app).session() as session:
        for account in _connected_accounts(session):
            try:
                with session.begin_nested():
                    refresh_account(session, account, settings, now)
            except SendError as error:
                log.warning("account %s not refreshed: %s", account.id, error)


def sync_templates_job(app: Flask, now: dt.datetime) -> None:
    """Re-read every connected shop's template statuses (webhooks can be missed)."""
    from plugin.whatsapp.templates.catalog import sync_templates

    settings: Settings = app.config["SHOPNUDGE"]
    with get_database(app).session() as session:
        for account in _connected_accounts(session):
            store = session.get(Store, account.store_id)
            try:
                with session.begin_nested():
                    sync_templates(session, store, settings, now)  # type: ignore[arg-type]
            except SendError as error:
                log.warning("templates of store %s not synced: %s", account.store_id, error)


#: The WhatsApp numbers' and templates' upkeep.
JOBS = (
    Job("whatsapp_accounts", sync_accounts_job, every_seconds=3600),
    Job("whatsapp_templates", sync_templates_job, every_seconds=900),
)


def marketing_hold_reason(
    session: Session, store: Store, now: dt.datetime, extra_micros: int = 0
) -> str | None:
    """Why no marketing message may go out for this shop now, or None (for the send guards).

    Covers what this channel knows: the shop paused, no number, marketing paused for quality,
    spam limits or restrictions, and the monthly budget (with `extra_micros` about to be spent).
    """
    from plugin.whatsapp.pricing import budget_allows

    if not store.is_sending:
        return f"shop is {store.status}" + (
            f": {store.paused_reason}" if store.paused_reason else ""
        )
    account = account_of(session, store)
    if account is None:
        return "no WhatsApp number connected"
    if account.marketing_paused_reason:
        return f"marketing paused: {account.marketing_paused_reason}"
    if not budget_allows(session, store, now, extra_micros):
        return "monthly budget reached"
    return None
