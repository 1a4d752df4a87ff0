"""The holdout's edges: 0 % holds out nobody, and a bucket exactly at the share is messaged."""

from __future__ import annotations

import hashlib
import itertools

from sqlalchemy.orm import Session

from plugin.engine.holdout import is_held_out
from tests.factories import make_store


def bucket(store_id: int, phone: str) -> int:
    digest = hashlib.sha256(f"{store_id}:cart_reminder:{phone}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000


def test_zero_percent_holds_out_none_of_two_thousand_buyers(session: Session) -> None:
    store = make_store(session, settings={"holdout_percent": 0})
    phones = [f"+49151{n:08d}" for n in range(2000)]
    assert [p for p in phones if is_held_out(store, "cart_reminder", p)] == []


def test_buyer_whose_bucket_is_exactly_the_share_is_not_held_out(session: Session) -> None:
    # given a 10 % holdout (buckets 0..999 held out) and buyers at buckets 999 and 1000
    store = make_store(session, settings={"holdout_percent": 10})
    phones = (f"+49152{n:08d}" for n in itertools.count())
    edge = {}
    for phone in phones:
        if bucket(store.id, phone) in (999, 1000) and bucket(store.id, phone) not in edge:
            edge[bucket(store.id, phone)] = phone
        if len(edge) == 2:
            break
    # then the one in bucket 999 is held out and the one in bucket 1000 is messaged
    assert is_held_out(store, "cart_reminder", edge[999]) is True
    assert is_held_out(store, "cart_reminder", edge[1000]) is False
