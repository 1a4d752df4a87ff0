"""The holdout: a stable share of eligible buyers gets nothing, so uplift can be measured.

The dashboard compares buyers held out of a flow with those who were messaged; last-touch
attribution alone would credit messages with orders that would have happened anyway.
"""

from __future__ import annotations

import hashlib

from plugin.models import Store

#: The hash is split into this many buckets; holdout_percent may have two decimals.
BUCKETS = 10_000


def holdout_bucket(store_id: int, flow: str, phone: str) -> int:
    """A number in [0, BUCKETS) that never changes for one shop, flow and buyer."""
    digest = hashlib.sha256(f"{store_id}:{flow}:{phone}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


def is_held_out(store: Store, flow: str, phone: str) -> bool:
    percent = float(store.setting("holdout_percent") or 0)
    return holdout_bucket(store.id, flow, phone) < percent * BUCKETS / 100
