"""Coupons a platform creates for one buyer: what we ask for and what the platform answers.

The code is ours (deterministic per campaign and buyer, plugin.campaigns.coupons), so asking
again after a lost answer names the same code: the platform refuses it as taken, and that is
the proof it exists. One code is good for one use.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class CouponRequest:
    code: str
    #: The owner's name for the discount on the platform (the campaign's name).
    title: str
    #: Whole percent off the order, 1 to 100.
    percent_off: int
    starts_at: dt.datetime
    ends_at: dt.datetime | None = None


@dataclass(frozen=True)
class IssuedCoupon:
    code: str
    #: The platform's id of the discount, None when it already existed (a repeated request).
    platform_id: str | None
    already_existed: bool = False
