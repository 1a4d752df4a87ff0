"""The shop owner's consent API: proof of consent, opting a number out, a buyer's data export.

The shop comes from the signed-in session (`current_store`), never from the URL: one shop's
owner cannot read another shop's ledger. Numbers in the URL may be typed as the owner knows
them (`+49 151 …`, `0151 …`); the shop's country is the default region.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue

from plugin.consent import gdpr, ledger
from plugin.consent.proof import consent_record
from plugin.db import request_session, utcnow
from plugin.i18n import gettext as _
from plugin.models import AuditEntry, Store
from plugin.phones import InvalidPhone, parse_phone
from plugin.shopify.embedded import embedded_params
from plugin.web.app.changes import actor
from plugin.web.auth import current_store, store_required
from plugin.web.openapi import Answer, Header, documented, errors
from plugin.web.schemas.admin import BUYER_EXPORT, CONSENT_RECORD
from plugin.web.schemas.errors import ERROR

bp = Blueprint("admin_consent", __name__)


def _owner_store() -> Store:
    store = current_store()
    assert store is not None  # store_required ran first
    return store


def _phone(store: Store, raw: str) -> str:
    try:
        return parse_phone(raw, store.country, mobile_only=False)
    except InvalidPhone as error:
        abort(422, description=f"{error.reason}: {error}")


@bp.get("/api/v1/admin/subscriptions/<phone>")
@documented(
    "Proof of consent: a number's state and every ledger event",
    "admin",
    {200: Answer(CONSENT_RECORD), **errors(401, 404, 422, 503)},
    owner=True,
)
@store_required
def show(phone: str) -> ResponseReturnValue:
    store = _owner_store()
    record = consent_record(request_session(), store, _phone(store, phone))
    if record is None:
        abort(404, description="no subscription for this number")
    return jsonify(record)


@bp.post("/api/v1/admin/subscriptions/<phone>/opt-out")
@documented(
    "Opt a number out on the owner's word (audited)",
    "admin",
    {
        200: Answer(CONSENT_RECORD),
        400: Answer(ERROR, "No valid CSRF token with a session cookie"),
        **errors(401, 404, 413, 422, 503),
    },
    owner=True,
    headers={"X-CSRFToken": Header("required with the session cookie (not with a token)", False)},
)
@store_required
def opt_out(phone: str) -> ResponseReturnValue:
    store = _owner_store()
    number = _phone(store, phone)
    session = request_session()
    now = utcnow()
    subscription = ledger.opt_out(session, store, number, source="shop_owner", at=now)
    session.add(
        AuditEntry(
            store_id=store.id,
            actor="owner",
            action="subscription_opted_out",
            field="consent",
            new_value={"subscription_id": subscription.id},
            occurred_at=now,
        )
    )
    session.commit()
    return jsonify(consent_record(session, store, number))


@bp.get("/api/v1/admin/subscriptions/<phone>/export")
@documented(
    "Everything held about a number in this shop (a GDPR export)",
    "admin",
    {200: Answer(BUYER_EXPORT), **errors(401, 404, 422, 503)},
    owner=True,
)
@store_required
def export(phone: str) -> ResponseReturnValue:
    store = _owner_store()
    data = gdpr.export_buyer(request_session(), store, phone=_phone(store, phone))
    if not any(value for value in data.values() if isinstance(value, list)):
        abort(404, description="nothing is held about this number in this shop")
    response = jsonify(data)
    response.headers["Content-Disposition"] = "attachment; filename=shopnudge-export.json"
    return response


@bp.post("/app/consent/erase")
@store_required
def erase() -> ResponseReturnValue:
    """The owner erases one buyer on request (the form's CSRF token is checked for every
    owner POST); the number travels in the body so it stays out of access logs."""
    store = _owner_store()
    back = redirect(url_for("owner.consent_search", **embedded_params(store)))
    try:
        number = parse_phone(request.form.get("phone", ""), store.country, mobile_only=False)
    except InvalidPhone:
        flash(_("This is not a valid phone number."), "error")
        return back
    session = request_session()
    if gdpr.erase_on_request(session, store, number, actor=actor()) is None:
        flash(_("Nothing is held about this number in this shop."), "error")
        return back
    session.commit()
    flash(_("The buyer's data was erased."), "success")
    return back
