"""The settings forms; each FlaskForm checks its own CSRF token (no global CSRFProtect, so
webhooks and the storefront API stay token-free)."""

from __future__ import annotations

import re
import zoneinfo
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    DecimalField,
    Field,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import (
    URL,
    AnyOf,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)
from wtforms.widgets import CheckboxInput, ListWidget

from plugin.consent.wording import DEFAULT_WORDING
from plugin.i18n import N_, lazy_gettext
from plugin.models import Store
from plugin.stores.settings import InvalidSetting, format_rate_card_overrides, parse_setting

TIME = Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", message=lazy_gettext("Use HH:MM, e.g. 20:00."))
#: How many reminder steps the page offers; an empty delay removes a step.
MAX_REMINDER_STEPS = 3
#: Labels for the settings page, translated there (N_ only marks them for extraction).
WEEKDAYS = (
    N_("Monday"),
    N_("Tuesday"),
    N_("Wednesday"),
    N_("Thursday"),
    N_("Friday"),
    N_("Saturday"),
    N_("Sunday"),
)


class Setting:
    """Check a field with the same parser `stores set` uses, so page and CLI agree on values.

    The parsed value is kept on the field (`field.parsed`) for `changes()`; a field that was
    not posted at all (a script posting one value) keeps the shop's value.
    """

    def __init__(self, name: str, message: Any) -> None:
        self.name = name
        self.message = message

    def __call__(self, form: FlaskForm, field: Field) -> None:
        if not field.raw_data:
            return
        text = "" if field.data is None else str(field.data)
        try:
            field.parsed = parse_setting(self.name, text)  # type: ignore[attr-defined]
        except InvalidSetting:
            raise ValidationError(str(self.message)) from None


def parsed(form: FlaskForm, *names: str) -> dict[str, Any]:
    """The values `Setting` read, for the fields that were posted."""
    return {name: form[name].parsed for name in names if hasattr(form[name], "parsed")}


def time_zone_choices() -> list[SelectChoice]:
    """Every IANA zone the server knows, by name (the owner picks the shop's own)."""
    return [SelectChoice(name, name) for name in sorted(zoneinfo.available_timezones())]


