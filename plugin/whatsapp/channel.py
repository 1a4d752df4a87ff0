"""What the dispatcher needs from WhatsApp: send one template message, or say why not.

The types of a send, shared by the dispatcher and the Cloud API client: this module imports
neither, so both import it. `plugin.whatsapp.client.channel_for(account, settings)` gives the
dry-run channel for the demo and for shops without Meta credentials, and the Cloud API channel
otherwise. Every error comes back as a `SendError` with Meta's code and whether a retry may
succeed; `plugin/whatsapp/errors.py` decides what each code means for the buyer, the template
and the shop.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TemplateMessage:
    """One template message to one buyer; parameters only, never free text."""

    to: str  # E.164, or a business-scoped user id where the number is hidden
    template: str
    language: str
    #: {"header": [param, ...], "body": [param, ...], "buttons": [{"index": 0,
    #: "sub_type": "url", "parameters": [...]}, ...]} in the Cloud API's parameter shape.
    components: dict[str, Any] = field(default_factory=dict)
    #: Echoed back in status webhooks (biz_opaque_callback_data): our notification id.
    callback_data: str | None = None
    #: Seconds after which Meta should drop an undelivered message (cart reminders).
    ttl_seconds: int | None = None
    #: The template's latest category (MARKETING, UTILITY, AUTHENTICATION): marketing goes
    #: through the Marketing Messages API where the number is onboarded to it.
    category: str | None = None


#: The code of a failure on our side of the wire: no answer from Meta, so no Meta code to read.
#: Not 0: Meta's code 0 is AuthException (HTTP 401), an answer that pauses the shop.
TRANSPORT = -1


@dataclass(eq=False)
class SendError(Exception):
    """Meta refused or the call failed; `code` is Meta's error code (TRANSPORT: no answer).

    Not frozen: Python sets `__traceback__` on an exception as it passes through a `with`
    block, which a frozen dataclass refuses (FrozenInstanceError instead of the error).
    """

    code: int
    title: str
    #: The request may not have reached Meta (timeout before a response): never resend blindly.
    maybe_sent: bool = False
    details: str = ""

    @property
    def transport(self) -> bool:
        """True when Meta never answered (a network failure, not one of Meta's codes)."""
        return self.code == TRANSPORT

    def __str__(self) -> str:
        return f"{self.code} {self.title}" + (f": {self.details}" if self.details else "")


#: Meta's `message_status` answers that mean "accepted, but held back": template pacing holds
#: messages of a new or low-quality template while Meta waits for buyers' feedback, then
#: delivers or drops them. Not failures: the outbox shows them as held.
#: https://developers.facebook.com/documentation/business-messaging/whatsapp/templates/template-pacing
HELD_STATUSES = frozenset({"held_for_quality_assessment", "paused"})


class Accepted(str):
    """Meta's message id (wamid) with the answer's `message_status` beside it."""

    message_status: str

    def __new__(cls, wamid: str, message_status: str = "accepted") -> Accepted:
        accepted = super().__new__(cls, wamid)
        accepted.message_status = message_status
        return accepted

    @property
    def held(self) -> bool:
        return self.message_status in HELD_STATUSES


def delivery_status_of(wamid: str) -> str:
    """What the outbox shows right after the send: `held` while Meta paces it, else `sent`."""
    return "held" if isinstance(wamid, Accepted) and wamid.held else "sent"


@dataclass(frozen=True)
class Request:
    """One HTTP request to the Graph API, ready to go: what a channel asks the wire for."""

    method: str
    url: str
    headers: tuple[str, ...]  # "Name: value"
    body: bytes | None
    timeout: float  # seconds for the whole exchange; the connect gets at most 10 of them


class Answer(NamedTuple):
    """The HTTP answer to a `Request`."""

    status: int
    reason: str
    body: bytes


#: A conversation with Meta: it yields each request, is sent each answer (or has the
#: transport's SendError thrown in), and returns the message id. The same steps run one call
#: at a time or among many in flight (plugin.whatsapp.multiplex).
Steps = Generator[Request, Answer, str]


class Channel(Protocol):
    def template_steps(self, message: TemplateMessage) -> Steps:
        """`send_template` as steps, for a caller that keeps many in flight."""
        ...

    def send_template(self, message: TemplateMessage) -> str:
        """Send and return Meta's message id (wamid, an `Accepted` where Meta said how it took
        it); raise SendError otherwise."""
        ...

    def send_text(self, to: str, body: str) -> str:
        """Send a free reply inside the buyer's 24 h service window; return the wamid."""
        ...


class DryRunChannel:
    """Records what would be sent and answers with a stable fake wamid; sends nothing."""

    def __init__(self) -> None:
        self.sent: list[TemplateMessage] = []
        #: (to, body) of every free-form reply recorded.
        self.texts: list[tuple[str, str]] = []

    def template_steps(self, message: TemplateMessage) -> Steps:
        """Steps that need no call: they end at once with the recorded id."""
        return self.send_template(message)
        yield  # a generator all the same, like every channel's steps

    def send_template(self, message: TemplateMessage) -> str:
        self.sent.append(message)
        digest = hashlib.sha256(
            json.dumps([message.to, message.template, message.callback_data]).encode()
        ).hexdigest()[:24]
        log.info("dry run: template %s (%s) recorded", message.template, message.language)
        return f"wamid.dryrun.{digest}"

    def send_text(self, to: str, body: str) -> str:
        self.texts.append((to, body))
        digest = hashlib.sha256(json.dumps([to, body, len(self.texts)]).encode()).hexdigest()[:24]
        log.info("dry run: free-form reply recorded")
        return f"wamid.dryrun.{digest}"
