"""Meta's OpenAPI description of the Cloud API, as the request validator of the fake Graph API.

The fake must refuse what Meta refuses, so every JSON body it receives is checked against the
request schema of the operation Meta documents for that path (`sendMessage`,
`sendMarketingMessage`, template creation and editing). The description is JSON Schema 2020-12
inside OpenAPI 3.1; two OpenAPI-only parts are turned into plain JSON Schema here:
- `discriminator.mapping` picks the one schema a body is checked against by its `type`;
- the spec's own known defects (listed in the vendor folder's SOURCES.md) are corrected,
  exactly those and nothing else (see `_correct_known_defects`).
The spec is read once per process; where it is absent the fake validates nothing.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass
from typing import Any

import jsonschema
import yaml

from tests.fakes.meta_coupons import allow_coupon_buttons
from tests.vendor import find_vendor_file

SPEC = ("meta", "meta-business-messaging-api_v23.0.yaml")
#: The operations the fake serves whose request bodies it checks, by (method, path) in the spec.
#: Template creation's operationId in the spec is an example's name
#: (`createAuthenticationTemplateWOtpCopyCodeButton`), so it goes by a plain one here.
OPERATIONS = {
    ("POST", "/{Version}/{Phone-Number-ID}/messages"): "sendMessage",
    ("POST", "/{Version}/{Phone-Number-ID}/marketing_messages"): "sendMarketingMessage",
    ("POST", "/{Version}/{WABA-ID}/message_templates"): "createTemplate",
    ("POST", "/{Version}/{TEMPLATE_ID}"): "editTemplate",
}
#: What the spec's `index` pattern `^[2-6, 11-14]$` was meant to say: the schema's own
#: description reads "Position index of the button (0-9)", and Meta's examples send "0".
BUTTON_INDEX_PATTERN = "^[0-9]$"
_REF_PREFIX = "#/components/schemas/"
#: A status change: the `messages` field with the spec's StatusMessageValue (Change's `oneOf`
#: would report the incoming-message branch's errors instead of the status's).
STATUS_CHANGE = {
    "properties": {
        "field": {"const": "messages"},
        "value": {"$ref": f"{_REF_PREFIX}StatusMessageValue"},
    }
}


@dataclass(frozen=True)
class Refusal:
    """Why a body is invalid: where in the body, and what the schema says."""

    location: str
    reason: str

    def __str__(self) -> str:
        return f"{self.reason} at {self.location}" if self.location else self.reason


class MetaContract:
    """Validators for the request bodies of the operations in OPERATIONS."""

    def __init__(self, spec: dict[str, Any]) -> None:
        schemas = copy.deepcopy(spec["components"]["schemas"])
        _allow_business_scoped_user_ids(schemas)  # first: the corrections copy base fields
        _correct_known_defects(schemas)
        allow_coupon_buttons(schemas)  # Meta's coupon templates, after the v23 spec
        _resolve_discriminators(schemas)
        for (method, path), operation_id in OPERATIONS.items():
            operation = spec["paths"][path][method.lower()]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            schemas[f"request:{operation_id}"] = copy.deepcopy(body)
        components = {"schemas": schemas}
        self.validators = {
            operation_id: jsonschema.Draft202012Validator(
                {"$ref": f"{_REF_PREFIX}request:{operation_id}", "components": components}
            )
            for operation_id in OPERATIONS.values()
        }
        #: Meta's webhook payload with a status change (the spec's `/whatsapp/webhooks`).
        self.status_webhook = jsonschema.Draft202012Validator(
            {
                "$ref": f"{_REF_PREFIX}WebhookPayload",
                "components": components,
                "properties": {
                    "entry": {"items": {"properties": {"changes": {"items": STATUS_CHANGE}}}}
                },
            }
        )

    def status_webhook_refusal(self, payload: Any) -> Refusal | None:
        """What the spec refuses in a status webhook the fake posts, or None when valid.

        Only status changes: the spec's incoming-message schemas reuse the outbound message
        schemas (`to`, `recipient_type` required), which Meta's own deliveries fail.
        """
        error = jsonschema.exceptions.best_match(self.status_webhook.iter_errors(payload))
        if error is None:
            return None
        location = "".join(f"[{part!r}]" for part in error.absolute_path)
        return Refusal(location, error.message)

    def refusal(self, operation_id: str, body: Any) -> Refusal | None:
        """The first thing Meta's schema refuses in this body, or None when it is valid."""
        error = jsonschema.exceptions.best_match(self.validators[operation_id].iter_errors(body))
        if error is None:
            return None
        location = "".join(
            f"[{part}]" if isinstance(part, int) else f"['{part}']" for part in error.absolute_path
        )
        return Refusal(location and f"param{location}", error.message)


@functools.cache
def meta_contract() -> MetaContract | None:
    """The contract, read once per process; None where the vendor spec is absent."""
    path = find_vendor_file(*SPEC)
    if path is None:
        return None
    with path.open("rb") as handle:
        spec = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return MetaContract(spec)


