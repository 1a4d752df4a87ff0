"""Human words for the codes an owner or buyer can see: states, flows, reasons, sources, statuses,
pricing categories.

The database and the API keep the codes (`skipped`, `cart_open`, `APPROVED`); pages show these
words in the reader's language. A reason also has a one-line explanation, so "cart_open" reads
as "Already bought: the buyer bought in the meantime, or the cart grew too old", not as its
opposite. A code not listed here (a WhatsApp error text, a newer code) is shown as it is.
"""

from __future__ import annotations

from flask import Flask
from flask_babel import LazyString, lazy_gettext

#: What an outbox row is doing or how it ended (NotificationState).
STATES: dict[str, LazyString] = {
    "pending": lazy_gettext("Waiting"),
    "sending": lazy_gettext("Being sent"),
    "sent": lazy_gettext("Sent"),
    "failed": lazy_gettext("Failed"),
    "skipped": lazy_gettext("Skipped"),
    "expired": lazy_gettext("Expired"),
}

#: Why a message is sent (Flow).
FLOWS: dict[str, LazyString] = {
    "cart_reminder": lazy_gettext("Cart reminder"),
    "recommendation": lazy_gettext("Recommendation"),
    "optin_confirmation": lazy_gettext("Opt-in confirmation"),
    "campaign": lazy_gettext("Campaign"),
    "campaign_test": lazy_gettext("Campaign test"),
}

#: Why a message was skipped, failed or expired: (short label, one-line explanation). The keys
#: are the guard names of plugin/engine/guards.py and the few reasons set elsewhere.
REASONS: dict[str, tuple[LazyString, LazyString]] = {
    "store_active": (
        lazy_gettext("Sending paused"),
        lazy_gettext("sending was paused for the shop"),
    ),
    "subscription_sendable": (
        lazy_gettext("No confirmed opt-in"),
        lazy_gettext("the buyer has not confirmed the opt-in, or has opted out"),
    ),
    "cart_open": (
        lazy_gettext("Already bought"),
        lazy_gettext("the buyer bought in the meantime, or the cart grew too old"),
    ),
    "phone_quality": (
        lazy_gettext("Phone number quality low"),
        lazy_gettext("WhatsApp rates the number's quality low; sending pauses to protect it"),
    ),
    "template_approved": (
        lazy_gettext("Template not approved"),
        lazy_gettext("Meta has not approved the template in the buyer's language"),
    ),
    "monthly_budget": (
        lazy_gettext("Budget reached"),
        lazy_gettext("this month's budget was spent"),
    ),
    "frequency_cap": (
        lazy_gettext("Message limit"),
        lazy_gettext("the buyer already got as many messages as the limits allow"),
    ),
    "quiet_hours": (
        lazy_gettext("Quiet hours"),
        lazy_gettext("it stayed quiet time for the buyer until the message was too late"),
    ),
    "confirmation_pending": (
        lazy_gettext("Opt-in settled"),
        lazy_gettext("the buyer had already confirmed or opted out"),
    ),
    "first_confirmation": (
        lazy_gettext("Confirmation already asked"),
        lazy_gettext("an earlier confirmation request is still unanswered"),
    ),
    "confirmation_template": (
        lazy_gettext("No confirmation template"),
        lazy_gettext("no approved template asks for the confirmation"),
    ),
    "holdout": (
        lazy_gettext("Control group"),
        lazy_gettext(
            "the buyer is in the control group that gets no message, to measure the effect"
        ),
    ),
    "expired": (
        lazy_gettext("Too late"),
        lazy_gettext("its moment passed before it could be sent"),
    ),
    "sending_unconfirmed": (
        lazy_gettext("Delivery unknown"),
        lazy_gettext("sending was interrupted and WhatsApp never confirmed it; it is never resent"),
    ),
    "opt-in not confirmed in time": (
        lazy_gettext("Opt-in not confirmed"),
        lazy_gettext("the buyer did not confirm the opt-in in time"),
    ),
    "reconciled from a status webhook": (
        lazy_gettext("Confirmed by WhatsApp"),
        lazy_gettext("WhatsApp reported the message after an interrupted send"),
    ),
    "not_confirmed": (
        lazy_gettext("Opt-in not confirmed yet"),
        lazy_gettext("the buyer signed up but has not confirmed on WhatsApp"),
    ),
    "opted_out": (
        lazy_gettext("Opted out"),
        lazy_gettext("the buyer asked to get no more messages"),
    ),
    "erased": (
        lazy_gettext("Erased"),
        lazy_gettext("the buyer's data was erased on request"),
    ),
    "undeliverable": (
        lazy_gettext("Cannot receive WhatsApp"),
        lazy_gettext("WhatsApp reported that the number cannot get messages"),
    ),
    "campaign_paused": (
        lazy_gettext("Campaign paused"),
        lazy_gettext("the campaign was paused before this message went; resuming sends it"),
    ),
    "campaign_cancelled": (
        lazy_gettext("Campaign cancelled"),
        lazy_gettext("the campaign was cancelled before this message went"),
    ),
}

