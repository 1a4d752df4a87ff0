"""The only module that talks to Meta's Graph API: one request function, one error shape.

Every call goes through `GraphClient.request`, which turns Meta's error bodies into `SendError`
keyed by Meta's code and tells apart the two transport failures that matter for at-most-once:
the connection never opened (nothing reached Meta, safe to retry) and the answer never came
(the message may have been sent: `maybe_sent=True`, never resend blindly).

https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
"""

from __future__ import annotations

import datetime as dt
import json as jsonlib
import logging
import threading
from typing import Any
from urllib.parse import urlencode

from plugin.config import Settings
from plugin.db import Database
from plugin.models import WhatsAppAccount
from plugin.whatsapp import routing
from plugin.whatsapp.channel import (
    TRANSPORT,
    Accepted,
    Answer,
    Channel,
    DryRunChannel,
    Request,
    SendError,
    Steps,
    TemplateMessage,
)
from plugin.whatsapp.multiplex import Multiplexer, process_multiplexer

log = logging.getLogger(__name__)

USER_AGENT = "ShopNudge"


def error_from_response(answer: Answer) -> SendError:
    """Meta's error body ({"error": {"code", "message", "error_data": {"details"}}}) or HTTP."""
    try:
        error = jsonlib.loads(answer.body).get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    code = error.get("code") if isinstance(error, dict) else None
    if not isinstance(code, int):
        return SendError(answer.status, answer.reason or "HTTP error")
    message = str(error.get("message") or "")
    prefix = f"(#{code}) "
    title = error.get("error_user_title") or message.removeprefix(prefix) or "error"
    details = (error.get("error_data") or {}).get("details") or ""
    return SendError(code, str(title)[:200], details=str(details)[:500])


