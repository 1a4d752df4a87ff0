"""The shop owner's pages under /app/: dashboard, settings, outbox, consent lookup.

Every view takes the shop from `current_store()` and looks objects up scoped to it, so a
session of one shop gets 404 for another shop's objects.
"""

from __future__ import annotations

from flask import Blueprint
from flask.blueprints import BlueprintSetupState

from plugin import i18n
from plugin.web import security

#: One blueprint for the pages (/app/...) and their JSON (/api/v1/admin/...).
bp = Blueprint("owner", __name__)


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    security.init_app(state.app)
    i18n.init_app(state.app)


from plugin.web.app import api, pages, settings  # noqa: E402, F401  (registers the views)
