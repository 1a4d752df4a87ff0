"""The owner's campaign API over HTTP: scoped to the signed-in shop, CSRF-checked, clear 4xx."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts
from plugin.models import Campaign, Notification, Store
from tests.campaigns.test_campaigns import CONFIRMED, shop
from tests.campaigns.test_unique_coupons import BODY as CODE_BODY
from tests.campaigns.test_unique_coupons import BUTTONS as CODE_BUTTONS
from tests.factories import make_store, make_template
from tests.owner import csrf_headers, sign_in

API = "/api/v1/admin/campaigns"
WINTER = {"name": "Winter", "template": "winter_sale", "window": "09:00-20:00"}


def signed_in(client: FlaskClient, session: Session) -> tuple[Store, dict[str, str]]:
    store = shop(session)
    sign_in(client, session, store)
    return store, csrf_headers(client)


def outbox_count(session: Session, store: Store) -> int:
    session.expire_all()
    return session.scalar(
        select(func.count()).select_from(Notification).where(Notification.store_id == store.id)
    )


def test_create_list_and_read_a_campaign_of_the_signed_in_shop(
    client: FlaskClient, session: Session
) -> None:
    _, headers = signed_in(client, session)

    created = client.post(API, json=WINTER | {"holdout_percent": 12.5}, headers=headers)

    assert created.status_code == 201, created.get_data(as_text=True)
    campaign = created.get_json()
    assert {
        k: campaign[k] for k in ("name", "status", "template", "window", "holdout_percent")
    } == {
        "name": "Winter",
        "status": "draft",
        "template": "winter_sale",
        "window": "09:00-20:00",
        "holdout_percent": 12.5,
    }
    assert campaign["segment"] == {"rules": []}
    listed = client.get(API).get_json()["campaigns"]
    assert [c["id"] for c in listed] == [campaign["id"]]
    shown = client.get(f"{API}/{campaign['id']}").get_json()
    assert shown["results"]["sent"] == 0
    assert shown["results"]["pending"] == 0


def test_bad_segment_and_non_marketing_template_answer_422_with_the_mistake_and_write_nothing(
    client: FlaskClient, session: Session
) -> None:
    _, headers = signed_in(client, session)
    bad_segment = {"rules": [{"rule": "orders", "min": 3, "max": 1}]}
    huge = {"rules": [{"rule": "engaged", "within_days": 10**30}]}

    answers = [
        client.post(API, json=WINTER | {"segment": bad_segment}, headers=headers),
        client.post(API, json=WINTER | {"segment": huge}, headers=headers),
        client.post(API, json=WINTER | {"template": "notice"}, headers=headers),
        client.post(API, json=WINTER | {"window": "19:00-10:00"}, headers=headers),
        client.post(API, json={"name": "No template"}, headers=headers),
    ]

    assert [a.status_code for a in answers] == [422] * 5
    messages = [a.get_json()["message"] for a in answers]
    assert messages[0] == 'segment: rule 1 (orders): "min" is greater than "max"'
    assert messages[1] == "segment: rule 1 (engaged): 'within_days' must be at most 36500"
    assert messages[2].startswith("no approved MARKETING template 'notice' in this shop")
    assert messages[3] == "the window is HH:MM-HH:MM with the start before the end"
    assert messages[4] == "template: required"
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0


def test_a_cookie_session_without_csrf_token_changes_nothing(
    client: FlaskClient, session: Session
) -> None:
    store, _ = signed_in(client, session)
    campaign = drafts.create_campaign(session, store, name="Held", template="winter_sale")
    session.commit()

    refused = [
        client.post(API, json=WINTER),
        client.post(f"{API}/{campaign.id}/start"),
    ]

    assert [r.status_code for r in refused] == [400, 400]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert session.get(Campaign, campaign.id).status == "draft"  # type: ignore[union-attr]
    assert outbox_count(session, store) == 0


def test_another_shops_campaign_answers_404_to_every_route_and_is_untouched(
    client: FlaskClient, session: Session
) -> None:
    _, headers = signed_in(client, session)
    other = make_store(session, domain="other-shop.myshopify.com")
    make_template(session, other, "campaign", name="winter_sale")
    session.commit()
    theirs = drafts.create_campaign(session, other, name="Theirs", template="winter_sale")
    session.commit()

    answers = [client.get(f"{API}/{theirs.id}")] + [
        client.post(f"{API}/{theirs.id}/{action}", headers=headers)
        for action in ("preview", "start", "pause", "cancel")
    ]

    assert [a.status_code for a in answers] == [404] * 5
    assert client.get(API).get_json() == {"campaigns": []}
    session.expire_all()
    assert session.get(Campaign, theirs.id).status == "draft"  # type: ignore[union-attr]
    assert outbox_count(session, other) == 0


def test_preview_start_pause_resume_cancel_and_a_cancelled_start_is_409(
    client: FlaskClient, session: Session
) -> None:
    store, headers = signed_in(client, session)
    campaign_id = client.post(API, json=WINTER, headers=headers).get_json()["id"]
    at = "2026-12-08T09:00:00+00:00"  # a later day, so nothing is due while the test runs

    previewed = client.post(f"{API}/{campaign_id}/preview", headers=headers)
    written_by_preview = outbox_count(session, store)
    started = client.post(f"{API}/{campaign_id}/start", json={"at": at}, headers=headers)
    again = client.post(f"{API}/{campaign_id}/start", headers=headers)
    after_start = outbox_count(session, store)
    paused = client.post(f"{API}/{campaign_id}/pause", headers=headers)
    paused_twice = client.post(f"{API}/{campaign_id}/pause", headers=headers)
    resumed = client.post(f"{API}/{campaign_id}/start", headers=headers)
    cancelled = client.post(f"{API}/{campaign_id}/cancel", headers=headers)
    restarted = client.post(f"{API}/{campaign_id}/start", headers=headers)

    figures = previewed.get_json()
    assert (figures["segment_size"], figures["audience"]) == (7, 4)
    assert figures["excluded"] == {"erased": 1, "not_confirmed": 1, "opted_out": 1}
    assert figures["cost_micros"] == {"EUR": 4 * 113_100}
    assert written_by_preview == 0
    assert started.status_code == 200
    assert started.get_json()["pending"] == 4
    assert started.get_json()["campaign"]["starts_at"].startswith("2026-12-08T09:00:00")
    assert (again.status_code, again.get_json()["pending"]) == (200, 4)
    assert after_start == 4  # three consent exclusions get no row; the second start adds none
    assert (paused.status_code, paused.get_json()["held"]) == (200, 4)
    assert paused.get_json()["campaign"]["status"] == "paused"
    assert paused_twice.status_code == 409
    assert "only a running campaign can be paused" in paused_twice.get_json()["message"]
    assert (resumed.get_json()["pending"], resumed.get_json()["campaign"]["status"]) == (
        4,
        "running",
    )
    assert (cancelled.status_code, cancelled.get_json()["held"]) == (200, 4)
    assert restarted.status_code == 409
    assert restarted.get_json()["message"] == "the campaign was cancelled"
    assert outbox_count(session, store) == 4
    shown = client.get(f"{API}/{campaign_id}").get_json()
    assert shown["results"]["skipped"] == {"campaign_cancelled": 4}
    assert shown["results"]["sent"] == 0


def test_start_refuses_a_time_without_offset_and_a_body_that_is_not_an_object(
    client: FlaskClient, session: Session
) -> None:
    store, headers = signed_in(client, session)
    campaign_id = client.post(API, json=WINTER, headers=headers).get_json()["id"]

    naive = client.post(
        f"{API}/{campaign_id}/start", json={"at": "2026-12-08T09:00"}, headers=headers
    )
    listed = client.post(f"{API}/{campaign_id}/start", json=[1], headers=headers)

    assert naive.status_code == 422
    assert naive.get_json()["message"].startswith("at: an ISO 8601 time with its offset")
    assert listed.status_code == 400
    assert outbox_count(session, store) == 0


def test_unique_coupons_over_the_api_follow_the_clis_rules_and_a_refusal_writes_nothing(
    client: FlaskClient, session: Session
) -> None:
    store, headers = signed_in(client, session)
    make_template(
        session, store, "campaign", name="winter_code", components=[CODE_BODY, CODE_BUTTONS]
    )
    session.commit()
    code = {"name": "Codes", "template": "winter_code"}

    created = client.post(API, json=code | {"unique_coupon_percent": 15}, headers=headers)
    refused = [
        client.post(API, json=code | {"unique_coupon_percent": 15, "coupon": "X"}, headers=headers),
        client.post(API, json=code | {"unique_coupon_percent": 0}, headers=headers),
        client.post(API, json=code | {"unique_coupon_percent": 101}, headers=headers),
        client.post(API, json=code | {"unique_coupon_percent": 12.5}, headers=headers),
        client.post(API, json=code, headers=headers),
        client.post(API, json=WINTER | {"unique_coupon_percent": 15}, headers=headers),
    ]

    assert created.status_code == 201, created.get_data(as_text=True)
    described = created.get_json()
    assert (described["coupon"], described["unique_coupon_percent"]) == (None, 15)
    assert client.get(API).get_json()["campaigns"][0]["unique_coupon_percent"] == 15
    assert [r.status_code for r in refused] == [422] * 6
    assert [r.get_json()["message"] for r in refused] == [
        "give one coupon code for all or unique codes, not both",
        "unique_coupon_percent: minimum 1",
        "unique_coupon_percent: maximum 100",
        "unique_coupon_percent: type",
        "the template shows a coupon code: give --coupon CODE or --unique-coupon PERCENT",
        "unique codes need a template that shows the coupon code",
    ]
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Campaign)) == 1
    assert session.get(Campaign, described["id"]).coupon_percent_off == 15  # type: ignore[union-attr]


def test_test_send_over_the_api_queues_one_message_to_the_owners_confirmed_number_only(
    client: FlaskClient, session: Session
) -> None:
    store, headers = signed_in(client, session)
    campaign_id = client.post(API, json=WINTER, headers=headers).get_json()["id"]
    owner = CONFIRMED[0]  # the owner opted in with their own number like any buyer
    url = f"{API}/{campaign_id}/test-send"

    refused = [
        client.post(url, json={"phone": "+4915111100008"}, headers=headers),  # pending
        client.post(url, json={"phone": "+4915111100009"}, headers=headers),  # opted out
        client.post(url, json={"phone": "not a number"}, headers=headers),
        client.post(url, json={}, headers=headers),
        client.post(url, json={"phone": owner}),  # no CSRF token
    ]
    written_by_refusals = outbox_count(session, store)
    sent = client.post(url, json={"phone": "0151 11100001"}, headers=headers)

    assert [r.status_code for r in refused] == [422, 422, 422, 422, 400]
    messages = [r.get_json()["message"] for r in refused[:4]]
    assert messages[0].startswith("+4915111100008 has not confirmed WhatsApp marketing")
    assert messages[1].startswith("+4915111100009 has not confirmed WhatsApp marketing")
    assert messages[2].startswith("the test number: ")
    assert messages[3] == "phone: required"
    assert written_by_refusals == 0
    assert sent.status_code == 202, sent.get_data(as_text=True)
    answer = sent.get_json()
    assert (answer["phone"], answer["state"]) == (owner, "pending")
    session.expire_all()
    (row,) = session.scalars(select(Notification).where(Notification.store_id == store.id))
    assert (row.id, row.flow, row.phone) == (answer["notification_id"], "campaign_test", owner)
    shown = client.get(f"{API}/{campaign_id}").get_json()
    assert (shown["status"], shown["results"]["pending"], shown["results"]["sent"]) == (
        "draft",
        0,
        0,
    )


def test_test_send_of_another_shops_campaign_answers_404_and_sends_nothing(
    client: FlaskClient, session: Session
) -> None:
    _, headers = signed_in(client, session)
    other = make_store(session, domain="other-shop.myshopify.com")
    make_template(session, other, "campaign", name="winter_sale")
    session.commit()
    theirs = drafts.create_campaign(session, other, name="Theirs", template="winter_sale")
    session.commit()

    answer = client.post(
        f"{API}/{theirs.id}/test-send", json={"phone": CONFIRMED[0]}, headers=headers
    )

    assert answer.status_code == 404
    assert outbox_count(session, other) == 0
