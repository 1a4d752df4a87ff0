"""The only module that talks HTTP to a WooCommerce shop: REST API v3 via the `woocommerce` package.

The package returns raw `requests` responses and never raises on a status code, so every call
goes through `WooCommerceClient.request`, which checks the status, backs off on 429 and 5xx,
maps errors to `connectors.errors` and switches to query-string keys when the host strips the
Authorization header.
https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests
from woocommerce import API

from connectors.errors import AuthFailed, PlatformError, RateLimited, TransientError
from connectors.network import Budget, describe
from connectors.profile import ShopProfile

log = logging.getLogger(__name__)

#: The REST API refuses per_page above 100 (400 rest_invalid_param).
PER_PAGE = 100

#: Attempts per call on 429/5xx/network errors before giving up (backoff 1, 2, 4, 8 s), as
#: long as they fit in the HTTP timeout (connectors.network.Budget).
MAX_ATTEMPTS = 5

#: Longest wait we accept from a Retry-After header before failing the run instead.
MAX_RETRY_AFTER = 120.0

#: What WordPress answers when it saw no credentials at all: with valid keys this means the
#: host (often Apache with CGI/FastCGI PHP) dropped the Authorization header.
NO_CREDENTIALS_SEEN = "woocommerce_rest_cannot_view"

_LINK_NEXT = re.compile(r'<([^>]+)>;\s*rel="next"')


@dataclass(frozen=True)
class ResultPage:
    """One page of a list endpoint, with what the pagination headers say."""

    items: list[dict[str, Any]]
    page: int
    total_pages: int | None
    total: int | None
    has_next: bool


class WooCommerceClient:
    """REST API v3 of one shop; Basic auth over HTTPS, OAuth 1.0a signatures over plain HTTP."""

    def __init__(
        self,
        base_url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        timeout: float,
        query_string_auth: bool = False,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._keys = (consumer_key, consumer_secret)
        self.timeout = timeout
        self.query_string_auth = query_string_auth
        self._sleep = sleep
        self._clock = clock
        self._api = self._build_api()
        self._version: str | None = None

    def _build_api(self) -> API:
        return API(
            url=self.base_url,
            consumer_key=self._keys[0],
            consumer_secret=self._keys[1],
            version="wc/v3",
            timeout=self.timeout,
            query_string_auth=self.query_string_auth,
            user_agent="ShopNudge",
        )

    def request(
        self,
        method: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        data: Any = None,
    ) -> requests.Response:
        """Call the API; retry what may succeed later within the HTTP timeout, raise ours for
        the rest."""
        fell_back = False
        budget = Budget(self.timeout, self._clock)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            self._api.timeout = budget.try_timeout()
            try:
                response = self._send(method, endpoint, params, data)
            except requests.RequestException as error:
                failure = describe(error, self.base_url)
                wait = 2 ** (attempt - 1)
                if attempt == MAX_ATTEMPTS or not budget.allows(wait):
                    raise budget.spent(failure) from None
                log.warning(  # visible, so a waiting command line says why it waits
                    "WooCommerce %s %s: %s; try %d of %d in %d s",
                    method, endpoint, failure, attempt + 1, MAX_ATTEMPTS, wait,
                )  # fmt: skip
                self._sleep(wait)
                continue
            if (
                response.status_code == 401
                and not fell_back
                and self._credentials_dropped(response)
            ):
                log.info("host dropped the Authorization header; using query-string keys")
                self.query_string_auth, fell_back = True, True
                self._api = self._build_api()
                budget.pace(budget.seconds)  # a new try that is not a failure's retry
                continue
            if response.status_code == 429 or response.status_code >= 500:
                wait = _retry_after(response, attempt)
                asked = "Retry-After" in response.headers
                if asked:
                    budget.pace(wait)  # the platform's own pacing, not a failure's backoff
                if attempt == MAX_ATTEMPTS or wait > MAX_RETRY_AFTER or not budget.allows(wait):
                    error = _error(method, endpoint, response)
                    raise budget.spent(error) if type(error) is TransientError else error
                log.warning(
                    "WooCommerce %s %s answered %s; try %d of %d in %.1f s",
                    method, endpoint, response.status_code, attempt + 1, MAX_ATTEMPTS, wait,
                )  # fmt: skip
                self._sleep(wait)
                continue
            if response.status_code >= 400:
                raise _error(method, endpoint, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self, method: str, endpoint: str, params: dict[str, Any] | None, data: Any
    ) -> requests.Response:
        params = dict(params or {})  # the package adds the keys to this dict
        if method == "GET":
            return self._api.get(endpoint, params=params)
        if method == "POST":
            return self._api.post(endpoint, data, params=params)
        if method == "PUT":
            return self._api.put(endpoint, data, params=params)
        if method == "DELETE":
            return self._api.delete(endpoint, params=params)
        raise ValueError(method)

    def _credentials_dropped(self, response: requests.Response) -> bool:
        return (
            response.status_code == 401
            and self.base_url.startswith("https://")
            and not self.query_string_auth
            and _error_code(response) == NO_CREDENTIALS_SEEN
        )

    def get(self, endpoint: str, **params: Any) -> Any:
        return self.request("GET", endpoint, params=params).json()

    def pages(self, endpoint: str, params: dict[str, Any], start: int = 1) -> Iterator[ResultPage]:
        """Every page of a list, from page `start`, following X-WP-TotalPages and Link."""
        page = start
        while True:
            response = self.request(
                "GET", endpoint, params={**params, "per_page": PER_PAGE, "page": page}
            )
            items = response.json()
            if not isinstance(items, list):  # a plugin or cache answered something else
                raise PlatformError(f"GET {endpoint}: expected a JSON list", status=200)
            total_pages = _int_header(response, "X-WP-TotalPages")
            has_next = bool(_LINK_NEXT.search(response.headers.get("Link", ""))) or (
                total_pages is not None and page < total_pages
            )
            yield ResultPage(
                items=items,
                page=page,
                total_pages=total_pages,
                total=_int_header(response, "X-WP-Total"),
                has_next=has_next,
            )
            if not has_next:
                return
            page += 1

    def profile(self) -> ShopProfile:
        """The shop's currency and country (WooCommerce's general settings) and its time zone.

        WooCommerce keeps the time zone in WordPress, not in its REST API (`system_status`
        reports PHP's, which WordPress pins to UTC): the REST index `GET /wp-json/` has the
        site's `timezone_string`, empty where the owner chose a bare UTC offset.
        https://woocommerce.github.io/woocommerce-rest-api-docs/#setting-option-properties
        https://developer.wordpress.org/rest-api/reference/#index
        """
        values = {
            str(item.get("id")): item.get("value")
            for item in self.get("settings/general")
            if isinstance(item, dict)
        }
        currency = str(values.get("woocommerce_currency") or "").upper() or None
        # "US:CA" is a country with its state; "DE" a country without
        country = str(values.get("woocommerce_default_country") or "").split(":")[0].upper()
        return ShopProfile(currency=currency, country=country or None, timezone=self._timezone())

    def _timezone(self) -> str | None:
        try:
            response = requests.get(
                f"{self.base_url}/wp-json/",
                params={"_fields": "timezone_string"},
                timeout=self.timeout,
                headers={"User-Agent": "ShopNudge"},
            )
            index = response.json() if response.ok else {}
        except (requests.RequestException, ValueError):  # the rest of the profile still counts
            return None
        if not isinstance(index, dict):
            return None
        return str(index.get("timezone_string") or "") or None

    def version(self) -> str | None:
        """The shop's WooCommerce version, read once (system status)."""
        if self._version is None:
            status = self.get("system_status", _fields="environment")
            self._version = str((status.get("environment") or {}).get("version") or "")
        return self._version or None


def _int_header(response: requests.Response, name: str) -> int | None:
    value = response.headers.get(name, "")
    return int(value) if value.isdigit() else None


def _error_code(response: requests.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("code") if isinstance(body, dict) else None


def _retry_after(response: requests.Response, attempt: int) -> float:
    header = response.headers.get("Retry-After", "")
    try:
        return max(float(header), 0.0)
    except ValueError:
        return float(2 ** (attempt - 1))


def _error(method: str, endpoint: str, response: requests.Response) -> PlatformError:
    status = response.status_code
    code = _error_code(response) or ""
    message = f"{method} {endpoint}: HTTP {status} {code}".strip()
    if status in (401, 403):
        return AuthFailed(message, status=status)
    if status == 429:
        return RateLimited(message, retry_after=_retry_after(response, 1), status=status)
    if status >= 500:
        return TransientError(message, status=status)
    return PlatformError(message, status=status)