class CheckboxesField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def split_list(text: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[,\n]", text or "") if part.strip()]


class WordingForm(FlaskForm):
    locale = HiddenField(validators=[AnyOf(list(DEFAULT_WORDING))])
    text = TextAreaField(validators=[InputRequired(), Length(max=1000)])


class BusinessForm(FlaskForm):
    name = StringField(validators=[InputRequired(), Length(max=255)])
    privacy_url = URLField(validators=[InputRequired(), URL(require_tld=False), Length(max=512)])
    double_optin_mode = SelectField(choices=[SelectChoice("template"), SelectChoice("link")])
    pending_optin_days = IntegerField(validators=[InputRequired(), NumberRange(1, 30)])
    logo_url = URLField(
        validators=[Setting("logo_url", lazy_gettext("An address starting with https://."))]
    )

    def changes(self) -> dict[str, Any]:
        return {
            "name": self.name.data.strip(),
            "privacy_url": self.privacy_url.data.strip(),
            "double_optin_mode": self.double_optin_mode.data,
            "pending_optin_days": self.pending_optin_days.data,
            **parsed(self, "logo_url"),
        }


class ShopForm(FlaskForm):
    """Where the shop is and whom it sells to: time zone, country, currency, language, origins."""

    timezone = SelectField(choices=time_zone_choices, validators=[InputRequired()])
    country = StringField(
        validators=[Setting("country", lazy_gettext("A two-letter country code such as DE."))]
    )
    currency = StringField(
        validators=[Setting("currency", lazy_gettext("A three-letter currency code such as EUR."))]
    )
    default_locale = StringField(
        validators=[Setting("default_locale", lazy_gettext("A language tag such as de or en-GB."))]
    )
    storefront_origins = TextAreaField(
        validators=[
            Length(max=4000),
            Setting(
                "storefront_origins",
                lazy_gettext("One address per line, such as https://shop.example.com (no path)."),
            ),
        ]
    )

    def fill(self, store: Store) -> None:
        for name in ("timezone", "country", "currency", "default_locale"):
            self[name].data = getattr(store, name)
        self.storefront_origins.data = "\n".join(store.setting("storefront_origins"))

    def changes(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone.data,
            **parsed(self, "country", "currency", "default_locale", "storefront_origins"),
        }


class RemindersForm(FlaskForm):
    delay_1 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_1 = StringField(validators=[Optional(), Length(max=512)])
    delay_2 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_2 = StringField(validators=[Optional(), Length(max=512)])
    delay_3 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_3 = StringField(validators=[Optional(), Length(max=512)])
    discount_code = StringField(validators=[Optional(), Length(max=64)])
    cart_abandon_minutes = IntegerField(validators=[InputRequired(), NumberRange(15, 24 * 60)])
    cart_max_age_hours = IntegerField(validators=[InputRequired(), NumberRange(1, 24 * 30)])

    def fill(self, store: Store) -> None:
        for index, step in enumerate(store.setting("reminder_steps")[:MAX_REMINDER_STEPS], 1):
            self[f"delay_{index}"].data = step["delay_minutes"]
            self[f"template_{index}"].data = step["template"]
        self.discount_code.data = store.setting("discount_code")
        self.cart_abandon_minutes.data = store.setting("cart_abandon_minutes")
        self.cart_max_age_hours.data = store.setting("cart_max_age_hours")

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for index in range(1, MAX_REMINDER_STEPS + 1):
            if self[f"delay_{index}"].data and not (self[f"template_{index}"].data or "").strip():
                self[f"template_{index}"].errors.append("A step needs a template.")
                valid = False
        return valid

    def changes(self) -> dict[str, Any]:
        steps = [
            {"delay_minutes": self[f"delay_{i}"].data, "template": self[f"template_{i}"].data}
            for i in range(1, MAX_REMINDER_STEPS + 1)
            if self[f"delay_{i}"].data
        ]
        steps.sort(key=lambda step: step["delay_minutes"])
        return {
            "reminder_steps": steps,
            "discount_code": (self.discount_code.data or "") or None,
            "cart_abandon_minutes": self.cart_abandon_minutes.data,
            "cart_max_age_hours": self.cart_max_age_hours.data,
        }


class RecommendationsForm(FlaskForm):
    recommendation_delay_days = IntegerField(validators=[InputRequired(), NumberRange(1, 365)])
    recommendation_period_days = IntegerField(validators=[InputRequired(), NumberRange(7, 365)])
    excluded_categories = StringField(validators=[Optional(), Length(max=2000)])
    consumable_categories = StringField(validators=[Optional(), Length(max=2000)])
    recommendation_local_hour = IntegerField(validators=[InputRequired(), NumberRange(0, 23)])
    attribution_window_days = IntegerField(validators=[InputRequired(), NumberRange(1, 90)])

    def fill(self, store: Store) -> None:
        for name in (
            "recommendation_delay_days",
            "recommendation_period_days",
            "recommendation_local_hour",
            "attribution_window_days",
        ):
            self[name].data = store.setting(name)
        self.excluded_categories.data = ", ".join(store.setting("excluded_categories"))
        self.consumable_categories.data = ", ".join(store.setting("consumable_categories"))

    def changes(self) -> dict[str, Any]:
        return {
            "recommendation_delay_days": self.recommendation_delay_days.data,
            "recommendation_period_days": self.recommendation_period_days.data,
            "excluded_categories": split_list(self.excluded_categories.data),
            "consumable_categories": split_list(self.consumable_categories.data),
            "recommendation_local_hour": self.recommendation_local_hour.data,
            "attribution_window_days": self.attribution_window_days.data,
        }


class QuietForm(FlaskForm):
    quiet_hours_start = StringField(validators=[InputRequired(), TIME])
    quiet_hours_end = StringField(validators=[InputRequired(), TIME])
    quiet_days = CheckboxesField(
        choices=[SelectChoice(str(n), name) for n, name in enumerate(WEEKDAYS, 1)],
        validators=[Optional()],
    )
    cap_per_24h = IntegerField(validators=[InputRequired(), NumberRange(0, 10)])
    cap_per_7d = IntegerField(validators=[InputRequired(), NumberRange(0, 50)])
    #: Left empty (or not posted) it keeps the shop's value.
    campaign_opt_out_pause_basis_points = IntegerField(
        validators=[Optional(), NumberRange(1, 10_000)]
    )

    def fill(self, store: Store) -> None:
        for name in (
            "quiet_hours_start",
            "quiet_hours_end",
            "cap_per_24h",
            "cap_per_7d",
            "campaign_opt_out_pause_basis_points",
        ):
            self[name].data = store.setting(name)
        self.quiet_days.data = [str(day) for day in store.setting("quiet_days")]

    def _pause_share(self) -> dict[str, Any]:
        value = self.campaign_opt_out_pause_basis_points.data
        return {} if value is None else {"campaign_opt_out_pause_basis_points": value}

    def changes(self) -> dict[str, Any]:
        return {
            "quiet_hours_start": self.quiet_hours_start.data,
            "quiet_hours_end": self.quiet_hours_end.data,
            "quiet_days": sorted(int(day) for day in self.quiet_days.data or []),
            "cap_per_24h": self.cap_per_24h.data,
            "cap_per_7d": self.cap_per_7d.data,
            **self._pause_share(),
        }


class BudgetForm(FlaskForm):
    monthly_budget = DecimalField(places=2, validators=[Optional(), NumberRange(0, 1_000_000)])
    holdout_percent = IntegerField(validators=[InputRequired(), NumberRange(0, 50)])
    rate_card_overrides = TextAreaField(
        validators=[
            Length(max=4000),
            Setting(
                "rate_card_overrides",
                lazy_gettext(
                    "One line per country: code, then marketing, utility and authentication "
                    "prices in EUR, e.g. AT 0.0592 0.0171 0.0171."
                ),
            ),
        ]
    )

    def fill(self, store: Store) -> None:
        budget = store.setting("monthly_budget_minor")
        self.monthly_budget.data = None if budget is None else budget / 100
        self.holdout_percent.data = store.setting("holdout_percent")
        self.rate_card_overrides.data = format_rate_card_overrides(
            store.setting("rate_card_overrides")
        )

    def changes(self) -> dict[str, Any]:
        budget = self.monthly_budget.data
        return {
            "monthly_budget_minor": None if budget is None else round(budget * 100),
            "holdout_percent": self.holdout_percent.data,
            **parsed(self, "rate_card_overrides"),
        }


class PauseForm(FlaskForm):
    action = HiddenField(validators=[InputRequired(), Regexp(r"^(pause|resume)$")])
    reason = StringField(validators=[Optional(), Length(max=255)])


def fill_simple(form: FlaskForm, store: Store, names: tuple[str, ...]) -> None:
    """Set each named field from the store column or sending rule of the same name."""
    from plugin.web.app.changes import current_value

    for name in names:
        field: Field = form[name]
        field.data = current_value(store, name)
