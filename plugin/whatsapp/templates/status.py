"""A template's status at Meta: what each event of the status webhook means for sending.

Meta's events: APPROVED, REJECTED, PENDING, PAUSED, DISABLED, IN_APPEAL, LIMIT_EXCEEDED,
DELETED, ARCHIVED, PENDING_DELETION set the status; REINSTATED makes it APPROVED again; FLAGGED
(negative feedback, at risk of being disabled) and LOCKED (cannot be edited) are warnings on a
template that still sends. Only APPROVED sends.
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/message_template_status_update
https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-quality
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from plugin.models import WhatsAppTemplate

USABLE = "APPROVED"
#: Statuses Meta's webhook sets as they are (FLAGGED, LOCKED and REINSTATED are handled apart).
STATUS_EVENTS = frozenset(
    {
        "APPROVED",
        "REJECTED",
        "PAUSED",
        "DISABLED",
        "PENDING",
        "IN_APPEAL",
        "LIMIT_EXCEEDED",
        "DELETED",
        "ARCHIVED",
        "PENDING_DELETION",
    }
)
#: Submitted again under the same name: never created, or refused.
SUBMITTABLE = ("LOCAL", "REJECTED", "LIMIT_EXCEEDED")
#: Gone at Meta: its name stays taken (a deleted one's for 30 days), so it is submitted again
#: under a new one, and only when the owner asks.
GONE = ("DELETED", "ARCHIVED", "PENDING_DELETION")
#: What the owner reads for a status that needs them (settings page, held messages, CLI).
NOTES = {
    "FLAGGED": "Meta flagged this template after negative feedback: it still sends, but Meta "
    "may disable it",
    "LOCKED": "Meta locked this template: it still sends as it is but cannot be edited",
    "DELETED": "Meta deleted this template: nothing is sent with it; submit it again with "
    "shopnudge templates submit STORE --resubmit-deleted",
    "ARCHIVED": "this template was archived: nothing is sent with it; unarchive it in WhatsApp "
    "Manager, or submit it again with shopnudge templates submit STORE --resubmit-deleted",
    "PENDING_DELETION": "this template is being deleted in WhatsApp Manager: nothing is sent "
    "with it; submit it again with shopnudge templates submit STORE --resubmit-deleted",
    "LIMIT_EXCEEDED": "the WhatsApp Business Account has reached its template limit: delete "
    "templates you no longer use in WhatsApp Manager, then run shopnudge templates submit STORE",
    "IN_APPEAL": "the rejection is being appealed: nothing is sent with it until Meta decides",
}


def set_status(row: WhatsAppTemplate, status: str, now: dt.datetime) -> None:
    if row.status != status:
        row.status = status
        row.status_changed_at = now


def apply_status_event(row: WhatsAppTemplate, value: dict[str, Any], now: dt.datetime) -> None:
    """One message_template_status_update `event` on our row, and the note the owner reads.

    FLAGGED is a warning, not a pause: the template stays APPROVED and sends. LOCKED and
    UNLOCKED change what may be edited, not what is sent. UNARCHIVED names no status: the
    template sync reads it. Any other event is the template's new status.
    """
    event = str(value.get("event") or "").upper()
    reason = value.get("reason")
    meta_note = None if reason in (None, "", "NONE") else str(reason)
    if event in STATUS_EVENTS:
        set_status(row, event, now)
        row.rejection_reason = _note(event, meta_note)
    elif event == "REINSTATED":
        set_status(row, USABLE, now)
        row.rejection_reason = None
    elif event == "FLAGGED":
        disable = (value.get("disable_info") or {}).get("disable_date")
        when = f" on {_date(disable)}" if _date(disable) else ""
        row.rejection_reason = f"{NOTES['FLAGGED']}{when}"
    elif event == "LOCKED":
        about = (value.get("other_info") or {}).get("description")
        row.rejection_reason = NOTES["LOCKED"] + (f" ({about})" if about else "")
    elif event == "UNLOCKED" and (row.rejection_reason or "").startswith(NOTES["LOCKED"]):
        row.rejection_reason = None


def _note(status: str, meta_note: str | None) -> str | None:
    """Meta's reason, and what the owner can do for a status that needs them."""
    ours = NOTES.get(status)
    if ours and meta_note:
        return f"{ours} ({meta_note})"
    return ours or meta_note


def _date(value: Any) -> str | None:
    """A Unix timestamp as an ISO date, else None."""
    if not str(value or "").isdigit():
        return None
    return dt.datetime.fromtimestamp(int(value), dt.UTC).date().isoformat()


def sync_note(row: WhatsAppTemplate, reason: Any) -> str | None:
    """The note after a template sync read `rejected_reason`: Meta's reason, the status's own
    note, or a FLAGGED/LOCKED warning kept while the template still sends (the API shows no
    flag, only the webhook does)."""
    meta_note = None if reason in (None, "", "NONE") else str(reason)
    if row.status in NOTES or meta_note:
        return _note(row.status, meta_note)
    kept = row.rejection_reason or ""
    warned = kept.startswith((NOTES["FLAGGED"], NOTES["LOCKED"]))
    return kept if warned and row.status == USABLE else None
