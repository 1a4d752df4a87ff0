"""ShopNudge: WhatsApp marketing notifications with provable consent."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from plugin import crypto, db
from plugin.config import Settings, load_settings


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the web app; `config` overrides settings (tests), the environment provides the rest."""
    settings: Settings = load_settings(overrides=config)
    _keep_private(settings.instance_path)
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SHOPNUDGE=settings,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_url.startswith("https://"),
        JSON_SORT_KEYS=False,
    )
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    crypto.configure(settings.encryption_keys)
    import plugin.models  # noqa: F401  (registers every table)

    db.init_app(app, settings.database_url)
    _trust_proxies(app, settings.trusted_proxies)
    from plugin.web import guards

    guards.init_app(app)  # before the blueprints: their `<int:…>` rules use its converter
    from plugin import i18n

    i18n.init_app(app)  # Flask-Babel: the catalogues, the locale and the shop's time zone
    _register_blueprints(app)
    _register_errors(app)

    from plugin.cli import register_commands

    register_commands(app)
    return app


def _keep_private(instance_path: Path) -> None:
    """The instance folder holds the keys and the SQLite file: ours alone (0700)."""
    try:
        os.chmod(instance_path, 0o700)
    except OSError as error:  # a folder the operator owns and shares on purpose
        logging.getLogger(__name__).warning("cannot make %s private: %s", instance_path, error)


def _trust_proxies(app: Flask, hops: int) -> None:
    """Believe X-Forwarded-For/-Proto/-Host for `hops` proxies, so consent proof and the
    per-address limits see the buyer, not the TLS terminator; 0 leaves the peer address."""
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]


def _register_blueprints(app: Flask) -> None:
    from plugin.web import blueprints

    for blueprint in blueprints():
        app.register_blueprint(blueprint)


def _register_errors(app: Flask) -> None:
    """Machine clients (API, webhooks) get JSON errors; people get the default pages."""

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Any:
        if request.path.startswith(("/api/", "/webhooks/", "/healthz")):
            response = jsonify(
                error=error.name.lower().replace(" ", "_"), message=error.description
            )
            # keep what the error says in headers (Allow on 405, Retry-After), not its HTML type
            response.headers.extend(
                (name, value) for name, value in error.get_headers() if name != "Content-Type"
            )
            return response, error.code
        return error
