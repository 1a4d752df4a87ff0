"""The storefront's side of consent: the widget script, its form, and the opt-in API.

Browsers may call the API only from the shop's own origins (CORS, including the preflight); a
request that names another origin is refused outright, so a foreign page cannot sign anyone up.
Calls without an Origin header (a shop's server importing opt-ins) are allowed.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from plugin.consent import optin, wording
from plugin.db import request_session
from plugin.models import Store, StoreStatus
from plugin.web.cors import cors_for_store, origin_allowed

log = logging.getLogger(__name__)

bp = Blueprint("storefront", __name__)

#: The widget's own words (labels, errors) by language; the opt-in text itself is the shop's.
UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "phone_label": "Mobile number for WhatsApp",
        "submit": "Sign up",
        "privacy": "Privacy policy",
        "consent_missing": "Please tick the box to sign up.",
        "phone_missing": "Please enter your mobile number.",
        "phone_invalid": "This does not look like a valid mobile number.",
        "phone_not_mobile": "WhatsApp needs a mobile number.",
        "rate_limited": "Too many attempts. Please try again in a few minutes.",
        "error": "Something went wrong. Please try again.",
        "pending": "Almost done: please confirm on WhatsApp.",
        "confirmed": "You are signed up.",
        "confirm_link": "Confirm on WhatsApp",
    },
    "de": {
        "phone_label": "Handynummer für WhatsApp",
        "submit": "Anmelden",
        "privacy": "Datenschutzerklärung",
        "consent_missing": "Bitte setzen Sie das Häkchen, um sich anzumelden.",
        "phone_missing": "Bitte geben Sie Ihre Handynummer ein.",
        "phone_invalid": "Das ist keine gültige Handynummer.",
        "phone_not_mobile": "WhatsApp braucht eine Handynummer.",
        "rate_limited": "Zu viele Versuche. Bitte versuchen Sie es in ein paar Minuten erneut.",
        "error": "Etwas ist schiefgegangen. Bitte versuchen Sie es erneut.",
        "pending": "Fast geschafft: Bitte bestätigen Sie auf WhatsApp.",
        "confirmed": "Sie sind angemeldet.",
        "confirm_link": "Auf WhatsApp bestätigen",
    },
}


def _store(store_key: str) -> Store:
    store = (
        request_session()
        .scalars(
            select(Store).where(
                Store.public_key == store_key, Store.status != StoreStatus.UNINSTALLED
            )
        )
        .first()
    )
    if store is None:
        abort(404, description="unknown store")
    return store


@bp.after_request
def _cors(response: Response) -> Response:
    """Every storefront API answer, errors included, carries CORS for the shop's origins only."""
    store_key = (request.view_args or {}).get("store_key")
    if request.path.startswith("/api/") and store_key:
        store = (
            request_session().scalars(select(Store).where(Store.public_key == store_key)).first()
        )
        if store is not None:
            cors_for_store(response, store, request.headers.get("Origin"))
    return response


@bp.get("/widget/<store_key>.js")
def widget(store_key: str) -> ResponseReturnValue:
    _store(store_key)
    script = Path(current_app.static_folder or "", "widget.js").read_bytes()
    response = Response(script, mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    return response.make_conditional(request)


@bp.route("/api/v1/stores/<store_key>/optin-form", methods=["OPTIONS"])
@bp.route("/api/v1/stores/<store_key>/optins", methods=["OPTIONS"])
def preflight(store_key: str) -> ResponseReturnValue:
    _store(store_key)
    return "", 204


@bp.get("/api/v1/stores/<store_key>/optin-form", provide_automatic_options=False)
def optin_form(store_key: str) -> ResponseReturnValue:
    store = _store(store_key)
    shown = wording.wording_for_page(request_session(), store, request.args.get("locale"))
    if shown is None:
        return _refuse("locale_unknown", "The shop has no opt-in wording yet.", 404)
    language = shown.locale.split("-")[0]
    return jsonify(
        store=store.public_key,
        business=store.name,
        platform=store.platform,
        locale=shown.locale,
        wording_version=shown.version,
        text=shown.text,
        privacy_url=shown.privacy_url or store.privacy_url,
        ui=UI_TEXT.get(language, UI_TEXT["en"]),
    )


@bp.post("/api/v1/stores/<store_key>/optins", provide_automatic_options=False)
def create_optin(store_key: str) -> ResponseReturnValue:
    store = _store(store_key)
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(store, origin):
        return _refuse("origin_not_allowed", "This page may not sign buyers up for this shop.", 403)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _refuse("body_invalid", "Send a JSON object.", 400)
    session = request_session()
    try:
        result = optin.request_optin(session, store, _optin_request(body))
    except optin.OptinRejected as rejected:
        session.commit()  # keep the rate-limit spend; nothing else was written
        response = _refuse(rejected.reason, str(rejected), rejected.status)
        if rejected.retry_after is not None:
            response.headers["Retry-After"] = str(int(rejected.retry_after) + 1)
        return response
    session.commit()
    step = result.confirmation
    return jsonify(
        state=result.subscription.state,
        locale=result.event.locale,
        wording_version=body.get("wording_version"),
        confirmation={"mode": step.mode, "url": step.url},
    ), 202


def _optin_request(body: dict[str, Any]) -> optin.OptinRequest:
    def text(name: str) -> str | None:
        value = body.get(name)
        return str(value) if isinstance(value, str | int) and value != "" else None

    return optin.OptinRequest(
        phone=body.get("phone") if isinstance(body.get("phone"), str) else "",
        consent=body.get("consent"),
        wording_version=body.get("wording_version"),
        locale=text("locale"),
        source=text("source") or "widget",
        customer_id=text("customer_id"),
        cart_token=text("cart_token"),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )


def _refuse(reason: str, message: str, status: int) -> Response:
    response = jsonify(error=reason, reason=reason, message=message)
    response.status_code = status
    return response
