"""The shop's currency, country and time zone as its platform reports them, under the owner's
overrides."""

from __future__ import annotations

import logging
import re
import zoneinfo
from collections.abc import Callable

import phonenumbers
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from connectors.profile import ShopProfile
from plugin.models import AuditEntry, Store
from plugin.stores.registry import audit_store_change

log = logging.getLogger(__name__)


#: The shop's own settings a platform reports, which the owner may override (`stores set`).
PROFILE_FIELDS = ("currency", "country", "timezone")
#: The audit action of a value taken from the platform; any other action on a field is the
#: owner's (the settings page, `stores set`), and the platform never overwrites it.
PLATFORM_PROFILE = "platform_profile"


def owner_set_fields(session: Session, store: Store) -> set[str]:
    """The profile fields whose latest change came from the owner, not from the platform."""
    latest: dict[str, str] = {}
    rows = session.execute(
        select(AuditEntry.field, AuditEntry.action)
        .where(AuditEntry.store_id == store.id, AuditEntry.field.in_(PROFILE_FIELDS))
        .order_by(AuditEntry.id)
    )
    for field, action in rows:
        latest[field] = action
    return {field for field, action in latest.items() if action != PLATFORM_PROFILE}


def _valid_profile_value(field: str, value: str) -> bool:
    if field == "currency":
        return bool(re.fullmatch(r"[A-Z]{3}", value))
    if field == "country":
        return value in phonenumbers.SUPPORTED_REGIONS
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def apply_shop_profile(session: Session, store: Store, profile: ShopProfile) -> list[str]:
    """Take the platform's currency, country and time zone, except where the owner set one.

    Each value taken is audited (actor: the platform), so the owner sees where it came from.
    Returns the fields that changed.
    """
    kept = owner_set_fields(session, store)
    changed = []
    for field in PROFILE_FIELDS:
        value = getattr(profile, field)
        if not value or field in kept or value == getattr(store, field):
            continue
        if not _valid_profile_value(field, value):
            log.warning("store %s: platform %s %r is not usable", store.id, field, value)
            continue
        audit_store_change(
            session, store, store.platform, PLATFORM_PROFILE, field, getattr(store, field), value
        )
        setattr(store, field, value)
        changed.append(field)
    session.flush()
    return changed


def profile_taker(bind: Engine | Connection, store_id: int) -> Callable[[ShopProfile], str]:
    """What a connector calls with the shop's profile before a sync: apply it in a session of
    its own and answer the store's currency as it then is (the owner's, where they set one)."""

    def take(profile: ShopProfile) -> str:
        with Session(bind, expire_on_commit=False) as session, session.begin():
            store = session.get(Store, store_id)
            assert store is not None
            changed = apply_shop_profile(session, store, profile)
            if changed:
                log.info("store %s: %s taken from the platform", store_id, ", ".join(changed))
            return store.currency

    return take