class GraphClient:
    """Bearer-token calls to the Graph API at the configured base URL and version."""

    def __init__(
        self, token: str, settings: Settings, multiplexer: Multiplexer | None = None
    ) -> None:
        self.token = token
        self.settings = settings
        self.multiplexer = multiplexer or process_multiplexer()
        self._headers = (f"Authorization: Bearer {token}", f"User-Agent: {USER_AGENT}")
        base = settings.graph_api_url.rstrip("/")
        self._base = f"{base}/{settings.whatsapp_api_version}/"

    def url(self, path: str) -> str:
        return self._base + path.lstrip("/")

    def prepare(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        data: bytes | None = None,
        extra_headers: dict[str, str] | None = None,
    ) -> Request:
        """The request for one call. `data` and `extra_headers` are for the few calls that
        send raw bytes (uploads)."""
        url = self.url(path) + (f"?{urlencode(params)}" if params else "")
        headers = self._headers
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers += ("Content-Type: application/json",)
        if extra_headers:  # they replace ours of the same name (uploads authorize with OAuth)
            replaced = {name.lower() for name in extra_headers}
            headers = tuple(h for h in headers if h.split(":", 1)[0].lower() not in replaced)
            headers += tuple(f"{name}: {value}" for name, value in extra_headers.items())
        if method == "POST" and body is None:
            body = b""
        return Request(method, url, headers, body, self.settings.http_timeout)

    @staticmethod
    def read(answer: Answer) -> dict[str, Any]:
        """The parsed JSON body of an answer, or SendError with Meta's code."""
        if answer.status >= 400:
            raise error_from_response(answer)
        try:
            parsed = jsonlib.loads(answer.body)
        except ValueError:
            # Meta answered 2xx but we cannot read what it accepted: treat as possibly sent.
            raise SendError(TRANSPORT, "unreadable answer", maybe_sent=True) from None
        if not isinstance(parsed, dict):
            raise SendError(TRANSPORT, "unexpected answer", maybe_sent=True)
        return parsed

    def request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        """One call, waited for (`options` as for `prepare`); the parsed JSON body, or
        SendError with Meta's code."""
        return self.read(self.multiplexer.call(self.prepare(method, path, **options)))

    def get_all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """Every item of a paged edge, following `paging.cursors.after`."""
        items: list[dict[str, Any]] = []
        params = dict(params)
        for _ in range(50):  # 50 pages x 100: far beyond any shop's template count
            body = self.request("GET", path, params=params)
            items.extend(body.get("data") or [])
            after = ((body.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (body.get("paging") or {}).get("next"):
                break
            params["after"] = after
        return items


def recipient(to: str) -> dict[str, str]:
    """`to` for a phone number (digits, no "+"), `recipient` for a business-scoped user id."""
    digits = to.removeprefix("+")
    if digits.isdigit():
        return {"to": digits}
    return {"recipient": to}


def template_payload(message: TemplateMessage) -> dict[str, Any]:
    """The /messages body for a template message.

    Cloud API has no per-message TTL for marketing templates (only the Marketing Messages API
    has one), so `ttl_seconds` is not sent here; utility templates carry theirs from creation.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/time-to-live
    """
    components: list[dict[str, Any]] = []
    if message.components.get("header"):
        components.append({"type": "header", "parameters": message.components["header"]})
    if message.components.get("body"):
        components.append({"type": "body", "parameters": message.components["body"]})
    for button in message.components.get("buttons") or []:
        components.append(
            {
                "type": "button",
                "sub_type": button["sub_type"],
                "index": str(button["index"]),
                "parameters": button["parameters"],
            }
        )
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        **recipient(message.to),
        "type": "template",
        "template": {
            "name": message.template,
            "language": {"policy": "deterministic", "code": message.language},
            "components": components,
        },
    }
    if message.callback_data:
        body["biz_opaque_callback_data"] = message.callback_data[:512]
    return body


def marketing_payload(message: TemplateMessage) -> dict[str, Any]:
    """The /marketing_messages body: the /messages body (Meta: "the same API payload syntax
    used to send messages on Cloud API"), so `biz_opaque_callback_data` still names our row in
    every status webhook, plus `product_policy` CLOUD_API_FALLBACK: a business not onboarded
    gets its marketing delivered through Cloud API rather than refused.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/send-marketing-messages
    """
    return {**template_payload(message), "product_policy": "CLOUD_API_FALLBACK"}


def _wamid(body: dict[str, Any]) -> Accepted:
    messages = body.get("messages") or []
    if not messages or not messages[0].get("id"):
        raise SendError(TRANSPORT, "answer without message id", maybe_sent=True)
    return Accepted(messages[0]["id"], str(messages[0].get("message_status") or "accepted"))


class CloudChannel:
    """Sends through one shop's phone number on Meta's Cloud API."""

    def __init__(
        self,
        account: WhatsAppAccount,
        settings: Settings,
        database: Database | None = None,
        multiplexer: Multiplexer | None = None,
    ) -> None:
        self.account = account
        self.client = GraphClient(account.token, settings, multiplexer)
        self.database = database
        #: What this channel knows of the number's onboarding (changes as Meta answers).
        self.marketing_state = account.marketing_messages
        self.checked_at = account.marketing_messages_checked_at
        self._state_lock = threading.Lock()

    def send_template(self, message: TemplateMessage) -> str:
        """Send one template message and wait for Meta's answer (`template_steps`)."""
        return self.client.multiplexer.run(self.template_steps(message))

    def template_steps(self, message: TemplateMessage) -> Steps:
        """MARKETING through /marketing_messages where onboarded, the rest through /messages.

        Meta's 134102 accepted nothing, so the same message goes through /messages at once
        (at most once still holds) and the account is remembered as not onboarded.
        """
        number, client = self.account.phone_number_id, self.client
        if self._marketing_route(message):
            payload = marketing_payload(message)
            try:
                answer = yield client.prepare("POST", f"{number}/marketing_messages", json=payload)
                body = client.read(answer)
            except SendError as error:
                if not routing.is_not_onboarded(error):
                    raise
                self._learn(routing.NOT_ONBOARDED)
            else:  # not proof of onboarding: Meta may have fallen back to Cloud API
                return _wamid(body)
        payload = template_payload(message)
        answer = yield client.prepare("POST", f"{number}/messages", json=payload)
        return _wamid(client.read(answer))

    def _marketing_route(self, message: TemplateMessage) -> bool:
        with self._state_lock:
            state, checked_at = self.marketing_state, self.checked_at
        return routing.marketing_route(state, checked_at, message, dt.datetime.now(dt.UTC))

    def _learn(self, state: str) -> None:
        """Remember what Meta's answer says about onboarding, with its time."""
        now = dt.datetime.now(dt.UTC)
        with self._state_lock:
            self.marketing_state, self.checked_at = state, now
        if self.database is not None and self.account.id is not None:
            routing.remember(self.database, self.account.id, state, now)

    def send_text(self, to: str, body: str) -> str:
        payload = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            **recipient(to),
            "type": "text",
            "text": {"preview_url": False, "body": body},
        }
        answer = self.client.request(
            "POST", f"{self.account.phone_number_id}/messages", json=payload
        )
        return _wamid(answer)


def channel_for(
    account: WhatsAppAccount | None,
    settings: Settings,
    database: Database | None = None,
    multiplexer: Multiplexer | None = None,
) -> Channel:
    """The channel a shop sends through.

    With `database`, what Meta says about the number's onboarding to the Marketing Messages
    API is remembered on the account (plugin.whatsapp.routing).
    """
    if account is None or account.dry_run:
        return DryRunChannel()
    return CloudChannel(account, settings, database, multiplexer)
