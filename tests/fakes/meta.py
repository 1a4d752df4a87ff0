"""A local fake of Meta's Graph API for WhatsApp: /messages, phone number details, templates.

It records every request (method, path, headers, JSON body), answers with the documented
shapes, checks the Bearer token, and can be told to answer the next send with a given error
code or to stall before answering (a read timeout on our side). Every JSON body it receives
is checked against Meta's OpenAPI description (tests/fakes/meta_contract.py) and an invalid
one is answered as Meta does: HTTP 400 with error code 100, "(#100) Invalid parameter".
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages
https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request

from tests.fakes.meta_contract import meta_contract
from tests.fakes.meta_uploads import register_uploads

#: Error titles as Meta documents them (the message is "(#code) title").
ERROR_TITLES: dict[int, str] = {
    0: "AuthException",
    1: "API Unknown",
    2: "API Service",
    3: "API Method",
    4: "Application request limit reached",
    10: "Permission Denied",
    200: "API Permission",
    130497: "Business account is restricted from messaging users in this country",
    131037: "WhatsApp provided number needs display name approval before message can be sent",
    131053: "Media upload error",
    131062: "Business-scoped user ID recipient not supported",
    133004: "Server Temporarily Unavailable",
    133010: "Phone number Not Registered",
    190: "Access token has expired",
    368: "Temporarily blocked for policies violations",
    80007: "Rate limit issues",
    130429: "Rate limit hit",
    130472: "User's number is part of an experiment",
    131000: "Something went wrong",
    131016: "Service unavailable",
    131026: "Message undeliverable",
    131031: "Business account has been locked",
    131042: "Business eligibility payment issue",
    131047: "Re-engagement message",
    131048: "Spam rate limit hit",
    131049: "This message was not delivered to maintain healthy ecosystem engagement.",
    131050: "Unable to deliver the message. This recipient has chosen to stop receiving "
    "marketing messages on WhatsApp from your business.",
    131056: "(Business Account, Consumer Account) pair rate limit hit",
    131057: "Account in maintenance mode",
    132000: "Number of parameters does not match the expected number of params",
    132001: "Template does not exist",
    132005: "Translated text too long",
    132007: "Template format character policy violated",
    132012: "Parameter format does not match format in the created template",
    132015: "Template is paused due to low quality",
    132016: "Template is disabled due to low quality",
    134101: "Your template is still syncing",
    134102: "Template unavailable for use",
}
#: HTTP status Meta answers with for a code (most are 400; throttling 429, server 500/503).
HTTP_STATUS = {
    0: 401,
    2: 503,
    3: 500,
    10: 403,
    200: 403,
    130497: 403,
    133004: 503,
    4: 429,
    80007: 429,
    130429: 429,
    131056: 429,
    131000: 500,
    131016: 503,
    190: 401,
    134102: 500,  # the error codes page lists it as 500 Internal Server Error
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    args: dict[str, str]
    json: Any


@dataclass
class FakeMeta:
    """State and knobs of the fake; `app` is the Flask app to serve with LocalServer."""

    token: str = "EAAG-test-token"
    requests: list[Recorded] = field(default_factory=list)
    phone_numbers: dict[str, dict[str, Any]] = field(default_factory=dict)
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    next_errors: list[tuple[int, int | None]] = field(default_factory=list)
    stall_seconds: float = 0.0
    #: Bodies refused as invalid against Meta's OpenAPI description: (path, what was wrong).
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Sends being answered right now, and the most there ever were at once.
    in_flight: int = 0
    most_in_flight: int = 0
    #: Called with (phone number id, request body, wamid) for every accepted send; Meta's
    #: status webhooks hang here (tests/fakes/meta_statuses.py).
    on_accepted: Callable[[str, dict[str, Any], str], None] | None = None
    #: Phone number ids whose business accepted the Marketing Messages API's terms (None:
    #: every number's). Another number's marketing is delivered through Cloud API under
    #: `product_policy` CLOUD_API_FALLBACK (Meta's default; listed in `fell_back`) and refused
    #: with 134102 under STRICT ("Send marketing messages", the fallback behaviour).
    marketing_onboarded: set[str] | None = None
    #: Wamids of marketing sends Meta delivered through Cloud API instead.
    fell_back: list[str] = field(default_factory=list)
    #: `marketing_messages_onboarding_status` of each WABA (GET /<WABA_ID>), e.g. ONBOARDED,
    #: ELIGIBLE; a WABA not listed is answered like an unknown object.
    waba_onboarding: dict[str, str] = field(default_factory=dict)
    #: `message_status` of the next accepted sends (accepted when empty): Meta answers
    #: held_for_quality_assessment for a message its template pacing holds back.
    next_message_statuses: list[str] = field(default_factory=list)
    #: Validate every request body against Meta's OpenAPI description. Tests keep it on; a
    #: benchmark measuring our side turns it off (jsonschema costs ~0.8 ms a send here).
    check_contract: bool = True
    #: Resumable upload sessions by id, and the handles they issued (tests/fakes/meta_uploads.py).
    upload_sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    upload_handles: dict[str, dict[str, Any]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next_send(self, code: int, http_status: int | None = None) -> None:
        """Answer the next POST /messages with Meta's error body for this code; code 0 with an
        HTTP status is a proxy's bare answer without a body (0 alone is Meta's AuthException)."""
        self.next_errors.append((code, http_status))

    def add_phone_number(self, phone_number_id: str, **details: Any) -> None:
        self.phone_numbers[phone_number_id] = {
            "id": phone_number_id,
            "display_phone_number": "+49 30 1234567",
            "verified_name": "Bohne & Blatt",
            "quality_rating": "GREEN",
            "messaging_limit_tier": "TIER_1K",
            "whatsapp_business_manager_messaging_limit": "TIER_2K",
            "throughput": {"level": "STANDARD"},
            **details,
        }

    def sends(self) -> list[Recorded]:
        """Every send, through /messages and through /marketing_messages."""
        return [
            r
            for r in self.requests
            if r.method == "POST" and r.path.endswith(("/messages", "/marketing_messages"))
        ]

    def marketing_sends(self) -> list[Recorded]:
        """The sends through the Marketing Messages API only."""
        return [r for r in self.sends() if r.path.endswith("/marketing_messages")]

    def text_of(self, send: Recorded) -> str:
        """The body of a template send as the buyer reads it: the submitted template's BODY
        text with the send's body parameters in its {{n}} places."""
        template = send.json["template"]
        name, language = template["name"], template["language"]["code"]
        stored = [
            t
            for ts in self.templates.values()
            for t in ts
            if t["name"] == name and t["language"] == language
        ]
        if not stored:
            raise LookupError(f"no template {name} ({language}) was submitted")
        body = next(c for c in stored[-1]["components"] if c["type"] == "BODY")
        values = next(
            (c["parameters"] for c in template.get("components", []) if c["type"] == "body"), []
        )
        text = str(body["text"])
        for number, value in enumerate(values, start=1):
            text = text.replace(f"{{{{{number}}}}}", str(value.get("text", "")))
        return text

    def set_template_status(self, waba_id: str, name: str, language: str, **fields: Any) -> None:
        for template in self.templates.get(waba_id, []):
            if template["name"] == name and template["language"] == language:
                template.update(fields)

    @property
    def app(self) -> Flask:
        return _build_app(self)


