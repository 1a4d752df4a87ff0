"""The settings page: one form per section, each posted, checked and audited on its own."""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select

from plugin.consent.wording import (
    DEFAULT_WORDING,
    add_wording_version,
    current_wording,
    lint_wording,
)
from plugin.dashboard import forecast_next_30_days
from plugin.db import request_session, utcnow
from plugin.i18n import gettext as _
from plugin.i18n import lint_text
from plugin.models import (
    AuditEntry,
    OptinWording,
    Store,
    StoreStatus,
    WhatsAppTemplate,
)
from plugin.shopify.app_metafield import write_app_metafield
from plugin.shopify.embedded import embedded_params
from plugin.storefront_pieces import storefront_pieces
from plugin.web.app.blueprint import bp, posted_meta
from plugin.web.app.campaign_forms import discount_approval
from plugin.web.app.changes import actor, apply_changes
from plugin.web.app.forms import (
    BudgetForm,
    BusinessForm,
    PauseForm,
    QuietForm,
    RecommendationsForm,
    RemindersForm,
    ShopForm,
    WordingForm,
    fill_simple,
)
from plugin.web.auth import current_store, store_required
from plugin.web.csrf import checks_own_csrf
from plugin.web.openapi import Answer, documented, errors
from plugin.web.schemas.admin import WORDING_LINT
from plugin.web.storefront import UI_TEXT as WIDGET_TEXT
from plugin.whatsapp.pricing import month_spend_micros
from plugin.whatsapp.templates.catalog import account_of

FORMS: dict[str, type[FlaskForm]] = {
    "business": BusinessForm,
    "shop": ShopForm,
    "reminders": RemindersForm,
    "recommendations": RecommendationsForm,
    "quiet": QuietForm,
    "budget": BudgetForm,
}
#: How many change-log entries the page shows.
AUDIT_ROWS = 50


def _store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran
    return store


def _filled_forms(store: Store, posted: str | None, form: FlaskForm | None) -> dict[str, Any]:
    """Every section's form with the shop's values; the posted one keeps what was typed."""
    forms: dict[str, Any] = {}
    for name, form_class in FORMS.items():
        if name == posted and form is not None:
            forms[name] = form
            continue
        blank = form_class(formdata=None)
        if name == "business":
            fill_simple(blank, store, ("name", "privacy_url", "double_optin_mode", "logo_url"))
            blank.pending_optin_days.data = store.setting("pending_optin_days")
        else:
            blank.fill(store)  # type: ignore[attr-defined]
        forms[name] = blank
    forms["pause"] = PauseForm(formdata=None)
    return forms


def _wording_forms(store: Store, posted: WordingForm | None) -> dict[str, WordingForm]:
    result = {}
    db_session = request_session()
    for locale in DEFAULT_WORDING:
        if posted is not None and posted.locale.data == locale:
            result[locale] = posted
            continue
        form = WordingForm(formdata=None, prefix=f"wording-{locale}")
        wording = current_wording(db_session, store, locale)
        form.locale.data = locale
        form.text.data = (
            wording.text if wording else DEFAULT_WORDING[locale].format(business=store.name)
        )
        result[locale] = form
    return result


def _back(section: str) -> str:
    """The settings page at a section, through the token bounce when inside the admin."""
    return url_for("owner.settings_page", **embedded_params(_store())) + f"#{section}"


def owner_lint(text: str, store: Store) -> list[dict[str, str]]:
    """Lint messages for the owner, in the owner's language."""
    return [
        {"level": m.level, "code": m.code, "message": lint_text(m.code, m.message, store.name)}
        for m in lint_wording(text, store)
    ]