def _correct_known_defects(schemas: dict[str, Any]) -> None:
    """Correct the spec's known defects (Meta's own examples fail them), and only those.

    1. `TextMessage` puts `additionalProperties: false` in the second branch of its `allOf`, so
       the base properties of the first branch (`messaging_product`, `to`, …) count as unknown
       there and every text message fails. Every other message type extending
       `BaseMessageProperties` (audio, image, interactive, …) repeats the same construction
       with the same effect; it is the one defect, corrected wherever it occurs: the base
       property names are declared in that branch too (with no constraint of their own), so
       any other unknown field is still refused.
    2. The button `index` pattern `^[2-6, 11-14]$` (a character class, not ranges) refuses
       index "0" and "1"; it becomes BUTTON_INDEX_PATTERN, what its description says.
    3. `Pricing` lacks `type` (live webhooks send it): it sets no `additionalProperties`, so
       the status webhooks the fake posts pass with it; nothing needs correcting for it here.
    4. `MarketingMessageRequestPayload` (additionalProperties: false) lacks
       `biz_opaque_callback_data`, though Meta's "Send marketing messages" page says a
       /marketing_messages send "follows the same API payload syntax used to send messages on
       Cloud API", where it is a top-level string of at most 512 characters; it is declared
       here with that constraint, and nothing else is added.
       https://developers.facebook.com/documentation/business-messaging/whatsapp/marketing-messages/send-marketing-messages
    """
    base_ref = f"{_REF_PREFIX}BaseMessageProperties"
    base_properties = schemas["BaseMessageProperties"]["properties"]
    for schema in schemas.values():
        branches = schema.get("allOf", [])
        if not any(branch.get("$ref") == base_ref for branch in branches):
            continue
        for branch in branches:
            if branch.get("additionalProperties") is False:
                for name in base_properties:
                    branch.setdefault("properties", {}).setdefault(name, {})
    for node in _walk(schemas):
        if node.get("pattern") == "^[2-6, 11-14]$":
            node["pattern"] = BUTTON_INDEX_PATTERN
    marketing = schemas["MarketingMessageRequestPayload"]["properties"]
    marketing.setdefault("biz_opaque_callback_data", {"type": "string", "maxLength": 512})


def _allow_business_scoped_user_ids(schemas: dict[str, Any]) -> None:
    """What Meta's business-scoped user id page (2026) changed after the v23 spec (2025-11).

    - A send may name its recipient by BSUID (`recipient`) instead of a number (`to`), on
      /messages and on /marketing_messages; `to` wins when both come.
    - A status of a message sent to a BSUID carries `recipient_user_id` and leaves out
      `recipient_id` where Meta may not share the number: `recipient_id` is not required.
    Nothing else is loosened: a send with neither `to` nor `recipient` is still refused.
    https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids
    """
    recipient = {"type": "string", "pattern": r"^[A-Z]{2}(\.ENT)?\.[A-Za-z0-9]{1,128}$"}
    for name in ("BaseMessageProperties", "MarketingMessageRequestPayload"):
        schema = schemas[name]
        schema["properties"]["recipient"] = recipient
        schema["required"] = [field for field in schema["required"] if field != "to"]
        # without `recipient`, `to` stays required (and is named in the refusal as before)
        schema.update({"if": {"required": ["recipient"]}, "else": {"required": ["to"]}})
    statuses = schemas["Statuses"]
    statuses["required"] = [field for field in statuses["required"] if field != "recipient_id"]


def _resolve_discriminators(schemas: dict[str, Any]) -> None:
    """Turn each OpenAPI `discriminator.mapping` into JSON Schema: check the mapped schema.

    A mapped schema usually extends the one holding the discriminator (`allOf: [$ref parent]`);
    it then extends a copy of the parent without the discriminator, or checking would loop.
    Where the parent's `oneOf` lists exactly the mapped schemas, the mapping replaces it: the
    same bodies pass, and a refusal names the field that is wrong instead of "none matched".
    """
    for name in [n for n, s in schemas.items() if "mapping" in s.get("discriminator", {})]:
        base = {k: copy.deepcopy(v) for k, v in schemas[name].items() if k != "discriminator"}
        schemas[f"{name}:base"] = base
        for target in schemas[name]["discriminator"]["mapping"].values():
            for part in schemas[target.removeprefix(_REF_PREFIX)].get("allOf", []):
                if part.get("$ref") == f"{_REF_PREFIX}{name}":
                    part["$ref"] = f"{_REF_PREFIX}{name}:base"
    for node in _walk(schemas):
        mapping = node.get("discriminator", {}).get("mapping")
        if not mapping:
            continue
        field = node.pop("discriminator")["propertyName"]
        if sorted(r.get("$ref", "") for r in node.get("oneOf", [])) == sorted(mapping.values()):
            del node["oneOf"]
        node.setdefault("allOf", []).extend(
            [
                {"required": [field], "properties": {field: {"enum": sorted(mapping)}}},
                *(
                    {
                        "if": {"properties": {field: {"const": value}}, "required": [field]},
                        "then": {"$ref": target},
                    }
                    for value, target in sorted(mapping.items())
                ),
            ]
        )


def _walk(node: Any) -> list[dict[str, Any]]:
    """Every object in a schema tree, parents before children."""
    found: list[dict[str, Any]] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            found.append(current)
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return found
