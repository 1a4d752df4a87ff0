"""Unique coupons: one single-use code per recipient, created on the shop's platform
(Shopify discountCodeBasicCreate, WooCommerce's coupons endpoint).

The code is an HMAC of the campaign and the subscription under the app's secret key: the same
recipient gets the same code on every try (so a retry after a lost answer finds it TAKEN and
creates nothing twice), two recipients never share one, and nobody can work out another
buyer's code. Twelve base32 characters (60 bits) fit Meta's 15-character copy-code button.

On Shopify the app needs the `write_discounts` access scope to create codes. Shops that
installed ShopNudge before it asked for it have not granted it: `check_access` asks Shopify
what the shop granted before anything is composed or sent, so the owner learns how to grant it
instead of seeing the first code fail.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy.orm import Session

from connectors.coupons import CouponRequest, IssuedCoupon
from connectors.errors import PlatformError
from connectors.shopify.coupons import create_discount_code
from connectors.shopify.scopes import granted_scopes
from connectors.woocommerce.coupons import create_coupon
from plugin.config import Settings
from plugin.models import Campaign, Store
from plugin.shopify.client import client_for as shopify_client
from plugin.woocommerce.client import client_for as woocommerce_client

#: Platforms whose connector creates codes.
PLATFORMS = frozenset({"shopify", "woocommerce"})
#: A code is good this long after the campaign starts.
VALID_FOR = dt.timedelta(days=14)
CODE_LENGTH = 12
#: The Shopify access scope discountCodeBasicCreate requires.
SHOPIFY_SCOPE = "write_discounts"


class CouponError(RuntimeError):
    """The platform did not create a code; the message says which and why."""


class CouponAccessError(CouponError):
    """The shop has not granted the app the right to create codes; the owner can grant it."""


def approval_link(settings: Settings, store: Store) -> str:
    """Where the owner opens ShopNudge in the shop's admin, and Shopify asks them to approve
    the scopes the app asks for now (managed install); without an app of ours (a custom app's
    token), the shop's own apps under development, where that app's scopes are edited."""
    api_key = settings.shopify_api_key
    if not api_key:
        return f"https://{store.domain}/admin/settings/apps/development"
    return f"https://{store.domain}/admin/apps/{api_key}"


def needs_discount_approval(store: Store) -> bool:
    """What a page can say without asking Shopify: the scopes kept from the install or the
    last token refresh (Shopify names the grant in both answers) lack `write_discounts`. An
    unknown grant (a pasted token) is not reported here; start and test send ask Shopify."""
    if store.platform != "shopify":
        return False
    granted = str((store.credentials or {}).get("scope") or "")
    return bool(granted) and SHOPIFY_SCOPE not in granted.split(",")


def check_access(session: Session, settings: Settings, store: Store, campaign: Campaign) -> None:
    """Refuse unique codes on a Shopify shop that has not granted `write_discounts`.

    Asked of Shopify each time (one cheap query): an owner who approved the scope a minute ago
    is not refused for what the install's answer said months before.
    """
    if campaign.coupon_percent_off is None or store.platform != "shopify":
        return
    client = shopify_client(session, store, settings)
    try:
        granted = granted_scopes(client)
    except PlatformError as error:
        raise CouponError(f"could not ask Shopify which access the shop granted: {error}") from None
    if SHOPIFY_SCOPE not in granted:
        link = approval_link(settings, store)
        raise CouponAccessError(
            "the shop has not allowed ShopNudge to create discount codes (Shopify access scope "
            f"{SHOPIFY_SCOPE}), so no unique codes can be made and nothing was sent. To allow "
            f"it, open ShopNudge in the shop's admin ({link}) and approve the "
            "permissions Shopify asks for, or install ShopNudge again from its install link (a "
            f"custom app: add {SHOPIFY_SCOPE} to its Admin API access scopes, save and install "
            "it again); then try again"
        )


def unique_code(settings: Settings, campaign: Campaign, subscription_id: int) -> str:
    """The recipient's code, keyed by the app's secret so nobody can work out another's."""
    secret = settings.secret_key.encode()
    message = f"coupon:{campaign.store_id}:{campaign.id}:{subscription_id}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:CODE_LENGTH]


def issue_codes(
    session: Session,
    settings: Settings,
    store: Store,
    campaign: Campaign,
    rows: Iterable[dict[str, Any]],
    starts: dt.datetime | None = None,
) -> list[IssuedCoupon]:
    """Create the code of every row that will be sent (their `context["coupon_code"]`), good
    from `starts` (default: the campaign's start) for VALID_FOR."""
    percent = campaign.coupon_percent_off
    codes = [row["context"]["coupon_code"] for row in rows if row["context"].get("coupon_code")]
    if percent is None or not codes:
        return []
    if store.platform not in PLATFORMS:
        raise CouponError(f"unique codes are not available on {store.platform} yet")
    create = _creator(session, settings, store)
    starts = starts or campaign.starts_at or campaign.started_at or dt.datetime.now(dt.UTC)
    issued = []
    for code in codes:
        request = CouponRequest(code, campaign.name, percent, starts, starts + VALID_FOR)
        try:
            issued.append(create(request))
        except PlatformError as error:
            raise CouponError(f"code {code}: {error}") from None
    return issued


def _creator(
    session: Session, settings: Settings, store: Store
) -> Callable[[CouponRequest], IssuedCoupon]:
    """The platform's create-one-coupon call, with a client for this shop."""
    if store.platform == "woocommerce":
        woo = woocommerce_client(store, settings)
        return lambda request: create_coupon(woo, request)
    shopify = shopify_client(session, store, settings)
    return lambda request: create_discount_code(shopify, request)
