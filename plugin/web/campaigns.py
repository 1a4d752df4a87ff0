"""The owner's campaign API: create, list, read, preview, test-send, start, pause and cancel.

Every view calls the campaign steps (`plugin.campaigns.drafts`, `forecast`, `lifecycle`,
`trial`), the same functions as `shopnudge campaigns`, so the preview an owner's script reads
is the plan that start writes. The shop comes from the signed-in session (`current_store`):
another shop's campaign id answers 404, as an unknown one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from plugin.campaigns import drafts, forecast, lifecycle, trial
from plugin.campaigns.errors import CampaignError
from plugin.campaigns.results import campaign_results
from plugin.config import Settings
from plugin.db import request_session, utcnow
from plugin.models import Campaign, Store
from plugin.web.auth import current_store, store_required
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.campaigns import (
    CAMPAIGN,
    CAMPAIGN_DETAIL,
    CAMPAIGN_HELD,
    CAMPAIGN_PREVIEW,
    CAMPAIGN_REQUEST,
    CAMPAIGN_START,
    CAMPAIGN_STARTED,
    CAMPAIGN_TEST_SEND,
    CAMPAIGN_TEST_SENT,
    CAMPAIGNS,
)
from plugin.web.schemas.errors import ERROR
from plugin.web.schemas.validation import first_problem

bp = Blueprint("admin_campaigns", __name__)

_CSRF = {"X-CSRFToken": Header("required with the session cookie (not with a token)", False)}
_CSRF_REFUSED = Answer(ERROR, "Not a JSON object, or no valid CSRF token with a cookie")
#: Keywords whose answer also says the bound ("unique_coupon_percent: maximum 100").
_BOUNDS = ("minimum", "maximum")


def _owner_store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran first
    return store


def _settings() -> Settings:
    return current_app.config["SHOPNUDGE"]


def _when(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def describe(campaign: Campaign) -> dict[str, Any]:
    """A campaign as the API shows it (the results come separately: they cost queries)."""
    return {
        "id": campaign.id,
        "name": campaign.name,
        "status": campaign.status,
        "template": campaign.template_name,
        "segment": campaign.segment,
        "holdout_percent": campaign.holdout_basis_points / 100,
        "coupon": campaign.coupon_code,
        "unique_coupon_percent": campaign.coupon_percent_off,
        "window": f"{campaign.window_start}-{campaign.window_end}",
        "spread_hours": campaign.spread_hours,
        "link_url": campaign.link_url,
        "starts_at": _when(campaign.starts_at),
        "started_at": _when(campaign.started_at),
        "paused_at": _when(campaign.paused_at),
        "cancelled_at": _when(campaign.cancelled_at),
    }


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """The JSON object the request carries ({} when empty); 400 when not one, 422 when off."""
    if not request.get_data():
        body: Any = {}
    else:
        body = request.get_json(silent=True)
    if not isinstance(body, dict):
        abort(400, description="the body must be a JSON object")
    problem = first_problem(body, schema)
    if problem is not None:
        field = schema["properties"].get(problem.field, {})
        bound = field.get(problem.keyword) if problem.keyword in _BOUNDS else None
        said = f"{problem.keyword} {bound}" if bound is not None else problem.keyword
        abort(422, description=f"{problem.field or 'body'}: {said}")
    return body


def _campaign(campaign_id: int) -> Campaign:
    campaign = drafts.find_campaign(request_session(), _owner_store(), campaign_id)
    if campaign is None:
        abort(404, description="no such campaign in this shop")
    return campaign


@bp.get("/api/v1/admin/campaigns")
@documented(
    "The shop's campaigns, newest first",
    "admin",
    {200: Answer(CAMPAIGNS), **errors(401, 503)},
    owner=True,
)
@store_required
def list_campaigns() -> ResponseReturnValue:
    store = _owner_store()
    rows = request_session().scalars(
        select(Campaign).where(Campaign.store_id == store.id).order_by(Campaign.id.desc())
    )
    return jsonify(campaigns=[describe(c) for c in rows])


@bp.post("/api/v1/admin/campaigns")
@documented(
    "Create a campaign (a draft): template, segment, holdout, coupon or unique coupons, "
    "send window",
    "admin",
    {
        201: Answer(CAMPAIGN, "Created, as a draft: nothing is sent before start"),
        400: _CSRF_REFUSED,
        **errors(401, 413, 503),
        422: Answer(
            ERROR,
            "A field is off, the segment breaks a rule (the rule and the mistake are named), "
            "the template is not an approved MARKETING template of this shop, or the coupon "
            "does not fit it (it shows a code and none is given, both a code for all and "
            "unique codes, unique codes on a platform that cannot create them)",
        ),
    },
    owner=True,
    body=CAMPAIGN_REQUEST,
    headers=_CSRF,
)
@store_required
def create() -> ResponseReturnValue:
    body = _body(CAMPAIGN_REQUEST)
    session = request_session()
    options = {
        "segment": body.get("segment"),
        "holdout_percent": body.get("holdout_percent") or 0,
        "coupon": body.get("coupon"),
        "unique_coupon_percent": body.get("unique_coupon_percent"),
        "window": body.get("window") or "10:00-19:00",
        "spread_hours": body.get("spread_hours") or 0,
        "link_url": body.get("link_url"),
    }
    try:
        campaign = drafts.create_campaign(
            session, _owner_store(), name=body["name"], template=body["template"], **options
        )
    except CampaignError as error:
        abort(422, description=str(error))
    session.commit()
    return jsonify(describe(campaign)), 201


@bp.get("/api/v1/admin/campaigns/<int:campaign_id>")
@documented(
    "A campaign and its results: sent, delivered, read, failed, opted out, orders, holdout",
    "admin",
    {200: Answer(CAMPAIGN_DETAIL), **errors(401, 404, 503)},
    owner=True,
)
@store_required
def show(campaign_id: int) -> ResponseReturnValue:
    campaign = _campaign(campaign_id)
    results = campaign_results(request_session(), _owner_store(), campaign)
    return jsonify(describe(campaign) | {"results": results})


@bp.post("/api/v1/admin/campaigns/<int:campaign_id>/preview")
@documented(
    "Audience after every guard, exclusions by reason, forecast cost per country and currency",
    "admin",
    {
        200: Answer(CAMPAIGN_PREVIEW),
        400: Answer(ERROR, "No valid CSRF token with a session cookie"),
        **errors(401, 404, 413, 503),
    },
    owner=True,
    headers=_CSRF,
)
@store_required
def preview(campaign_id: int) -> ResponseReturnValue:
    """A POST, though it changes nothing: it runs the whole plan, which is not a cheap read."""
    campaign = _campaign(campaign_id)
    session = request_session()
    figures = forecast.preview(session, _settings(), _owner_store(), campaign, utcnow())
    session.rollback()
    return jsonify(figures)


@bp.post("/api/v1/admin/campaigns/<int:campaign_id>/test-send")
@documented(
    "Send one message of the campaign to the owner's own number, which must itself be a "
    "confirmed subscriber; it goes through every guard and is not counted in the campaign",
    "admin",
    {
        202: Answer(CAMPAIGN_TEST_SENT, "Queued: it goes with the next dispatch"),
        400: _CSRF_REFUSED,
        **errors(401, 404, 413, 503),
        409: Answer(
            ERROR,
            "The campaign's template is no longer approved, the Shopify shop has not granted "
            "`write_discounts` (the message says how to grant it), or the shop's platform did "
            "not create the owner's unique code (as start answers when it cannot create codes)",
        ),
        422: Answer(
            ERROR,
            "Not a phone number, or the number has not confirmed WhatsApp marketing from "
            "this shop (opt in with it first)",
        ),
    },
    owner=True,
    body=CAMPAIGN_TEST_SEND,
    headers=_CSRF,
)
@store_required
def test_send(campaign_id: int) -> ResponseReturnValue:
    """The CLI's `campaigns test-send`: the same function, the same refusals."""
    campaign = _campaign(campaign_id)  # another shop's campaign is 404 whatever the body
    body = _body(CAMPAIGN_TEST_SEND)
    session = request_session()
    try:
        row = trial.send_test(
            session, _settings(), _owner_store(), campaign, body["phone"], utcnow()
        )
    except CampaignError as error:
        abort(_TEST_REFUSALS.get(error.reason or "", 422), description=str(error))
    session.commit()
    answer = {
        "notification_id": row.id,
        "phone": row.phone,
        "state": row.state,
        "due_at": row.due_at.isoformat(),
        "expires_at": _when(row.expires_at),
    }
    return jsonify(answer), 202


