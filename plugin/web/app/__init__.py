"""The shop owner's pages under /app/: dashboard, settings, outbox, consent lookup.

Every view takes the shop from `current_store()` and looks objects up scoped to it, so a
session of one shop gets 404 for another shop's objects.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.blueprints import BlueprintSetupState

from plugin.web import embedded, errors, security
from plugin.web.auth import register_authenticator

#: One blueprint for the pages (/app/...) and their JSON (/api/v1/admin/...).
bp = Blueprint("owner", __name__)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    security.init_app(state.app)
    errors.init_app(state.app)  # people's error pages, app-wide, in their language
    register_authenticator(embedded.session_token_authenticator)
    state.app.context_processor(_embedded_context)


def _embedded_context() -> dict[str, Any]:
    """Load App Bridge only inside the Shopify admin (outside it would send owners there)."""
    inside = embedded.authenticated_by_token() or request.args.get("embedded") == "1"
    return {"embedded": inside}


from plugin.web.app import (  # noqa: E402, F401  (registers views)
    api,
    campaign_pages,
    pages,
    settings,
    template_editor,
)
