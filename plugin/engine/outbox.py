"""The outbox: composing turns drafts into notification rows, exactly once per dedupe key.

A draft passes the holdout and the guards at compose time; the row is written `pending` at the
first moment the guards allow, or `skipped`/`expired` with the guard's name. The unique
(store_id, dedupe_key) constraint makes composing twice write nothing new, even when two
processes compose at once.
"""

from __future__ import annotations

import base64
import datetime as dt
import gc
import json
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from babel import Locale, UnknownLocaleError
from babel.numbers import format_currency
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.money import from_minor
from plugin.db import among
from plugin.engine import guards
from plugin.engine.holdout import is_held_out
from plugin.engine.localtime import region_of
from plugin.engine.preload import CHUNK, Preloaded, preload
from plugin.models import (
    Cart,
    Customer,
    Notification,
    NotificationState,
    Store,
    Subscription,
    WhatsAppTemplate,
)
from plugin.whatsapp.pricing import expected_cost_micros
from plugin.whatsapp.templates.catalog import account_of, approved_template
from plugin.whatsapp.templates.wording import unsubscribe_button

#: Random bytes per tracked-link token (a multiple of 3: 24 URL-safe characters).
LINK_TOKEN_BYTES = 18


@dataclass(frozen=True, slots=True)
class CustomerFacts:
    """The customer columns composing and the guards read, as a plain read-only record: bulk
    flows hold 100,000 buyers, and as many ORM instances cost more than composing itself."""

    id: int
    first_name: str | None
    locale: str | None
    timezone: str | None
    country: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionFacts:
    """The subscription columns composing and the marketing guards read (see CustomerFacts)."""

    id: int
    phone: str
    locale: str | None
    state: str
    held_until: dt.datetime | None
    undeliverable: bool
    unsubscribe_token: str | None


@dataclass
class Draft:
    """A message the flows want to send; becomes one Notification row."""

    dedupe_key: str
    flow: str
    #: Template purpose, e.g. cart_reminder_1 or recommendation.
    purpose: str
    subscription: Subscription | SubscriptionFacts
    due_at: dt.datetime
    expires_at: dt.datetime | None
    customer: Customer | CustomerFacts | None = None
    cart: Cart | None = None
    body: list[str] = field(default_factory=list)
    header_image: str | None = None
    #: Where the tracked link /r/<token> leads.
    link_url: str | None = None
    context: dict[str, Any] = field(default_factory=dict)


@dataclass
class ComposeCounts:
    pending: int = 0
    skipped: int = 0
    expired: int = 0
    existing: int = 0

    @property
    def written(self) -> int:
        return self.pending + self.skipped + self.expired

    def add(self, state: str) -> None:
        """Count one written row by the state it was written in."""
        if state == NotificationState.PENDING:
            self.pending += 1
        elif state == NotificationState.SKIPPED:
            self.skipped += 1
        elif state == NotificationState.EXPIRED:
            self.expired += 1
        else:
            raise ValueError(f"composing writes no {state!r} row")


def template_parameters(draft: Draft, link_token: str | None) -> dict[str, Any]:
    """Parameters in the Cloud API's shape: image header, text body, URL button suffix."""
    parameters: dict[str, Any] = {"body": [{"type": "text", "text": text} for text in draft.body]}
    if draft.header_image:
        parameters["header"] = [{"type": "image", "image": {"link": draft.header_image}}]
    if link_token:
        parameters["buttons"] = [
            {"index": 0, "sub_type": "url", "parameters": [{"type": "text", "text": link_token}]}
        ]
    return parameters


def with_unsubscribe(
    parameters: dict[str, Any],
    template: WhatsAppTemplate | None,
    subscription: Subscription | SubscriptionFacts,
) -> dict[str, Any]:
    """Add the buyer's /u/<token> to the template's unsubscribe button, where it has one."""
    button = unsubscribe_button(
        template.components if template else None, subscription.unsubscribe_token
    )
    if button is not None:
        parameters["buttons"] = [*parameters.get("buttons", []), button]
    return parameters


