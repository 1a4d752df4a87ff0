"""One call's time budget across its retries, and a network failure said in words.

A call to a shop may be retried after a network failure or a 5xx, but all its tries and the
waits between them together stay within the HTTP timeout (SHOPNUDGE_HTTP_TIMEOUT): a shop that
went away mid-sync fails the call in that time, not after minutes of backoff. Waits the
platform asks for (429 with Retry-After, Shopify's cost throttle) are pacing, not failure, and
move the end of the budget by their length. The error names the step that failed (DNS, TLS,
refused, timeout) in one line, in the words plugin/reachability.py uses before a sync starts.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NameResolutionError, ProtocolError

from connectors.errors import TransientError

#: The least time worth starting another try with: a try with less would time out anyway.
MIN_TRY_SECONDS = 0.25


class NetworkError(TransientError):
    """The shop could not be reached; `step` is dns, tls, refused, timeout, dropped or network."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(message)
        self.step = step


class Budget:
    """The seconds one call may spend on tries and on waits between them."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self.ends_at = clock() + seconds
        #: Tries started so far (each HTTP request of the call).
        self.tries = 0

    def try_timeout(self) -> float:
        """The timeout for the next try: what is left of the budget (counting it as a try)."""
        self.tries += 1
        return max(self.ends_at - self.clock(), MIN_TRY_SECONDS)

    def allows(self, wait: float) -> bool:
        """True if, after waiting `wait` seconds, a try still fits in the budget."""
        return self.ends_at - self.clock() - wait >= MIN_TRY_SECONDS

    def pace(self, wait: float) -> None:
        """The platform asked us to wait: that time is not taken from the budget."""
        self.ends_at += max(wait, 0.0)

    def spent(self, error: TransientError) -> TransientError:
        """`error` with how many tries the budget allowed, for the one line the owner reads."""
        tries = f"{self.tries} tr{'y' if self.tries == 1 else 'ies'}"
        message = f"{error} ({tries} within the {self.seconds:g} s HTTP timeout)"
        if isinstance(error, NetworkError):
            return NetworkError(error.step, message)
        return TransientError(message, status=error.status)


def _causes(error: BaseException) -> list[BaseException]:
    """The error and everything behind it (requests wraps urllib3, which wraps the socket's)."""
    found: list[BaseException] = []
    todo: list[object] = [error]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or any(item is seen for seen in found):
            continue
        found.append(item)
        todo += [item.__cause__, item.__context__, getattr(item, "reason", None), *item.args]
    return found


def describe(error: requests.RequestException, url: str) -> NetworkError:
    """What a failed request ran into, as reachability.probe says it before a sync."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    causes = _causes(error)

    def behind(*kinds: type[BaseException]) -> BaseException | None:
        return next((cause for cause in causes if isinstance(cause, kinds)), None)

    if behind(NameResolutionError, socket.gaierror):
        return NetworkError("dns", f"DNS: the name {host} does not resolve")
    tls = behind(ssl.SSLError)
    if isinstance(error, requests.exceptions.SSLError) or tls is not None:
        reason = getattr(tls, "verify_message", None) or getattr(tls, "reason", None) or "TLS"
        return NetworkError("tls", f"TLS: the secure connection to {host} failed ({reason})")
    if isinstance(error, requests.exceptions.ConnectTimeout):
        return NetworkError("timeout", f"timeout: {host} port {port} did not accept a connection")
    if isinstance(error, requests.exceptions.Timeout) or behind(TimeoutError, socket.timeout):
        return NetworkError("timeout", f"timeout: {host} port {port} did not answer")
    if behind(ConnectionRefusedError):
        return NetworkError(
            "refused", f"refused: nothing accepts connections on {host} port {port}"
        )
    if behind(ConnectionResetError, http.client.RemoteDisconnected, ProtocolError):
        return NetworkError(
            "dropped", f"dropped: {host} port {port} closed the connection without an answer"
        )
    return NetworkError("network", f"network: {host} port {port}: {type(error).__name__}")
