"""Template lifecycle: submitted, PENDING, APPROVED by webhook, then used; fallbacks and holds."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.models import Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp.templates.catalog import approved_template, hold_reason, sync_templates
from plugin.whatsapp.templates.wording import MARKETING_TTL_MAX, MARKETING_TTL_MIN, send_ttl_seconds
from tests.factories import make_store
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import WABA_ID, for_shop, load, post_webhook


def _status_update(name: str, language: str, event: str, reason: str = "NONE") -> dict:
    payload = load("meta_documented.json", "message_template_status_update_approved")
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(
        message_template_name=name,
        message_template_language=language,
        event=event,
        reason=reason,
        message_template_category="MARKETING",
    )
    return for_shop(payload)


def test_template_round_trip_submit_pending_approved_used(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    client: FlaskClient,
) -> None:
    # when the owner submits the default templates
    result = runner.invoke(args=["templates", "submit", str(shop.id)])

    # then all eight (4 purposes x de, en) reached Meta and wait for review
    assert result.exit_code == 0, result.output
    posts = [r for r in fake_meta.requests if r.path == f"/v23.0/{WABA_ID}/message_templates"]
    assert len(posts) == 8
    optin_de = next(p.json for p in posts if p.json["name"] == "shopnudge_optin_confirmation")
    assert optin_de["language"] == "de"
    assert optin_de["category"] == "UTILITY"
    assert optin_de["message_send_ttl_seconds"] == 43200
    assert optin_de["components"][-1] == {
        "type": "BUTTONS",
        "buttons": [{"type": "QUICK_REPLY", "text": "Ja"}],
    }
    reminder = next(
        p.json
        for p in posts
        if p.json["name"] == "shopnudge_cart_reminder_1" and p.json["language"] == "en"
    )
    assert reminder["category"] == "MARKETING"
    # the Marketing Messages API drops it when the 72 h window ends: 71 h after the 1 h delay
    assert reminder["message_send_ttl_seconds"] == 71 * 3600
    ttl = {(p.json["name"], p.json["language"]): p.json["message_send_ttl_seconds"] for p in posts}
    assert ttl[("shopnudge_cart_reminder_2", "de")] == 48 * 3600
    assert ttl[("shopnudge_recommendation", "de")] == 2 * 86400
    assert reminder["components"][-1]["buttons"] == [
        {
            "type": "URL",
            "text": "View cart",
            "url": "http://shopnudge.test/r/{{1}}",
            "example": ["http://shopnudge.test/r/Xy7kQ2pLm9"],
        },
        {
            "type": "URL",
            "text": "Unsubscribe",
            "url": "http://shopnudge.test/u/{{1}}",
            "example": ["http://shopnudge.test/u/Qm4vT8rWx2Kp"],
        },
        {"type": "QUICK_REPLY", "text": "Stop promotions"},
    ]
    session.expire_all()
    statuses = session.scalars(select(WhatsAppTemplate.status)).all()
    assert statuses == ["PENDING"] * 8
    assert approved_template(session, shop, "cart_reminder_1", "de") is None
    assert hold_reason(session, shop, "cart_reminder_1", "de") == (
        "template shopnudge_cart_reminder_1 (de) is PENDING"
    )

    # when Meta approves the German cart reminder by webhook
    post_webhook(client, _status_update("shopnudge_cart_reminder_1", "de", "APPROVED"))

    # then it is the one to use, for German buyers and (falling back) for English ones
    session.expire_all()
    chosen = approved_template(session, shop, "cart_reminder_1", "de_AT")
    assert chosen is not None
    assert (chosen.name, chosen.language, chosen.status) == (
        "shopnudge_cart_reminder_1",
        "de",
        "APPROVED",
    )
    fallback = approved_template(session, shop, "cart_reminder_1", "en")
    assert fallback is not None and fallback.language == "de"
    assert approved_template(session, shop, "recommendation", "de") is None


def test_submitting_twice_submits_nothing_new(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    runner.invoke(args=["templates", "submit", str(shop.id)])
    runner.invoke(args=["templates", "submit", str(shop.id)])
    posts = [r for r in fake_meta.requests if r.path.endswith("/message_templates")]
    assert len(posts) == 8
    assert session.scalar(select(func.count()).select_from(WhatsAppTemplate)) == 8


def test_sync_reads_status_category_quality_and_rejection(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    runner.invoke(args=["templates", "submit", str(shop.id)])
    session.expire_all()
    store = session.get(Store, shop.id)
    assert store is not None
    sync_templates(session, store, app.config["SHOPNUDGE"])  # nothing changed at Meta yet
    fake_meta.set_template_status(
        WABA_ID,
        "shopnudge_recommendation",
        "en",
        status="REJECTED",
        rejected_reason="INVALID_FORMAT",
    )
    fake_meta.set_template_status(
        WABA_ID,
        "shopnudge_optin_confirmation",
        "de",
        status="APPROVED",
        category="MARKETING",
        quality_score={"score": "GREEN"},
    )

    changed = sync_templates(session, store, app.config["SHOPNUDGE"])

    assert changed == 2
    rejected = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.name == "shopnudge_recommendation", WhatsAppTemplate.language == "en"
        )
    ).one()
    assert (rejected.status, rejected.rejection_reason) == ("REJECTED", "INVALID_FORMAT")
    optin = approved_template(session, store, "optin_confirmation", "de")
    assert optin is not None
    assert (optin.category, optin.quality) == ("MARKETING", "GREEN")


def test_paused_template_holds_its_flow_and_says_why(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    client: FlaskClient,
) -> None:
    runner.invoke(args=["templates", "submit", str(shop.id)])
    post_webhook(client, _status_update("shopnudge_recommendation", "de", "APPROVED"))
    post_webhook(client, _status_update("shopnudge_recommendation", "de", "PAUSED", "Low quality"))
    session.expire_all()
    assert approved_template(session, shop, "recommendation", "de") is None
    assert hold_reason(session, shop, "recommendation", "de") == (
        "template shopnudge_recommendation (de) is PAUSED: Low quality"
    )


def test_quality_and_category_webhooks_update_the_row(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    client: FlaskClient,
) -> None:
    runner.invoke(args=["templates", "submit", str(shop.id)])
    for key in ("message_template_quality_update", "template_category_update"):
        payload = load("meta_documented.json", key)
        payload["entry"][0]["changes"][0]["value"].update(
            message_template_name="shopnudge_optin_confirmation", message_template_language="en"
        )
        post_webhook(client, for_shop(payload))
    session.expire_all()
    row = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.name == "shopnudge_optin_confirmation",
            WhatsAppTemplate.language == "en",
        )
    ).one()
    assert (row.quality, row.category) == ("YELLOW", "MARKETING")


def test_dry_run_account_approves_locally_without_calling_meta(
    app: Flask, session: Session, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    store = make_store(session)
    session.add(
        WhatsAppAccount(
            store_id=store.id, phone_number_id="dry-1", waba_id="dry-1", token="x", dry_run=True
        )
    )
    session.commit()
    result = runner.invoke(args=["templates", "submit", str(store.id)])
    assert result.exit_code == 0
    assert fake_meta.requests == []
    assert set(session.scalars(select(WhatsAppTemplate.status))) == {"APPROVED"}


def test_submit_without_an_account_says_so(
    app: Flask, session: Session, runner: FlaskCliRunner, fake_meta: FakeMeta
) -> None:
    store = make_store(session)
    session.commit()
    result = runner.invoke(args=["templates", "submit", str(store.id)])
    assert result.exit_code == 2
    assert "no WhatsApp account" in result.output
    assert session.scalar(select(func.count()).select_from(WhatsAppTemplate)) == 0


def test_fake_graph_api_serves_template_crud(app: Flask, fake_meta: FakeMeta) -> None:
    from plugin.whatsapp.client import GraphClient

    client = GraphClient(fake_meta.token, app.config["SHOPNUDGE"])
    created = client.request(
        "POST",
        f"{WABA_ID}/message_templates",
        json={"name": "t1", "language": "de", "category": "MARKETING", "components": []},
    )
    assert client.request("GET", created["id"])["status"] == "PENDING"
    fake_meta.set_template_status(WABA_ID, "t1", "de", status="APPROVED")
    client.request("POST", created["id"], json={"components": [{"type": "BODY", "text": "x"}]})
    assert client.request("GET", created["id"])["status"] == "PENDING"
    assert client.request("DELETE", f"{WABA_ID}/message_templates", params={"name": "t1"}) == {
        "success": True
    }
    assert client.get_all(f"{WABA_ID}/message_templates", {"limit": 100}) == []


def test_paged_template_lists_are_read_to_the_end(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    from plugin.whatsapp.client import GraphClient

    runner.invoke(args=["templates", "submit", str(shop.id)])
    client = GraphClient(fake_meta.token, app.config["SHOPNUDGE"])
    items = client.get_all(f"{WABA_ID}/message_templates", {"limit": 3})
    assert len(items) == 8
    gets = [r for r in fake_meta.requests if r.method == "GET"]
    assert [r.args.get("after") for r in gets] == [None, "3", "6"]


def test_a_cart_reminder_ttl_stays_within_metas_12_hours_to_30_days() -> None:
    steps = [{"delay_minutes": 60, "template": "cart_reminder_1"}]
    short = {"reminder_steps": steps, "cart_max_age_hours": 6}
    long = {"reminder_steps": steps, "cart_max_age_hours": 24 * 40}

    assert send_ttl_seconds("cart_reminder_1", short) == MARKETING_TTL_MIN == 12 * 3600
    assert send_ttl_seconds("cart_reminder_1", long) == MARKETING_TTL_MAX == 30 * 86400
    assert send_ttl_seconds("optin_confirmation", short) == 12 * 3600
