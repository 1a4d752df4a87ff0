"""What a shop says about itself: the money, country and clock ShopNudge must use for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ShopProfile:
    """The platform's own settings; None where the platform does not say."""

    #: ISO 4217 code of the shop's prices, e.g. USD.
    currency: str | None = None
    #: ISO 3166-1 alpha-2 country of the shop's address, e.g. US.
    country: str | None = None
    #: IANA time zone of the shop, e.g. America/Los_Angeles.
    timezone: str | None = None
