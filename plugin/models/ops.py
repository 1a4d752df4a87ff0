"""Operational rows: sync progress, job leases, rate buckets, audit, sign-in tokens."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from plugin.db import Base, StoreScoped, Timestamps, utcnow


class SyncState(StoreScoped, Timestamps, Base):
    """Progress of pulling one resource from one shop, so a sync resumes where it stopped."""

    __tablename__ = "sync_states"
    __table_args__ = (UniqueConstraint("store_id", "resource"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: products, customers, orders or carts.
    resource: Mapped[str] = mapped_column(String(32))
    #: Newest platform updated_at seen; the next incremental run starts here minus the overlap.
    watermark_at: Mapped[dt.datetime | None]
    #: Pagination cursor or page of an interrupted run.
    cursor: Mapped[str | None] = mapped_column(Text)
    #: A running Shopify bulk operation.
    bulk_operation_id: Mapped[str | None] = mapped_column(String(255))
    #: idle, running, failed.
    status: Mapped[str] = mapped_column(String(16), default="idle")
    last_run_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    #: Counts of the last run: fetched, written, unchanged.
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobLease(Base):
    """A periodic job's lease: whoever holds it runs the job, once across the cluster."""

    __tablename__ = "job_leases"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(128))
    expires_at: Mapped[dt.datetime | None]
    last_run_at: Mapped[dt.datetime | None]


class RateBucket(Base):
    """A token bucket shared by every process (Meta throughput, Shopify cost, opt-in bursts)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    tokens: Mapped[float]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(StoreScoped, Base):
    """One change a shop owner (or the system on their behalf) made: who, when, old → new."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(64))
    field: Mapped[str | None] = mapped_column(String(128))
    old_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class LoginToken(StoreScoped, Base):
    """A one-time sign-in link for a shop's /app/ pages; only its hash is kept."""

    __tablename__ = "login_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class OAuthState(Base):
    """A single-use state nonce of an install flow (Shopify OAuth, WooCommerce connect)."""

    __tablename__ = "oauth_states"

    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: The shop domain or site URL the flow was started for.
    shop: Mapped[str] = mapped_column(String(512))
    platform: Mapped[str] = mapped_column(String(20))
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class DataExport(StoreScoped, Base):
    """A GDPR data request answered: what was asked, and the export assembled."""

    __tablename__ = "data_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: shopify_data_request, owner, api.
    source: Mapped[str] = mapped_column(String(40))
    #: The platform's request id, if any.
    request_id: Mapped[str | None] = mapped_column(String(64))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    export: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