def compose(
    session: Session, store: Store, drafts: Sequence[Draft], now: dt.datetime
) -> ComposeCounts:
    """Write the drafts whose dedupe key is new; the caller commits."""
    counts = ComposeCounts()
    known = existing_keys(session, store, [d.dedupe_key for d in drafts])
    fresh = [d for d in drafts if d.dedupe_key not in known]
    counts.existing = len(drafts) - len(fresh)
    if not fresh:
        return counts
    account = account_of(session, store)
    preloaded = preload(
        session,
        now,
        [store],
        phones={(store.id, d.subscription.phone) for d in fresh},
        carts=[(d.cart, d.subscription.phone) for d in fresh if d.cart is not None],
    )
    templates: dict[tuple[str, str | None], WhatsAppTemplate | None] = {}
    costs: dict[str | None, int] = {}
    rows = []
    for draft, token in zip(fresh, link_tokens(len(fresh)), strict=True):
        phone = draft.subscription.phone
        region = region_of(phone)
        if region not in costs:
            costs[region] = expected_cost_micros(store, phone)
        row = _row(session, store, draft, now, account, preloaded, templates, costs[region], token)
        counts.add(row["state"])
        rows.append(row)
    inserted = insert_rows(session, rows)
    counts.existing += len(rows) - inserted
    return counts


def link_tokens(count: int) -> list[str]:
    """`count` tokens for /r/<token>, each as secrets.token_urlsafe(LINK_TOKEN_BYTES) makes
    them, from one read of the system's randomness instead of one read per token."""
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(LINK_TOKEN_BYTES * count)).decode()
    width = LINK_TOKEN_BYTES * 4 // 3  # whole 3-byte groups: no padding, no shared characters
    return [encoded[start : start + width] for start in range(0, len(encoded), width)]


def _row(
    session: Session,
    store: Store,
    draft: Draft,
    now: dt.datetime,
    account: Any,
    preloaded: Preloaded,
    templates: dict[tuple[str, str | None], WhatsAppTemplate | None],
    cost_micros: int,
    token: str,
) -> dict[str, Any]:
    phone = draft.subscription.phone
    locale = draft.subscription.locale or (draft.customer.locale if draft.customer else None)
    key = (draft.purpose, locale)
    if key not in templates:
        templates[key] = approved_template(session, store, draft.purpose, locale)
    template = templates[key]
    facts = guards.Facts(
        store=store,
        phone=phone,
        flow=draft.flow,
        purpose=draft.purpose,
        subscription=draft.subscription,
        customer=draft.customer,
        cart=draft.cart,
        account=account,
        template=template,
        cost_micros=cost_micros,
        recent_sends=preloaded.recent_sends(store.id, phone),
        month_spent_micros=preloaded.spent.get(store.id, 0),
        ordered_since_cart=draft.cart is not None and (draft.cart.id, phone) in preloaded.ordered,
    )
    state, reason, due = NotificationState.PENDING, None, max(now, draft.due_at)
    if is_held_out(store, draft.flow, phone):
        state, reason = NotificationState.SKIPPED, "holdout"
    else:
        verdict = guards.evaluate(facts, due, draft.expires_at)
        due = verdict.at
        if verdict.expired:
            state, reason = NotificationState.EXPIRED, verdict.guard
        elif not verdict.passed:
            state, reason = NotificationState.SKIPPED, verdict.guard
    link_token = token if draft.link_url else None
    context = dict(draft.context, purpose=draft.purpose)
    if draft.link_url:
        context["link_url"] = draft.link_url
    return {
        "store_id": store.id,
        "dedupe_key": draft.dedupe_key,
        "flow": draft.flow,
        "subscription_id": draft.subscription.id,
        "customer_id": draft.customer.id if draft.customer else None,
        "cart_id": draft.cart.id if draft.cart else None,
        "phone": phone,
        "template_name": template.name if template else draft.purpose,
        "language": template.language if template else (locale or store.default_locale),
        "parameters": with_unsubscribe(
            template_parameters(draft, link_token), template, draft.subscription
        ),
        "context": context,
        "state": state,
        "reason": reason,
        "due_at": due,
        "expires_at": draft.expires_at,
        "cost_micros": facts.cost_micros,
        "cost_currency": "EUR",
        "link_token": link_token,
        "created_at": now,
        "updated_at": now,
    }


