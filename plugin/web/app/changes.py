"""Apply an owner's settings change and audit every field that actually changed."""

from __future__ import annotations

from typing import Any

from flask import g, session
from sqlalchemy.orm import Session

from plugin.models import AuditEntry, Store
from plugin.models.store import DEFAULT_SETTINGS

#: Store columns the owner may change (settings page, `stores set`).
STORE_FIELDS = (
    "name",
    "privacy_url",
    "status",
    "paused_reason",
    "timezone",
    "country",
    "currency",
    "default_locale",
)


def actor() -> str:
    """Who is acting: the sign-in that opened this session (kept in the session cookie)."""
    return str(g.get("actor") or session.get("actor") or "shop owner")


def current_value(store: Store, name: str) -> Any:
    return getattr(store, name) if name in STORE_FIELDS else store.setting(name)


def apply_changes(
    db_session: Session, store: Store, changes: dict[str, Any], who: str, action: str = "settings"
) -> list[AuditEntry]:
    """Write the changed values; one audit entry per field (old → new); unchanged: nothing."""
    entries = []
    settings = dict(store.settings or {})
    for name, new in changes.items():
        old = current_value(store, name)
        if old == new:
            continue
        if name in STORE_FIELDS:
            setattr(store, name, new)
        elif name in DEFAULT_SETTINGS:
            if new == DEFAULT_SETTINGS[name]:
                settings.pop(name, None)
            else:
                settings[name] = new
        else:
            raise KeyError(name)
        entry = AuditEntry(
            store_id=store.id, actor=who, action=action, field=name, old_value=old, new_value=new
        )
        db_session.add(entry)
        entries.append(entry)
    store.settings = settings  # a new dict, so the JSON column is written
    db_session.flush()
    return entries
