"""The first page: each shop's numbers at a glance."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue

from plugin.db import request_session
from plugin.overview import store_overviews

bp = Blueprint("home", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    return render_template("home.html", overviews=store_overviews(request_session()))
