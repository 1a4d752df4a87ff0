"""Meta's webhooks about buyers, in the shapes Meta documents since business-scoped user ids.

Every messages webhook carries the buyer's BSUID (`user_id`); a buyer who hides the number
behind a username is named by it alone (`wa_id`, `from`, `recipient_id` left out):
- incoming message: `contacts[].user_id` (+ `wa_id`), `messages[].from_user_id` (+ `from`);
- status: `statuses[].recipient_user_id` (+ `recipient_id`);
- user_preferences: `user_preferences[].user_id` (+ `wa_id`), `contacts[]` likewise.
https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/user_preferences
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/button

Status webhooks are checked against Meta's OpenAPI description before they are posted
(tests/fakes/meta_contract.py); the spec has no schema for `user_preferences`, and its
incoming-message schemas are the outbound ones, so those follow the reference pages above.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
import urllib3

from tests.fakes.meta_contract import meta_contract


def user_id_for(phone: str) -> str:
    """A stable BSUID for a number, in Meta's format: region, a dot, 20 digits."""
    try:
        number = phonenumbers.parse(phone if phone.startswith("+") else f"+{phone}")
        region = phonenumbers.region_code_for_number(number) or "US"
    except phonenumbers.NumberParseException:
        region = "US"
    digits = int(hashlib.sha256(phone.lstrip("+").encode()).hexdigest(), 16) % 10**20
    return f"{region}.{digits:020d}"


def _who(phone: str | None, key: str) -> dict[str, str]:
    """The number field of an item, or nothing when the number is hidden."""
    return {key: phone.lstrip("+")} if phone else {}


@dataclass
class BuyerWebhooks:
    """Signs and posts Meta's webhooks for one business phone number to the app."""

    url: str
    app_secret: str
    waba_id: str
    phone_number_id: str
    display_phone_number: str = "15550783881"
    #: Every payload posted, and the status the app answered each with.
    posted: list[tuple[dict[str, Any], int]] = field(default_factory=list)
    #: Hands a signed-and-checked payload to the app another way (a Flask test client);
    #: None: HTTP to `url`.
    deliver: Callable[[dict[str, Any]], int] | None = None
    _http: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(maxsize=1))
    _ids: int = 0

    def envelope(self, field_name: str, value: dict[str, Any]) -> dict[str, Any]:
        metadata = {
            "display_phone_number": self.display_phone_number,
            "phone_number_id": self.phone_number_id,
        }
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": field_name,
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": metadata,
                                **value,
                            },
                        }
                    ],
                }
            ],
        }

    def _wamid(self) -> str:
        self._ids += 1
        return f"wamid.HBgLNDkxNTExMjM0NTY3FQIAEhgUM0FBUkVQTFk{self._ids:08d}"

    def status(
        self,
        wamid: str,
        kind: str,
        *,
        user_id: str,
        phone: str | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> int:
        """A sent/delivered/read/failed status; without `phone`, the number is hidden."""
        item: dict[str, Any] = {
            "id": wamid,
            "status": kind,
            "timestamp": str(int(time.time())),
            **_who(phone, "recipient_id"),
            "recipient_user_id": user_id,
        }
        if errors:
            item["errors"] = errors
        payload = self.envelope("messages", {"statuses": [item]})
        contract = meta_contract()
        refusal = contract.status_webhook_refusal(payload) if contract else None
        if refusal is not None:
            raise AssertionError(f"the fake's status webhook breaks Meta's spec: {refusal}")
        return self.post(payload)

    def text(self, body: str, *, user_id: str, phone: str | None = None) -> int:
        """A text message from the buyer."""
        return self._message({"type": "text", "text": {"body": body}}, user_id, phone)

    def button(self, payload: str, text: str, *, user_id: str, phone: str | None = None) -> int:
        """A tap on a template's quick-reply button."""
        message = {"type": "button", "button": {"payload": payload, "text": text}}
        return self._message(message, user_id, phone)

    def _message(self, content: dict[str, Any], user_id: str, phone: str | None) -> int:
        contact = {"profile": {"name": "Kundin"}, **_who(phone, "wa_id"), "user_id": user_id}
        message = {
            **_who(phone, "from"),
            "from_user_id": user_id,
            "id": self._wamid(),
            "timestamp": str(int(time.time())),
            **content,
        }
        return self.post(self.envelope("messages", {"contacts": [contact], "messages": [message]}))

    def preference(self, value: str, *, user_id: str, phone: str | None = None) -> int:
        """WhatsApp's own marketing preference ("stop" or "resume") for this business."""
        detail = f"User requested to {value} marketing messages"
        contact = {"profile": {"name": "Kundin"}, **_who(phone, "wa_id"), "user_id": user_id}
        item = {
            **_who(phone, "wa_id"),
            "user_id": user_id,
            "detail": detail,
            "category": "marketing_messages",
            "value": value,
            "timestamp": int(time.time()),
        }
        payload = self.envelope(
            "user_preferences", {"contacts": [contact], "user_preferences": [item]}
        )
        return self.post(payload)

    def post(self, payload: dict[str, Any]) -> int:
        """Sign with the app secret (X-Hub-Signature-256) and post; the answer's status."""
        if self.deliver is not None:
            status = self.deliver(payload)
            self.posted.append((payload, status))
            return status
        raw = json.dumps(payload).encode()
        signature = hmac.new(self.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
        response = self._http.request(
            "POST", self.url, body=raw, headers=headers, timeout=30, retries=False
        )
        self.posted.append((payload, response.status))
        return response.status
