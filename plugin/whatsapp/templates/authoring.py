"""Marketing templates the owner writes: lint against Meta's rules, build, submit for review.

The owner writes named placeholders from a whitelist (`{{first_name}}`, `{{coupon_code}}` …);
Meta receives them numbered in order of appearance (`{{1}}`, `{{2}}` …), the format every send
of ShopNudge fills, and the BODY component we store keeps the names under
`shopnudge_parameters` (never sent to Meta) so a campaign knows what fills which number.
https://developers.facebook.com/docs/whatsapp/business-management-api/message-templates/components
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from plugin.config import Settings
from plugin.db import utcnow
from plugin.models import Store, WhatsAppTemplate
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.client import GraphClient
from plugin.whatsapp.templates.catalog import account_of

#: What a body placeholder may name, with the example Meta's reviewers see for it.
PLACEHOLDERS: dict[str, str] = {
    "first_name": "Erika",
    "shop_name": "Bohne & Blatt",
    "coupon_code": "WINTER10",
    "product": "Espresso Roast Beans 1 kg",
    "link": "https://example.com/sale",
}
#: The key of the stored BODY component that lists the placeholder names in number order.
NAMES_KEY = "shopnudge_parameters"
#: Our purpose for an owner's own template (the default ones have theirs per flow).
PURPOSE = "campaign"
#: Meta's limits: body 1,024 characters, button text 25, URL 2,000, name 512.
BODY_MAX, BUTTON_TEXT_MAX, URL_MAX, NAME_MAX = 1024, 25, 2000, 512
NAME = re.compile(r"^[a-z0-9_]+$")
LANGUAGE = re.compile(r"^[a-z]{2,3}(_[A-Z]{2})?$")
ANY_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
#: Fixed words a body needs per placeholder: Meta refuses "too many variable parameters
#: relative to the message length" without publishing the ratio; two words per placeholder
#: plus one is our conservative reading of the templates it approves.
WORDS_PER_PLACEHOLDER = 2
#: The marketing opt-out quick reply per language (its payload is our opt-out payload).
STOP_TEXT = {"de": "Keine Werbung", "en": "Stop promotions"}
#: The tracked-link button's text per language; its URL is our /r/<token> redirect.
LINK_TEXT = {"de": "Zum Angebot", "en": "See the offer"}


class TemplateLintError(ValueError):
    """The template breaks Meta's rules; `problems` lists each in the owner's words."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Draft:
    """What the owner asked for, before it becomes Meta's components."""

    name: str
    language: str
    body: str
    header_handle: str | None = None
    link: bool = False
    coupon: bool = False
    stop_button: bool = True


def placeholder_names(body: str) -> list[str]:
    """The placeholder names in order of first appearance."""
    return list(dict.fromkeys(m.group(1) for m in ANY_PLACEHOLDER.finditer(body)))


def lint(draft: Draft) -> list[str]:
    """Every rule of Meta's the draft breaks, as sentences the owner can act on."""
    problems = []
    if not NAME.match(draft.name) or len(draft.name) > NAME_MAX:
        problems.append("the name may only hold lowercase letters, digits and underscores")
    if not LANGUAGE.match(draft.language):
        problems.append(f"{draft.language!r} is not a language code like de or en_US")
    body = draft.body.strip()
    if not body:
        return [*problems, "the body is empty"]
    if len(body) > BODY_MAX:
        problems.append(f"the body has {len(body)} characters; Meta allows {BODY_MAX}")
    names = placeholder_names(body)
    unknown = [n for n in names if n not in PLACEHOLDERS]
    if unknown:
        allowed = ", ".join("{{" + n + "}}" for n in PLACEHOLDERS)
        problems.append(f"unknown placeholder {{{{{unknown[0]}}}}}: use one of {allowed}")
    if "{{" in ANY_PLACEHOLDER.sub("", body) or "}}" in ANY_PLACEHOLDER.sub("", body):
        problems.append("a placeholder is not closed: write it as {{first_name}}")
    if re.match(r"^[\W_]*\{\{", body):
        problems.append("the body may not start with a placeholder")
    if re.search(r"\}\}[\W_]*$", body):
        problems.append("the body may not end with a placeholder (only punctuation after it)")
    if re.search(r"\}\}[\s.,;:!?-]*\{\{", body):
        problems.append("two placeholders need words between them, not just spaces")
    words = len(ANY_PLACEHOLDER.sub(" ", body).split())
    count = len(ANY_PLACEHOLDER.findall(body))
    if count and words < WORDS_PER_PLACEHOLDER * count + 1:
        problems.append(
            f"{count} placeholders need at least {WORDS_PER_PLACEHOLDER * count + 1} words "
            f"around them (there are {words})"
        )
    if "coupon_code" in names and not draft.coupon:
        problems.append("{{coupon_code}} needs the coupon option (a copy-code button)")
    return problems