#: A refused test send's status by the rule it broke (the owner's input is 422).
_TEST_REFUSALS = {"template_missing": 409, "coupon_failed": 409, "coupon_access": 409}


@bp.post("/api/v1/admin/campaigns/<int:campaign_id>/start")
@documented(
    "Start a draft (its rows go to the outbox once) or resume a paused campaign",
    "admin",
    {
        200: Answer(CAMPAIGN_STARTED, "Running; `pending` messages wait to be sent"),
        400: _CSRF_REFUSED,
        **errors(401, 404, 413, 503),
        409: Answer(
            ERROR,
            "The campaign was cancelled, its unique codes need `write_discounts` the Shopify "
            "shop has not granted (the message says how to grant it; nothing was composed), or "
            "the shop's platform did not create the codes",
        ),
        422: Answer(ERROR, "`at` is not an ISO 8601 time with its offset"),
    },
    owner=True,
    body=CAMPAIGN_START,
    body_required=False,
    headers=_CSRF,
)
@store_required
def start(campaign_id: int) -> ResponseReturnValue:
    body = _body(CAMPAIGN_START)
    at = _moment(body.get("at"))
    campaign = _campaign(campaign_id)
    session = request_session()
    try:
        pending = lifecycle.start_campaign(
            session, _settings(), _owner_store(), campaign, utcnow(), at
        )
    except CampaignError as error:
        abort(409, description=str(error))
    session.commit()
    return jsonify(campaign=describe(campaign), pending=pending)


