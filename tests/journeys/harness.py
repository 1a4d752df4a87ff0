"""What a journey drives: our app on a real port, its CLI, and the vendors' contract-checked fakes.

A journey talks to ShopNudge only as the outside world does — HTTP requests signed as the
platforms sign them, the `shopnudge` commands an owner types, a browser on a storefront page —
and judges it only by what reached the fake vendors (above all, what reached Meta) and by what
the public surfaces answer. Payloads start from the vendors' documented examples.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from plugin.db import get_database
from plugin.models import WebhookDelivery
from tests.fakes.meta import FakeMeta
from tests.vendor import vendor_file

BERLIN = ZoneInfo("Europe/Berlin")
APP_SECRET = "journey-meta-app-secret"
VERIFY_TOKEN = "journey-verify-token"
PHONE_NUMBER_ID = "106540352242922"
WABA_ID = "102290129340398"
#: The shop's own WhatsApp number as Meta shows it in webhook metadata.
DISPLAY_NUMBER = "4930123456"


def journey_start() -> dt.datetime:
    """10:00 in Berlin tomorrow: after every consent recorded now, and far from quiet hours."""
    tomorrow = dt.datetime.now(BERLIN).date() + dt.timedelta(days=1)
    return dt.datetime.combine(tomorrow, dt.time(10, 0), BERLIN).astimezone(dt.UTC)


def daytime_from(moment: dt.datetime) -> dt.datetime:
    """`moment` if it is between 10:00 and 19:00 in Berlin, else the next 10:00 there: a tick
    then is outside the default quiet hours (20:00-09:00), whatever time the suite runs at."""
    local = moment.astimezone(BERLIN)
    if 10 <= local.hour < 19:
        return moment
    day = local.date() + dt.timedelta(days=1 if local.hour >= 19 else 0)
    return dt.datetime.combine(day, dt.time(10, 0), BERLIN).astimezone(dt.UTC)


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def shopify_example(topic: str) -> dict[str, Any]:
    """Shopify's documented example payload for a webhook topic (API 2026-07)."""
    folder, name = topic.split("/")
    path = vendor_file("shopify", "webhook-examples-2026-07", folder, f"{name}.json")
    document = json.loads(path.read_text())
    return copy.deepcopy(document["response"])


def meta_example(name: str) -> dict[str, Any]:
    """One of the webhook examples embedded in Meta's OpenAPI description, for our number."""
    examples = json.loads(vendor_file("meta", "meta-webhook-examples-v23.0.json").read_text())
    payload = copy.deepcopy(examples[name])
    for entry in payload["entry"]:
        entry["id"] = WABA_ID
        for change in entry["changes"]:
            metadata = change["value"].get("metadata")
            if metadata is not None:
                metadata.update(
                    phone_number_id=PHONE_NUMBER_ID, display_phone_number=DISPLAY_NUMBER
                )
    return payload


def digits(phone: str) -> str:
    """A number as Meta writes it (wa_id, `to`): digits only."""
    return phone.removeprefix("+")


class MetaAnswers:
    """Wraps the fake Graph API to keep what it answered to each send (the wamids it issued)."""

    def __init__(self) -> None:
        self.app: Callable[..., Any] | None = None
        self.wamids: list[tuple[str, str]] = []  # (recipient as sent, wamid)
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        assert self.app is not None
        body = b"".join(self.app(environ, start_response))
        if environ["REQUEST_METHOD"] == "POST" and environ["PATH_INFO"].endswith("messages"):
            answer = json.loads(body or b"{}")
            if "messages" in answer:
                with self._lock:
                    self.wamids.append(
                        (answer["contacts"][0]["input"], answer["messages"][0]["id"])
                    )
        return [body]

    def last_wamid(self, phone: str) -> str:
        return [wamid for to, wamid in self.wamids if to == digits(phone)][-1]


def eventually(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    """The first truthy result of check(): work after a webhook's answer runs just after it."""
    deadline = time.monotonic() + seconds
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.05)


