"""Money and time from WooCommerce's text fields: properties over many values."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from connectors.woocommerce.mapping import gmt, minor

amounts = st.decimals(min_value=0, max_value=10_000_000, places=2, allow_nan=False)
moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))


@given(amounts)
def test_two_decimal_prices_become_exact_minor_units(amount: Decimal) -> None:
    text = f"{amount:.2f}"
    assert minor(text, "EUR") == int(amount * 100)
    assert minor(text, "eur") == minor(float(text), "EUR")  # JSON numbers (line "price") too


@given(st.integers(min_value=0, max_value=10**9))
def test_zero_decimal_currencies_keep_whole_units(amount: int) -> None:
    assert minor(str(amount), "JPY") == amount


def test_empty_or_broken_amounts_are_zero() -> None:
    assert (minor("", "EUR"), minor(None, "EUR"), minor("n/a", "EUR")) == (0, 0, 0)


@given(moments)
def test_gmt_fields_become_aware_utc_at_the_same_instant(moment: dt.datetime) -> None:
    text = moment.replace(microsecond=0).isoformat()
    parsed = gmt(text)
    assert parsed is not None and parsed.utcoffset() == dt.timedelta(0)
    assert parsed.replace(tzinfo=None) == moment.replace(microsecond=0)
    assert gmt(None) is None and gmt("") is None