def _moment(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        abort(422, description="at: an ISO 8601 time with its offset, e.g. 2026-12-07T10:00Z")
    return moment.astimezone(dt.UTC)


def _hold(campaign_id: int, action: Any) -> ResponseReturnValue:
    campaign = _campaign(campaign_id)
    session = request_session()
    try:
        held = action(session, _owner_store(), campaign, utcnow())
    except CampaignError as error:
        abort(409, description=str(error))
    session.commit()
    return jsonify(campaign=describe(campaign), held=held)


@bp.post("/api/v1/admin/campaigns/<int:campaign_id>/pause")
@documented(
    "Pause a running campaign: every message not yet sent is held until start resumes it",
    "admin",
    {
        200: Answer(CAMPAIGN_HELD, "Paused; `held` messages wait for the resume"),
        400: Answer(ERROR, "No valid CSRF token with a session cookie"),
        **errors(401, 404, 413, 503),
        409: Answer(ERROR, "Only a running campaign can be paused"),
    },
    owner=True,
    headers=_CSRF,
)
@store_required
def pause(campaign_id: int) -> ResponseReturnValue:
    return _hold(campaign_id, lifecycle.pause_campaign)


@bp.post("/api/v1/admin/campaigns/<int:campaign_id>/cancel")
@documented(
    "Cancel a campaign for good: every message not yet sent is ended",
    "admin",
    {
        200: Answer(CAMPAIGN_HELD, "Cancelled; `held` messages will never be sent"),
        400: Answer(ERROR, "No valid CSRF token with a session cookie"),
        **errors(401, 404, 413, 503),
    },
    owner=True,
    headers=_CSRF,
)
@store_required
def cancel(campaign_id: int) -> ResponseReturnValue:
    return _hold(campaign_id, lifecycle.cancel_campaign)
