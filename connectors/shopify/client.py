"""The only module that talks HTTP to Shopify: GraphQL with cost-based pacing, and OAuth tokens.

Shopify meters the GraphQL Admin API with a leaky bucket of query cost. Every response carries
`extensions.cost.throttleStatus`; we keep our own estimate of the bucket from it and wait before
a call whose cost would drain it, so a shop's budget is never exhausted by us.
https://shopify.dev/docs/api/usage/limits#cost-calculation
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from connectors.errors import AuthFailed, PlatformError, RateLimited, TransientError
from connectors.network import Budget, describe

log = logging.getLogger(__name__)

#: Attempts per call before a throttle, 429 or 5xx becomes the caller's error; network failures
#: and 5xx are retried only as long as the tries fit in the HTTP timeout (network.Budget).
MAX_ATTEMPTS = 6
#: First backoff after a 5xx or network failure; doubles each attempt (with jitter).
BACKOFF_SECONDS = 0.5
#: Cost assumed for a query we have not run yet (Shopify's single-query maximum is 1,000).
DEFAULT_COST = 100.0


@dataclass
class Bucket:
    """Our view of the shop's cost bucket, refilled by elapsed time at the restore rate."""

    maximum: float = 1000.0
    available: float = 1000.0
    restore_rate: float = 50.0
    seen_at: float = 0.0
    #: Last requested cost per query text, to estimate the next call's cost.
    costs: dict[str, float] = field(default_factory=dict)

    def now_available(self, now: float) -> float:
        return min(self.maximum, self.available + (now - self.seen_at) * self.restore_rate)

    def wait_for(self, cost: float, now: float) -> float:
        """Seconds to wait so that `cost` can be spent without draining the bucket."""
        missing = min(cost, self.maximum) - self.now_available(now)
        return max(0.0, missing / self.restore_rate) if missing > 0 else 0.0

    def update(self, status: dict[str, Any], now: float) -> None:
        self.maximum = float(status.get("maximumAvailable", self.maximum))
        self.available = float(status.get("currentlyAvailable", self.available))
        self.restore_rate = float(status.get("restoreRate", self.restore_rate)) or 1.0
        self.seen_at = now


class SharedBudget(Protocol):
    """The shop's cost bucket shared with other processes (the application keeps it)."""

    def reserve(self, cost: float, bucket: Bucket) -> float:
        """Spend `cost`; 0.0 when granted, else the seconds to wait before asking again."""
        ...

    def settle(self, bucket: Bucket) -> None:
        """Shopify just said what is left (`bucket`): hold no more than that."""
        ...


