"""The periodic Shopify jobs: token refresh ahead of expiry, and the reconciling sync."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.db import utcnow
from plugin.jobs import own_minute
from plugin.models import Order, Store, StoreStatus
from plugin.scheduler import jobs, run_job
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
    assert run_job(app, jobs()["refresh_shopify_tokens"]) is True
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
    hour = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)  # each shop's turn comes once a quarter
    for minute in range(15):
        assert run_job(app, jobs()["sync_shopify"], hour + dt.timedelta(minutes=minute)) is True
    orders = session.scalar(
        select(func.count()).select_from(Order).where(Order.store_id == shop.id)
    )
    assert orders == 40
    assert session.scalar(select(func.count()).select_from(Order)) == 40


def test_the_sync_job_syncs_a_new_shop_at_once_then_only_in_its_own_minute_of_the_quarter(
    app: Flask, session: Session, fake: FakeShopify
) -> None:
    hour = dt.datetime(2026, 1, 5, 10, tzinfo=dt.UTC)  # a multiple of 15 minutes since 1970
    fake.data.seed(customers=2, orders=3)
    shop = make_store(session, domain=fake.domain,
                      credentials={"access_token": fake.issue_token()})  # fmt: skip
    session.commit()
    own = own_minute(shop.id, 15)
    others = [hour + dt.timedelta(minutes=m) for m in range(15) if m != own]

    assert run_job(app, jobs()["sync_shopify"], others[0]) is True  # its first sync: at once
    first_sync = len(fake.requests)
    fake.requests.clear()
    for moment in others[1:]:
        assert run_job(app, jobs()["sync_shopify"], moment) is True
    not_its_minute = len(fake.requests)
    assert run_job(app, jobs()["sync_shopify"], hour + dt.timedelta(minutes=own)) is True

    assert first_sync > 0
    assert not_its_minute == 0
    assert len(fake.requests) > 0
    assert session.scalar(select(func.count()).select_from(Order)) == 3
