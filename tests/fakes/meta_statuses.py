"""Meta's status webhooks, sent by the fake Graph API for every message it accepted.

Meta reports each accepted message to the app's webhook URL: a `messages` change whose value
holds `statuses` (each naming the buyer by number and by business-scoped user id, checked
against Meta's OpenAPI description before it is posted), signed with the app secret
(X-Hub-Signature-256: sha256 HMAC of the raw body),
echoing the `biz_opaque_callback_data` the send carried. That echo is what settles a message
whose sender died before it could record Meta's answer. Here a background thread posts a
`sent` status for each accepted send shortly after the answer, several of one number's statuses
in a delivery as Meta batches them, and retries a delivery the receiver did not answer 200.
https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages/status/
https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import urllib3

from tests.fakes.meta import FakeMeta
from tests.fakes.meta_contract import meta_contract
from tests.fakes.meta_webhooks import user_id_for

#: Meta's per-message pricing for a marketing template (the `pricing` of a status).
MARKETING_PRICING = {
    "billable": True,
    "pricing_model": "PMP",
    "category": "marketing",
    "type": "regular",
}


@dataclass
class StatusWebhooks:
    """Posts a signed `sent` status to `url` for each send the fake accepted.

    `attach(fake)` hooks it into a FakeMeta; `start()`/`stop()` (or `with`) run the sender.
    """

    url: str
    app_secret: str
    waba_id: str
    display_phone_number: str = "49301234567"
    #: Most statuses in one delivery, and how long an accepted send waits for company.
    per_delivery: int = 50
    linger_seconds: float = 0.05
    #: Every status posted and answered 200, in order; and deliveries that were retried.
    delivered: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0
    _queue: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _busy: bool = False
    _stopping: bool = False
    _thread: threading.Thread | None = None
    _http: urllib3.PoolManager = field(default_factory=lambda: urllib3.PoolManager(maxsize=1))

    def attach(self, fake: FakeMeta) -> StatusWebhooks:
        fake.on_accepted = self.accepted
        return self

    def accepted(self, phone_number_id: str, body: dict[str, Any], wamid: str) -> None:
        """The fake accepted a send: its `sent` status is on its way."""
        to = str(body.get("to") or "").lstrip("+")
        status: dict[str, Any] = {
            "id": wamid,
            "status": "sent",
            "timestamp": str(int(time.time())),
            # Meta names the buyer by BSUID in every status, by number when sent to one
            **({"recipient_id": to} if to else {}),
            "recipient_user_id": user_id_for(to) if to else body.get("recipient"),
            "pricing": dict(MARKETING_PRICING),
        }
        if "biz_opaque_callback_data" in body:
            status["biz_opaque_callback_data"] = body["biz_opaque_callback_data"]
        with self._changed:
            self._queue.append((phone_number_id, status))
            self._changed.notify_all()

    def start(self) -> StatusWebhooks:
        self._thread = threading.Thread(target=self._run, daemon=True, name="fake-meta-statuses")
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._changed:
            self._stopping = True
            self._changed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> StatusWebhooks:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_idle(self, timeout: float) -> bool:
        """True once every accepted send's status was delivered (within `timeout` seconds)."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._queue and not self._busy, timeout)

    def payload(self, phone_number_id: str, statuses: list[dict[str, Any]]) -> dict[str, Any]:
        """Meta's envelope for a number's statuses."""
        return {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": self.waba_id,
                    "changes": [
                        {
                            "field": "messages",
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {
                                    "display_phone_number": self.display_phone_number,
                                    "phone_number_id": phone_number_id,
                                },
                                "statuses": statuses,
                            },
                        }
                    ],
                }
            ],
        }

    def _run(self) -> None:
        while True:
            with self._changed:
                self._changed.wait_for(lambda: self._queue or self._stopping)
                if not self._queue and self._stopping:
                    return
                self._busy = True
            time.sleep(self.linger_seconds)  # let a burst's statuses share deliveries
            with self._changed:
                taken, self._queue = (
                    self._queue[: self.per_delivery],
                    self._queue[self.per_delivery :],
                )
            by_number: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for phone_number_id, status in taken:
                by_number[phone_number_id].append(status)
            for phone_number_id, statuses in by_number.items():
                self._post(phone_number_id, statuses)
            with self._changed:
                self._busy = False
                self._changed.notify_all()

    def _post(self, phone_number_id: str, statuses: list[dict[str, Any]]) -> None:
        """Deliver until answered 200, as Meta retries a failed delivery."""
        payload = self.payload(phone_number_id, statuses)
        contract = meta_contract()
        refusal = contract.status_webhook_refusal(payload) if contract else None
        if refusal is not None:
            raise AssertionError(f"the fake's status webhook breaks Meta's spec: {refusal}")
        raw = json.dumps(payload).encode()
        signature = hmac.new(self.app_secret.encode(), raw, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-Hub-Signature-256": f"sha256={signature}"}
        for attempt in range(20):
            try:
                response = self._http.request(
                    "POST", self.url, body=raw, headers=headers, timeout=30, retries=False
                )
                if response.status == 200:
                    self.delivered.extend(statuses)
                    return
            except urllib3.exceptions.HTTPError:
                pass
            self.retries += 1
            time.sleep(min(2.0, 0.1 * 2**attempt))
        raise RuntimeError(f"status webhook to {self.url} refused 20 times")
