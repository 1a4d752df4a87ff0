"""A segment's buyers as plain values: the few columns a campaign's plan reads of each.

A campaign to 100,000 buyers built 200,000 Subscription and Customer objects only to read a
handful of their columns: loading them, and the garbage collector walking them while the plan
ran, were most of the compose's own CPU. These records carry the same attribute names, so the
plan, the filling of the template and the guards read them as they read the models.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import fields
from typing import Any, NamedTuple

from sqlalchemy.orm import Session

from plugin.campaigns import segments
from plugin.engine.outbox import SubscriptionFacts
from plugin.models import Customer, Store, Subscription


class CampaignCustomer(NamedTuple):
    """outbox.CustomerFacts for a campaign: it also reads erased_at, since the plan counts
    erased buyers among the excluded."""

    id: int
    locale: str | None
    timezone: str | None
    country: str | None
    first_name: str | None
    erased_at: dt.datetime | None


#: A buyer of the segment: the subscription and its customer (None when it has none).
Buyer = tuple[SubscriptionFacts, CampaignCustomer | None]

_SUBSCRIPTION = [getattr(Subscription, f.name) for f in fields(SubscriptionFacts)]
_CUSTOMER = [getattr(Customer, name) for name in CampaignCustomer._fields]


def load_buyers(
    session: Session, store: Store, segment: dict[str, Any], now: dt.datetime
) -> list[Buyer]:
    """Every subscription of the shop in the segment (any state), by subscription id."""
    segments.make_room(session)
    statement = segments.audience_query(store, segment, now).with_only_columns(
        *_SUBSCRIPTION, *_CUSTOMER
    )
    split = len(_SUBSCRIPTION)
    buyers: list[Buyer] = []
    for row in session.execute(statement):
        subscription = SubscriptionFacts(*row[:split])
        customer = None if row[split] is None else CampaignCustomer._make(row[split:])
        buyers.append((subscription, customer))
    return buyers