def components(draft: Draft, public_url: str) -> list[dict[str, Any]]:
    """Meta's components for the draft, with the placeholder names kept on the BODY."""
    names = placeholder_names(draft.body)
    numbered = ANY_PLACEHOLDER.sub(lambda m: f"{{{{{names.index(m.group(1)) + 1}}}}}", draft.body)
    body: dict[str, Any] = {"type": "BODY", "text": numbered.strip(), NAMES_KEY: names}
    if names:
        body["example"] = {"body_text": [[PLACEHOLDERS[n] for n in names]]}
    result: list[dict[str, Any]] = []
    if draft.header_handle:
        result.append(
            {
                "type": "HEADER",
                "format": "IMAGE",
                "example": {"header_handle": [draft.header_handle]},
            }
        )
    result.append(body)
    language = draft.language[:2]
    buttons: list[dict[str, Any]] = []
    if draft.coupon:
        buttons.append({"type": "COPY_CODE", "example": PLACEHOLDERS["coupon_code"]})
    if draft.link:
        base = public_url.rstrip("/")
        buttons.append(
            {
                "type": "URL",
                "text": LINK_TEXT.get(language, LINK_TEXT["en"]),
                "url": f"{base}/r/{{{{1}}}}",
                "example": [f"{base}/r/AbC123"],
            }
        )
    if draft.stop_button:
        buttons.append({"type": "QUICK_REPLY", "text": STOP_TEXT.get(language, STOP_TEXT["en"])})
    if buttons:
        result.append({"type": "BUTTONS", "buttons": buttons})
    return result


def for_meta(stored: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The components as Meta takes them: our own keys removed."""
    sent = copy.deepcopy(stored)
    for component in sent:
        component.pop(NAMES_KEY, None)
    return sent


def parameter_names(template: WhatsAppTemplate) -> list[str] | None:
    """The names that fill {{1}}, {{2}} … of an owner's template; None for a default one."""
    for component in template.components or []:
        if component.get("type") == "BODY" and NAMES_KEY in component:
            return [str(name) for name in component[NAMES_KEY]]
    return None


def create_template(
    session: Session,
    store: Store,
    settings: Settings,
    draft: Draft,
    now: dt.datetime | None = None,
) -> WhatsAppTemplate:
    """Lint, store and submit the owner's template (dry-run accounts approve it locally)."""
    now = now or utcnow()
    problems = lint(draft)
    existing = session.scalars(
        select(WhatsAppTemplate).where(
            WhatsAppTemplate.store_id == store.id,
            WhatsAppTemplate.name == draft.name,
            WhatsAppTemplate.language == draft.language,
        )
    ).first()
    if existing is not None and existing.status not in ("LOCAL", "REJECTED"):
        problems.append(f"the shop already has {draft.name} ({draft.language}), {existing.status}")
    if problems:
        raise TemplateLintError(problems)
    account = account_of(session, store)
    if account is None:
        raise LookupError("the shop has no WhatsApp account (shopnudge stores whatsapp ...)")
    row = existing or WhatsAppTemplate(store_id=store.id, name=draft.name, language=draft.language)
    row.purpose, row.category, row.status = PURPOSE, "MARKETING", "LOCAL"
    row.components = components(draft, settings.public_url)
    session.add(row)
    session.flush()
    if account.dry_run:
        row.status, row.status_changed_at = "APPROVED", now
        return row
    body = {
        "name": row.name,
        "language": row.language,
        "category": "MARKETING",
        "components": for_meta(row.components),
    }
    try:
        answer = GraphClient(account.token, settings).request(
            "POST", f"{account.waba_id}/message_templates", json=body
        )
    except SendError as error:
        row.rejection_reason = f"submission failed: {error}"
        session.flush()
        raise
    row.meta_template_id = str(answer.get("id") or "") or None
    row.category = str(answer.get("category") or "MARKETING").upper()
    row.status = str(answer.get("status") or "PENDING").upper()
    row.rejection_reason, row.status_changed_at = None, now
    session.flush()
    return row
