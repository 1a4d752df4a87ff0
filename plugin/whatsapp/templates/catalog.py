"""A shop's message templates at Meta: the defaults submitted (their text is in wording.py),
synced, reviewed, and the approved one chosen for a send.

Only an APPROVED template is ever used; any other status holds its flow and `hold_reason` says
why. Status, category, quality and Meta's note come from the API (`sync_templates`) and from the
template webhooks (`apply_template_update`). `rejection_reason` holds Meta's latest note on the
template, the owner reads it on the settings page: a rejection's reason, and the warnings of a
template that still sends (FLAGGED: at risk of being disabled; LOCKED: cannot be edited).

A template Meta deleted, archived or is deleting (DELETED, ARCHIVED, PENDING_DELETION) sends
nothing; `shopnudge templates submit STORE --resubmit-deleted` submits ShopNudge's default
again under a new name (`_v2`, `_v3`, …): Meta keeps a deleted template's name for 30 days.
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.client import GraphClient
from plugin.whatsapp.templates.status import (
    GONE,
    SUBMITTABLE,
    USABLE,
    apply_status_event,
    set_status,
    sync_note,
)
from plugin.whatsapp.templates.wording import default_definitions, send_ttl_seconds

log = logging.getLogger(__name__)


def account_of(session: Session, store: Store) -> WhatsAppAccount | None:
    return session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == store.id)
    ).first()


def _row(session: Session, store: Store, name: str, language: str) -> WhatsAppTemplate | None:
    return session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.name == name,
            WhatsAppTemplate.language == language,
        )
    ).first()


def ensure_default_templates(
    session: Session, store: Store, settings: Settings
) -> list[WhatsAppTemplate]:
    """The shop's rows for the default templates, created LOCAL where missing."""
    handle = (store.settings or {}).get("whatsapp_example_image_handle")
    rows = []
    for definition in default_definitions(settings.public_url, handle):
        row = _default_row(session, store, definition.purpose, definition.language)
        if row is None:
            row = WhatsAppTemplate(
                store_id=store.id,
                name=definition.name,
                language=definition.language,
                purpose=definition.purpose,
                category=definition.category,
                status="LOCAL",
                components=definition.components,
            )
            session.add(row)
        elif row.status in SUBMITTABLE:
            row.components = definition.components  # resubmitting sends the current text
        rows.append(row)
    session.flush()
    return rows


def _default_row(
    session: Session, store: Store, purpose: str, language: str
) -> WhatsAppTemplate | None:
    """A default's row by what it is for: a resubmitted one has another name."""
    return session.scalars(
        select(WhatsAppTemplate)
        .where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.purpose == purpose,
            WhatsAppTemplate.language == language,
        )
        .order_by(WhatsAppTemplate.id.desc())
    ).first()


def next_name(name: str) -> str:
    """The name a default is submitted under again: `x` → `x_v2` → `x_v3`."""
    match = re.fullmatch(r"(.*)_v(\d+)", name)
    return f"{match.group(1)}_v{int(match.group(2)) + 1}" if match else f"{name}_v2"


def _renew(session: Session, store: Store, row: WhatsAppTemplate, now: dt.datetime) -> None:
    """Give a gone default a free name and make it LOCAL again, ready to submit."""
    name = next_name(row.name)
    while _row(session, store, name, row.language) is not None:
        name = next_name(name)
    row.name = name
    row.meta_template_id = None
    row.rejection_reason = None
    row.quality = None
    set_status(row, "LOCAL", now)


def submit_templates(
    session: Session,
    store: Store,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    resubmit_deleted: bool = False,
) -> list[WhatsAppTemplate]:
    """Create the default templates at Meta (POST /{waba}/message_templates) where not yet done.

    With `resubmit_deleted`, defaults Meta deleted or archived are submitted again under a new
    name. A dry-run account approves them locally: the demo has no Meta to review them.
    """
    now = now or utcnow()
    account = account_of(session, store)
    if account is None:
        raise LookupError("the shop has no WhatsApp account (shopnudge stores whatsapp ...)")
    rows = ensure_default_templates(session, store, settings)
    if resubmit_deleted:
        for row in rows:
            if row.status in GONE:
                _renew(session, store, row, now)
        session.flush()
    sending = {name: store.setting(name) for name in ("reminder_steps", "cart_max_age_hours")}
    client = None if account.dry_run else GraphClient(account.token, settings)
    for row in rows:
        if row.status not in SUBMITTABLE:
            continue
        if client is None:
            set_status(row, "APPROVED", now)
            continue
        body: dict[str, Any] = {
            "name": row.name,
            "language": row.language,
            "category": row.category,
            "components": row.components,
            "message_send_ttl_seconds": send_ttl_seconds(row.purpose, sending),
        }
        try:
            answer = client.request("POST", f"{account.waba_id}/message_templates", json=body)
        except SendError as error:
            row.rejection_reason = f"submission failed: {error}"
            log.warning("template %s (%s) not submitted: %s", row.name, row.language, error)
            continue
        row.meta_template_id = str(answer.get("id") or "") or None
        row.category = str(answer.get("category") or row.category).upper()
        row.rejection_reason = None
        set_status(row, str(answer.get("status") or "PENDING").upper(), now)
    session.flush()
    return rows


