"""Template pacing: Meta holds back messages of a new or low-quality template and answers the
send with `message_status: held_for_quality_assessment`. Such a message is accepted, shown as
held in the outbox, never as a failure, and moves on with Meta's status webhooks."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from plugin.db import get_database
from plugin.engine.dispatch import DispatchCounts, dispatch_due
from plugin.models import Notification, NotificationState, Store, WhatsAppTemplate
from plugin.whatsapp.channel import Accepted, delivery_status_of
from plugin.whatsapp.client import _wamid
from tests.factories import make_notification, make_subscription, make_template
from tests.fakes.meta import FakeMeta
from tests.owner import sign_in
from tests.whatsapp.conftest import for_shop, load, post_webhook

#: 10:00 in Berlin on a Tuesday: no quiet hours in the way.
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def due(session: Session, shop: Store) -> Notification:
    make_template(session, shop, "recommendation")
    make_subscription(session, shop, phone="+4915112345678")
    row = make_notification(
        session,
        shop,
        "pacing:1",
        flow="recommendation",
        template_name="shopnudge_recommendation",
        context={"purpose": "recommendation"},
        parameters={"body": [{"type": "text", "text": "Erika"}]},
        due_at=NOW - dt.timedelta(minutes=1),
    )
    session.commit()
    return row


def _dispatch(app: Flask) -> DispatchCounts:
    with app.app_context():
        return dispatch_due(get_database(app), app.config["SHOPNUDGE"], NOW)


def _reload(session: Session, row: Notification) -> Notification:
    session.expire_all()
    fresh = session.get(Notification, row.id)
    assert fresh is not None
    return fresh


def _status(key: str, row: Notification, **fields: object) -> dict:
    payload = load("meta_lifecycle.json" if key == "status_failed" else "meta_documented.json", key)
    status = payload["entry"][0]["changes"][0]["value"]["statuses"][0]
    status.update(id=row.provider_message_id, biz_opaque_callback_data=str(row.id), **fields)
    return for_shop(payload)


def test_the_documented_held_answer_reads_as_held_and_accepted_as_sent() -> None:
    held = _wamid(load("meta_lifecycle.json", "send_answer_held"))
    assert isinstance(held, Accepted)
    assert (held, held.message_status, held.held) == (
        "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA",
        "held_for_quality_assessment",
        True,
    )
    assert delivery_status_of(held) == "held"
    assert delivery_status_of(Accepted("wamid.x", "paused")) == "held"
    assert delivery_status_of(Accepted("wamid.x", "accepted")) == "sent"
    assert delivery_status_of("wamid.dryrun.x") == "sent"  # the dry run answers a plain id


def test_a_held_message_is_sent_and_shown_as_held_not_failed(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    client: FlaskClient,
    due: Notification,
) -> None:
    # given Meta paces the template and holds the next message
    fake_meta.next_message_statuses.append("held_for_quality_assessment")
    # when it is dispatched
    counts = _dispatch(app)
    # then it counts as sent, once, and the outbox row says held
    row = _reload(session, due)
    assert (counts.sent, counts.failed, counts.deferred) == (1, 0, 0)
    assert (row.state, row.delivery_status, row.reason) == (NotificationState.SENT, "held", None)
    assert len(fake_meta.sends()) == 1
    # and the owner's outbox shows it as held, not as a failure
    sign_in(client, session, shop)
    page = client.get("/app/outbox").get_data(as_text=True)
    assert "Held by Meta for a quality check" in page
    assert "status-failed" not in page
    assert _dispatch(app).sent == 0  # nothing is sent again
    assert len(fake_meta.sends()) == 1

    # when Meta releases it, the status webhook moves it on
    post_webhook(client, _status("status_delivered_pmp_regular", row))
    assert _reload(session, due).delivery_status == "delivered"


def test_a_held_message_meta_drops_fails_and_pauses_its_template(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    client: FlaskClient,
    due: Notification,
) -> None:
    fake_meta.next_message_statuses.append("held_for_quality_assessment")
    _dispatch(app)
    row = _reload(session, due)
    # when Meta drops the held message after bad feedback (132015, the template paused)
    failed = _status("status_failed", row)
    error = failed["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"][0]
    error.update(code=132015, title="Template is paused due to low quality", message="")
    post_webhook(client, failed)
    # then the message failed and its template is paused: nothing more goes out with it
    row = _reload(session, due)
    assert (row.state, row.delivery_status, row.reason) == (
        NotificationState.FAILED,
        "failed",
        "whatsapp 132015: Template is paused due to low quality",
    )
    template = session.query(WhatsAppTemplate).one()
    assert template.status == "PAUSED"
