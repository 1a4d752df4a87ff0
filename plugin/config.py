"""Settings from the environment, with embedded defaults that work on a fresh machine."""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field, fields
from pathlib import Path

from cryptography.fernet import Fernet

from plugin.instance import InstanceNotFound, find_instance

#: Every environment variable ShopNudge reads, with its embedded default (None: derived at start).
ENVIRONMENT: dict[str, str | None] = {
    "SHOPNUDGE_DATABASE_URL": None,  # sqlite file in the instance folder
    "SHOPNUDGE_INSTANCE_PATH": None,  # found as plugin/instance.py says
    "SHOPNUDGE_SECRET_KEY": None,  # generated into instance/secret_key
    "SHOPNUDGE_ENCRYPTION_KEYS": None,  # generated into instance/encryption_keys
    "SHOPNUDGE_PUBLIC_URL": "http://127.0.0.1:5000",
    "SHOPNUDGE_LOG_LEVEL": "INFO",
    "SHOPNUDGE_MAX_BODY_BYTES": "1048576",
    "SHOPIFY_API_KEY": "",
    "SHOPIFY_API_SECRET": "",
    "SHOPIFY_API_VERSION": "2026-07",
    "SHOPIFY_SCOPES": "read_products,read_customers,write_customers,read_orders,write_discounts",
    "WHATSAPP_APP_SECRET": "",
    "WHATSAPP_VERIFY_TOKEN": "",
    "WHATSAPP_API_VERSION": "v23.0",
    "WHATSAPP_APP_ID": "",
    "SHOPNUDGE_SHOPIFY_BASE_URL": "",
    "SHOPNUDGE_GRAPH_API_URL": "https://graph.facebook.com",
    "SHOPNUDGE_ALLOW_HTTP_HOSTS": "",
    "SHOPNUDGE_HTTP_TIMEOUT": "20",
    "SHOPNUDGE_SEND_CONCURRENCY": "64",
    "SHOPNUDGE_TRUSTED_PROXIES": "0",  # reverse proxies in front whose X-Forwarded-* we believe
    "SHOPNUDGE_WEBHOOK_PROCESSING": "after_answer",  # or "worker": web processes only answer
}


#: The oldest Shopify Admin API version ShopNudge works with: customers' WhatsApp marketing
#: consent and orders' `checkoutToken` exist from 2026-07 on.
#: https://shopify.dev/changelog/whatsapp-marketing-consent-now-available
MIN_SHOPIFY_API_VERSION = "2026-07"
SHOPIFY_VERSION = re.compile(r"20\d\d-(0[1-9]|1[0-2])")


class ConfigurationError(ValueError):
    """A setting ShopNudge cannot start with; its message is the one line the owner sees."""


def check_shopify_api_version(version: str) -> str:
    """The version when it is a release (YYYY-MM) at or after 2026-07; else ConfigurationError."""
    if SHOPIFY_VERSION.fullmatch(version) and version >= MIN_SHOPIFY_API_VERSION:
        return version
    raise ConfigurationError(
        f"SHOPIFY_API_VERSION {version} is not supported: ShopNudge needs Shopify's Admin API "
        f"{MIN_SHOPIFY_API_VERSION} or later (WhatsApp marketing consent, checkoutToken); "
        f"set it to {MIN_SHOPIFY_API_VERSION}"
    )


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; one instance per app."""

    instance_path: Path
    database_url: str
    secret_key: str
    encryption_keys: tuple[str, ...]
    #: True when the keys live in instance/encryption_keys (so `keys rotate` may add one).
    encryption_keys_in_instance: bool
    public_url: str = "http://127.0.0.1:5000"
    log_level: str = "INFO"
    max_body_bytes: int = 1_048_576
    shopify_api_key: str = ""
    shopify_api_secret: str = ""
    shopify_api_version: str = "2026-07"
    shopify_scopes: str = "read_products,read_customers,write_customers,read_orders,write_discounts"
    whatsapp_app_secret: str = ""
    whatsapp_verify_token: str = ""
    whatsapp_api_version: str = "v23.0"
    #: The Meta app's id: template header examples are uploaded to /<app id>/uploads.
    whatsapp_app_id: str = ""
    #: Replaces https://{shop} for every Shopify call (local fakes); empty means the real shop.
    shopify_base_url: str = ""
    graph_api_url: str = "https://graph.facebook.com"
    #: Hosts a WooCommerce store may be reached on without TLS (local testing only).
    allow_http_hosts: frozenset[str] = field(default_factory=frozenset)
    http_timeout: float = 20.0
    #: Calls to Meta a worker process keeps in flight: its rate is at most this many per
    #: answer time (64 / 0.2 s = 320 messages a second).
    send_concurrency: int = 64
    #: Reverse proxies in front of the app (TLS terminators, load balancers) whose
    #: X-Forwarded-For/-Proto/-Host entries are believed, counted from the server. 0 trusts
    #: nothing: a client could otherwise forge the address recorded as proof of consent.
    trusted_proxies: int = 0
    #: Who processes a stored platform webhook: the answering process right after its answer
    #: ("after_answer"), or only the workers' process_webhooks job ("worker": the web processes
    #: then do one INSERT per delivery, and the work lands where the workers are).
    webhook_processing: str = "after_answer"

    def shopify_shop_url(self, shop_domain: str) -> str:
        """Base URL for one shop: the real https://{shop} unless a fake replaces it."""
        return self.shopify_base_url.rstrip("/") or f"https://{shop_domain}"