@dataclass
class Journey:
    """One shop's world: ShopNudge at `url`, the fakes, and the owner's command line."""

    url: str
    runner: FlaskCliRunner
    meta: FakeMeta
    answers: MetaAnswers
    shopify_secret: str = ""
    http: requests.Session = field(default_factory=requests.Session)

    # -- the owner's command line -------------------------------------------------------------
    def cli(self, *args: str) -> str:
        result = self.runner.invoke(args=list(args))
        assert result.exit_code == 0, f"shopnudge {' '.join(args)}: {result.output}"
        return result.output

    def tick(self, moment: dt.datetime) -> None:
        self.cli("tick", "--now", iso(moment))

    def subscription(self, store: str, phone: str) -> dict[str, Any]:
        return json.loads(self.cli("subscriptions", "show", store, phone, "--json"))

    # -- what reached Meta --------------------------------------------------------------------
    def sends(self) -> list[tuple[str, str]]:
        """(recipient, template name or message type) of every send that reached Meta, in order."""
        return [
            (
                r.json.get("to") or r.json.get("recipient"),
                r.json["template"]["name"] if r.json.get("type") == "template" else r.json["type"],
            )
            for r in self.meta.sends()
        ]

    def last_send(self) -> Any:
        return self.meta.sends()[-1]

    # -- platforms and Meta calling us ----------------------------------------------------------
    def applied(self) -> None:
        """Wait until every webhook taken so far has been applied (it is, just after its
        answer), so that a tick which follows sees what they brought."""

        def pending() -> int:
            with get_database(self.runner.app).session() as session:
                return (
                    session.scalar(
                        select(func.count())
                        .select_from(WebhookDelivery)
                        .where(
                            WebhookDelivery.processed_at.is_(None), WebhookDelivery.attempts == 0
                        )
                    )
                    or 0
                )

        assert eventually(lambda: pending() == 0), "a webhook was not applied within 10 s"

    def shopify_webhook(self, topic: str, payload: dict[str, Any], domain: str) -> int:
        body = json.dumps(payload).encode()
        digest = hmac.new(self.shopify_secret.encode(), body, hashlib.sha256).digest()
        response = self.http.post(
            f"{self.url}/webhooks/shopify",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                "X-Shopify-Shop-Domain": domain,
                "X-Shopify-API-Version": "2026-07",
                "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                "X-Shopify-Event-Id": str(uuid.uuid4()),
                "X-Shopify-Triggered-At": iso(dt.datetime.now(dt.UTC)),
            },
            timeout=10,
        )
        return response.status_code

    def whatsapp_webhook(self, payload: dict[str, Any]) -> int:
        body = json.dumps(payload).encode()
        signature = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        response = self.http.post(
            f"{self.url}/webhooks/whatsapp",
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature-256": f"sha256={signature}",
            },
            timeout=10,
        )
        return response.status_code

    def buyer_message(self, phone: str, **message: Any) -> int:
        """The buyer writes to the shop (Meta's documented text/button message webhook)."""
        kind = message["type"]
        payload = meta_example("Button Message" if kind == "button" else "Text Message")
        value = payload["entry"][0]["changes"][0]["value"]
        value["contacts"][0]["wa_id"] = digits(phone)
        (inbound,) = value["messages"]
        inbound.clear()
        inbound.update(
            {
                "from": digits(phone),
                "id": f"wamid.in.{uuid.uuid4().hex}",
                "timestamp": str(int(dt.datetime.now(dt.UTC).timestamp())),
                **message,
            }
        )
        return self.whatsapp_webhook(payload)

    def tap_quick_reply(self, phone: str, send: Any, wamid: str, index: int = 0) -> int:
        """The buyer taps a template's quick-reply button: the payload we set comes back."""
        buttons = [
            c for c in send.json["template"].get("components", []) if c.get("type") == "button"
        ]
        quick = [b for b in buttons if b.get("sub_type") == "quick_reply"]
        payload = quick[index]["parameters"][0]["payload"]
        return self.buyer_message(
            phone,
            type="button",
            context={"from": DISPLAY_NUMBER, "id": wamid},
            button={"payload": payload, "text": payload},
        )

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.http.get(f"{self.url}{path}", timeout=10, allow_redirects=False, **kwargs)


class Storefront:
    """A shop's own page on another origin, embedding our widget as the README tells owners to."""

    def __init__(self) -> None:
        self.widget_url = ""
        self.extra_head = ""
        self.app = Flask("storefront")
        self.app.add_url_rule("/cart/<lang>", view_func=self._cart_page)

    def _cart_page(self, lang: str) -> str:
        return (
            f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f"<title>Warenkorb</title>{self.extra_head}</head><body><h1>Cart</h1>"
            "<div data-shopnudge-optin></div>"
            f'<script src="{self.widget_url}" async></script></body></html>'
        )


def opt_in_in_browser(
    page: Any, url: str, phone: str, *, label: str, button: str, answer: str
) -> None:
    """A buyer ticks the box, types the number and signs up; the widget gives `answer`."""
    from playwright.sync_api import expect

    page.goto(url)
    box = page.get_by_role("checkbox")
    expect(box).to_be_visible()
    expect(box).not_to_be_checked()
    box.check()
    page.get_by_label(label).fill(phone)
    page.get_by_role("button", name=button).click()
    expect(page.locator("[aria-live]")).to_have_text(answer)
