"""The first page: the signed-in shop's numbers at a glance, and nothing of any shop without."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from plugin.db import request_session
from plugin.overview import store_overviews
from plugin.web.auth import current_store

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    store = current_store()
    if store is None:
        return render_template("home.html", overviews=[], signed_in=False)
    overviews = [o for o in store_overviews(request_session()) if o.store.id == store.id]
    return render_template("home.html", overviews=overviews, signed_in=True)
