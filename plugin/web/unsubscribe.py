"""The one-click unsubscribe link /u/<token> that every message carries.

GET only shows a page with one button; the opt-out happens on its POST. Link previewers and
mail or chat prefetchers fetch links with GET, and a buyer must not be unsubscribed by a
machine that merely looked at the link. The page offers the way back: signing up again on the
shop's site, which is a new opt-in and needs a new confirmation.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from sqlalchemy import select

from plugin.consent import ledger
from plugin.db import request_session
from plugin.i18n import SUPPORTED, current_language
from plugin.models import (
    ConsentEvent,
    ConsentKind,
    OptinWording,
    Platform,
    Store,
    Subscription,
    SubscriptionState,
)

bp = Blueprint("unsubscribe", __name__)


def _find(token: str) -> tuple[Subscription, Store] | None:
    session = request_session()
    subscription = session.scalars(
        select(Subscription).where(Subscription.unsubscribe_token == token)
    ).first()
    if subscription is None:
        return None
    return subscription, session.get_one(Store, subscription.store_id)


def _page(
    subscription: Subscription | None, store: Store | None, status: int = 200
) -> ResponseReturnValue:
    """The page in the language the buyer signed up in (else their browser's), as their shop."""
    language = _language(subscription, store)
    with force_locale(language):
        html = render_template(
            "consent/unsubscribe.html",
            lang=language,
            state=subscription.state if subscription else "unknown",
            shop=store,
            buyer=True,
            business=store.name if store else "",
            shop_url=_shop_url(store) if store else None,
            wording=_last_wording(subscription) if subscription else None,
        )
    return html, status


def _language(subscription: Subscription | None, store: Store | None) -> str:
    """The sign-up's language, else the browser's, else the shop's (the buyer read its site)."""
    signed_up = ((subscription and subscription.locale) or "").split("-")[0].lower()
    if signed_up in SUPPORTED:
        return signed_up
    if request.accept_languages or store is None:
        return current_language()
    shop = store.default_locale.split("-")[0].lower()
    return shop if shop in SUPPORTED else current_language()


def _shop_url(store: Store) -> str | None:
    if store.platform == Platform.SHOPIFY:
        return f"https://{store.domain}"
    return store.base_url or None


def _last_wording(subscription: Subscription) -> str | None:
    """The text the buyer last agreed to, so they see what they are leaving."""
    return request_session().scalar(
        select(OptinWording.text)
        .join(ConsentEvent, ConsentEvent.wording_id == OptinWording.id)
        .where(
            ConsentEvent.subscription_id == subscription.id,
            ConsentEvent.kind == ConsentKind.REQUESTED,
        )
        .order_by(ConsentEvent.occurred_at.desc(), ConsentEvent.id.desc())
        .limit(1)
    )


@bp.get("/u/<token>")
def confirm_page(token: str) -> ResponseReturnValue:
    found = _find(token)
    if found is None:
        return _page(None, None, 404)
    return _page(*found)


@bp.post("/u/<token>")
def unsubscribe(token: str) -> ResponseReturnValue:
    found = _find(token)
    if found is None:
        return _page(None, None, 404)
    subscription, store = found
    if subscription.state != SubscriptionState.OPTED_OUT:
        ledger.opt_out(request_session(), store, subscription.phone, source="unsubscribe_link")
        request_session().commit()
    return _page(subscription, store)
