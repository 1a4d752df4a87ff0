"""The opt-in service: check a buyer's request, record it with its proof, start double opt-in.

Every refusal carries a machine-readable `reason` and is decided before anything is written,
so bad input changes nothing (apart from the rate-limit spend that paid for checking it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin import ratelimit
from plugin.consent import doubleoptin, ledger, wording
from plugin.db import utcnow
from plugin.models import ConsentEvent, ConsentKind, Customer, Store, Subscription
from plugin.phones import InvalidPhone, parse_phone

#: Where an opt-in can come from (the ledger's `source`).
SOURCES = frozenset({"checkout_checkbox", "widget", "thank_you_page", "import", "whatsapp_reply"})

#: Per client IP: a household or a shop's own staff may sign up a few numbers in a row; a
#: script may not. 10 at once, then one every 30 seconds.
IP_BURST, IP_RATE = 10.0, 1 / 30
#: Per phone number: a buyer may retry after a typo, but nobody may flood a number with
#: confirmation requests. 3 at once, then one every 10 minutes.
PHONE_BURST, PHONE_RATE = 3.0, 1 / 600


class OptinRejected(Exception):
    """The request was refused; `status` is 422 or 429, `reason` is machine-readable."""

    def __init__(
        self, reason: str, message: str, status: int = 422, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True)
class OptinRequest:
    phone: str
    consent: Any
    wording_version: Any
    locale: str | None
    source: str = "widget"
    customer_id: str | None = None
    cart_token: str | None = None
    ip: str | None = None
    user_agent: str | None = None


@dataclass(frozen=True)
class OptinResult:
    subscription: Subscription
    event: ConsentEvent
    confirmation: doubleoptin.ConfirmationStep


def request_optin(
    session: Session, store: Store, request: OptinRequest, now: dt.datetime | None = None
) -> OptinResult:
    """Record one buyer's opt-in request; raises OptinRejected for each kind of bad input."""
    now = now or utcnow()
    _limit(
        session,
        f"optin:ip:{store.id}:{_pseudonym(store, request.ip or '-')}",
        IP_BURST,
        IP_RATE,
        now,
    )
    if request.source not in SOURCES:
        raise OptinRejected("source_unknown", f"source must be one of {sorted(SOURCES)}")
    if request.consent is not True:
        raise OptinRejected("consent_missing", "The buyer must tick the box (consent: true).")
    shown = _current_wording(session, store, request)
    try:
        phone = parse_phone(request.phone if isinstance(request.phone, str) else "", store.country)
    except InvalidPhone as error:
        raise OptinRejected(error.reason, str(error)) from None
    _limit(
        session, f"optin:phone:{store.id}:{_pseudonym(store, phone)}", PHONE_BURST, PHONE_RATE, now
    )
    subscription, event = ledger.record(
        session,
        store,
        phone,
        ConsentKind.REQUESTED,
        request.source,
        wording=shown,
        locale=shown.locale,
        ip=request.ip,
        user_agent=(request.user_agent or "")[:1024] or None,
        detail=_detail(request),
        at=now,
        pending_until=doubleoptin.pending_expiry(store, now),
    )
    _link_customer(session, store, subscription, request.customer_id)
    confirmation = doubleoptin.start_confirmation(session, store, subscription, event, now)
    return OptinResult(subscription, event, confirmation)


def _current_wording(session: Session, store: Store, request: OptinRequest) -> Any:
    try:
        locale = wording.normalise_locale(request.locale or store.default_locale)
    except wording.InvalidLocale as error:
        raise OptinRejected("locale_invalid", str(error)) from None
    current = wording.shared_current_wording(session, store, locale)
    if current is not None and current.version != request.wording_version:
        # Published by another process a moment ago? Ask the database, not this process.
        current = wording.shared_current_wording(session, store, locale, fresh=True)
    if current is None:
        raise OptinRejected("locale_unknown", f"The shop has no opt-in wording for {locale!r}.")
    if request.wording_version is None or request.wording_version is True:
        raise OptinRejected("wording_version_missing", "Send the wording_version that was shown.")
    if request.wording_version != current.version:
        raise OptinRejected(
            "wording_version_stale",
            f"The text shown was version {request.wording_version}; the current one is "
            f"{current.version}. Reload the form.",
        )
    return current


def _limit(session: Session, key: str, burst: float, rate: float, now: dt.datetime) -> None:
    """Spend one token; opt-ins mostly come from numbers and addresses not seen before."""
    wait = ratelimit.take(session, key, rate=rate, burst=burst, now=now, usually_new=True)
    if wait > 0:
        raise OptinRejected(
            "rate_limited",
            f"Too many sign-ups; try again in {int(wait) + 1} seconds.",
            status=429,
            retry_after=wait,
        )


def _pseudonym(store: Store, value: str) -> str:
    """Rate buckets are keyed by a keyed hash: no IP or number is stored in them."""
    return hmac.new(store.public_key.encode(), value.encode(), hashlib.sha256).hexdigest()[:24]


def _detail(request: OptinRequest) -> dict[str, Any]:
    detail = {}
    if request.customer_id:
        detail["customer_id"] = str(request.customer_id)[:64]
    if request.cart_token:
        detail["cart_token"] = str(request.cart_token)[:255]
    return detail


def _link_customer(
    session: Session, store: Store, subscription: Subscription, platform_id: str | None
) -> None:
    if not platform_id or subscription.customer_id is not None:
        return
    customer = session.scalars(
        select(Customer).where(
            Customer.store_id == store.id, Customer.platform_id == str(platform_id)
        )
    ).first()
    if customer is not None:
        subscription.customer_id = customer.id
