"""Settings from the environment, with embedded defaults that work on a fresh machine.

Each setting is declared once, as a field of `Settings` that names its environment variable, its
default as the environment would spell it, and the parser that turns that text into the value.
`load_settings`, `ENVIRONMENT` and the README's configuration table (which a test compares with
`VARIABLES`) all follow from those declarations, so a new setting is one field plus one row.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TypeVar

from cryptography.fernet import Fernet

from plugin.instance import InstanceNotFound, find_instance

T = TypeVar("T")

#: The oldest Shopify Admin API version ShopNudge works with: customers' WhatsApp marketing
#: consent and orders' `checkoutToken` exist from 2026-07 on.
#: https://shopify.dev/changelog/whatsapp-marketing-consent-now-available
MIN_SHOPIFY_API_VERSION = "2026-07"
SHOPIFY_VERSION = re.compile(r"20\d\d-(0[1-9]|1[0-2])")

#: Values of SHOPNUDGE_WEBHOOK_PROCESSING: process a stored platform webhook in the answering
#: process right after the answer (one process, `shopnudge serve`), or leave it to the workers'
#: process_webhooks job.
PROCESS_AFTER_ANSWER = "after_answer"
PROCESS_IN_WORKER = "worker"
WEBHOOK_PROCESSING = (PROCESS_AFTER_ANSWER, PROCESS_IN_WORKER)


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
class Variable:
    """The environment variable behind one setting, kept in its field's metadata."""

    name: str
    #: The default as the environment would spell it; None when load_settings derives the value
    #: at start (from the instance folder).
    default: str | None = None
    #: Turns the variable's text (its default when unset or empty) into the value; it is given the
    #: variable's name for its error message. None for derived values.
    parse: Callable[[str, str], object] | None = None


#: The metadata key of a field's Variable.
VARIABLE = "variable"


def setting(name: str, default: str, parse: Callable[[str, str], T]) -> T:
    """A field read from the variable `name`; its default is `default` parsed the same way."""
    return field(default=parse(default, name), metadata={VARIABLE: Variable(name, default, parse)})


def derived(name: str) -> dict[str, Variable]:
    """The metadata of a field read from `name` when set; load_settings derives it otherwise."""
    return {VARIABLE: Variable(name)}


def _text(value: str, name: str) -> str:
    return value


def _address(value: str, name: str) -> str:
    """A base URL without its trailing slash, so paths are joined with one."""
    return value.rstrip("/")


def _integer(value: str, name: str) -> int:
    return int(value)


def _seconds(value: str, name: str) -> float:
    return float(value)


def _at_least_one(value: str, name: str) -> int:
    """A count of workers' senders: 0 or less would send nothing, so one is the least."""
    return max(1, int(value))


def _hosts(value: str, name: str) -> frozenset[str]:
    """Comma-separated host names, compared lower-case as hosts are."""
    return frozenset(h.strip().lower() for h in value.split(",") if h.strip())


def _count(value: str, name: str) -> int:
    """A whole number of at least zero, or a ValueError that names the variable."""
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise ValueError(f"{name} must be a whole number of 0 or more, not {value!r}")
    return number


def _webhook_processing(value: str, name: str) -> str:
    if value not in WEBHOOK_PROCESSING:
        allowed = ", ".join(WEBHOOK_PROCESSING)
        raise ConfigurationError(f"{name} must be one of {allowed}, not {value!r}")
    return value