def _read_or_create(path: Path, make: callable) -> str:  # type: ignore[valid-type]
    """Return the file's content, writing make() there first (mode 0600) if it is missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def _count(value: str, name: str) -> int:
    """A whole number of at least zero, or a ValueError that names the variable."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return number


#: Values of SHOPNUDGE_WEBHOOK_PROCESSING.
WEBHOOK_PROCESSING = ("after_answer", "worker")


def _choice(value: str, name: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise ConfigurationError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def encryption_keys_file(instance_path: Path) -> Path:
    return instance_path / "encryption_keys"


def load_settings(
    env: dict[str, str] | None = None, overrides: dict[str, object] | None = None
) -> Settings:
    """Build Settings from the environment; generate missing secrets into the instance folder."""
    env = dict(os.environ if env is None else env)
    overrides = dict(overrides or {})

    def get(name: str) -> str:
        value = env.get(name)
        return value if value not in (None, "") else (ENVIRONMENT[name] or "")

    try:
        instance_path = find_instance(
            str(overrides.pop("instance_path", "") or get("SHOPNUDGE_INSTANCE_PATH")),
            env,
            create=bool(overrides.pop("create_instance", True)),
        )
    except InstanceNotFound as error:
        raise ConfigurationError(str(error)) from None

    database_url = get("SHOPNUDGE_DATABASE_URL") or f"sqlite:///{instance_path / 'shopnudge.db'}"
    secret_key = get("SHOPNUDGE_SECRET_KEY") or _read_or_create(
        instance_path / "secret_key", lambda: secrets.token_hex(32)
    )
    keys_env = get("SHOPNUDGE_ENCRYPTION_KEYS")
    if keys_env:
        keys = tuple(k.strip() for k in keys_env.split(",") if k.strip())
    else:
        raw = _read_or_create(
            encryption_keys_file(instance_path), lambda: Fernet.generate_key().decode()
        )
        keys = tuple(k.strip() for k in raw.replace("\n", ",").split(",") if k.strip())

    values: dict[str, object] = {
        "instance_path": instance_path,
        "database_url": database_url,
        "secret_key": secret_key,
        "encryption_keys": keys,
        "encryption_keys_in_instance": not keys_env,
        "public_url": get("SHOPNUDGE_PUBLIC_URL").rstrip("/"),
        "log_level": get("SHOPNUDGE_LOG_LEVEL"),
        "max_body_bytes": int(get("SHOPNUDGE_MAX_BODY_BYTES")),
        "shopify_api_key": get("SHOPIFY_API_KEY"),
        "shopify_api_secret": get("SHOPIFY_API_SECRET"),
        "shopify_api_version": get("SHOPIFY_API_VERSION"),
        "shopify_scopes": get("SHOPIFY_SCOPES"),
        "whatsapp_app_secret": get("WHATSAPP_APP_SECRET"),
        "whatsapp_verify_token": get("WHATSAPP_VERIFY_TOKEN"),
        "whatsapp_api_version": get("WHATSAPP_API_VERSION"),
        "whatsapp_app_id": get("WHATSAPP_APP_ID"),
        "shopify_base_url": get("SHOPNUDGE_SHOPIFY_BASE_URL"),
        "graph_api_url": get("SHOPNUDGE_GRAPH_API_URL").rstrip("/"),
        "allow_http_hosts": frozenset(
            h.strip().lower() for h in get("SHOPNUDGE_ALLOW_HTTP_HOSTS").split(",") if h.strip()
        ),
        "http_timeout": float(get("SHOPNUDGE_HTTP_TIMEOUT")),
        "send_concurrency": max(1, int(get("SHOPNUDGE_SEND_CONCURRENCY"))),
        "trusted_proxies": _count(get("SHOPNUDGE_TRUSTED_PROXIES"), "SHOPNUDGE_TRUSTED_PROXIES"),
        "webhook_processing": _choice(
            get("SHOPNUDGE_WEBHOOK_PROCESSING"), "SHOPNUDGE_WEBHOOK_PROCESSING", WEBHOOK_PROCESSING
        ),
    }
    known = {f.name for f in fields(Settings)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    values.update(overrides)
    check_shopify_api_version(str(values["shopify_api_version"]))
    return Settings(**values)  # type: ignore[arg-type]
