"""Errors every connector raises, whatever the platform said."""

from __future__ import annotations


class PlatformError(Exception):
    """The platform refused or failed; the message says what it said."""

    #: True when the same call may succeed later (network, 5xx, throttling).
    retryable: bool = False

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailed(PlatformError):
    """Credentials are wrong, revoked or expired: the owner must reconnect."""


class RateLimited(PlatformError):
    """The platform asked us to slow down; retry after `retry_after` seconds."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float, status: int | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class TransientError(PlatformError):
    """A network failure or 5xx; safe to retry with backoff."""

    retryable = True


class NotSupported(PlatformError):
    """The platform (or this shop's version of it) cannot do this."""
