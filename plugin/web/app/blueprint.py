"""The owner's blueprint, its app-wide setup, and what its page modules share.

A leaf: the page modules import `bp` from here to attach their routes, and the package
(plugin/web/app/__init__.py) imports the page modules, so nothing imports back.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from flask.blueprints import BlueprintSetupState

from plugin.shopify import embedded
from plugin.web import errors, security
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


def posted_meta() -> dict[str, Any]:
    """A form posted with a Shopify session token needs no CSRF token; any other does."""
    return {"csrf": not embedded.authenticated_by_token()}
