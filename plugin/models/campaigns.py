"""Campaigns: one offer to a saved segment of a shop's subscribers, sent through the outbox."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, StoreScoped, Timestamps


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"  # composed by the owner, nothing in the outbox yet
    RUNNING = "running"  # its rows are in the outbox and go as they fall due
    PAUSED = "paused"  # unsent rows held (skipped, reason campaign_paused) until resumed
    CANCELLED = "cancelled"  # unsent rows ended for good (skipped, reason campaign_cancelled)


class Campaign(StoreScoped, Timestamps, Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The owner's name for it.
    name: Mapped[str] = mapped_column(String(255))
    #: Name of an approved MARKETING template of the shop (each language version is used).
    template_name: Mapped[str] = mapped_column(String(512))
    #: The saved segment: {"rules": [...]} in the language of plugin/campaigns/segments.py.
    segment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: What fills the body's {{1}}, {{2}}, ... in order (first_name, shop_name, coupon_code).
    body_parameters: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Share of the audience that gets nothing, in hundredths of a percent (1000 = 10 %).
    holdout_basis_points: Mapped[int] = mapped_column(default=0)
    #: One coupon code for everybody, or None.
    coupon_code: Mapped[str | None] = mapped_column(String(64))
    #: Percent off of the single-use code each recipient gets, created on the platform
    #: (plugin.campaigns.coupons); None when there is one code for all or none.
    coupon_percent_off: Mapped[int | None]
    #: The send window in the buyer's own time, "HH:MM".
    window_start: Mapped[str] = mapped_column(String(5), default="10:00")
    window_end: Mapped[str] = mapped_column(String(5), default="19:00")
    #: Sends are spread evenly over this many hours from the start (protects the quality rating).
    spread_hours: Mapped[int] = mapped_column(default=0)
    #: Where the template's tracked link leads (the shop's front page when empty).
    link_url: Mapped[str | None] = mapped_column(String(2048))
    status: Mapped[str] = mapped_column(String(20), default=CampaignStatus.DRAFT)
    #: When sending begins (the first start's --at, else the moment of the first start).
    starts_at: Mapped[dt.datetime | None]
    started_at: Mapped[dt.datetime | None]
    paused_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    #: Why the campaign stopped when it was not the owner (reserved for auto-pause).
    status_reason: Mapped[str | None] = mapped_column(Text)
