"""A shop that installed ShopNudge, and its sending rules."""

from __future__ import annotations

import datetime as dt
import enum
import secrets
from typing import Any

from sqlalchemy import JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.crypto import EncryptedJSON, EncryptedText
from plugin.db import Base, Timestamps


class Platform(enum.StrEnum):
    SHOPIFY = "shopify"
    WOOCOMMERCE = "woocommerce"


class StoreStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    UNINSTALLED = "uninstalled"


#: Sending rules every shop starts with; `Store.settings` holds only what the owner changed.
DEFAULT_SETTINGS: dict[str, Any] = {
    "double_optin_mode": "template",  # "template" (quick reply) or "link" (wa.me + code)
    "pending_optin_days": 7,
    "reminder_steps": [
        {"delay_minutes": 60, "template": "cart_reminder_1"},
        {"delay_minutes": 1440, "template": "cart_reminder_2"},
    ],
    "cart_max_age_hours": 72,
    "cart_abandon_minutes": 60,  # widget snapshots without an order after this are abandoned
    "recommendation_delay_days": 14,
    "recommendation_period_days": 30,
    "recommendation_local_hour": 10,
    "excluded_categories": [],
    "consumable_categories": [],
    "quiet_hours_start": "20:00",
    "quiet_hours_end": "09:00",
    "quiet_days": [],  # ISO weekday numbers, 1 = Monday
    "cap_per_24h": 1,
    "cap_per_7d": 3,
    "monthly_budget_minor": None,
    "holdout_percent": 10,
    "attribution_window_days": 5,
    "discount_code": None,
    "storefront_origins": [],  # extra origins (custom domains) allowed to call the widget API
    "rate_card_overrides": {},  # {"AT": {"marketing": micros, "utility": …, "authentication": …}}
    "logo_url": None,  # the shop's logo on the pages buyers reach from a message
    # a running campaign pauses itself when its opt-outs and blocks pass this share of what
    # it delivered, in hundredths of a percent (200 = 2 %)
    "campaign_opt_out_pause_basis_points": 200,
}


def new_public_key() -> str:
    """A URL-safe key that never starts with "-" (a command line would read it as an option)."""
    key = secrets.token_urlsafe(12)
    while key.startswith("-"):
        key = secrets.token_urlsafe(12)
    return key


class Store(Timestamps, Base):
    __tablename__ = "stores"
    __table_args__ = (UniqueConstraint("platform", "domain"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public identifier used in widget and API URLs; never the numeric id.
    public_key: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_key)
    #: "shopify" or "woocommerce".
    platform: Mapped[str] = mapped_column(String(20))
    #: Shopify: the myshopify.com domain; WooCommerce: host[:port][/path] of the site.
    domain: Mapped[str] = mapped_column(String(255))
    #: WooCommerce: scheme, host and path of the site; Shopify: empty (derived from the domain).
    base_url: Mapped[str] = mapped_column(String(512), default="")
    #: Business name shown to buyers (opt-in wording, templates).
    name: Mapped[str] = mapped_column(String(255), default="")
    #: active, paused (no sending) or uninstalled (no sending, no sync).
    status: Mapped[str] = mapped_column(String(20), default=StoreStatus.ACTIVE)
    #: Why the shop is paused, shown to the owner.
    paused_reason: Mapped[str | None] = mapped_column(String(255))
    #: IANA time zone of the shop, for quiet hours and local scheduling.
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Berlin")
    #: ISO 4217 code of the shop's prices.
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    #: BCP-47 locale used when a buyer's is unknown or unsupported.
    default_locale: Mapped[str] = mapped_column(String(35), default="de")
    #: ISO 3166 country, the default region for phone numbers typed without a prefix.
    country: Mapped[str] = mapped_column(String(2), default="DE")
    #: The shop's privacy policy, linked from the opt-in wording.
    privacy_url: Mapped[str] = mapped_column(String(512), default="")
    #: Platform credentials (tokens, keys), encrypted.
    credentials: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    #: When the platform access token expires (Shopify expiring offline tokens); None: never.
    token_expires_at: Mapped[dt.datetime | None]
    #: Secret the platform signs webhooks with (WooCommerce per store), encrypted.
    webhook_secret: Mapped[str | None] = mapped_column(EncryptedText)
    #: Sending rules the owner changed from DEFAULT_SETTINGS.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: When the app was (re)installed.
    installed_at: Mapped[dt.datetime | None]
    #: When the app was uninstalled; sending stops at once.
    uninstalled_at: Mapped[dt.datetime | None]

    def setting(self, name: str) -> Any:
        """The owner's value for a sending rule, else the default."""
        if name not in DEFAULT_SETTINGS:
            raise KeyError(name)
        return (self.settings or {}).get(name, DEFAULT_SETTINGS[name])

    @property
    def is_sending(self) -> bool:
        return self.status == StoreStatus.ACTIVE