def error_body(code: int) -> dict[str, Any]:
    title = ERROR_TITLES.get(code, "Unknown error")
    return {
        "error": {
            "message": f"(#{code}) {title}",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": f"{title} (fake)"},
            "fbtrace_id": "AazfakeTraceId0123",
        }
    }


#: The subcode the Cloud API attaches to its parameter errors.
INVALID_PARAMETER_SUBCODE = 2494010


def invalid_parameter_body(details: str) -> dict[str, Any]:
    """Meta's answer to a body its schema refuses (HTTP 400, code 100, what was wrong).

    https://developers.facebook.com/documentation/business-messaging/whatsapp/support/error-codes
    https://developers.facebook.com/docs/graph-api/guides/error-handling
    """
    return {
        "error": {
            "message": "(#100) Invalid parameter",
            "type": "OAuthException",
            "code": 100,
            "error_data": {"messaging_product": "whatsapp", "details": details},
            "error_subcode": INVALID_PARAMETER_SUBCODE,
            "fbtrace_id": "AazfakeTraceId0123",
        }
    }


#: Meta's details for a template text parameter sent empty (the schema allows "").
EMPTY_TEXT_DETAILS = "Parameter 'text' is mandatory for component parameter type 'text'"


def empty_text_parameter(body: Any) -> bool:
    """A template component parameter of type text whose text is missing or empty."""
    template = body.get("template") if isinstance(body, dict) else None
    components = template.get("components") if isinstance(template, dict) else None
    for component in components if isinstance(components, list) else []:
        parameters = component.get("parameters") if isinstance(component, dict) else None
        for parameter in parameters if isinstance(parameters, list) else []:
            if (
                isinstance(parameter, dict)
                and parameter.get("type") == "text"
                and not parameter.get("text")
            ):
                return True
    return False


