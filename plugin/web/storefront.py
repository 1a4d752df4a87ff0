"""The storefront's side of consent: the widget script, its form, and the opt-in API.

Browsers may call the API only from the shop's own origins (CORS, including the preflight); a
request that names another origin is refused outright, so a foreign page cannot sign anyone up.
Calls without an Origin header (a shop's server importing opt-ins) are allowed.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, g, jsonify, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from plugin.consent import optin, wording
from plugin.db import request_session
from plugin.i18n import N_, SUPPORTED, buyer_reason, buyer_reasons, pick_language, translate
from plugin.models import Store
from plugin.stores.lookup import storefront_store
from plugin.web.cors import cors_for_store, origin_allowed
from plugin.web.openapi import Answer, documented, errors
from plugin.web.schemas.errors import ERROR, REFUSAL
from plugin.web.schemas.optin import OPTIN_ACCEPTED, OPTIN_FORM, OPTIN_REQUEST
from plugin.web.schemas.validation import Problem, first_problem
from plugin.web.widget_script import widget_script

log = logging.getLogger(__name__)

bp = Blueprint("storefront", __name__)

#: The widget's own words (refusals come from `i18n.BUYER_REASONS`); the opt-in text itself
#: is the shop's. English msgids, translated from the gettext catalogue per language.
UI_MSGIDS: dict[str, str] = {
    "phone_label": N_("Mobile number for WhatsApp"),
    "submit": N_("Sign up"),
    "privacy": N_("Privacy policy"),
    "error": N_("Something went wrong. Please try again."),
    "pending": N_("Almost done: please confirm on WhatsApp."),
    "confirmed": N_("You are signed up."),
    "confirm_link": N_("Confirm on WhatsApp"),
}
#: The widget's words in every language with a catalogue, read once.
UI_TEXT: dict[str, dict[str, str]] = {
    language: {key: translate(text, language) for key, text in UI_MSGIDS.items()}
    for language in SUPPORTED
}


def _store(store_key: str) -> Store:
    """The shop (detached, shared by this process's requests: read only), kept between requests;
    a settings change made in this process applies to the next request (plugin.stores.lookup)."""
    store = storefront_store(request_session(), store_key)
    if store is None:
        abort(404, description="unknown store")
    g.storefront_store = store  # the CORS answer below needs it again
    return store


@bp.after_request
def _cors(response: Response) -> Response:
    """Every storefront API answer, errors included, carries CORS for the shop's origins only."""
    store_key = (request.view_args or {}).get("store_key")
    if request.path.startswith("/api/") and store_key and "\x00" not in store_key:
        store = g.get("storefront_store")
        if store is None or store.public_key != store_key:  # refused before the view ran
            store = (
                request_session()
                .scalars(select(Store).where(Store.public_key == store_key))
                .first()
            )
        if store is not None:
            cors_for_store(response, store, request.headers.get("Origin"))
    return response


@bp.get("/widget/<store_key>.js")
def widget(store_key: str) -> ResponseReturnValue:
    _store(store_key)
    response = Response(widget_script(), mimetype="text/javascript")
    response.headers["Cache-Control"] = "public, max-age=300"
    response.add_etag()
    response = response.make_conditional(request)
    # make_conditional stamps a Date; the HTTP server adds its own, so a client got two.
    del response.headers["Date"]
    return response


@bp.route("/api/v1/stores/<store_key>/optin-form", methods=["OPTIONS"])
@bp.route("/api/v1/stores/<store_key>/optins", methods=["OPTIONS"])
@documented(
    "CORS preflight: the shop's own origins only",
    "storefront",
    {204: Answer(), **errors(404, 503)},
)
def preflight(store_key: str) -> ResponseReturnValue:
    _store(store_key)
    return "", 204


@bp.get("/api/v1/stores/<store_key>/optin-form", provide_automatic_options=False)
@documented(
    "The opt-in wording (and its version) the widget must show",
    "storefront",
    {
        200: Answer(OPTIN_FORM),
        404: Answer({"anyOf": [REFUSAL, ERROR]}, "No such shop, or no wording"),
        **errors(503),
    },
    query={"locale": {"type": "string", "maxLength": 35}},
)
def optin_form(store_key: str) -> ResponseReturnValue:
    store = _store(store_key)
    shown = wording.wording_for_page(request_session(), store, request.args.get("locale"))
    if shown is None:
        language = pick_language(request.args.get("locale"), request.accept_languages)
        return _refuse("locale_unknown", language, 404)
    language = shown.locale.split("-")[0]
    return jsonify(
        store=store.public_key,
        business=store.name,
        platform=store.platform,
        locale=shown.locale,
        wording_version=shown.version,
        text=shown.text,
        privacy_url=shown.privacy_url or store.privacy_url,
        ui={**UI_TEXT.get(language, UI_TEXT["en"]), **buyer_reasons(language)},
    )


@bp.post("/api/v1/stores/<store_key>/optins", provide_automatic_options=False)
@documented(
    "Record a buyer's opt-in (double opt-in: the answer says how to confirm)",
    "storefront",
    {
        202: Answer(OPTIN_ACCEPTED),
        **errors(400, 403, 422, 429, schema=REFUSAL),
        **errors(404, 413, 503),
    },
    body=OPTIN_REQUEST,
)
def create_optin(store_key: str) -> ResponseReturnValue:
    """Refusals carry a machine-readable `reason` and a `message` in the buyer's language."""
    store = _store(store_key)
    body = request.get_json(silent=True)
    language = _buyer_language(store, body)
    origin = request.headers.get("Origin")
    if origin and not origin_allowed(store, origin):
        return _refuse("origin_not_allowed", language, 403)
    if not isinstance(body, dict):
        return _refuse("body_invalid", language, 400)
    problem = first_problem(body, OPTIN_REQUEST)
    if problem is not None:
        return _refuse(_problem_reason(problem, body), language, 422)
    session = request_session()
    try:
        result = optin.request_optin(session, store, _optin_request(body))
    except optin.OptinRejected as rejected:
        session.commit()  # keep the rate-limit spend; nothing else was written
        response = _refuse(rejected.reason, language, rejected.status)
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


#: The reason for a field that breaks OPTIN_REQUEST (the service decides the rest).
_FIELD_REASONS = {
    "consent": "consent_missing",
    "wording_version": "wording_version_missing",
    "locale": "locale_invalid",
    "customer_id": "customer_id_invalid",
    "cart_token": "cart_token_invalid",
}


def _problem_reason(problem: Problem, body: dict[str, Any]) -> str:
    if problem.field == "phone":
        return "phone_missing" if problem.keyword == "required" else "phone_not_text"
    if problem.field == "source":
        claimed = body.get("source")
        known = isinstance(claimed, str) and claimed in optin.SOURCES  # a list is not hashable
        return "source_not_allowed" if known else "source_unknown"
    return _FIELD_REASONS.get(problem.field, "body_invalid")


def _buyer_language(store: Store, body: Any) -> str:
    """The page's locale when the widget sent one, else the browser's, else the shop's."""
    locale = body.get("locale") if isinstance(body, dict) else None
    if not isinstance(locale, str) or not locale:
        locale = None
    if locale is None and not request.accept_languages:
        locale = store.default_locale
    return pick_language(locale, request.accept_languages)


def _optin_request(body: dict[str, Any]) -> optin.OptinRequest:
    """Types were checked against OPTIN_REQUEST; empty strings count as absent."""

    def text(name: str) -> str | None:
        value = body.get(name)
        return str(value) if value is not None and value != "" else None

    return optin.OptinRequest(
        phone=body.get("phone") or "",
        consent=body.get("consent"),
        wording_version=body.get("wording_version"),
        locale=text("locale"),
        source=text("source") or "widget",
        customer_id=text("customer_id"),
        cart_token=text("cart_token"),
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
    )


def _refuse(reason: str, language: str, status: int) -> Response:
    response = jsonify(error=reason, reason=reason, message=buyer_reason(reason, language))
    response.status_code = status
    return response
