"""Every template status Meta's webhook reports, in Meta's documented shape, and what it means:
FLAGGED and LOCKED still send, DELETED and the other gone or waiting states send nothing and
say why, and the owner can submit a deleted default again under a new name."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.db import get_database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Notification, NotificationState, Store, WhatsAppTemplate
from plugin.whatsapp.templates.catalog import approved_template, hold_reason, next_name
from plugin.whatsapp.templates.status import NOTES
from tests.factories import make_notification, make_subscription, make_template
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import WABA_ID, for_shop, load, post_webhook

#: 10:00 in Berlin on a Tuesday: no quiet hours in the way.
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
TEMPLATE_ID = "1689556908129832"  # the id in Meta's documented payloads


def _event(key: str, name: str = "shopnudge_recommendation") -> dict[str, Any]:
    """Meta's documented payload for this event, about our template."""
    payload = load("meta_lifecycle.json", key)
    payload["entry"][0]["changes"][0]["value"].update(
        message_template_name=name, message_template_language="de"
    )
    return for_shop(payload)


@pytest.fixture
def template(session: Session, shop: Store) -> WhatsAppTemplate:
    row = make_template(session, shop, "recommendation", meta_template_id=TEMPLATE_ID)
    session.commit()
    return row


def _row(session: Session, template_id: int) -> WhatsAppTemplate:
    session.expire_all()
    row = session.get(WhatsAppTemplate, template_id)
    assert row is not None
    return row


@pytest.mark.parametrize(
    ("key", "status", "sends", "note"),
    [
        ("status_flagged", "APPROVED", True, NOTES["FLAGGED"] + " on 2025-07-06"),
        (
            "status_locked",
            "APPROVED",
            True,
            NOTES["LOCKED"] + " (Your WhatsApp message template has been locked.)",
        ),
        ("status_deleted", "DELETED", False, NOTES["DELETED"]),
        ("status_archived", "ARCHIVED", False, NOTES["ARCHIVED"]),
        ("status_pending_deletion", "PENDING_DELETION", False, NOTES["PENDING_DELETION"]),
        ("status_in_appeal", "IN_APPEAL", False, NOTES["IN_APPEAL"]),
        ("status_limit_exceeded", "LIMIT_EXCEEDED", False, NOTES["LIMIT_EXCEEDED"]),
        ("status_disabled", "DISABLED", False, None),
    ],
)
def test_each_documented_status_event_sets_what_sends_and_what_the_owner_reads(
    session: Session,
    shop: Store,
    client: FlaskClient,
    template: WhatsAppTemplate,
    key: str,
    status: str,
    sends: bool,
    note: str | None,
) -> None:
    # given an approved template, when Meta reports the event in its documented shape
    assert post_webhook(client, _event(key)).status_code == 200
    # then the row has the status, sends only when approved, and carries the owner's note
    row = _row(session, template.id)
    assert (row.status, row.rejection_reason) == (status, note)
    chosen = approved_template(session, shop, "recommendation", "de")
    assert (chosen is not None) is sends
    if not sends:
        why = f": {note}" if note else ""
        assert hold_reason(session, shop, "recommendation", "de") == (
            f"template shopnudge_recommendation (de) is {status}{why}"
        )


def test_reinstated_and_unlocked_clear_what_disabled_and_locked_said(
    session: Session, client: FlaskClient, template: WhatsAppTemplate
) -> None:
    post_webhook(client, _event("status_disabled"))
    post_webhook(client, _event("status_reinstated"))
    row = _row(session, template.id)
    assert (row.status, row.rejection_reason) == ("APPROVED", None)
    post_webhook(client, _event("status_locked"))
    post_webhook(client, _event("status_unlocked"))
    row = _row(session, template.id)
    assert (row.status, row.rejection_reason) == ("APPROVED", None)


def test_a_template_sync_keeps_the_flag_warning_while_the_template_still_sends(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    client: FlaskClient,
    template: WhatsAppTemplate,
) -> None:
    from plugin.whatsapp.templates.catalog import sync_templates

    fake_meta.templates[WABA_ID] = [
        {
            "id": TEMPLATE_ID,
            "name": template.name,
            "language": "de",
            "status": "APPROVED",
            "category": "MARKETING",
            "rejected_reason": "NONE",
        }
    ]
    post_webhook(client, _event("status_flagged"))
    sync_templates(session, shop, app.config["SHOPNUDGE"])
    assert _row(session, template.id).rejection_reason == NOTES["FLAGGED"] + " on 2025-07-06"
    # when Meta's list says it is paused, the flag gives way to the pause
    fake_meta.templates[WABA_ID][0]["status"] = "PAUSED"
    sync_templates(session, shop, app.config["SHOPNUDGE"])
    assert (_row(session, template.id).status, _row(session, template.id).rejection_reason) == (
        "PAUSED",
        None,
    )


def _due_recommendation(session: Session, shop: Store) -> Notification:
    make_subscription(session, shop, phone="+4915112345678")
    row = make_notification(
        session,
        shop,
        "lifecycle:1",
        flow="recommendation",
        template_name="shopnudge_recommendation",
        context={"purpose": "recommendation"},
        parameters={"body": [{"type": "text", "text": "Erika"}]},
        due_at=NOW - dt.timedelta(minutes=1),
    )
    session.commit()
    return row


