"""Meta's WhatsApp rate cards as data: each with the day it took effect and where it was read.

Prices are per delivered message, by the recipient's country code and the message's pricing
category, in micros (millionths) of the card's currency. A row ("*": every country not listed)
gives marketing, utility and authentication; `authentication_international` only where Meta
has a separate rate for authentication sent to users abroad. Service messages (free-form
replies) and utility templates inside the customer service window are free until
`SERVICE_BILLING_FROM` and billed at the utility rate from then on.
https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rate:
    marketing: int
    utility: int
    authentication: int
    #: Meta's rate for authentication to a user in another country; None: the authentication rate.
    authentication_international: int | None = None


@dataclass(frozen=True)
class RateCard:
    """One published card: its currency, the day it took effect, where it was read, its rows."""

    currency: str
    effective: dt.date
    source: str
    rows: dict[str, Rate] = field(default_factory=dict)


def micros(marketing: str, utility: str, authentication: str) -> Rate:
    """A row from the card's decimal figures (four decimals) as integer micros."""
    return Rate(*(round(float(v) * 1_000_000) for v in (marketing, utility, authentication)))


#: Meta's per-message card of 2025-07-01, read from the pricing page's rate cards and checked
#: against published copies (EUR, Germany: hello-charles.com's pricing guide; USD by country:
#: docs.sent.dm's pricing table, "effective July 1, 2025"). Only verified rows; unknown and
#: unverified markets are priced as Germany (among the dearest), never as free.
EUR_2025_07 = RateCard(
    currency="EUR",
    effective=dt.date(2025, 7, 1),
    source="https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing",
    rows={
        "DE": micros("0.1131", "0.0456", "0.0456"),
        "*": micros("0.1131", "0.0456", "0.0456"),
    },
)
#: USD rows; Austria is in Meta's "Rest of Western Europe" market.
USD_2025_07 = RateCard(
    currency="USD",
    effective=dt.date(2025, 7, 1),
    source="https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing",
    rows={"AT": micros("0.0592", "0.0171", "0.0171")},
)
CARDS: tuple[RateCard, ...] = (EUR_2025_07, USD_2025_07)

#: From this day Meta bills service messages and utility templates delivered inside an open
#: customer service window, at the utility rate (free before: free_customer_service).
SERVICE_BILLING_FROM = dt.date(2026, 10, 1)
SERVICE_BILLING_SOURCE = (
    "https://developers.facebook.com/documentation/business-messaging/whatsapp/pricing"
    " (pricing updates on the WhatsApp Business Platform, effective 2026-10-01)"
)
#: Markets whose figures could not be verified against the card when it was shipped; they use
#: the "*" row until an owner sets their own (settings "rate_card_overrides").
UNVERIFIED_MARKETS = ("AT", "BE", "CH", "ES", "FR", "GB", "IT", "NL", "PL")
