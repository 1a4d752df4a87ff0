"""The periodic Shopify jobs: token refresh ahead of expiry, and the reconciling sync."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.models import Order, Store, StoreStatus
from plugin.scheduler import JOBS, run_job
from tests.factories import make_store
from tests.fakes.shopify import FakeShopify


def test_refresh_job_renews_only_tokens_about_to_expire(
    app: Flask, session: Session, fake: FakeShopify, shop: Store
) -> None:
    fake.refresh_tokens.update({"shprt_due", "shprt_later"})
    shop.credentials = {"access_token": fake.issue_token(), "refresh_token": "shprt_due"}
    shop.token_expires_at = utcnow() + dt.timedelta(minutes=3)
    later = make_store(
        session,
        credentials={"access_token": "x", "refresh_token": "shprt_later"},
        token_expires_at=utcnow() + dt.timedelta(minutes=50),
    )
    session.commit()
    assert run_job(app, JOBS["refresh_shopify_tokens"]) is True
    session.expire_all()
    assert session.get(Store, shop.id).credentials["refresh_token"] not in ("shprt_due", None)
    assert session.get(Store, later.id).credentials["refresh_token"] == "shprt_later"
    assert "shprt_later" in fake.refresh_tokens


def test_sync_job_pulls_changes_and_skips_uninstalled_and_demo_shops(
    app: Flask, session: Session, fake: FakeShopify, shop: Store
) -> None:
    fake.data.seed(customers=5, orders=40)
    make_store(session, credentials=None)  # the demo shop
    # an uninstalled shop whose token would still work on the fake
    make_store(
        session, status=StoreStatus.UNINSTALLED, credentials={"access_token": fake.issue_token()}
    )
    session.commit()
    assert run_job(app, JOBS["sync_shopify"]) is True
    orders = session.scalar(
        select(func.count()).select_from(Order).where(Order.store_id == shop.id)
    )
    assert orders == 40
    assert session.scalar(select(func.count()).select_from(Order)) == 40
