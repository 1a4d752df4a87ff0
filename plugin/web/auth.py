"""Who is the shop owner behind a request to /app/ or /api/v1/admin/.

Two ways in: a one-time sign-in link (`shopnudge stores login-link STORE`, or e-mailed) that
sets a session cookie for one shop, and, inside the Shopify admin, an App Bridge session token
(registered by the Shopify integration through `register_authenticator`). Views take the shop
from `current_store()` and never from the URL, so one shop's session cannot reach another's rows.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

from flask import (
    Blueprint,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from plugin.db import request_session, utcnow
from plugin.models import LoginToken, Store

bp = Blueprint("auth", __name__)

#: How long a sign-in link works; it works once.
LOGIN_LINK_LIFETIME = dt.timedelta(minutes=15)
#: How long a signed-in browser stays signed in without coming back.
SESSION_LIFETIME = dt.timedelta(hours=12)

#: Extra ways to authenticate a request, tried in order: each returns a store id or None.
Authenticator = Callable[[Session], int | None]
AUTHENTICATORS: list[Authenticator] = []

ViewT = TypeVar("ViewT", bound=Callable[..., Any])


def register_authenticator(authenticator: Authenticator) -> None:
    if authenticator not in AUTHENTICATORS:
        AUTHENTICATORS.append(authenticator)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_login_token(db_session: Session, store: Store, now: dt.datetime | None = None) -> str:
    """A new one-time sign-in token for a shop; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    db_session.add(
        LoginToken(
            store_id=store.id,
            token_hash=_hash(token),
            expires_at=(now or utcnow()) + LOGIN_LINK_LIFETIME,
        )
    )
    db_session.flush()
    return token


def _session_store_id() -> int | None:
    store_id = session.get("store_id")
    signed_in = session.get("signed_in_at")
    if not store_id or not signed_in:
        return None
    if utcnow() - dt.datetime.fromisoformat(signed_in) > SESSION_LIFETIME:
        session.clear()
        return None
    return int(store_id)


def current_store() -> Store | None:
    """The shop this request is authenticated for, or None."""
    if "current_store" in g:
        return g.current_store
    db_session = request_session()
    store_id = _session_store_id()
    for authenticator in AUTHENTICATORS:
        if store_id is not None:
            break
        store_id = authenticator(db_session)
    store = db_session.get(Store, store_id) if store_id is not None else None
    g.current_store = store
    return store


def store_required(view: ViewT) -> ViewT:
    """Only for a signed-in shop owner: pages redirect to sign-in, JSON answers 401."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_store() is None:
            if request.path.startswith("/api/"):
                abort(401, description="sign in first (login link or Shopify session token)")
            if request.args.get("shop"):  # inside the Shopify admin: fetch a session token
                return redirect(
                    url_for("auth.signed_out", shop=request.args["shop"], reload=_reload_path())
                )
            return redirect(url_for("auth.signed_out"))
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


@bp.get("/app/login/<token>")
def login(token: str) -> ResponseReturnValue:
    db_session = request_session()
    now = utcnow()
    row = db_session.scalars(
        select(LoginToken).where(LoginToken.token_hash == _hash(token))
    ).first()
    if row is None or row.used_at is not None or row.expires_at < now:
        return redirect(url_for("auth.signed_out", reason="expired"))
    # Spend the token with a conditional update, so two simultaneous uses cannot both win.
    spent = db_session.execute(
        update(LoginToken)
        .where(LoginToken.id == row.id, LoginToken.used_at.is_(None))
        .values(used_at=now)
    ).rowcount
    db_session.commit()
    if not spent:
        return redirect(url_for("auth.signed_out", reason="expired"))
    session.clear()
    session["store_id"] = row.store_id
    session["signed_in_at"] = now.isoformat()
    session["actor"] = f"login link #{row.id}"  # the audit trail names the sign-in used
    session.permanent = True
    return redirect("/app/")


@bp.post("/app/logout")
def logout() -> ResponseReturnValue:
    session.clear()
    return redirect(url_for("auth.signed_out"))


def _reload_path() -> str:
    """This page's path and query without any stale token, to come back to after the bounce."""
    query = [(k, v) for k, v in request.args.items(multi=True) if k != "id_token"]
    return request.path + ("?" + urlencode(query) if query else "")


def _safe_reload(target: str | None) -> str | None:
    """Only our own owner pages: never another host (no open redirect)."""
    if target and target.startswith("/app/") and "//" not in target and "\\" not in target:
        return target
    return None


@bp.get("/app/signed-out")
def signed_out() -> ResponseReturnValue:
    settings = current_app.config["SHOPNUDGE"]
    reload = _safe_reload(request.args.get("reload"))
    if reload and request.args.get("shop") and settings.shopify_api_key:
        # App Bridge fetches a fresh session token, then app.js reloads `reload` with it.
        return render_template("app/bounce.html", reload=reload, api_key=settings.shopify_api_key)
    expired = request.args.get("reason") == "expired"
    message = "This sign-in link has expired or was already used. " if expired else ""
    body = (
        "<!doctype html><html lang=en><meta charset=utf-8><title>ShopNudge</title>"
        f"<main><h1>Sign in to ShopNudge</h1><p>{message}Ask for a new sign-in link "
        "(<code>shopnudge stores login-link STORE</code>) or open ShopNudge from your "
        "Shopify admin.</p></main></html>"
    )
    return body, 401 if expired else 200