def existing_keys(session: Session, store: Store, keys: Iterable[str]) -> set[str]:
    wanted = among(session, Notification.dedupe_key, sorted(set(keys)))
    return set(
        session.scalars(
            select(Notification.dedupe_key).where(Notification.store_id == store.id, wanted)
        )
    )


def insert_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    """INSERT … ON CONFLICT DO NOTHING; returns how many rows were new. On PostgreSQL the rows
    go in by COPY into a temporary table first: one round trip instead of one per row."""
    if not rows:
        return 0
    if session.get_bind().dialect.name == "postgresql":
        return _copy_rows(session, rows)
    from sqlalchemy.dialects.sqlite import insert

    statement = insert(Notification.__table__).on_conflict_do_nothing(
        index_elements=["store_id", "dedupe_key"]
    )
    inserted = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        result = session.execute(statement, chunk)
        inserted += result.rowcount if result.rowcount >= 0 else len(chunk)  # type: ignore[attr-defined]
    return inserted


def python_defaults(given: list[str]) -> dict[str, Any]:
    """The column defaults SQLAlchemy would fill in for an INSERT that leaves them out."""
    defaults = {}
    for column in Notification.__table__.columns:
        default = column.default
        if column.name in given or column.primary_key or default is None:
            continue
        if default.is_scalar:  # type: ignore[attr-defined]
            defaults[column.name] = default.arg  # type: ignore[attr-defined]
        elif default.is_callable:  # type: ignore[attr-defined]
            defaults[column.name] = default.arg(None)  # type: ignore[attr-defined]
    return defaults


def _copy_rows(session: Session, rows: list[dict[str, Any]]) -> int:
    given = list(rows[0])
    defaults = python_defaults(given)
    names = [*given, *defaults]
    json_names = {"parameters", "context"}
    filled = [json.dumps(v) if n in json_names else v for n, v in defaults.items()]
    columns = ", ".join(f'"{name}"' for name in names)
    connection = session.connection().connection.driver_connection
    with connection.cursor() as cursor:  # type: ignore[union-attr]
        cursor.execute(
            "CREATE TEMPORARY TABLE notifications_incoming ON COMMIT DROP AS "
            f"SELECT {columns} FROM notifications WITH NO DATA"
        )
        with cursor.copy(f"COPY notifications_incoming ({columns}) FROM STDIN") as copy:
            for row in rows:
                # JSON as text: COPY parses it into the json column, without psycopg's
                # per-value dumper around the same json.dumps
                values = [json.dumps(row[n]) if n in json_names else row[n] for n in given]
                copy.write_row(values + filled)
        cursor.execute(
            f"INSERT INTO notifications ({columns}) SELECT {columns} FROM notifications_incoming "
            "ON CONFLICT (store_id, dedupe_key) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute("DROP TABLE notifications_incoming")
    return inserted


def format_money(minor: int, currency: str, language: str | None) -> str:
    """An amount in a buyer's message as their language writes it (`23,50 €`, `€23.50`)."""
    try:
        locale = Locale.parse((language or "en").replace("-", "_"))
    except (ValueError, UnknownLocaleError):
        locale = Locale("en")
    return format_currency(from_minor(minor, currency), currency, locale=locale)


@contextmanager
def cycle_collector_paused() -> Iterator[None]:
    """Python's cycle collector paused while a large compose builds and writes its rows.

    Recommendations and campaigns build about a million small acyclic objects for 100,000
    buyers (records, picks, drafts, row dicts), and every full collection would walk all of
    them again: a fifth to a quarter of a large compose's CPU. Reference counting still frees
    them; a cycle made meanwhile waits for the collector's return. The collector is restored
    as found, also when composing fails, so nesting is safe.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
