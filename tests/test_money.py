"""Money in minor units: what the platforms send, what we store, what buyers and owners read."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.money import from_minor, to_minor

amounts = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)


@given(amounts)
def test_two_decimal_prices_become_exact_minor_units(amount: Decimal) -> None:
    text = f"{amount:.2f}"
    assert to_minor(text, "EUR") == int(amount * 100)
    assert to_minor(text, "eur") == to_minor(float(text), "EUR")  # JSON numbers too


@given(st.integers(min_value=0, max_value=10**9))
def test_zero_decimal_currencies_keep_whole_units(amount: int) -> None:
    assert to_minor(str(amount), "JPY") == amount
    assert from_minor(amount, "JPY") == amount


@given(amounts, st.sampled_from(["EUR", "USD", "GBP", "CHF", "HUF"]))
def test_an_amount_stored_reads_back_as_the_same_amount(amount: Decimal, currency: str) -> None:
    assert from_minor(to_minor(f"{amount:.2f}", currency), currency) == amount


def test_a_missing_amount_is_zero_and_an_unreadable_one_is_refused() -> None:
    assert (to_minor("", "EUR"), to_minor(None, "EUR")) == (0, 0)
    for broken in ("n/a", "vierzig Euro", "NaN", "Infinity"):
        with pytest.raises(ValueError, match="unreadable amount"):
            to_minor(broken, "EUR")
