"""Amounts are integers in the currency's minor units (cents; yen are whole): one rule for
every platform that delivers them and every page or message that shows them, so an amount is
never read with another exponent than it was written with."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

#: ISO 4217 currencies whose minor unit is the whole unit (exponent 0); the rest have two.
ZERO_DECIMAL = frozenset(
    {
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    }
)


def exponent(currency: str | None) -> int:
    return 0 if (currency or "").upper() in ZERO_DECIMAL else 2


def to_minor(amount: Any, currency: str) -> int:
    """A decimal amount as the platforms send it ("21.99", 21.99) in minor units; no amount is
    0. An unreadable one raises ValueError: storing it as 0 would hide a broken payload in the
    revenue figures, while a failed delivery is retried and shown."""
    try:
        value = Decimal(str(amount if amount not in (None, "") else "0"))
    except InvalidOperation:
        raise ValueError(f"unreadable amount {str(amount)[:40]!r}") from None
    if not value.is_finite():
        raise ValueError(f"unreadable amount {str(amount)[:40]!r}")
    scaled = value * 10 ** exponent(currency)
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_minor(minor: float, currency: str | None) -> Decimal:
    """Minor units back as the amount people read (`2350, "EUR"` is 23.50; `2350, "JPY"` 2350)."""
    return Decimal(str(minor)).scaleb(-exponent(currency))
