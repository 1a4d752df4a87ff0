"""The campaign composer's form: template, the segment's rules as fields, and the sending plan.

The rule language (plugin/campaigns/segments.py) is a list of rules that must all hold. The form
offers one set of fields per rule; every filled set becomes one rule, so an owner builds a
segment without writing JSON, and the saved campaign holds the same rules the API accepts.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from wtforms import (
    DateTimeLocalField,
    DecimalField,
    Field,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    URLField,
)
from wtforms.fields.core import UnboundField
from wtforms.validators import URL, InputRequired, Length, NumberRange, Optional, Regexp

from plugin.campaigns.coupons import approval_link, needs_discount_approval
from plugin.campaigns.segments import MAX_DAYS
from plugin.config import Settings
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext
from plugin.models import Store
from plugin.web.app.forms import TIME, split_list

DAYS = NumberRange(0, MAX_DAYS)
COUNT = NumberRange(0, 1_000_000)
CODES = Regexp(
    r"^\s*[A-Za-z]{2}(\s*,\s*[A-Za-z]{2})*\s*,?\s*$",
    message=lazy_gettext("Use two-letter codes separated by commas, e.g. DE, AT."),
)
#: A start before this year is past, one after the last is a typo (and beyond it the shop's
#: time zone can push a date out of Python's range).
FIRST_YEAR, LAST_YEAR = 2000, 2999
#: (min field, max field, rule) of the rules that take a range.
RANGES = (
    ("last_order_min", "last_order_max", "days_since_last_order"),
    ("orders_min", "orders_max", "orders"),
    ("spent_min", "spent_max", "total_spent"),
)


class FiniteDecimalField(DecimalField):
    """A decimal that is a number: "NaN", "sNaN" and "Infinity" are refused as typos are.

    (Decimal reads them all; a signalling NaN then breaks NumberRange's comparison.)
    """

    def process_formdata(self, valuelist: list[Any]) -> None:
        super().process_formdata(valuelist)
        if isinstance(self.data, Decimal) and not self.data.is_finite():
            self.data = None
            raise ValueError(_("Enter a number."))


def _days() -> IntegerField:
    return IntegerField(validators=[Optional(), DAYS])


def _target_kind() -> SelectField:
    return SelectField(
        choices=[
            SelectChoice("product", lazy_gettext("Product ID")),
            SelectChoice("category", lazy_gettext("Category")),
        ],
        default="product",
    )


class SegmentForm(FlaskForm):
    """The segment's fields alone: the composer's live count reads these as the owner types."""

    languages = StringField(validators=[Optional(), CODES, Length(max=200)])
    countries = StringField(validators=[Optional(), CODES, Length(max=200)])
    last_order_min = _days()
    last_order_max = _days()
    orders_min = IntegerField(validators=[Optional(), COUNT])
    orders_max = IntegerField(validators=[Optional(), COUNT])
    spent_min = FiniteDecimalField(places=2, validators=[Optional(), NumberRange(0, 10**9)])
    spent_max = FiniteDecimalField(places=2, validators=[Optional(), NumberRange(0, 10**9)])
    bought_kind = _target_kind()
    bought = StringField(validators=[Optional(), Length(max=255)])
    bought_within = _days()
    never_bought_kind = _target_kind()
    never_bought = StringField(validators=[Optional(), Length(max=255)])
    engaged_within = _days()
    cart_within = _days()
    subscribed_min = _days()

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for low, high, _rule in RANGES:
            low_value, high_value = self[low].data, self[high].data
            if low_value is not None and high_value is not None and low_value > high_value:
                self[high].errors.append(_("The maximum must not be below the minimum."))
                valid = False
        if self.bought_within.data is not None and not (self.bought.data or "").strip():
            self.bought.errors.append(_("Name the product or category."))
            valid = False
        return valid

    def segment(self) -> dict[str, Any]:
        """The rules the filled fields describe (total spent in minor units)."""
        rules: list[dict[str, Any]] = []
        for name, rule in (("languages", "language"), ("countries", "country")):
            codes = split_list(self[name].data)
            if codes:
                rules.append(
                    {
                        "rule": rule,
                        "in": [c.lower() if rule == "language" else c.upper() for c in codes],
                    }
                )
        for low, high, rule in RANGES:
            bounds = {
                key: _whole(self[field].data, rule)
                for key, field in (("min", low), ("max", high))
                if self[field].data is not None
            }
            if bounds:
                rules.append({"rule": rule, **bounds})
        for name in ("bought", "never_bought"):
            target = (self[name].data or "").strip()
            if target:
                found: dict[str, Any] = {"rule": name, self[f"{name}_kind"].data: target}
                if name == "bought" and self.bought_within.data is not None:
                    found["within_days"] = self.bought_within.data
                rules.append(found)
        for field, rule in (("engaged_within", "engaged"), ("cart_within", "cart_abandoned")):
            if self[field].data is not None:
                rules.append({"rule": rule, "within_days": self[field].data})
        if self.subscribed_min.data is not None:
            rules.append({"rule": "subscribed_days", "min": self.subscribed_min.data})
        return {"rules": rules}


#: The segment's field names, in order (the live count's query parameters).
SEGMENT_FIELDS = tuple(
    name for name, value in vars(SegmentForm).items() if isinstance(value, UnboundField)
)


class CampaignForm(SegmentForm):
    name = StringField(validators=[InputRequired(), Length(max=255)])
    template = SelectField(validators=[InputRequired()], choices=[])
    coupon = StringField(validators=[Optional(), Length(max=64)])
    unique_coupon_percent = IntegerField(
        validators=[
            Optional(),
            NumberRange(1, 100, message=lazy_gettext("Between 1 and 100 percent.")),
        ]
    )
    link_url = URLField(validators=[Optional(), URL(require_tld=False), Length(max=2048)])
    holdout_percent = FiniteDecimalField(places=1, validators=[InputRequired(), NumberRange(0, 50)])
    window_start = StringField(validators=[InputRequired(), TIME], default="10:00")
    window_end = StringField(validators=[InputRequired(), TIME], default="19:00")
    spread_hours = IntegerField(validators=[InputRequired(), NumberRange(0, 72)], default=0)
    starts_at = DateTimeLocalField(format="%Y-%m-%dT%H:%M", validators=[Optional()])

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        start, end = self.window_start, self.window_end
        if not (start.errors or end.errors) and (start.data or "") >= (end.data or ""):
            end.errors.append(_("The window must end after it starts."))
            valid = False
        moment = self.starts_at.data
        if moment is not None and not FIRST_YEAR <= moment.year <= LAST_YEAR:
            self.starts_at.errors.append(_("Choose a time that is still to come."))
            valid = False
        return valid

    def window(self) -> str:
        return f"{self.window_start.data}-{self.window_end.data}"

    def start_moment(self, timezone: str) -> dt.datetime | None:
        """The chosen start, read in the shop's own time zone, in UTC."""
        if self.starts_at.data is None:
            return None
        local = self.starts_at.data.replace(tzinfo=ZoneInfo(timezone))
        return local.astimezone(dt.UTC)

    def add_error(self, name: str, message: str) -> None:
        field: Field = self[name]
        field.errors = [*field.errors, message]

    def refused(self, reason: str | None) -> bool:
        """Put a campaign step's coupon refusal beside its field; False for any other reason."""
        if reason not in COUPON_REFUSALS:
            return False
        name, message = COUPON_REFUSALS[reason]
        self.add_error(name, str(message))
        return True


#: The coupon rules of `drafts.create_campaign` (the CLI's and the API's too), in the owner's
#: words: the field each concerns and what to do.
COUPON_REFUSALS = {
    "coupon_both": (
        "unique_coupon_percent",
        lazy_gettext("Give one code for everybody or a code per buyer, not both."),
    ),
    "coupon_missing": (
        "coupon",
        lazy_gettext(
            "This template shows a coupon code: enter one for everybody, or give each buyer a "
            "code of their own."
        ),
    ),
    "unique_not_shown": (
        "unique_coupon_percent",
        lazy_gettext("This template shows no coupon code, so it cannot carry a code per buyer."),
    ),
    "unique_percent": ("unique_coupon_percent", lazy_gettext("Between 1 and 100 percent.")),
    "unique_platform": (
        "unique_coupon_percent",
        lazy_gettext("Codes per buyer cannot be created on this shop's platform yet."),
    ),
}


#: Unique codes on a Shopify shop that has not granted `write_discounts` (installed before
#: ShopNudge asked for it): what the owner does about it. `%(link)s` opens the app in the admin.
COUPON_ACCESS = lazy_gettext(
    "Shopify does not allow ShopNudge to create discount codes in this shop yet, so nothing was "
    "sent. Open ShopNudge in your Shopify admin (%(link)s) and approve the permission Shopify "
    "asks for (discounts), or install ShopNudge again from its install link. Then try again."
)

#: The same, said ahead on the settings page and in the composer (from the grant kept).
DISCOUNT_APPROVAL = lazy_gettext(
    "Shopify does not allow ShopNudge to create discount codes in this shop yet, so a campaign "
    "cannot give each buyer a code of their own. Open ShopNudge in your Shopify admin "
    "(%(link)s) and approve the permission Shopify asks for (discounts), or install ShopNudge "
    "again from its install link."
)


def discount_approval(settings: Settings, store: Store) -> str | None:
    """The note for a Shopify shop whose kept grant lacks write_discounts, else None."""
    if not needs_discount_approval(store):
        return None
    return str(DISCOUNT_APPROVAL) % {"link": approval_link(settings, store)}


class TestSendForm(FlaskForm):
    """The owner's own number for a test message (it must have opted in like a buyer's)."""

    phone = StringField(validators=[InputRequired(), Length(max=64)])

    #: A refusal in the owner's words, by the rule it broke (the CLI shows the message).
    REFUSALS = {
        "test_phone_invalid": lazy_gettext(
            "This is not a phone number. Type it with the country code, e.g. +49 176 12345678."
        ),
        "test_not_confirmed": lazy_gettext(
            "This number has not confirmed WhatsApp marketing from this shop. Sign up with it in "
            "the shop's opt-in form, confirm on WhatsApp, then send the test again."
        ),
        "template_missing": lazy_gettext(
            "Meta no longer approves the template: nothing can be sent."
        ),
        "coupon_failed": lazy_gettext("The shop did not create your coupon code. Try again later."),
        "coupon_access": COUPON_ACCESS,
    }


def _whole(value: Any, rule: str) -> int:
    """Total spent is typed in the shop's currency and kept in minor units."""
    if rule == "total_spent":
        return int(Decimal(value) * 100)
    return int(value)
