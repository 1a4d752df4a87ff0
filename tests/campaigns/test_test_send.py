"""A test send goes to the owner's own opted-in number, by the outbox, outside the results."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts
from plugin.campaigns.results import campaign_results
from plugin.db import Database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Notification
from tests.campaigns.test_campaigns import NOW, shop
from tests.factories import make_subscription

OWNER = "+4917600000001"


def test_test_send_reaches_the_owner_once_through_dispatch_and_stays_out_of_results(
    app: Flask, database: Database, session: Session, runner: FlaskCliRunner
) -> None:
    # given a draft campaign and the owner's own confirmed subscription
    store = shop(session)
    make_subscription(session, store, OWNER, confirmed_at=NOW - dt.timedelta(days=1))
    campaign = drafts.create_campaign(session, store, name="Winter", template="winter_sale")
    session.commit()

    # when the owner sends a test (the number typed as at home) and the dispatch runs
    result = runner.invoke(
        args=["campaigns", "test-send", str(store.id), str(campaign.id), "--to", "0176 00000001",
              "--now", NOW.isoformat()]
    )  # fmt: skip
    counts = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(seconds=1))

    # then exactly the owner's number got it, the campaign is still a draft, nothing counted
    assert result.exit_code == 0, result.output
    assert result.output.startswith("test message ")
    assert counts.sent == 1
    session.expire_all()
    (row,) = session.scalars(select(Notification)).all()
    assert (row.phone, row.flow, row.state) == (OWNER, "campaign_test", "sent")
    assert row.dedupe_key == f"campaign_test:{campaign.id}:1"
    assert campaign.status == "draft"
    figures = campaign_results(session, store, campaign)
    assert figures["sent"] == 0


def test_test_send_to_a_number_without_confirmed_opt_in_is_refused_and_writes_nothing(
    session: Session, runner: FlaskCliRunner
) -> None:
    store = shop(session)  # +4915111100008 is pending, +4915111100009 opted out
    campaign = drafts.create_campaign(session, store, name="Winter", template="winter_sale")
    session.commit()
    for phone in ("+4915111100008", "+4915111100009", "+4917699999999"):
        result = runner.invoke(
            args=["campaigns", "test-send", str(store.id), str(campaign.id), "--to", phone]
        )
        assert result.exit_code == 2
        assert f"{phone} has not confirmed WhatsApp marketing from this shop" in result.output
    session.expire_all()
    assert session.scalars(select(Notification)).all() == []
