"""The settings forms; each FlaskForm checks its own CSRF token (no global CSRFProtect, so
webhooks and the storefront API stay token-free)."""

from __future__ import annotations

import re
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
)
from wtforms.widgets import CheckboxInput, ListWidget

from plugin.consent.wording import DEFAULT_WORDING
from plugin.i18n import N_, lazy_gettext
from plugin.models import Store

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

    def changes(self) -> dict[str, Any]:
        return {
            "name": self.name.data.strip(),
            "privacy_url": self.privacy_url.data.strip(),
            "double_optin_mode": self.double_optin_mode.data,
            "pending_optin_days": self.pending_optin_days.data,
        }


class RemindersForm(FlaskForm):
    delay_1 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_1 = StringField(validators=[Optional(), Length(max=512)])
    delay_2 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_2 = StringField(validators=[Optional(), Length(max=512)])
    delay_3 = IntegerField(validators=[Optional(), NumberRange(15, 7 * 1440)])
    template_3 = StringField(validators=[Optional(), Length(max=512)])
    discount_code = StringField(validators=[Optional(), Length(max=64)])

    def fill(self, store: Store) -> None:
        for index, step in enumerate(store.setting("reminder_steps")[:MAX_REMINDER_STEPS], 1):
            self[f"delay_{index}"].data = step["delay_minutes"]
            self[f"template_{index}"].data = step["template"]
        self.discount_code.data = store.setting("discount_code")

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
        return {"reminder_steps": steps, "discount_code": (self.discount_code.data or "") or None}


class RecommendationsForm(FlaskForm):
    recommendation_delay_days = IntegerField(validators=[InputRequired(), NumberRange(1, 365)])
    recommendation_period_days = IntegerField(validators=[InputRequired(), NumberRange(7, 365)])
    excluded_categories = StringField(validators=[Optional(), Length(max=2000)])
    consumable_categories = StringField(validators=[Optional(), Length(max=2000)])

    def fill(self, store: Store) -> None:
        self.recommendation_delay_days.data = store.setting("recommendation_delay_days")
        self.recommendation_period_days.data = store.setting("recommendation_period_days")
        self.excluded_categories.data = ", ".join(store.setting("excluded_categories"))
        self.consumable_categories.data = ", ".join(store.setting("consumable_categories"))

    def changes(self) -> dict[str, Any]:
        return {
            "recommendation_delay_days": self.recommendation_delay_days.data,
            "recommendation_period_days": self.recommendation_period_days.data,
            "excluded_categories": split_list(self.excluded_categories.data),
            "consumable_categories": split_list(self.consumable_categories.data),
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

    def fill(self, store: Store) -> None:
        for name in ("quiet_hours_start", "quiet_hours_end", "cap_per_24h", "cap_per_7d"):
            self[name].data = store.setting(name)
        self.quiet_days.data = [str(day) for day in store.setting("quiet_days")]

    def changes(self) -> dict[str, Any]:
        return {
            "quiet_hours_start": self.quiet_hours_start.data,
            "quiet_hours_end": self.quiet_hours_end.data,
            "quiet_days": sorted(int(day) for day in self.quiet_days.data or []),
            "cap_per_24h": self.cap_per_24h.data,
            "cap_per_7d": self.cap_per_7d.data,
        }


class BudgetForm(FlaskForm):
    monthly_budget = DecimalField(places=2, validators=[Optional(), NumberRange(0, 1_000_000)])
    holdout_percent = IntegerField(validators=[InputRequired(), NumberRange(0, 50)])

    def fill(self, store: Store) -> None:
        budget = store.setting("monthly_budget_minor")
        self.monthly_budget.data = None if budget is None else budget / 100
        self.holdout_percent.data = store.setting("holdout_percent")

    def changes(self) -> dict[str, Any]:
        budget = self.monthly_budget.data
        return {
            "monthly_budget_minor": None if budget is None else round(budget * 100),
            "holdout_percent": self.holdout_percent.data,
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
