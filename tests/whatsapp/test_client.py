"""The Cloud API client against the fake Graph API: exact requests, errors, transport failures."""

from __future__ import annotations

import dataclasses
import socket

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.consent.replies import OPT_OUT_PAYLOAD
from plugin.models import Store, WhatsAppAccount, WhatsAppTemplate
from plugin.whatsapp.channel import (
    TRANSPORT,
    DryRunChannel,
    SendError,
    TemplateMessage,
)
from plugin.whatsapp.client import CloudChannel, channel_for, template_payload
from plugin.whatsapp.parameters import template_message
from plugin.whatsapp.templates.catalog import ensure_default_templates
from tests.fakes.meta import FakeMeta
from tests.whatsapp.conftest import PHONE_NUMBER_ID


def _account(session: Session, store: Store) -> WhatsAppAccount:
    return session.scalars(
        select(WhatsAppAccount).where(WhatsAppAccount.store_id == store.id)
    ).one()


def _template(session: Session, store: Store, app: Flask, purpose: str) -> WhatsAppTemplate:
    store.settings = {"whatsapp_example_image_handle": "4::aW1hZ2UvanBlZw==:ARb-example"}
    rows = ensure_default_templates(session, store, app.config["SHOPNUDGE"])
    return next(r for r in rows if r.purpose == purpose and r.language == "de")


def test_template_send_carries_every_kind_of_parameter(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # given the cart reminder: image header, link and unsubscribe URL buttons, opt-out quick reply
    template = _template(session, shop, app, "cart_reminder_1")
    message = template_message(
        template,
        to="+4915112345678",
        body=["Erika", "Bohne & Blatt", "Espresso Roast Beans 1 kg"],
        notification_id=42,
        header_image="https://cdn.example.com/beans.jpg",
        link_token="tok_Ab12",
    )

    # when it is sent through the shop's number
    wamid = channel_for(_account(session, shop), app.config["SHOPNUDGE"]).send_template(message)

    # then the fake received exactly this request
    assert wamid == "wamid.HBgLNDkxNTExMjM0NTY3FQIAERgS000000000001"
    [sent] = fake_meta.sends()
    assert sent.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"
    assert sent.headers["Authorization"] == f"Bearer {fake_meta.token}"
    assert sent.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915112345678",
        "type": "template",
        "template": {
            "name": "shopnudge_cart_reminder_1",
            "language": {"policy": "deterministic", "code": "de"},
            "components": [
                {
                    "type": "header",
                    "parameters": [
                        {"type": "image", "image": {"link": "https://cdn.example.com/beans.jpg"}}
                    ],
                },
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "Erika"},
                        {"type": "text", "text": "Bohne & Blatt"},
                        {"type": "text", "text": "Espresso Roast Beans 1 kg"},
                    ],
                },
                {
                    "type": "button",
                    "sub_type": "url",
                    "index": "0",
                    "parameters": [{"type": "text", "text": "tok_Ab12"}],
                },
                {  # the one-click unsubscribe link: the same token, another path
                    "type": "button",
                    "sub_type": "url",
                    "index": "1",
                    "parameters": [{"type": "text", "text": "tok_Ab12"}],
                },
                {
                    "type": "button",
                    "sub_type": "quick_reply",
                    "index": "2",
                    "parameters": [{"type": "payload", "payload": OPT_OUT_PAYLOAD}],
                },
            ],
        },
        "biz_opaque_callback_data": "42",
    }


def test_a_hidden_number_is_addressed_by_its_business_scoped_user_id() -> None:
    # Meta documents `recipient` for business-scoped user ids from 2026 on (the pinned v23.0
    # description predates it; the fake's contract adds it): tests/whatsapp/test_bsuid.py
    # sends such a body through the contract-checked fake.
    body = template_payload(
        TemplateMessage(to="US.13491208655302741918", template="t", language="en")
    )
    assert body["recipient"] == "US.13491208655302741918"
    assert "to" not in body
    assert "biz_opaque_callback_data" not in body


def test_free_text_reply_is_a_plain_text_message(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    channel = CloudChannel(_account(session, shop), app.config["SHOPNUDGE"])
    wamid = channel.send_text("+4915112345678", "Du bist abgemeldet.")
    assert wamid.startswith("wamid.")
    assert fake_meta.sends()[0].json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "4915112345678",
        "type": "text",
        "text": {"preview_url": False, "body": "Du bist abgemeldet."},
    }


def test_meta_error_body_becomes_send_error_with_its_code(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    fake_meta.fail_next_send(131050)
    channel = CloudChannel(_account(session, shop), app.config["SHOPNUDGE"])
    with pytest.raises(SendError) as raised:
        channel.send_text("+4915112345678", "hello")
    assert raised.value.code == 131050
    assert raised.value.title.startswith("Unable to deliver the message.")
    assert raised.value.details.endswith("(fake)")
    assert raised.value.maybe_sent is False


def test_a_wrong_token_is_error_190(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    account = _account(session, shop)
    account.token = "EAAG-revoked"
    with pytest.raises(SendError) as raised:
        CloudChannel(account, app.config["SHOPNUDGE"]).send_text("+4915112345678", "hi")
    assert raised.value.code == 190


def test_refused_connection_did_not_reach_meta(app: Flask, session: Session, shop: Store) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = dataclasses.replace(
        app.config["SHOPNUDGE"], graph_api_url=f"http://127.0.0.1:{port}"
    )
    with pytest.raises(SendError) as raised:
        CloudChannel(_account(session, shop), settings).send_text("+4915112345678", "hi")
    assert (raised.value.code, raised.value.maybe_sent) == (TRANSPORT, False)
    assert raised.value.transport  # our network, not Meta's code 0 (AuthException)


def test_a_proxy_set_in_the_environment_carries_the_calls(
    app: Flask,
    session: Session,
    shop: Store,
    fake_meta: FakeMeta,
    meta: tuple[FakeMeta, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given HTTP_PROXY names the fake (standing in for a proxy) and Meta's host is elsewhere
    for name in ("NO_PROXY", "no_proxy", "HTTP_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("http_proxy", meta[1])
    settings = dataclasses.replace(
        app.config["SHOPNUDGE"], graph_api_url="http://graph.proxied.example"
    )
    # when a message is sent
    CloudChannel(_account(session, shop), settings).send_text("+4915112345678", "hi")
    # then it went through the proxy, addressed to Meta's host
    [sent] = fake_meta.sends()
    assert sent.headers["Host"] == "graph.proxied.example"
    assert sent.path == f"/v23.0/{PHONE_NUMBER_ID}/messages"


def test_no_answer_after_sending_may_have_been_sent(
    app: Flask, session: Session, shop: Store, fake_meta: FakeMeta
) -> None:
    # given Meta takes longer to answer than our read timeout
    fake_meta.stall_seconds = 1.0
    settings = dataclasses.replace(app.config["SHOPNUDGE"], http_timeout=0.3)
    with pytest.raises(SendError) as raised:
        CloudChannel(_account(session, shop), settings).send_text("+4915112345678", "hi")
    # then the request reached Meta: it must never be resent blindly
    assert (raised.value.code, raised.value.maybe_sent) == (TRANSPORT, True)
    assert len(fake_meta.sends()) == 1


def test_dry_run_records_instead_of_sending(fake_meta: FakeMeta) -> None:
    channel = DryRunChannel()
    channel.send_text("+4915112345678", "hi")
    assert channel.texts == [("+4915112345678", "hi")]
    assert fake_meta.requests == []