def test_a_flagged_template_still_sends(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    client: FlaskClient,
    template: WhatsAppTemplate,
) -> None:
    row = _due_recommendation(session, shop)
    post_webhook(client, _event("status_flagged"))
    with app.app_context():
        counts = dispatch_due(get_database(app), app.config["SHOPNUDGE"], NOW)
    session.expire_all()
    sent = session.get(Notification, row.id)
    assert sent is not None
    assert (counts.sent, sent.state) == (1, NotificationState.SENT)
    assert [r.json["template"]["name"] for r in fake_meta.sends()] == ["shopnudge_recommendation"]


def test_a_deleted_template_sends_nothing_and_the_owner_is_told(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    client: FlaskClient,
    template: WhatsAppTemplate,
) -> None:
    row = _due_recommendation(session, shop)
    post_webhook(client, _event("status_deleted"))
    with app.app_context():
        counts = dispatch_due(get_database(app), app.config["SHOPNUDGE"], NOW)
    session.expire_all()
    held = session.get(Notification, row.id)
    assert held is not None
    assert (counts.sent, held.state, held.reason) == (
        0,
        NotificationState.SKIPPED,
        "template_approved",
    )
    assert fake_meta.sends() == []
    assert "--resubmit-deleted" in hold_reason(session, shop, "recommendation", "de")


def test_the_owner_submits_a_deleted_default_again_under_a_new_name(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    client: FlaskClient,
) -> None:
    # given the defaults submitted and approved, then Meta deletes the German recommendation
    runner.invoke(args=["templates", "submit", str(shop.id)])
    for item in fake_meta.templates[WABA_ID]:
        item["status"] = "APPROVED"
    deleted = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.name == "shopnudge_recommendation", WhatsAppTemplate.language == "de"
        )
    ).one()
    payload = _event("status_deleted")
    payload["entry"][0]["changes"][0]["value"]["message_template_id"] = int(
        deleted.meta_template_id or 0
    )
    post_webhook(client, payload)
    created_before = len(
        [
            r
            for r in fake_meta.requests
            if r.method == "POST" and r.path.endswith("/message_templates")
        ]
    )

    # when the owner submits without asking for it, nothing is submitted again
    plain = runner.invoke(args=["templates", "submit", str(shop.id)])
    assert plain.exit_code == 0
    assert "DELETED" in plain.output
    posts = [
        r
        for r in fake_meta.requests
        if r.method == "POST" and r.path.endswith("/message_templates")
    ]
    assert len(posts) == created_before

    # when they ask for it, the one deleted default goes to Meta again, under a new name
    result = runner.invoke(args=["templates", "submit", str(shop.id), "--resubmit-deleted"])
    assert result.exit_code == 0, result.output
    posts = [
        r
        for r in fake_meta.requests
        if r.method == "POST" and r.path.endswith("/message_templates")
    ]
    assert [(r.json["name"], r.json["language"]) for r in posts[created_before:]] == [
        ("shopnudge_recommendation_v2", "de")
    ]
    session.expire_all()
    renewed = session.get(WhatsAppTemplate, deleted.id)
    assert renewed is not None
    assert (renewed.name, renewed.status, renewed.purpose) == (
        "shopnudge_recommendation_v2",
        "PENDING",
        "recommendation",
    )
    assert "shopnudge_recommendation_v2" in result.output
    # and running it again submits nothing new
    runner.invoke(args=["templates", "submit", str(shop.id), "--resubmit-deleted"])
    again = [
        r
        for r in fake_meta.requests
        if r.method == "POST" and r.path.endswith("/message_templates")
    ]
    assert len(again) == len(posts)


def test_next_name_counts_up() -> None:
    assert next_name("shopnudge_recommendation") == "shopnudge_recommendation_v2"
    assert next_name("shopnudge_recommendation_v2") == "shopnudge_recommendation_v3"
    assert next_name("shopnudge_cart_reminder_1") == "shopnudge_cart_reminder_1_v2"


def test_a_template_meta_no_longer_lists_is_deleted_at_the_next_sync(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
) -> None:
    from plugin.whatsapp.templates.catalog import sync_templates

    # given the defaults submitted, and one deleted at Meta without a webhook reaching us
    runner.invoke(args=["templates", "submit", str(shop.id)])
    session.expire_all()
    sync_templates(session, shop, app.config["SHOPNUDGE"], NOW)  # quality read: settled
    fake_meta.templates[WABA_ID] = [
        t
        for t in fake_meta.templates[WABA_ID]
        if (t["name"], t["language"]) != ("shopnudge_recommendation", "en")
    ]
    session.expire_all()
    # when the templates are synced
    changed = sync_templates(session, shop, app.config["SHOPNUDGE"], NOW)
    # then exactly that one is DELETED, says what to do, and the others are untouched
    rows = {(r.name, r.language): r for r in session.scalars(select(WhatsAppTemplate))}
    gone = rows["shopnudge_recommendation", "en"]
    assert (changed, gone.status, gone.rejection_reason, gone.status_changed_at) == (
        1,
        "DELETED",
        NOTES["DELETED"],
        NOW,
    )
    assert {r.status for key, r in rows.items() if key != ("shopnudge_recommendation", "en")} == {
        "PENDING"
    }
    # and a second sync changes nothing
    assert sync_templates(session, shop, app.config["SHOPNUDGE"], NOW) == 0
