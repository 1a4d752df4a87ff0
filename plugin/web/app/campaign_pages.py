"""The owner's campaign pages: list, composer, preview with confirmation, results, CSV.

They call the campaign steps (`plugin.campaigns.drafts`, `forecast`, `lifecycle`, `trial`)
like the CLI and the JSON API, so the figures an owner confirms on the preview are the plan
that start writes. The start form carries the audience and cost that were on screen; when the
plan has changed since (a buyer opted out, a budget was spent), nothing starts and the page
shows the new figures to confirm again.
"""

from __future__ import annotations

import json
from typing import Any

from babel import Locale
from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import HiddenField

from plugin.campaigns import drafts, forecast, lifecycle, trial
from plugin.campaigns.coupons import approval_link
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.plan import templates_of
from plugin.campaigns.results import campaign_results, recipients
from plugin.config import Settings
from plugin.db import request_session, utcnow
from plugin.i18n import current_language, ngettext
from plugin.i18n import gettext as _
from plugin.models import Campaign, CampaignStatus, Store
from plugin.shopify.embedded import embedded_params
from plugin.web.app.blueprint import bp, posted_meta
from plugin.web.app.campaign_forms import (
    COUPON_ACCESS,
    CampaignForm,
    TestSendForm,
    discount_approval,
)
from plugin.web.app.campaign_messages import (
    campaign_values,
    marketing_templates,
    owner_version,
    sample_values,
    test_sends,
)
from plugin.web.app.campaign_report import activity_chart, csv_chunks, csv_line
from plugin.web.app.campaign_words import describe_rule
from plugin.web.auth import current_store, store_required
from plugin.web.csrf import checks_own_csrf


class StartForm(FlaskForm):
    """The figures the owner saw: what start must still find, or it starts nothing."""

    audience = HiddenField()
    cost = HiddenField()


def _store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran
    return store


def _settings() -> Settings:
    return current_app.config["SHOPNUDGE"]


def _campaign(campaign_id: int) -> Campaign:
    campaign = drafts.find_campaign(request_session(), _store(), campaign_id)
    if campaign is None:
        abort(404)
    return campaign


def _to(endpoint: str, **values: Any) -> ResponseReturnValue:
    return redirect(url_for(endpoint, **values, **embedded_params(_store())))


@bp.get("/app/campaigns")
@store_required
def campaigns_page() -> ResponseReturnValue:
    store = _store()
    rows = request_session().scalars(
        select(Campaign).where(Campaign.store_id == store.id).order_by(Campaign.id.desc())
    )
    return render_template("app/campaigns.html", store=store, campaigns=list(rows))


def _composer(form: CampaignForm, status: int = 200) -> ResponseReturnValue:
    store = _store()
    templates = marketing_templates(store)
    previews = {name: owner_version(versions, store) for name, versions in templates.items()}
    samples = {
        name: sample_values(
            store,
            template,
            coupon=(form.coupon.data or "").strip() or None,
            unique_percent=form.unique_coupon_percent.data,
        )
        for name, template in previews.items()
    }
    return render_template(
        "app/campaign_new.html",
        store=store,
        form=form,
        previews=previews,
        samples=samples,
        discount_approval=discount_approval(_settings(), store),
    ), status


def _template_choices(form: CampaignForm, store: Store) -> None:
    form.template.choices = [(name, name) for name in marketing_templates(store)]


@bp.get("/app/campaigns/new")
@store_required
def campaign_new() -> ResponseReturnValue:
    store = _store()
    form = CampaignForm(formdata=None, holdout_percent=store.setting("holdout_percent"))
    _template_choices(form, store)
    return _composer(form)


@bp.post("/app/campaigns/new")
@checks_own_csrf
@store_required
def campaign_create() -> ResponseReturnValue:
    store = _store()
    form = CampaignForm(meta=posted_meta())
    _template_choices(form, store)
    valid = form.validate_on_submit()
    session = request_session()
    starts = form.start_moment(store.timezone) if valid else None
    if starts is not None and starts < utcnow():
        form.add_error("starts_at", _("Choose a time that is still to come."))
        valid = False
    if not valid:
        flash(_("Please correct the marked fields."), "error")
        return _composer(form, 400)
    try:
        campaign = drafts.create_campaign(
            session,
            store,
            name=form.name.data,
            template=form.template.data,
            segment=form.segment(),
            holdout_percent=float(form.holdout_percent.data),
            coupon=(form.coupon.data or "").strip() or None,
            unique_coupon_percent=form.unique_coupon_percent.data,
            window=form.window(),
            spread_hours=form.spread_hours.data,
            link_url=form.link_url.data or None,
        )
    except CampaignError as error:
        if form.refused(error.reason):  # a coupon rule: said beside its field
            flash(_("Please correct the marked fields."), "error")
        else:
            flash(str(error), "error")
        return _composer(form, 422)
    campaign.starts_at = starts
    session.commit()
    return _to("owner.campaign_page", campaign_id=campaign.id)


def cost_key(cost_micros: dict[str, int]) -> str:
    """The forecast as the start form carries it (sorted, so equal costs compare equal)."""
    return json.dumps(cost_micros, sort_keys=True)


def country_name(code: str) -> str:
    if code == "unknown":
        return _("Unknown country")
    return Locale.parse(current_language()).territories.get(code, code)


@bp.get("/app/campaigns/<int:campaign_id>")
@store_required
def campaign_page(campaign_id: int) -> ResponseReturnValue:
    return _campaign_page(_campaign(campaign_id), TestSendForm(formdata=None))


