"""The owner's template editor (/app/templates): write, preview, lint and submit a marketing
template; the shop's templates listed with the status Meta last reported for each."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy import select
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length

from plugin.db import request_session
from plugin.i18n import gettext as _
from plugin.i18n import lazy_gettext
from plugin.models import Store, WhatsAppTemplate
from plugin.web.app.blueprint import bp
from plugin.web.auth import current_store, store_required
from plugin.whatsapp.channel import SendError
from plugin.whatsapp.templates.authoring import (
    PLACEHOLDERS,
    Draft,
    TemplateLintError,
    components,
    create_template,
    lint,
    placeholder_names,
)
from plugin.whatsapp.templates.catalog import account_of
from plugin.whatsapp.uploads import upload_header_image

#: The languages the editor offers (ShopNudge's own: German and English).
LANGUAGES = [SelectChoice("de", "Deutsch"), SelectChoice("en", "English")]


class TemplateForm(FlaskForm):
    name = StringField(lazy_gettext("Name"), validators=[InputRequired(), Length(max=512)])
    language = SelectField(lazy_gettext("Language"), choices=LANGUAGES)
    body = TextAreaField(lazy_gettext("Text"), validators=[InputRequired(), Length(max=1024)])
    header_image = FileField(lazy_gettext("Image above the text (JPEG or PNG)"))
    button_url = BooleanField(lazy_gettext("Button to the offer (tracked link)"))
    coupon = BooleanField(lazy_gettext("Button that copies the buyer's coupon code"))
    stop_button = BooleanField(lazy_gettext("Quick reply to stop promotions"), default=True)


def _store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran
    return store


def _draft(form: TemplateForm, handle: str | None = None) -> Draft:
    return Draft(
        name=(form.name.data or "").strip(),
        language=form.language.data or "de",
        body=form.body.data or "",
        header_handle=handle,
        link=bool(form.button_url.data),
        coupon=bool(form.coupon.data),
        stop_button=bool(form.stop_button.data),
    )


def _page(form: TemplateForm, problems: list[str], status: int = 200) -> ResponseReturnValue:
    store = _store()
    session = request_session()
    rows = session.scalars(
        select(WhatsAppTemplate)
        .where(WhatsAppTemplate.store_id == store.id)
        .order_by(WhatsAppTemplate.name, WhatsAppTemplate.language)
    ).all()
    draft = _draft(form, "preview" if form.header_image.data else None)
    names = placeholder_names(draft.body)
    preview: dict[str, Any] = {
        "components": components(draft, current_app.config["SHOPNUDGE"].public_url),
        "values": [PLACEHOLDERS.get(name, "") for name in names],
    }
    context = {
        "store": store,
        "form": form,
        "problems": problems,
        "templates": rows,
        "placeholders": PLACEHOLDERS,
        "preview": preview if draft.body.strip() else None,
    }
    return render_template("app/template_editor.html", **context), status


@bp.get("/app/templates")
@store_required
def template_editor() -> ResponseReturnValue:
    return _page(TemplateForm(), [])


@bp.post("/app/templates")
@store_required
def create_owner_template() -> ResponseReturnValue:
    """Preview (the default) or submit; a template that breaks Meta's rules is never sent."""
    form = TemplateForm()
    if not form.validate_on_submit():
        return _page(form, [], 422)
    problems = lint(_draft(form))
    if problems:
        return _page(form, problems, 422)
    if request.form.get("action") != "submit":
        return _page(form, [])
    return _submit(form)


def _submit(form: TemplateForm) -> ResponseReturnValue:
    store, session = _store(), request_session()
    settings = current_app.config["SHOPNUDGE"]
    account = account_of(session, store)
    try:
        handle = _upload(form, account, settings)
        row = create_template(session, store, settings, _draft(form, handle))
    except TemplateLintError as error:
        return _page(form, error.problems, 422)
    except (LookupError, ValueError, SendError) as error:
        session.commit()  # the row keeps why the submission failed
        return _page(form, [str(error)], 422)
    session.commit()
    flash(_("%(name)s (%(language)s) submitted: %(status)s", name=row.name,
            language=row.language, status=row.status), "success")  # fmt: skip
    return redirect(url_for("owner.template_editor"))


def _upload(form: TemplateForm, account: Any, settings: Any) -> str | None:
    """Meta's handle for the posted image; a dry-run account reviews nothing, so no upload."""
    upload = form.header_image.data
    if not upload or not getattr(upload, "filename", ""):
        return None
    if account is None or account.dry_run:
        return f"local:{Path(upload.filename).name}"
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / Path(upload.filename).name
        upload.save(path)
        return upload_header_image(account.token, settings, path)