class ShopifyClient:
    """GraphQL Admin API calls for one shop, paced and retried; one instance per job."""

    def __init__(
        self,
        shop_url: str,
        access_token: str,
        api_version: str,
        *,
        timeout: float = 20.0,
        http: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedBudget | None = None,
        backoff: float = BACKOFF_SECONDS,
    ) -> None:
        self.endpoint = f"{shop_url.rstrip('/')}/admin/api/{api_version}/graphql.json"
        self.timeout = timeout
        self.http = http or requests.Session()
        self.http.headers.update(
            {"X-Shopify-Access-Token": access_token, "Content-Type": "application/json"}
        )
        self.sleep = sleep
        self.clock = clock
        self.bucket = Bucket(seen_at=clock())
        #: The cost budget shared with other processes, if any.
        self.shared = shared
        #: First backoff after a 5xx or network failure (seconds); doubles each attempt.
        self.backoff = backoff

    def execute(
        self, query: str, variables: dict[str, Any] | None = None, *, cost: float | None = None
    ) -> dict[str, Any]:
        """Run one query or mutation and return its `data`; raise our errors for theirs.

        `cost` estimates a query not run before (later calls use what Shopify reported).
        """
        if cost is not None:
            self.bucket.costs.setdefault(query, cost)
        budget = Budget(self.timeout, self.clock)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            budget.pace(self._pace(query))
            body = self._post(query, variables, attempt, budget)
            if body is None:
                continue
            self._note_cost(query, body)
            errors = body.get("errors") or []
            if any(_code(error) == "THROTTLED" for error in errors):
                wait = self.bucket.wait_for(
                    self.bucket.costs.get(query, DEFAULT_COST), self.clock()
                )
                log.info("shopify throttled us; waiting %.1fs", wait)
                if attempt == MAX_ATTEMPTS:
                    raise RateLimited("Shopify kept throttling", retry_after=wait)
                budget.pace(max(wait, self.backoff))
                self.sleep(max(wait, self.backoff))
                continue
            if errors:
                raise _graphql_error(errors)
            return body.get("data") or {}
        raise TransientError(f"Shopify did not answer after {MAX_ATTEMPTS} attempts")

    def _pace(self, query: str) -> float:
        """Wait until the shop's cost bucket allows the query; return the seconds waited."""
        cost = self.bucket.costs.get(query, DEFAULT_COST)
        waited = self.bucket.wait_for(cost, self.clock())
        if waited > 0:
            self.sleep(waited)
        while self.shared is not None:
            wait = self.shared.reserve(min(cost, self.bucket.maximum), self.bucket)
            if wait <= 0:
                break
            self.sleep(wait)
            waited += wait
        return waited

    def _note_cost(self, query: str, body: dict[str, Any]) -> None:
        cost = (body.get("extensions") or {}).get("cost") or {}
        status = cost.get("throttleStatus")
        if status:
            self.bucket.update(status, self.clock())
            if self.shared is not None:
                self.shared.settle(self.bucket)
        if "requestedQueryCost" in cost:
            self.bucket.costs[query] = float(cost["requestedQueryCost"])

    def _post(
        self, query: str, variables: dict[str, Any] | None, attempt: int, budget: Budget
    ) -> dict[str, Any] | None:
        """POST once; None means "retry after the backoff already slept"."""
        try:
            response = self.http.post(
                self.endpoint,
                json={"query": query, "variables": variables or {}},
                timeout=budget.try_timeout(),
            )
        except requests.RequestException as error:
            return self._retry_or_raise(attempt, describe(error, self.endpoint), budget)
        if response.status_code in (401, 403):
            raise AuthFailed(
                f"Shopify refused the token ({response.status_code})", status=response.status_code
            )
        if response.status_code == 429:
            retry_after = float(response.headers.get("Retry-After") or 2.0)
            if attempt == MAX_ATTEMPTS:
                raise RateLimited("Shopify answered 429", retry_after=retry_after, status=429)
            budget.pace(retry_after)
            self.sleep(retry_after)
            return None
        if response.status_code >= 500:
            error = TransientError(
                f"Shopify answered {response.status_code}", status=response.status_code
            )
            return self._retry_or_raise(attempt, error, budget)
        if response.status_code >= 400:
            raise PlatformError(
                f"Shopify answered {response.status_code}: {response.text[:300]}",
                status=response.status_code,
            )
        try:
            return response.json()
        except ValueError:
            error = TransientError("Shopify sent a non-JSON body")
            return self._retry_or_raise(attempt, error, budget)

    def _retry_or_raise(self, attempt: int, error: TransientError, budget: Budget) -> None:
        wait = self.backoff * 2 ** (attempt - 1) * (1 + random.random() / 4)
        if attempt == MAX_ATTEMPTS or not budget.allows(wait):
            raise budget.spent(error)
        # visible, so a waiting command line says why it waits
        log.warning("Shopify: %s; try %d of %d in %.1f s", error, attempt + 1, MAX_ATTEMPTS, wait)
        self.sleep(wait)
        return None

    def download_lines(self, url: str) -> Iterator[bytes]:
        """Stream a bulk operation's JSONL result line by line (a signed URL: no token sent)."""
        with requests.get(url, stream=True, timeout=self.timeout) as response:
            if response.status_code >= 400:
                raise TransientError(f"bulk result download answered {response.status_code}")
            for line in response.iter_lines(chunk_size=1 << 16):
                if line:
                    yield line


def raise_user_errors(payload: dict[str, Any]) -> None:
    """Raise the first of a mutation's `userErrors` as our error."""
    errors = payload.get("userErrors") or []
    if errors:
        messages = "; ".join(str(error.get("message")) for error in errors)
        raise PlatformError(f"Shopify refused: {messages}")


def _code(error: dict[str, Any]) -> str | None:
    return (error.get("extensions") or {}).get("code")


def _graphql_error(errors: list[dict[str, Any]]) -> PlatformError:
    message = "; ".join(str(error.get("message")) for error in errors)
    if any(_code(error) in ("ACCESS_DENIED", "UNAUTHORIZED") for error in errors):
        return AuthFailed(f"Shopify: {message}")
    return PlatformError(f"Shopify: {message}")


def request_token(shop_url: str, payload: dict[str, str], *, timeout: float) -> dict[str, Any]:
    """POST to the shop's OAuth token endpoint (code exchange or refresh) and return its JSON.

    https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
    """
    url = f"{shop_url.rstrip('/')}/admin/oauth/access_token"
    try:
        response = requests.post(
            url, json=payload, headers={"Accept": "application/json"}, timeout=timeout
        )
    except requests.RequestException as error:
        raise TransientError(f"network: {error}") from error
    if response.status_code in (400, 401, 403):
        raise AuthFailed(
            f"Shopify refused the token request ({response.status_code})",
            status=response.status_code,
        )
    if response.status_code >= 500:
        raise TransientError(
            f"Shopify answered {response.status_code}", status=response.status_code
        )
    if response.status_code >= 300:
        raise PlatformError(f"Shopify answered {response.status_code}", status=response.status_code)
    return response.json()
