"""The owner's template editor page: preview, lint beside the form, submit, status as it moves."""

from __future__ import annotations

import html
import io

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import Store, WhatsAppTemplate
from tests.campaigns.test_template_authoring import APP_ID, PNG, app_overrides
from tests.fakes.meta import FakeMeta
from tests.owner import csrf_token, sign_in
from tests.whatsapp.conftest import WABA_ID, fake_meta, for_shop, load, meta, post_webhook, shop

__all__ = ["app_overrides", "fake_meta", "meta", "shop"]  # the Graph API fake, the shop on it
BODY = "Hallo {{first_name}}, bei {{shop_name}} gibt es diese Woche 20 % auf alles."


def post(client: FlaskClient, action: str, **fields: object) -> tuple[int, str]:
    token = csrf_token(client.get("/app/templates").get_data(as_text=True))
    form = {"csrf_token": token, "name": "winter_sale", "language": "de", "body": BODY,
            "stop_button": "y", "action": action, **fields}  # fmt: skip
    response = client.post("/app/templates", data=form, content_type="multipart/form-data")
    return response.status_code, html.unescape(response.get_data(as_text=True))


def test_preview_fills_the_placeholders_with_examples_and_submits_nothing(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    sign_in(client, session, shop)
    status, page = post(client, "preview", button_url="y")
    assert status == 200
    assert "Hallo Erika, bei Bohne & Blatt gibt es diese Woche 20 % auf alles." in page
    assert 'data-button="url"' in page and 'data-button="quick_reply"' in page
    assert [r for r in fake_meta.requests if r.method == "POST"] == []


def test_a_template_breaking_metas_rules_is_refused_with_each_reason_and_not_sent(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    sign_in(client, session, shop)
    status, page = post(client, "submit", body="{{first_name}}, heute {{coupon_code}}")
    assert status == 422
    assert "the body may not start with a placeholder" in page
    assert "{{coupon_code}} needs the coupon option" in page
    assert fake_meta.requests == [] or all(r.method == "GET" for r in fake_meta.requests)
    assert session.scalars(select(WhatsAppTemplate)).all() == []


def test_submitted_template_with_image_shows_pending_then_approved(
    client: FlaskClient, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # when the owner submits a template with an image header
    sign_in(client, session, shop)
    status, _ = post(client, "submit", header_image=(io.BytesIO(PNG), "winter.png"))

    # then the image was uploaded, the template submitted, and the list says PENDING
    assert status == 302
    assert [r.path for r in fake_meta.requests if r.method == "POST"] == [
        f"/v23.0/{APP_ID}/uploads",
        next(r.path for r in fake_meta.requests if r.path.startswith("/v23.0/upload:")),
        f"/v23.0/{WABA_ID}/message_templates",
    ]
    listed = html.unescape(client.get("/app/templates").get_data(as_text=True))
    assert 'data-template="winter_sale:de"' in listed and 'data-status="PENDING"' in listed

    # and Meta's approval shows up on the page
    payload = load("meta_documented.json", "message_template_status_update_approved")
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(message_template_name="winter_sale", message_template_language="de",
                 event="APPROVED", reason="NONE")  # fmt: skip
    post_webhook(client, for_shop(payload))
    listed = client.get("/app/templates").get_data(as_text=True)
    assert 'data-status="APPROVED"' in listed and 'data-status="PENDING"' not in listed
