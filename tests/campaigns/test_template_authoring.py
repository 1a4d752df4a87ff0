"""An owner's own marketing template: linted against Meta's rules, uploaded, submitted, shown."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.campaigns import drafts, lifecycle
from plugin.campaigns.errors import CampaignError
from plugin.config import Settings
from plugin.consent.replies import OPT_OUT_PAYLOAD
from plugin.db import Database
from plugin.engine.dispatch import dispatch_due
from plugin.models import Store, WhatsAppTemplate
from plugin.whatsapp.templates.authoring import Draft, lint
from tests.campaigns.test_campaigns import NOW
from tests.factories import make_customer, make_subscription
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import (
    APP_SECRET,
    WABA_ID,
    fake_meta,
    for_shop,
    load,
    meta,
    post_webhook,
    shop,
)

__all__ = ["fake_meta", "meta", "shop"]  # the Graph API fake and the shop on it

APP_ID = "1234567890"
#: A PNG signature and some bytes: the upload API takes any bytes of the announced length.
PNG = b"\x89PNG\r\n\x1a\n" + bytes(56)


@pytest.fixture
def app_overrides(meta: tuple[FakeMeta, str]) -> dict[str, Any]:
    return {
        "graph_api_url": meta[1],
        "whatsapp_app_secret": APP_SECRET,
        "whatsapp_api_version": "v23.0",
        "whatsapp_app_id": APP_ID,
        "public_url": "https://nudge.example",
        "http_timeout": 2.0,
    }


def draft(body: str, **options: object) -> Draft:
    return Draft(name="winter_sale", language="de", body=body, **options)  # type: ignore[arg-type]


def test_lint_accepts_placeholders_from_the_whitelist_inside_words() -> None:
    assert lint(draft("Hallo {{first_name}}, bei {{shop_name}} ist jetzt Winterschluss.")) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ("{{first_name}}, bei uns ist jetzt Winterschlussverkauf", "may not start"),
        ("Bei uns ist jetzt Winterschlussverkauf, {{first_name}}!", "may not end"),
        ("Hallo {{first_name}} {{shop_name}} hat heute Sale für dich", "words between them"),
        ("Hallo {{vorname}}, bei uns ist jetzt Winterschlussverkauf", "unknown placeholder"),
        ("Hallo {{first_name, bei uns ist jetzt Winterschlussverkauf", "not closed"),
        ("Hi {{first_name}} und {{shop_name}} da", "placeholders need at least 5 words"),
        ("Hallo, dein Code {{coupon_code}} gilt heute.", "needs the coupon option"),
        ("x" * 1025, "the body has 1025 characters; Meta allows 1024"),
    ],
)
def test_lint_names_each_broken_rule(body: str, problem: str) -> None:
    problems = lint(draft(body))
    assert any(problem in p for p in problems), problems


def test_lint_refuses_a_name_meta_refuses() -> None:
    problems = lint(Draft(name="Winter Sale", language="de", body="Jetzt gibt es Rabatt."))
    assert problems == ["the name may only hold lowercase letters, digits and underscores"]


def test_cli_uploads_the_header_submits_numbered_placeholders_and_webhook_approves(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    client: object,
    tmp_path: Path,
) -> None:
    # given an image and a body with named placeholders
    image = tmp_path / "winter.png"
    image.write_bytes(PNG)
    body = "Hallo {{first_name}}, mit {{coupon_code}} sparst du bei {{shop_name}} im Winter."

    # when the owner creates the template from the command line
    result = runner.invoke(
        args=["templates", "create", str(shop.id), "--name", "winter_sale", "--language", "de",
              "--body", body, "--header-image", str(image), "--button-url", "--coupon"]
    )  # fmt: skip

    # then the image went through one upload session and its handle is the header example
    assert result.exit_code == 0, result.output
    assert "winter_sale (de): PENDING" in result.output
    opened = [r for r in fake_meta.requests if r.path == f"/v23.0/{APP_ID}/uploads"]
    assert [r.args for r in opened] == [
        {"file_name": "winter.png", "file_length": str(len(PNG)), "file_type": "image/png"}
    ]
    (handle, uploaded), *_ = fake_meta.upload_handles.items()
    assert uploaded["data"] == PNG
    posts = [r for r in fake_meta.requests if r.path == f"/v23.0/{WABA_ID}/message_templates"]
    assert len(posts) == 1 and fake_meta.refused == []
    assert posts[0].json == {
        "name": "winter_sale",
        "language": "de",
        "category": "MARKETING",
        "components": [
            {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": [handle]}},
            {
                "type": "BODY",
                "text": "Hallo {{1}}, mit {{2}} sparst du bei {{3}} im Winter.",
                "example": {"body_text": [["Erika", "WINTER10", "Bohne & Blatt"]]},
            },
            {
                "type": "BUTTONS",
                "buttons": [
                    {"type": "COPY_CODE", "example": "WINTER10"},
                    {
                        "type": "URL",
                        "text": "Zum Angebot",
                        "url": "https://nudge.example/r/{{1}}",
                        "example": ["https://nudge.example/r/AbC123"],
                    },
                    {"type": "QUICK_REPLY", "text": "Keine Werbung"},
                ],
            },
        ],
    }
    row = session.scalars(
        select(WhatsAppTemplate).where(WhatsAppTemplate.store_id == shop.id)
    ).one()
    assert (row.status, row.purpose, row.category) == ("PENDING", "campaign", "MARKETING")
    assert row.components[1]["shopnudge_parameters"] == ["first_name", "coupon_code", "shop_name"]

    # and Meta's approval webhook makes it usable
    payload = load("meta_documented.json", "message_template_status_update_approved")
    value = payload["entry"][0]["changes"][0]["value"]
    value.update(
        message_template_name="winter_sale",
        message_template_language="de",
        event="APPROVED",
        reason="NONE",
        message_template_id=row.meta_template_id,
    )
    post_webhook(client, for_shop(payload))  # type: ignore[arg-type]
    session.expire_all()
    assert session.get(WhatsAppTemplate, row.id).status == "APPROVED"  # type: ignore[union-attr]


def test_cli_refuses_a_broken_template_with_every_reason_and_sends_nothing(
    session: Session, shop: Store, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    result = runner.invoke(
        args=["templates", "create", str(shop.id), "--name", "winter_sale", "--language", "de",
              "--body", "{{first_name}}: {{coupon_code}}"]
    )  # fmt: skip
    assert result.exit_code == 2
    assert "the body may not start with a placeholder" in result.output
    assert "the body may not end with a placeholder" in result.output
    assert "{{coupon_code}} needs the coupon option" in result.output
    assert fake_meta.requests == []
    assert session.scalars(select(WhatsAppTemplate)).all() == []


def test_upload_refuses_bytes_that_are_not_the_announced_length(
    shop: Store, fake_meta: FakeMeta, app: Flask, tmp_path: Path
) -> None:
    from plugin.whatsapp.channel import SendError
    from plugin.whatsapp.client import GraphClient
    from plugin.whatsapp.uploads import _send_bytes

    with app.app_context():
        client = GraphClient(fake_meta.token, app.config["SHOPNUDGE"])
        opened = client.request(
            "POST",
            f"{APP_ID}/uploads",
            params={"file_name": "a.png", "file_length": 10, "file_type": "image/png"},
        )
        with pytest.raises(SendError) as refused:
            _send_bytes(client, opened["id"], b"12345")
    assert refused.value.code == 100
    assert fake_meta.upload_handles == {}


def test_campaign_with_an_owner_template_fills_names_coupon_button_and_stop_reply(
    app: Flask,
    database: Database,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    runner: FlaskCliRunner,
    settings: Settings,
) -> None:
    # given the owner's approved template, with the shop name before the first name
    body = "Bei {{shop_name}} wartet ein Geschenk auf dich, {{first_name}}, nur diese Woche."
    created = runner.invoke(
        args=["templates", "create", str(shop.id), "--name", "gift", "--language", "de",
              "--body", body, "--coupon", "--button-url"]
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    session.expire_all()
    session.scalars(select(WhatsAppTemplate)).one().status = "APPROVED"
    buyer = make_customer(session, shop, phone="+4915111100001", first_name="Jana")
    make_subscription(session, shop, "+4915111100001", customer_id=buyer.id, confirmed_at=NOW)
    session.commit()

    # when a campaign with one coupon code goes out
    campaign = drafts.create_campaign(session, shop, name="Gift", template="gift", coupon="GIFT5")
    lifecycle.start_campaign(session, settings, shop, campaign, NOW, None)
    session.commit()
    with app.app_context():
        dispatched = dispatch_due(database, app.config["SHOPNUDGE"], NOW + dt.timedelta(minutes=1))

    # then Meta got the names in the template's order, the code and our opt-out payload
    assert dispatched.sent == 1
    (send,) = fake_meta.sends()
    assert fake_meta.refused == []
    components = send.json["template"]["components"]
    assert components[0] == {
        "type": "body",
        "parameters": [{"type": "text", "text": "Bohne & Blatt"}, {"type": "text", "text": "Jana"}],
    }
    assert components[1] == {
        "type": "button",
        "sub_type": "copy_code",
        "index": "0",
        "parameters": [{"type": "coupon_code", "coupon_code": "GIFT5"}],
    }
    assert components[2]["sub_type"] == "url" and components[2]["index"] == "1"
    assert components[3] == {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "2",
        "parameters": [{"type": "payload", "payload": OPT_OUT_PAYLOAD}],
    }


def test_campaign_refuses_an_owner_template_with_a_coupon_button_but_no_code(
    session: Session, shop: Store, runner: FlaskCliRunner
) -> None:
    body = "Bei uns wartet diese Woche ein Geschenk auf dich, schau vorbei."
    runner.invoke(
        args=["templates", "create", str(shop.id), "--name", "gift", "--language", "de",
              "--body", body, "--coupon"]
    )  # fmt: skip
    session.expire_all()
    session.scalars(select(WhatsAppTemplate)).one().status = "APPROVED"
    with pytest.raises(CampaignError, match="give --coupon"):
        drafts.create_campaign(session, shop, name="Gift", template="gift")