def render_settings(
    posted: str | None = None, form: FlaskForm | None = None, status: int = 200
) -> ResponseReturnValue:
    store = _store()
    db_session = request_session()
    now = utcnow()
    wording_form = form if posted == "wording" else None
    history = db_session.scalars(
        select(OptinWording)
        .where(OptinWording.store_id == store.id)
        .order_by(OptinWording.locale, OptinWording.version.desc())
    ).all()
    wording_forms = _wording_forms(store, wording_form)  # type: ignore[arg-type]
    context = {
        "store": store,
        "forms": _filled_forms(store, posted, form),
        "wording_forms": wording_forms,
        "history": history,
        "widget_ui": WIDGET_TEXT,
        "lint": {
            locale: owner_lint(f.text.data or "", store) for locale, f in wording_forms.items()
        },
        "account": account_of(db_session, store),
        "templates": db_session.scalars(
            select(WhatsAppTemplate)
            .where(WhatsAppTemplate.store_id == store.id)
            .order_by(WhatsAppTemplate.purpose, WhatsAppTemplate.language)
        ).all(),
        "spend_micros": month_spend_micros(db_session, store, now),
        "pieces": storefront_pieces(db_session, store),
        "discount_approval": discount_approval(current_app.config["SHOPNUDGE"], store),
        "forecast_micros": forecast_next_30_days(db_session, store, now),
        "audit": db_session.scalars(
            select(AuditEntry)
            .where(AuditEntry.store_id == store.id)
            .order_by(AuditEntry.occurred_at.desc(), AuditEntry.id.desc())
            .limit(AUDIT_ROWS)
        ).all(),
    }
    return render_template("app/settings.html", **context), status


@bp.get("/app/settings")
@store_required
def settings_page() -> ResponseReturnValue:
    return render_settings()


@bp.post("/app/settings/<section>")
@checks_own_csrf
@store_required
def save_section(section: str) -> ResponseReturnValue:
    form_class = FORMS.get(section)
    if form_class is None:
        abort(404)
    form = form_class(meta=posted_meta())
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return render_settings(section, form, 400)
    store = _store()
    entries = apply_changes(request_session(), store, form.changes(), actor())  # type: ignore[attr-defined]
    request_session().commit()
    flash(_("Saved.") if entries else _("Nothing changed."), "success")
    return redirect(_back(section))


@bp.post("/app/settings/wording/<locale>")
@checks_own_csrf
@store_required
def save_wording(locale: str) -> ResponseReturnValue:
    if locale not in DEFAULT_WORDING:
        abort(404)
    form = WordingForm(prefix=f"wording-{locale}", meta=posted_meta())
    store = _store()
    blocking = [m for m in lint_wording(form.text.data or "", store) if m.level == "error"]
    if not form.validate_on_submit() or form.locale.data != locale or blocking:
        flash(_("Please correct the marked fields."), "error")
        return render_settings("wording", form, 400)
    db_session = request_session()
    text = form.text.data.strip()
    latest = current_wording(db_session, store, locale)
    if latest is not None and latest.text == text and latest.privacy_url == store.privacy_url:
        flash(_("Nothing changed."), "success")
        return redirect(_back("wording"))
    wording = add_wording_version(db_session, store, locale, text, actor())
    db_session.add(
        AuditEntry(
            store_id=store.id,
            actor=actor(),
            action="wording",
            field=f"optin_wording.{locale}",
            old_value=None if latest is None else {"version": latest.version, "text": latest.text},
            new_value={"version": wording.version, "text": wording.text},
        )
    )
    db_session.commit()
    write_app_metafield(db_session, current_app.config["SHOPNUDGE"], store)  # Shopify's copy
    db_session.commit()
    flash(_("Saved.") + f" {_('Version')} {wording.version}.", "success")
    return redirect(_back("wording"))


@bp.get("/app/settings/wording/lint")
@documented(
    "Lint an opt-in wording as the owner types",
    "admin",
    {
        200: Answer(WORDING_LINT),
        302: Answer(None, "Not signed in: to the sign-in page"),
        **errors(503),
    },
    owner=True,
    query={"text": {"type": "string"}},
)
@store_required
def wording_lint() -> ResponseReturnValue:
    """Lint as the owner types (read-only, so no CSRF token needed)."""
    return jsonify(messages=owner_lint(request.args.get("text", ""), _store()))


@bp.post("/app/settings/sending")
@checks_own_csrf
@store_required
def pause_switch() -> ResponseReturnValue:
    form = PauseForm(meta=posted_meta())
    store = _store()
    if not form.validate_on_submit():
        abort(400, description="The form has expired; reload the page and try again.")
    if store.status == StoreStatus.UNINSTALLED:
        abort(409, description="The app is uninstalled; reinstall it to send again.")
    if form.action.data == "pause":
        changes = {"status": StoreStatus.PAUSED.value, "paused_reason": form.reason.data or None}
    else:
        changes = {"status": StoreStatus.ACTIVE.value, "paused_reason": None}
    apply_changes(request_session(), store, changes, actor(), action="sending")
    request_session().commit()
    flash(
        _("Sending is paused.") if form.action.data == "pause" else _("Sending is on."), "success"
    )
    return redirect(_back("sending"))
