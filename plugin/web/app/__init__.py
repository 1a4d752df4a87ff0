"""The shop owner's pages under /app/: dashboard, settings, outbox, consent lookup, campaigns,
the template editor, and the JSON API under /api/v1/admin/.

Every view takes the shop from `current_store()` and looks objects up scoped to it, so a
session of one shop gets 404 for another shop's objects.

The blueprint lives in plugin/web/app/blueprint.py; each page module attaches its routes to it
when imported, which is all the imports below are for.
"""

from __future__ import annotations

from plugin.web.app import (  # noqa: F401  (attach their routes to bp)
    api,
    campaign_count,
    campaign_pages,
    pages,
    settings,
    template_editor,
)
from plugin.web.app.blueprint import bp

__all__ = ["bp"]
