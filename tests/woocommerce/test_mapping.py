"""Time from WooCommerce's text fields: properties over many values."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from connectors.woocommerce.mapping import gmt

moments = st.datetimes(min_value=dt.datetime(2000, 1, 1), max_value=dt.datetime(2100, 1, 1))


@given(moments)
def test_gmt_fields_become_aware_utc_at_the_same_instant(moment: dt.datetime) -> None:
    text = moment.replace(microsecond=0).isoformat()
    parsed = gmt(text)
    assert parsed is not None and parsed.utcoffset() == dt.timedelta(0)
    assert parsed.replace(tzinfo=None) == moment.replace(microsecond=0)
    assert gmt(None) is None and gmt("") is None
