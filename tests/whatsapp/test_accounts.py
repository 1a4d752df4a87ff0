"""Connecting a number (`shopnudge stores whatsapp`) and the periodic account sync."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Store, WhatsAppAccount
from plugin.scheduler import jobs
from plugin.whatsapp import routing
from plugin.whatsapp.accounts import QUALITY_PAUSE, sync_accounts_job
from tests.factories import make_store
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import PHONE_NUMBER_ID, WABA_ID


def test_connect_reads_and_stores_the_numbers_details(
    session: Session, runner: FlaskCliRunner, fake_meta: FakeMeta
) -> None:
    store = make_store(session)
    session.commit()

    result = runner.invoke(
        args=[
            "stores",
            "whatsapp",
            str(store.id),
            "--phone-number-id",
            PHONE_NUMBER_ID,
            "--waba-id",
            WABA_ID,
            "--token",
            fake_meta.token,
        ]
    )

    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "+1 555-078-3881 (Bohne & Blatt): quality GREEN, limit TIER_2K, 80 msg/s"
    )
    request, onboarding = fake_meta.requests
    assert (request.method, request.path) == ("GET", f"/v23.0/{PHONE_NUMBER_ID}")
    assert "quality_rating" in request.args["fields"].split(",")
    assert (onboarding.path, onboarding.args) == (
        f"/v23.0/{WABA_ID}",
        {"fields": "marketing_messages_onboarding_status"},
    )
    account = session.scalars(select(WhatsAppAccount)).one()
    assert (account.waba_id, account.token, account.dry_run) == (WABA_ID, fake_meta.token, False)
    assert account.verified_name == "Bohne & Blatt"
    assert account.marketing_messages == routing.UNKNOWN  # the fake knows no such WABA


def test_connecting_a_number_not_onboarded_warns_how_to_onboard(
    session: Session, runner: FlaskCliRunner, fake_meta: FakeMeta
) -> None:
    store = make_store(session)
    session.commit()
    fake_meta.waba_onboarding[WABA_ID] = "ELIGIBLE"

    result = runner.invoke(
        args=[
            *("stores", "whatsapp", str(store.id), "--phone-number-id", PHONE_NUMBER_ID),
            *("--waba-id", WABA_ID, "--token", fake_meta.token),
        ]
    )

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "+1 555-078-3881 (Bohne & Blatt): quality GREEN, limit TIER_2K, 80 msg/s",
        f"warning: {routing.ONBOARDING_HINT}",
    ]
    account = session.scalars(select(WhatsAppAccount)).one()
    assert account.marketing_messages == routing.NOT_ONBOARDED


def test_a_refused_token_connects_nothing(
    session: Session, runner: FlaskCliRunner, fake_meta: FakeMeta
) -> None:
    store = make_store(session)
    session.commit()
    result = runner.invoke(
        args=[
            *("stores", "whatsapp", str(store.id), "--phone-number-id", PHONE_NUMBER_ID),
            *("--waba-id", WABA_ID, "--token", "EAAG-wrong"),
        ]
    )
    assert result.exit_code == 2
    assert "error: Meta refused the phone number or token: 190" in result.output
    assert session.scalar(select(func.count()).select_from(WhatsAppAccount)) == 0


def test_account_sync_pauses_marketing_on_red_and_resumes_on_green(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    assert "whatsapp_accounts" in jobs() and "whatsapp_templates" in jobs()
    now = dt.datetime(2026, 11, 24, 12, tzinfo=dt.UTC)

    fake_meta.add_phone_number(PHONE_NUMBER_ID, quality_rating="RED", throughput={"level": "HIGH"})
    sync_accounts_job(app, now)
    session.expire_all()
    account = session.scalars(select(WhatsAppAccount)).one()
    assert (account.quality_rating, account.marketing_paused_reason) == ("RED", QUALITY_PAUSE)
    assert account.throughput_mps == 1000

    fake_meta.add_phone_number(PHONE_NUMBER_ID, quality_rating="GREEN")
    sync_accounts_job(app, now)
    session.expire_all()
    account = session.scalars(select(WhatsAppAccount)).one()
    assert (account.quality_rating, account.marketing_paused_reason) == ("GREEN", None)


def test_demo_shop_has_the_default_templates_approved(session: Session) -> None:
    from plugin.demo.shop import seed_demo
    from plugin.models import WhatsAppTemplate
    from plugin.whatsapp.templates.catalog import approved_template

    summary = seed_demo(session, public_url="http://127.0.0.1:5000")
    store = session.get(Store, summary.store_id)
    assert store is not None
    statuses = session.scalars(select(WhatsAppTemplate.status)).all()
    assert statuses == ["APPROVED"] * 8
    for purpose in ("optin_confirmation", "cart_reminder_1", "cart_reminder_2", "recommendation"):
        template = approved_template(session, store, purpose, "en")
        assert template is not None and template.language == "en"


def test_messaging_limit_reads_the_tier() -> None:
    from plugin.whatsapp.accounts import messaging_limit

    tiers = ["TIER_250", "TIER_2K", "TIER_100K", "TIER_UNLIMITED", "TIER_NOT_SET", None]
    limits = [messaging_limit(WhatsAppAccount(messaging_limit_tier=t)) for t in tiers]
    assert limits == [250, 2_000, 100_000, None, None, None]
