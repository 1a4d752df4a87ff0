"""Error pages for people, in their language, instead of Werkzeug's plain English ones.

Machine clients (API, webhooks, health) keep the app's JSON errors. A buyer who followed a link
from a message (`/r/`, `/u/`, a cart's restore link) sees the shop's name where the address
names the shop, never a product name they do not know, and a way out that always works:
replying STOPP in WhatsApp. The shop owner's pages lead back to the dashboard.
"""

from __future__ import annotations

import re

from flask import Flask, current_app, make_response, render_template, request
from flask.typing import ResponseReturnValue
from flask_babel import LazyString, lazy_gettext
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from plugin.db import request_session
from plugin.models import Store

#: Paths whose clients read JSON: their errors stay the app's JSON errors.
MACHINE_PATHS = ("/api/", "/webhooks/", "/healthz")
#: Paths a buyer reaches from a message: tracked links, unsubscribe links, cart restore links.
BUYER_PATHS = ("/r/", "/u/", "/carts/")
#: The codes with a page of their own; any other error keeps the generic handling.
PAGES: dict[int, tuple[LazyString, LazyString]] = {
    400: (
        lazy_gettext("This request could not be read"),
        lazy_gettext("Something in it was missing or out of date. Go back, reload and try again."),
    ),
    403: (
        lazy_gettext("Not allowed"),
        lazy_gettext("This page is not open to you. If you were signed in, sign in again."),
    ),
    404: (
        lazy_gettext("Page not found"),
        lazy_gettext("This address leads nowhere, or the link is no longer valid."),
    ),
    405: (
        lazy_gettext("This did not work"),
        lazy_gettext("The page cannot be used this way. Go back and use its buttons."),
    ),
    500: (
        lazy_gettext("Something went wrong on our side"),
        lazy_gettext("It has been logged. Please try again in a few minutes."),
    ),
}


#: What `new_public_key` issues: URL-safe base64, at most the column's 32 characters.
PUBLIC_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")


def _shop_named_in_path() -> Store | None:
    """The shop a buyer's link names by its public key (a restore link does), if any."""
    store_key = (request.view_args or {}).get("store_key")
    if not isinstance(store_key, str) or not PUBLIC_KEY.fullmatch(store_key):
        return None  # not a key we ever issue (a NUL would even make PostgreSQL refuse the query)
    return request_session().scalars(select(Store).where(Store.public_key == store_key)).first()


def error_page(error: HTTPException) -> ResponseReturnValue:
    """A page in the reader's language, or the app's JSON error for machine clients."""
    code = error.code or 500
    if request.path.startswith(MACHINE_PATHS) or code not in PAGES:
        generic = current_app.error_handler_spec[None][None].get(HTTPException)
        return generic(error) if generic is not None else error
    title, text = PAGES[code]
    buyer = request.path.startswith(BUYER_PATHS)
    shop = _shop_named_in_path() if buyer and code != 500 else None
    response = make_response(
        render_template(
            "errors/page.html",
            code=code,
            title=title,
            text=text,
            buyer=buyer,
            owner=request.path.startswith("/app/"),
            shop=shop,
            # a view's own description says what to do; Werkzeug's default says nothing more
            detail=error.description if error.description != type(error).description else None,
        ),
        code,
    )
    # keep what the error says in headers (Allow on 405), not its own HTML type
    response.headers.extend(
        (name, value) for name, value in error.get_headers() if name != "Content-Type"
    )
    return response


def init_app(app: Flask) -> None:
    for code in PAGES:
        app.register_error_handler(code, error_page)