def _campaign_page(
    campaign: Campaign, test: TestSendForm, status: int = 200
) -> ResponseReturnValue:
    """A draft shows its preview (with the test send); a started one its results."""
    store = _store()
    session = request_session()
    template = owner_version(
        list(templates_of(session, store, campaign.template_name).values()), store
    )
    common = {
        "store": store,
        "campaign": campaign,
        "template": template,
        "values": campaign_values(store, campaign, template),
        "country_name": country_name,
        "rules": [
            describe_rule(rule, store.currency) for rule in campaign.segment.get("rules", [])
        ],
        "action": FlaskForm(formdata=None),
    }
    if campaign.status == CampaignStatus.DRAFT:
        figures = forecast.preview(session, _settings(), store, campaign, utcnow())
        session.rollback()
        start = StartForm(
            formdata=None, audience=figures["audience"], cost=cost_key(figures["cost_micros"])
        )
        page = render_template(
            "app/campaign_preview.html",
            figures=figures,
            start=start,
            test=test,
            tests=test_sends(session, store, campaign),
            **common,
        )
        return page, status
    everyone = recipients(session, store, campaign)
    results = campaign_results(session, store, campaign, everyone)
    chart = activity_chart(everyone, store.timezone)
    return render_template("app/campaign.html", results=results, chart=chart, **common)


@bp.post("/app/campaigns/<int:campaign_id>/start")
@store_required
def campaign_start(campaign_id: int) -> ResponseReturnValue:
    store = _store()
    campaign = _campaign(campaign_id)
    session = request_session()
    if campaign.status == CampaignStatus.DRAFT:
        form = StartForm(meta={"csrf": False})
        figures = forecast.preview(session, _settings(), store, campaign, utcnow())
        session.rollback()
        seen = (form.audience.data, form.cost.data)
        if seen != (str(figures["audience"]), cost_key(figures["cost_micros"])):
            flash(_("The figures changed since you looked. Check them and confirm again."), "error")
            return _to("owner.campaign_page", campaign_id=campaign_id)
    try:
        pending = lifecycle.start_campaign(
            session, _settings(), store, campaign, utcnow(), campaign.starts_at
        )
    except CampaignError as error:  # a page from before it was cancelled, or no codes
        session.rollback()
        if error.reason == "coupon_access":
            flash(str(COUPON_ACCESS) % {"link": approval_link(_settings(), store)}, "error")
        elif campaign.status == CampaignStatus.CANCELLED:
            flash(_("A cancelled campaign cannot start again."), "error")
        else:
            flash(_("The shop did not create the buyers' codes, so nothing was sent. "
                    "Try again later."), "error")  # fmt: skip
        return _to("owner.campaign_page", campaign_id=campaign_id)
    session.commit()
    flash(
        ngettext(
            "Started: %(num)d message waits to be sent.",
            "Started: %(num)d messages wait to be sent.",
            pending,
        ),
        "success",
    )
    return _to("owner.campaign_page", campaign_id=campaign_id)


@bp.post("/app/campaigns/<int:campaign_id>/test-send")
@store_required
def campaign_test_send(campaign_id: int) -> ResponseReturnValue:
    """The CLI's `campaigns test-send` from the draft's page: one message to the owner."""
    campaign = _campaign(campaign_id)
    form = TestSendForm(meta={"csrf": False})  # protect_owner_requests checked the token
    if not form.validate():
        return _campaign_page(campaign, form, 400)
    session = request_session()
    try:
        phone = form.phone.data or ""
        row = trial.send_test(session, _settings(), _store(), campaign, phone, utcnow())
    except CampaignError as error:
        session.rollback()
        refusal = str(TestSendForm.REFUSALS.get(error.reason or "", str(error)))
        if error.reason == "coupon_access":
            refusal %= {"link": approval_link(_settings(), _store())}
        form.phone.errors = [refusal]
        return _campaign_page(campaign, form, 422)
    session.commit()
    flash(
        _(
            "Test message to %(phone)s queued: it goes out with the next dispatch, through the "
            "same checks as the campaign's, and is not counted in it.",
            phone=row.phone,
        ),
        "success",
    )
    return _to("owner.campaign_page", campaign_id=campaign_id)


@bp.post("/app/campaigns/<int:campaign_id>/pause")
@store_required
def campaign_pause(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign(campaign_id)
    session = request_session()
    try:
        held = lifecycle.pause_campaign(session, _store(), campaign, utcnow())
    except CampaignError:  # a page from before it was paused or cancelled
        flash(_("Only a campaign that is sending can be paused."), "error")
        return _to("owner.campaign_page", campaign_id=campaign_id)
    session.commit()
    flash(
        ngettext("Paused: %(num)d message held.", "Paused: %(num)d messages held.", held),
        "success",
    )
    return _to("owner.campaign_page", campaign_id=campaign_id)


@bp.post("/app/campaigns/<int:campaign_id>/cancel")
@store_required
def campaign_cancel(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign(campaign_id)
    session = request_session()
    held = lifecycle.cancel_campaign(session, _store(), campaign, utcnow())
    session.commit()
    flash(
        ngettext(
            "Cancelled: %(num)d message will not be sent.",
            "Cancelled: %(num)d messages will not be sent.",
            held,
        ),
        "success",
    )
    return _to("owner.campaign_page", campaign_id=campaign_id)


@bp.get("/app/campaigns/<int:campaign_id>/recipients.csv")
@store_required
def campaign_csv(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign(campaign_id)
    everyone = recipients(request_session(), _store(), campaign)
    return Response(
        csv_chunks([csv_line(recipient) for recipient in everyone]),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="campaign-{campaign.id}-recipients.csv"'
        },
    )