@dataclass(frozen=True)
class Settings:
    """Resolved configuration; one instance per app."""

    #: Found as plugin/instance.py says.
    instance_path: Path = field(metadata=derived("SHOPNUDGE_INSTANCE_PATH"))
    #: The SQLite file shopnudge.db in the instance folder when unset.
    database_url: str = field(metadata=derived("SHOPNUDGE_DATABASE_URL"))
    #: Generated into instance/secret_key when unset.
    secret_key: str = field(metadata=derived("SHOPNUDGE_SECRET_KEY"))
    #: Generated into instance/encryption_keys when unset; newest first.
    encryption_keys: tuple[str, ...] = field(metadata=derived("SHOPNUDGE_ENCRYPTION_KEYS"))
    #: True when the keys live in instance/encryption_keys (so `keys rotate` may add one).
    encryption_keys_in_instance: bool
    public_url: str = setting("SHOPNUDGE_PUBLIC_URL", "http://127.0.0.1:5000", _address)
    log_level: str = setting("SHOPNUDGE_LOG_LEVEL", "INFO", _text)
    max_body_bytes: int = setting("SHOPNUDGE_MAX_BODY_BYTES", "1048576", _integer)
    shopify_api_key: str = setting("SHOPIFY_API_KEY", "", _text)
    shopify_api_secret: str = setting("SHOPIFY_API_SECRET", "", _text)
    shopify_api_version: str = setting("SHOPIFY_API_VERSION", "2026-07", _text)
    shopify_scopes: str = setting(
        "SHOPIFY_SCOPES",
        "read_products,read_customers,write_customers,read_orders,write_discounts",
        _text,
    )
    whatsapp_app_secret: str = setting("WHATSAPP_APP_SECRET", "", _text)
    whatsapp_verify_token: str = setting("WHATSAPP_VERIFY_TOKEN", "", _text)
    whatsapp_api_version: str = setting("WHATSAPP_API_VERSION", "v23.0", _text)
    #: The Meta app's id: template header examples are uploaded to /<app id>/uploads.
    whatsapp_app_id: str = setting("WHATSAPP_APP_ID", "", _text)
    #: Replaces https://{shop} for every Shopify call (local fakes); empty means the real shop.
    shopify_base_url: str = setting("SHOPNUDGE_SHOPIFY_BASE_URL", "", _text)
    graph_api_url: str = setting("SHOPNUDGE_GRAPH_API_URL", "https://graph.facebook.com", _address)
    #: Hosts a WooCommerce store may be reached on without TLS (local testing only).
    allow_http_hosts: frozenset[str] = setting("SHOPNUDGE_ALLOW_HTTP_HOSTS", "", _hosts)
    http_timeout: float = setting("SHOPNUDGE_HTTP_TIMEOUT", "20", _seconds)
    #: Calls to Meta a worker process keeps in flight: its rate is at most this many per
    #: answer time (64 / 0.2 s = 320 messages a second).
    send_concurrency: int = setting("SHOPNUDGE_SEND_CONCURRENCY", "64", _at_least_one)
    #: Reverse proxies in front of the app (TLS terminators, load balancers) whose
    #: X-Forwarded-For/-Proto/-Host entries are believed, counted from the server. 0 trusts
    #: nothing: a client could otherwise forge the address recorded as proof of consent.
    trusted_proxies: int = setting("SHOPNUDGE_TRUSTED_PROXIES", "0", _count)
    #: Who processes a stored platform webhook: the answering process right after its answer
    #: ("after_answer"), or only the workers' process_webhooks job ("worker": the web processes
    #: then do one INSERT per delivery, and the work lands where the workers are).
    webhook_processing: str = setting(
        "SHOPNUDGE_WEBHOOK_PROCESSING", PROCESS_AFTER_ANSWER, _webhook_processing
    )

    def shopify_shop_url(self, shop_domain: str) -> str:
        """Base URL for one shop: the real https://{shop} unless a fake replaces it."""
        return self.shopify_base_url.rstrip("/") or f"https://{shop_domain}"


#: Every setting read from the environment, by field name.
VARIABLES: dict[str, Variable] = {
    f.name: f.metadata[VARIABLE] for f in fields(Settings) if VARIABLE in f.metadata
}

#: Every environment variable ShopNudge reads, with its embedded default (None: derived at start).
ENVIRONMENT: dict[str, str | None] = {v.name: v.default for v in VARIABLES.values()}


def _read_or_create(path: Path, make: Callable[[], str]) -> str:
    """Return the file's content, writing make() there first (mode 0600) if it is missing."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
    return path.read_text().strip()


def encryption_keys_file(instance_path: Path) -> Path:
    return instance_path / "encryption_keys"


def load_settings(
    env: dict[str, str] | None = None, overrides: dict[str, object] | None = None
) -> Settings:
    """Build Settings from the environment; generate missing secrets into the instance folder."""
    env = dict(os.environ if env is None else env)
    overrides = dict(overrides or {})

    def read(setting_name: str) -> str:
        """The text of the setting's variable; its default when unset or empty."""
        variable = VARIABLES[setting_name]
        return env.get(variable.name) or variable.default or ""

    try:
        instance_path = find_instance(
            str(overrides.pop("instance_path", "") or read("instance_path")),
            env,
            create=bool(overrides.pop("create_instance", True)),
        )
    except InstanceNotFound as error:
        raise ConfigurationError(str(error)) from None

    database_url = read("database_url") or f"sqlite:///{instance_path / 'shopnudge.db'}"
    secret_key = read("secret_key") or _read_or_create(
        instance_path / "secret_key", lambda: secrets.token_hex(32)
    )
    keys_env = read("encryption_keys")
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
    }
    for setting_name, variable in VARIABLES.items():
        if variable.parse is not None:
            values[setting_name] = variable.parse(read(setting_name), variable.name)
    known = {f.name for f in fields(Settings)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
    values.update(overrides)
    check_shopify_api_version(str(values["shopify_api_version"]))
    return Settings(**values)  # type: ignore[arg-type]