def sync_templates(
    session: Session, store: Store, settings: Settings, now: dt.datetime | None = None
) -> int:
    """Read status, category, quality and rejection reason of our templates; rows changed."""
    now = now or utcnow()
    account = account_of(session, store)
    if account is None or account.dry_run:
        return 0
    client = GraphClient(account.token, settings)
    items = client.get_all(
        f"{account.waba_id}/message_templates",
        {"fields": "id,name,language,status,category,quality_score,rejected_reason", "limit": 100},
    )
    changed = 0
    for item in items:
        row = _row(session, store, str(item.get("name")), str(item.get("language")))
        if row is None:
            continue
        before = (row.status, row.category, row.quality, row.rejection_reason)
        row.meta_template_id = str(item.get("id") or row.meta_template_id or "") or None
        set_status(row, str(item.get("status") or row.status).upper(), now)
        row.category = str(item.get("category") or row.category).upper()
        if row.pending_category == row.category:  # the announced change has happened
            row.pending_category = row.pending_category_at = None
        score = (item.get("quality_score") or {}).get("score")
        row.quality = str(score).upper() if score else row.quality
        row.rejection_reason = sync_note(row, item.get("rejected_reason"))
        changed += before != (row.status, row.category, row.quality, row.rejection_reason)
    changed += _mark_missing(session, store, items, now)
    session.flush()
    return changed


def _mark_missing(
    session: Session, store: Store, items: list[dict[str, Any]], now: dt.datetime
) -> int:
    """Our templates Meta no longer lists were deleted there: DELETED, with the owner's note.

    The status webhook says so at once; this catches a missed one at the next sync.
    """
    listed = {str(item.get("id")) for item in items if item.get("id")}
    rows = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.meta_template_id.is_not(None),
            WhatsAppTemplate.status.not_in(("LOCAL", "DELETED")),
        )
    )
    missing = [row for row in rows if row.meta_template_id not in listed]
    for row in missing:
        set_status(row, "DELETED", now)
        row.rejection_reason = sync_note(row, None)
    return len(missing)


def _base(language: str | None) -> str:
    return (language or "").replace("-", "_").split("_")[0].lower()


def _candidates(store: Store, language: str | None) -> list[str]:
    wanted = [language or "", _base(language), store.default_locale, _base(store.default_locale)]
    return list(dict.fromkeys(code for code in wanted if code))


def approved_template(
    session: Session, store: Store, purpose: str, language: str | None
) -> WhatsAppTemplate | None:
    """The APPROVED template for a purpose in the buyer's language, else the shop's default."""
    rows = {
        row.language: row
        for row in session.scalars(
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.store_id == store.id,
                WhatsAppTemplate.purpose == purpose,
                WhatsAppTemplate.status == USABLE,
            )
        )
    }
    for code in _candidates(store, language):
        if code in rows:
            return rows[code]
    return None


def template_for(
    session: Session, store: Store, purpose: str, language: str | None
) -> WhatsAppTemplate | None:
    """The approved template for a purpose, else the best-matching one in any state.

    For a message that may wait for Meta's review (the opt-in confirmation of a new shop):
    it is composed with the template it will be sent with once approved.
    """
    approved = approved_template(session, store, purpose, language)
    if approved is not None:
        return approved
    rows = {
        row.language: row
        for row in session.scalars(
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.store_id == store.id, WhatsAppTemplate.purpose == purpose
            )
        )
    }
    return next((rows[code] for code in _candidates(store, language) if code in rows), None)


def hold_reason(session: Session, store: Store, purpose: str, language: str | None) -> str:
    """Why no template can be used for this purpose and language (for the held row's reason)."""
    rows = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id, WhatsAppTemplate.purpose == purpose
        )
    ).all()
    by_language = {row.language: row for row in rows}
    for code in _candidates(store, language):
        row = by_language.get(code)
        if row is not None:
            why = f": {row.rejection_reason}" if row.rejection_reason else ""
            return f"template {row.name} ({row.language}) is {row.status}{why}"
    return f"no template for {purpose} (run: shopnudge templates submit)"


def apply_template_update(
    session: Session, store: Store, field: str, value: dict[str, Any], now: dt.datetime
) -> WhatsAppTemplate | None:
    """Apply a message_template_status/quality/category webhook to our row for it.

    https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
    """
    name = str(value.get("message_template_name") or "")
    language = str(value.get("message_template_language") or "")
    row = _row(session, store, name, language)
    template_id = value.get("message_template_id")
    if row is None and template_id is not None:
        row = session.scalars(
            select(WhatsAppTemplate).where(
                WhatsAppTemplate.store_id == store.id,
                WhatsAppTemplate.meta_template_id == str(template_id),
            )
        ).first()
    if row is None:
        return None
    if template_id is not None:
        row.meta_template_id = str(template_id)
    if field == "message_template_status_update":
        apply_status_event(row, value, now)
        if value.get("message_template_category"):
            row.category = str(value["message_template_category"]).upper()
    elif field == "message_template_quality_update":
        row.quality = str(value.get("new_quality_score") or row.quality or "UNKNOWN").upper()
    elif field == "template_category_update":
        apply_category_update(row, value)
    session.flush()
    return row


def apply_category_update(row: WhatsAppTemplate, value: dict[str, Any]) -> None:
    """A completed change (`previous_category`, `new_category`) re-routes the next send; an
    impending one (`correct_category`, with `new_category` still the current one, and
    `category_update_timestamp`) is only kept to show the owner.

    https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/template_category_update
    """
    if value.get("correct_category"):
        row.pending_category = str(value["correct_category"]).upper()[:20]
        at = value.get("category_update_timestamp")
        row.pending_category_at = (
            dt.datetime.fromtimestamp(int(at), dt.UTC) if str(at or "").isdigit() else None
        )
    elif value.get("new_category"):
        row.category = str(value["new_category"]).upper()[:20]
        row.pending_category = row.pending_category_at = None