#: Where a campaign stands (CampaignStatus).
CAMPAIGN_STATUSES: dict[str, LazyString] = {
    "draft": lazy_gettext("Draft"),
    "running": lazy_gettext("Sending"),
    "paused": lazy_gettext("Paused"),
    "cancelled": lazy_gettext("Cancelled"),
}

#: Where a consent event came from.
SOURCES: dict[str, LazyString] = {
    "checkout_checkbox": lazy_gettext("Checkbox at checkout"),
    "widget": lazy_gettext("Sign-up box in the shop"),
    "thank_you_page": lazy_gettext("Thank-you page"),
    "import": lazy_gettext("Import"),
    "whatsapp_reply": lazy_gettext("Reply in WhatsApp"),
    "shop_owner": lazy_gettext("Shop owner"),
    "unsubscribe_link": lazy_gettext("Unsubscribe link"),
    "meta_preferences": lazy_gettext("WhatsApp settings of the buyer"),
    "send_error": lazy_gettext("WhatsApp refused a message"),
    "shopify": lazy_gettext("Shopify"),
    "shopify_consent": lazy_gettext("Shopify customer record"),
    "shopify_redact": lazy_gettext("Shopify erasure request"),
    "shopify_data_request": lazy_gettext("Shopify data request"),
    "platform": lazy_gettext("Shop platform"),
}

#: A consent ledger event (ConsentKind) and a subscription's state (SubscriptionState).
CONSENT: dict[str, LazyString] = {
    "requested": lazy_gettext("Signed up, not yet confirmed"),
    "pending": lazy_gettext("Waiting for confirmation"),
    "confirmed": lazy_gettext("Confirmed"),
    "opted_out": lazy_gettext("Opted out"),
    "erased": lazy_gettext("Erased"),
}

#: Meta's review of a template, and WhatsApp's delivery report of a message.
STATUSES: dict[str, LazyString] = {
    "APPROVED": lazy_gettext("Approved"),
    "PENDING": lazy_gettext("In review"),
    "REJECTED": lazy_gettext("Rejected"),
    "PAUSED": lazy_gettext("Paused by Meta"),
    "DISABLED": lazy_gettext("Disabled by Meta"),
    "IN_APPEAL": lazy_gettext("In appeal"),
    "DELETED": lazy_gettext("Deleted by Meta"),
    "ARCHIVED": lazy_gettext("Archived"),
    "PENDING_DELETION": lazy_gettext("Being deleted"),
    "LIMIT_EXCEEDED": lazy_gettext("Template limit reached"),
    "held": lazy_gettext("Held by Meta for a quality check"),
    "sent": lazy_gettext("Sent"),
    "delivered": lazy_gettext("Delivered"),
    "read": lazy_gettext("Read"),
    "failed": lazy_gettext("Failed"),
}

#: WhatsApp's quality rating of the phone number.
QUALITY: dict[str, LazyString] = {
    "GREEN": lazy_gettext("High"),
    "YELLOW": lazy_gettext("Medium"),
    "RED": lazy_gettext("Low"),
    "UNKNOWN": lazy_gettext("Not rated yet"),
}

#: What a default template is for.
PURPOSES: dict[str, LazyString] = {
    "optin_confirmation": lazy_gettext("Opt-in confirmation"),
    "cart_reminder_1": lazy_gettext("Cart reminder, first"),
    "cart_reminder_2": lazy_gettext("Cart reminder, second"),
    "cart_reminder_3": lazy_gettext("Cart reminder, third"),
    "recommendation": lazy_gettext("Recommendation"),
}

#: Meta's pricing category of a delivered message (its status webhook's `pricing.category`).
#: Meta writes the international authentication rate both with a hyphen and an underscore.
PRICING: dict[str, LazyString] = {
    "marketing": lazy_gettext("Marketing"),
    "marketing_lite": lazy_gettext("Marketing (Marketing Messages API)"),
    "utility": lazy_gettext("Order or account update"),
    "service": lazy_gettext("Reply to the buyer"),
    "authentication": lazy_gettext("Login code"),
    "authentication_international": lazy_gettext("Login code, international rate"),
    "authentication-international": lazy_gettext("Login code, international rate"),
    "referral_conversion": lazy_gettext("Conversation from an ad (free)"),
}

KINDS: dict[str, dict[str, LazyString]] = {
    "state": STATES,
    "flow": FLOWS,
    "source": SOURCES,
    "consent": CONSENT,
    "status": STATUSES,
    "quality": QUALITY,
    "purpose": PURPOSES,
    "campaign": CAMPAIGN_STATUSES,
    "pricing": PRICING,
    "reason": {code: short for code, (short, _why) in REASONS.items()},
}


def label(code: str | None, kind: str) -> str:
    """The human words for a code of one kind; an unknown code as it is, None as a dash."""
    if not code:
        return "\u2013"  # an en dash, as the pages write an empty value
    words = KINDS[kind].get(code)
    return str(words) if words is not None else code


def explain(reason: str | None) -> str:
    """A reason as "label: why" ("Already bought: the buyer bought in the meantime, …")."""
    if not reason:
        return "\u2013"  # an en dash, as the pages write an empty value
    if reason not in REASONS:
        return reason
    short, why = REASONS[reason]
    return f"{short}: {why}"


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(label=label, explain=explain)
