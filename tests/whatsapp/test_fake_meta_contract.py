"""The fake Graph API checks every body against Meta's OpenAPI description, as Meta would.

It accepts Meta's own examples (where the description and its examples agree), refuses an
unknown enum value, an unknown field and a missing required field with Meta's error shape, and
accepts every body ShopNudge sends.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.models import Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp.client import CloudChannel
from plugin.whatsapp.parameters import template_message
from plugin.whatsapp.templates.catalog import ensure_default_templates
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import MetaContract, meta_contract
from tests.fakes.server import LocalServer
from tests.vendor import vendor_file
from tests.whatsapp.conftest import PHONE_NUMBER_ID, WABA_ID

#: Meta's send examples that its own description refuses for reasons other than the known
#: defects it lists (those are corrected by the validator): the description requires what the
#: examples leave out. The fake keeps the description's rule; ShopNudge sends every one of these
#: fields. Each entry is the refusal expected, so a change in the spec shows up here.
SEND_EXAMPLES_THE_SPEC_REFUSES = {
    "Send Catalog Template Message": "'policy' is a required property",
    "Send Message Template Interactive": "'policy' is a required property",
    "Send Message Template Media": "'policy' is a required property",
    "Send Message Template Text": "'policy' is a required property",
    "Send Sample Shipping Confirmation Template": "'policy' is a required property",
    "Send Sample Text Message": "'policy' is a required property",
    "Send Contact Message": "'recipient_type' is a required property",
    "Send Flow Template Message": "'recipient_type' is a required property",
    "Send Reply to Contact Message": "'recipient_type' is a required property",
    "Send Sample Issue Resolution Template": "'recipient_type' is a required property",
    "Send Test Message": "'recipient_type' is a required property",
    "Send Reply to List Message": "'type' is a required property",
    "Send Text Message with Preview URL": "'type' is a required property",
    "Send typing indicator and read receipt": "'type' is a required property",
    "Send Location Message": "-122.425332 is not of type 'string'",
    "Send Reply to Location Message": "-122.425332 is not of type 'string'",
    "Send Multi-Product Message": "'<HEADER_TYPE>' is not one of",
    "Send Order Details Message": "'order_details' is not one of",
    "Send Order Status Message": "'order_status' is not one of",
}


def examples(name: str) -> dict[str, Any]:
    return json.loads(vendor_file("meta", f"meta-{name}-examples-v23.0.json").read_text())


def contract() -> MetaContract:
    vendor_file("meta", "meta-business-messaging-api_v23.0.yaml")
    found = meta_contract()
    assert found is not None
    return found


def template_body(**template: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915123456789",
        "type": "template",
        "template": {"name": "t", "language": {"policy": "deterministic", "code": "de"}} | template,
    }


def post(url: str, fake: FakeMeta, path: str, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{url}/v23.0/{path}",
        json=body,
        headers={"Authorization": f"Bearer {fake.token}"},
        timeout=5,
    )


def test_the_validator_accepts_metas_own_send_examples() -> None:
    validator = contract()

    outcomes = {
        name: validator.refusal("sendMessage", body)
        for name, body in examples("send-message").items()
    }

    refused = {name: str(refusal) for name, refusal in outcomes.items() if refusal is not None}
    assert sorted(refused) == sorted(SEND_EXAMPLES_THE_SPEC_REFUSES)
    for name, expected in SEND_EXAMPLES_THE_SPEC_REFUSES.items():
        assert refused[name].startswith(expected), (name, refused[name])
    assert len(outcomes) - len(refused) == 31  # text, media, interactive, reaction, template…
    # the known defects are corrected, not skipped: these failed on them before
    assert outcomes["Send Text Message"] is None
    assert outcomes["Send Reply Button"] is None  # interactive, the same allOf defect


def test_the_validator_accepts_metas_own_template_creation_examples() -> None:
    validator = contract()

    refused = {
        name: validator.refusal("createTemplate", body)
        for name, body in examples("create-template").items()
    }

    assert len(refused) == 11
    assert {name: r for name, r in refused.items() if r is not None} == {}


def test_a_button_index_of_zero_passes_despite_the_specs_pattern() -> None:
    button = {
        "type": "button",
        "sub_type": "quick_reply",
        "index": "0",
        "parameters": [{"type": "payload", "payload": "x"}],
    }

    assert contract().refusal("sendMessage", template_body(components=[button])) is None
    assert contract().refusal("sendMessage", template_body(components=[button | {"index": "10"}]))


@pytest.mark.parametrize(
    ("path", "body", "details"),
    [
        pytest.param(
            f"{PHONE_NUMBER_ID}/messages",
            template_body() | {"type": "templat"},
            "'templat' is not one of ['audio', 'contacts', 'document', 'image', 'interactive', "
            "'location', 'reaction', 'sticker', 'template', 'text', 'video'] at param['type']",
            id="unknown enum value",
        ),
        pytest.param(
            f"{PHONE_NUMBER_ID}/messages",
            {
                "messaging_product": "whatsapp",
                "recipient_type": "individual",
                "to": "4915123456789",
                "type": "text",
                "text": {"body": "Hallo", "preview": False},
            },
            "Additional properties are not allowed ('preview' was unexpected) at param['text']",
            id="unknown field",
        ),
        pytest.param(
            f"{PHONE_NUMBER_ID}/marketing_messages",
            template_body() | {"ttl_seconds": 3600},
            "Additional properties are not allowed ('ttl_seconds' was unexpected)",
            id="unknown field on marketing_messages",
        ),
        pytest.param(
            f"{PHONE_NUMBER_ID}/messages",
            {k: v for k, v in template_body().items() if k != "messaging_product"},
            "'messaging_product' is a required property",
            id="missing messaging_product",
        ),
        pytest.param(
            f"{PHONE_NUMBER_ID}/messages",
            {k: v for k, v in template_body().items() if k != "to"},
            "'to' is a required property",
            id="missing to",
        ),
        pytest.param(
            f"{PHONE_NUMBER_ID}/messages",
            template_body(components=[{"type": "body", "parameters": ["Erika"]}]),
            "'Erika' is not of type 'object' at "
            "param['template']['components'][0]['parameters'][0]",
            id="a body parameter that is not a parameter object",
        ),
    ],
)
def test_the_fake_refuses_an_invalid_body_as_meta_does(
    meta: tuple[FakeMeta, str], path: str, body: dict[str, Any], details: str
) -> None:
    fake, url = meta
    contract()

    response = post(url, fake, path, body)

    assert response.status_code == 400
    assert response.json() == {
        "error": {
            "message": "(#100) Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "error_subcode": 2494010,
            "fbtrace_id": "AazfakeTraceId0123",
        }
    }
    assert fake.refused == [(f"/v23.0/{path}", details)]
    assert fake.in_flight == fake.most_in_flight == 0  # never reached the sending part


def test_a_template_submission_missing_its_schema_types_is_refused(
    meta: tuple[FakeMeta, str],
) -> None:
    fake, url = meta
    contract()

    response = post(url, fake, f"{WABA_ID}/message_templates", {"name": 7, "components": []})

    assert response.status_code == 400
    assert response.json()["error"]["error_data"]["details"] == (
        "7 is not of type 'string' at param['name']"
    )
    assert fake.templates == {}


def _account(session: Session, shop: Store) -> WhatsAppAccount:
    return session.scalars(select(WhatsAppAccount).where(WhatsAppAccount.store_id == shop.id)).one()


def test_every_body_shopnudge_sends_passes_the_contract(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta, runner: FlaskCliRunner
) -> None:
    contract()
    # given the default templates submitted for review, product images in their headers
    shop.settings = {**(shop.settings or {}), "whatsapp_example_image_handle": "4::aW1hZ2U="}
    session.commit()
    submitted = runner.invoke(args=["templates", "submit", str(shop.id)])
    assert submitted.exit_code == 0, submitted.output
    # when each is sent with its parameters filled, and a free-form reply too
    channel = CloudChannel(_account(session, shop), app.config["SHOPNUDGE"])
    rows = ensure_default_templates(session, shop, app.config["SHOPNUDGE"])
    for row in rows:
        body = [f"value {n}" for n in range(1, row.components[-2]["text"].count("{{") + 1)]
        image = row.components[0].get("format") == "IMAGE"
        channel.send_template(
            template_message(
                row,
                to="+4915123456789",
                body=body,
                notification_id=row.id,
                link_token="Xy7k",
                header_image="https://cdn.example.com/espresso.jpg" if image else None,
            )
        )
    channel.send_text("+4915123456789", "Danke, deine Anmeldung ist bestätigt.")
    # then Meta's description refused none of them
    assert fake_meta.refused == []
    assert len(fake_meta.sends()) == len(rows) + 1 == 9
    headers = [
        c["parameters"][0]["type"]
        for r in fake_meta.sends()
        for c in r.json.get("template", {}).get("components", [])
        if c["type"] == "header"
    ]
    assert headers == ["image"] * 4  # cart_reminder_1 and recommendation, de and en
    assert len([r for r in fake_meta.requests if r.path.endswith("/message_templates")]) == 8
    assert session.scalars(select(WhatsAppTemplate.status)).all() == ["PENDING"] * 8


@pytest.mark.parametrize("keep_alive", [True, False], ids=["keep-alive", "werkzeug"])
def test_a_send_cut_off_mid_body_is_no_request(keep_alive: bool) -> None:
    """A worker killed while writing a send leaves half a body and a closed connection: Meta
    never takes that as a request, so the fake neither records nor refuses it."""
    fake = FakeMeta()
    body = json.dumps(
        {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": "4915112345678",
            "type": "text",
            "text": {"body": "Hallo"},
        }
    ).encode()
    head = (
        f"POST /v23.0/{PHONE_NUMBER_ID}/messages HTTP/1.1\r\nHost: graph\r\n"
        f"Authorization: Bearer {fake.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with LocalServer(fake.app, keep_alive=keep_alive) as server:
        with socket.create_connection(("127.0.0.1", server.port)) as connection:
            connection.sendall(head + body[:20])
        # a whole send after it is taken, so the cut-off one had its chance to be recorded
        whole = requests.post(
            f"{server.url}/v23.0/{PHONE_NUMBER_ID}/messages",
            data=body,
            headers={"Authorization": f"Bearer {fake.token}", "Content-Type": "application/json"},
            timeout=10,
        )
    assert whole.status_code == 200
    assert [send.json for send in fake.sends()] == [json.loads(body)]
    assert fake.refused == []
