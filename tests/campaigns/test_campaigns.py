"""Campaigns below the CLI: segment, preview, start, the real dispatch, pause, results."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, forecast, lifecycle, segments
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.plan import into_window
from plugin.campaigns.results import campaign_results
from plugin.config import Settings
from plugin.db import Database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Customer, Notification, Store, SubscriptionState
from tests.factories import (
    make_customer,
    make_order,
    make_store,
    make_subscription,
    make_template,
    make_whatsapp_account,
)

#: A Monday, 11:00 in Berlin: inside the default window and outside quiet hours.
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
CONFIRMED = ("+4915111100001", "+4915111100002", "+4915111100003", "+4915111100004")
BODY = {"type": "BODY", "text": "Hallo {{1}}, bei {{2}} gibt es diese Woche 20 % auf alles."}


def shop(session: Session) -> Store:
    store = make_store(session)
    make_whatsapp_account(session, store)
    make_template(session, store, "campaign", name="winter_sale", components=[BODY])
    make_template(session, store, "notice", name="notice", category="UTILITY", components=[BODY])
    for phone in CONFIRMED:
        make_subscription(session, store, phone, confirmed_at=NOW - dt.timedelta(days=30))
    make_subscription(session, store, "+4915111100008", state=SubscriptionState.PENDING)
    make_subscription(session, store, "+4915111100009", state=SubscriptionState.OPTED_OUT)
    erased = make_customer(session, store, phone=None, erased_at=NOW - dt.timedelta(days=1))
    make_subscription(session, store, "+4915111100007", customer_id=erased.id)
    session.commit()
    return store


def rows(session: Session, store: Store) -> list[Notification]:
    session.expire_all()
    return list(
        session.scalars(
            select(Notification)
            .where(Notification.store_id == store.id, Notification.flow == "campaign")
            .order_by(Notification.id)
        )
    )


def test_segment_errors_name_the_rule_and_the_mistake() -> None:
    cases = {
        "nope": 'a segment is an object {"rules": [...]}',
        '{"rules": [{"rule": "age"}]}': 'rule 1: "rule" must be one of',
        '{"rules": [{"rule": "orders"}]}': 'rule 1 (orders): give "min", "max" or both',
        '{"rules": [{"rule": "orders", "min": 3, "max": 1}]}': '"min" is greater than "max"',
        '{"rules": [{"rule": "bought"}]}': 'give exactly one of "product" or "category"',
        '{"rules": [{"rule": "engaged"}]}': '"within_days" is required',
        '{"rules": [{"rule": "country", "in": []}]}': '"in" must be a non-empty list',
        '{"rules": [{"rule": "orders", "min": -1}]}': "'min' must be a whole number",
    }
    import json

    for text, message in cases.items():
        segment = json.loads(text) if text.startswith("{") else text
        with pytest.raises(segments.SegmentError) as caught:
            segments.validate(segment)
        assert message in str(caught.value), text


def bought(
    session: Session,
    store: Store,
    customer: Customer | None,
    total: int,
    days_ago: int,
    **fields: Any,
) -> None:
    order = make_order(session, store, customer, [], NOW - dt.timedelta(days=days_ago), **fields)
    order.total_minor = total
    session.flush()


def test_purchase_rules_count_a_buyers_orders_by_customer_and_number_once_each(
    session: Session,
) -> None:
    # given four buyers: one with two purchases besides a cancelled and a refunded order; one
    # whose orders came under their customer record, with no record and under another one (by
    # number); one known only by number, last ordered 400 days ago; and one who never ordered
    store = make_store(session)
    first, second = make_customer(session, store), make_customer(session, store)
    stranger = make_customer(session, store, phone="+4915111100099")
    one = make_subscription(session, store, "+4915111100001", customer_id=first.id)
    two = make_subscription(session, store, second.phone or "", customer_id=second.id)
    three = make_subscription(session, store, "+4915111100003")
    four = make_subscription(session, store, "+4915111100004")
    bought(session, store, first, 1000, 10)
    bought(session, store, first, 2000, 20)
    bought(session, store, first, 5000, 5, cancelled_at=NOW - dt.timedelta(days=4))
    bought(session, store, first, 5000, 6, status="Refunded")
    bought(session, store, second, 1500, 30)  # under the record and with the number: once
    bought(session, store, None, 700, 40, phone=second.phone)
    bought(session, store, stranger, 800, 50, phone=second.phone)
    bought(session, store, stranger, 100, 400, phone=three.phone)
    bought(session, store, stranger, 300, 420, phone=three.phone)
    session.commit()
    names = {one.id: "one", two.id: "two", three.id: "three", four.id: "four"}

    def matched(*rules: dict[str, Any]) -> set[str]:
        segment = {"rules": list(rules)}
        found = session.execute(segments.audience_query(store, segment, NOW)).all()
        counted = session.scalar(segments.count_query(store, segment, NOW))
        assert counted == len(found)
        return {names[subscription.id] for subscription, _ in found}

    # then each rule sees purchases only, every order once, by record or by number
    assert matched({"rule": "orders", "min": 2}) == {"one", "two", "three"}
    assert matched({"rule": "orders", "min": 3}) == {"two"}
    assert matched({"rule": "orders", "max": 0}) == {"four"}
    assert matched({"rule": "total_spent", "min": 3000}) == {"one", "two"}
    assert matched({"rule": "total_spent", "min": 3001}) == set()
    assert matched({"rule": "total_spent", "max": 400}) == {"three", "four"}
    assert matched({"rule": "days_since_last_order", "max": 365}) == {"one", "two"}
    assert matched({"rule": "days_since_last_order", "min": 100}) == {"three"}
    assert matched({"rule": "orders", "min": 2}, {"rule": "days_since_last_order", "max": 25}) == {
        "one"
    }


def test_campaign_reaches_each_confirmed_buyer_once_and_nobody_else(
    app: Flask, database: Database, session: Session, settings: Settings
) -> None:
    # given a shop with four confirmed, one pending, one opted-out and one erased buyer
    store = shop(session)
    campaign = drafts.create_campaign(session, store, name="Winter", template="winter_sale")
    session.commit()

    # when the owner previews, starts, and the dispatch runs three times (and start again)
    figures = forecast.preview(session, settings, store, campaign, NOW)
    lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    first = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))
    lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    again = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=2))
    later = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=3))

    # then exactly the confirmed buyers got it, once each; the preview said so, to the micro
    assert figures["segment_size"] == 7
    assert figures["audience"] == 4
    assert figures["excluded"] == {"erased": 1, "not_confirmed": 1, "opted_out": 1}
    assert figures["cost_micros"] == {"EUR": 4 * 113_100}
    assert figures["by_country"] == {
        "DE": {"recipients": 4, "cost_micros": 452_400, "currency": "EUR"}
    }
    assert (first.sent, again.sent, later.sent) == (4, 0, 0)
    sent = rows(session, store)
    assert sorted(r.phone for r in sent) == sorted(CONFIRMED)
    assert {r.state for r in sent} == {"sent"}
    assert sum(r.cost_micros or 0 for r in sent) == sum(figures["cost_micros"].values())
    assert sent[0].parameters["body"][1] == {"type": "text", "text": store.name or store.domain}
    assert forecast.preview(session, settings, store, campaign, NOW)["audience"] == 4
    assert campaign_results(session, store, campaign)["sent"] == 4


def test_start_answers_the_rows_it_made_pending_and_a_second_start_writes_nothing(
    session: Session,
    settings: Settings,
) -> None:
    # given a shop with four confirmed buyers (and three who may not get marketing)
    store = shop(session)
    campaign = drafts.create_campaign(session, store, name="Twice", template="winter_sale")
    session.commit()
    figures = forecast.preview(session, settings, store, campaign, NOW)

    # when the owner starts it, and starts it again
    first = lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    written = [(r.id, r.state, r.due_at) for r in rows(session, store)]
    second = lifecycle.start_campaign(
        session, settings, store, campaign, NOW + dt.timedelta(hours=1), None
    )
    session.commit()

    # then both answer the four pending rows the preview promised, and the outbox is unchanged
    assert first == second == figures["audience"] == 4
    assert [(r.id, r.state, r.due_at) for r in rows(session, store)] == written
    assert [state for _, state, _ in written] == ["pending"] * 4


def test_holdout_buyers_get_a_skipped_row_and_no_message(
    app: Flask, database: Database, session: Session, settings: Settings
) -> None:
    store = shop(session)
    for number in range(12):  # sixteen buyers: the stable split puts some on each side
        make_subscription(session, store, f"+49151222000{number:02d}")
    campaign = drafts.create_campaign(
        session, store, name="Half", template="winter_sale", holdout_percent=50
    )
    session.commit()
    figures = forecast.preview(session, settings, store, campaign, NOW)
    lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    counts = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))
    written = rows(session, store)
    held = [r for r in written if r.reason == "holdout"]
    assert held and len(held) < 16, "the stable split must put buyers on both sides"
    assert figures["excluded"]["holdout"] == len(held)
    assert counts.sent == figures["audience"] == 16 - len(held)
    assert {r.state for r in held} == {"skipped"}


def test_pause_holds_unsent_and_resume_sends_the_rest_without_duplicates(
    app: Flask, database: Database, session: Session, settings: Settings
) -> None:
    # given a campaign spread over 8 hours, of which the first 4 have gone by
    store = shop(session)
    campaign = drafts.create_campaign(
        session, store, name="Slow", template="winter_sale", spread_hours=8
    )
    session.commit()
    lifecycle.start_campaign(session, settings, store, campaign, NOW, None)
    session.commit()
    middle = NOW + dt.timedelta(hours=4)
    early = dispatch_due(database, app.config["SHOPNUDGE"], middle).sent

    # when the owner pauses, time passes, and the worker runs
    held = lifecycle.pause_campaign(session, store, campaign, middle)
    session.commit()
    during = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=9))

    # then nothing more goes; resumed at 20:00 in Berlin, the rest goes once at 10:00 next day
    assert during.sent == 0
    assert 0 < held == 4 - early
    lifecycle.start_campaign(session, settings, store, campaign, NOW + dt.timedelta(hours=9), None)
    session.commit()
    evening = dispatch_due(
        database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=9, minutes=1)
    )
    after = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(hours=24))
    assert (evening.sent, after.sent) == (0, held)
    assert sorted(r.phone for r in rows(session, store) if r.state == "sent") == sorted(CONFIRMED)


def test_cancel_ends_unsent_rows_and_start_refuses_afterwards(
    app: Flask, database: Database, session: Session, settings: Settings
) -> None:
    store = shop(session)
    campaign = drafts.create_campaign(session, store, name="Stop", template="winter_sale")
    session.commit()
    lifecycle.start_campaign(session, settings, store, campaign, NOW, NOW + dt.timedelta(days=1))
    assert lifecycle.cancel_campaign(session, store, campaign, NOW) == 4
    session.commit()
    assert dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(days=2)).sent == 0
    with pytest.raises(CampaignError, match="cancelled"):
        lifecycle.start_campaign(session, settings, store, campaign, NOW, None)


def test_only_an_approved_marketing_template_is_accepted(session: Session) -> None:
    store = shop(session)
    for name in ("notice", "missing"):
        with pytest.raises(CampaignError, match="no approved MARKETING template"):
            drafts.create_campaign(session, store, name="X", template=name)


@given(
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1),
        max_value=dt.datetime(2027, 12, 31),
        timezones=st.just(dt.UTC),
    ),
    st.sampled_from(["Europe/Berlin", "America/New_York", "Asia/Tokyo"]),
)
def test_a_send_slot_lies_in_the_buyer_window_and_never_before_its_moment(
    moment: dt.datetime, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    slot = into_window(moment, zone, "10:00", "19:00")
    local = slot.astimezone(zone)
    assert slot >= moment
    assert dt.time(10) <= local.time() < dt.time(19)
    assert slot - moment < dt.timedelta(hours=16)