def _build_app(fake: FakeMeta) -> Flask:
    app = Flask("fake_meta")

    def refuse_invalid(operation: str) -> Any:
        """Meta's 400 for a body its OpenAPI description refuses, else None (go on)."""
        body = request.get_json(silent=True)
        if operation != "createTemplate" and empty_text_parameter(body):
            fake.refused.append((request.path, EMPTY_TEXT_DETAILS))
            return jsonify(invalid_parameter_body(EMPTY_TEXT_DETAILS)), 400
        contract = meta_contract() if fake.check_contract else None
        if contract is None:  # the vendor spec is absent or not wanted: nothing to check
            return None
        refusal = contract.refusal(operation, body) if body is not None else "the body is not JSON"
        if refusal is None:
            return None
        fake.refused.append((request.path, str(refusal)))
        return jsonify(invalid_parameter_body(str(refusal))), 400

    @app.before_request
    def record_and_authorise() -> Any:
        fake.requests.append(
            Recorded(
                request.method,
                request.path,
                dict(request.headers),
                dict(request.args),
                request.get_json(silent=True),
            )
        )
        scheme = "OAuth" if "/upload:" in request.path else "Bearer"  # Meta's upload API
        if request.headers.get("Authorization") != f"{scheme} {fake.token}":
            return jsonify(error_body(190)), 401
        return None

    register_uploads(app, fake)

    @app.post("/<version>/<phone_number_id>/messages")
    def send(version: str, phone_number_id: str) -> Any:
        refused = refuse_invalid("sendMessage")
        if refused is not None:
            return refused
        return counted_send()

    def counted_send() -> Any:
        """Answer a send, counting the sends being answered at once."""
        with fake._lock:
            fake.in_flight += 1
            fake.most_in_flight = max(fake.most_in_flight, fake.in_flight)
        try:
            return answer_send()
        finally:
            with fake._lock:
                fake.in_flight -= 1

    def answer_send() -> Any:
        if fake.stall_seconds:
            time.sleep(fake.stall_seconds)
        if fake.next_errors:
            code, status = fake.next_errors.pop(0)
            if code == 0 and status is not None:  # a proxy's bare HTTP error, no Meta body
                return "upstream unavailable", status or 502
            return jsonify(error_body(code)), status or HTTP_STATUS.get(code, 400)
        body = request.get_json()
        with fake._lock:
            number = next(fake._ids)
        to = body.get("to") or body.get("recipient")
        wamid = f"wamid.HBgLNDkxNTExMjM0NTY3FQIAERgS{number:012d}"
        if fake.on_accepted is not None:
            fake.on_accepted(str((request.view_args or {}).get("phone_number_id")), body, wamid)
        return jsonify(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to}],
                "messages": [
                    {
                        "id": wamid,
                        "message_status": fake.next_message_statuses.pop(0)
                        if fake.next_message_statuses
                        else "accepted",
                    }
                ],
            }
        )

    @app.post("/<version>/<phone_number_id>/marketing_messages")
    def send_marketing(version: str, phone_number_id: str) -> Any:
        """The Marketing Messages API: its own body schema; a number whose business is not
        onboarded falls back to Cloud API, or is refused under STRICT before anything is
        accepted."""
        refused = refuse_invalid("sendMarketingMessage")
        if refused is not None:
            return refused
        if fake.marketing_onboarded is None or phone_number_id in fake.marketing_onboarded:
            return counted_send()
        if request.get_json().get("product_policy") == "STRICT":
            return jsonify(error_body(134102)), HTTP_STATUS[134102]
        answer = counted_send()
        if not isinstance(answer, tuple):  # accepted (a refusal is a (body, status) pair)
            fake.fell_back.append(answer.get_json()["messages"][0]["id"])
        return answer

    def template_by_id(template_id: str) -> dict[str, Any] | None:
        every = (t for templates in fake.templates.values() for t in templates)
        return next((t for t in every if t["id"] == template_id), None)

    @app.get("/<version>/<object_id>")
    def phone_number(version: str, object_id: str) -> Any:
        details = fake.phone_numbers.get(object_id) or template_by_id(object_id)
        if details is None and object_id in fake.waba_onboarding:
            details = {
                "id": object_id,
                "marketing_messages_onboarding_status": fake.waba_onboarding[object_id],
            }
        if details is None:
            return jsonify(error_body(100)), 400
        fields = [f for f in request.args.get("fields", "").split(",") if f]
        return jsonify({k: v for k, v in details.items() if not fields or k in fields or k == "id"})

    @app.post("/<version>/<waba_id>/message_templates")
    def create_template(version: str, waba_id: str) -> Any:
        refused = refuse_invalid("createTemplate")
        if refused is not None:
            return refused
        body = request.get_json()
        with fake._lock:
            template_id = str(900_000_000 + next(fake._ids))
        stored = {
            "id": template_id,
            "name": body["name"],
            "language": body["language"],
            "category": body["category"],
            "components": body["components"],
            "status": "PENDING",
            "quality_score": {"score": "UNKNOWN"},
            "rejected_reason": "NONE",
        }
        fake.templates.setdefault(waba_id, []).append(stored)
        return jsonify({"id": template_id, "status": "PENDING", "category": body["category"]})

    @app.post("/<version>/<template_id>")
    def edit_template(version: str, template_id: str) -> Any:
        template = template_by_id(template_id)
        if template is None:
            return jsonify(error_body(100)), 400
        refused = refuse_invalid("editTemplate")
        if refused is not None:
            return refused
        body = request.get_json()
        template.update({k: v for k, v in body.items() if k in ("components", "category")})
        template["status"] = "PENDING"  # an edit goes back to review
        return jsonify({"success": True})

    @app.delete("/<version>/<waba_id>/message_templates")
    def delete_template(version: str, waba_id: str) -> Any:
        name = request.args.get("name")
        before = fake.templates.get(waba_id, [])
        fake.templates[waba_id] = [t for t in before if t["name"] != name]
        if len(fake.templates[waba_id]) == len(before):
            return jsonify(error_body(100)), 400
        return jsonify({"success": True})

    @app.get("/<version>/<waba_id>/message_templates")
    def list_templates(version: str, waba_id: str) -> Any:
        items = fake.templates.get(waba_id, [])
        limit = int(request.args.get("limit", 25))
        start = int(request.args.get("after", 0) or 0)
        page = items[start : start + limit]
        paging: dict[str, Any] = {"cursors": {"before": str(start), "after": str(start + limit)}}
        if start + limit < len(items):
            paging["next"] = f"{request.base_url}?after={start + limit}&limit={limit}"
        return jsonify({"data": page, "paging": paging})

    return app
