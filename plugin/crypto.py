"""Secrets at rest: Fernet with rotation (MultiFernet), newest key first."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class KeyringError(RuntimeError):
    """No usable encryption key, or a ciphertext no configured key can open."""


_keyring: MultiFernet | None = None


def configure(keys: tuple[str, ...] | list[str]) -> None:
    """Install the process-wide keyring; the first key encrypts, all keys decrypt."""
    global _keyring
    if not keys:
        raise KeyringError("SHOPNUDGE_ENCRYPTION_KEYS is empty")
    try:
        _keyring = MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as error:
        raise KeyringError(
            "an encryption key is not a valid Fernet key (32 url-safe base64 bytes)"
        ) from error


def _current() -> MultiFernet:
    if _keyring is None:
        raise KeyringError("encryption keys are not configured: create the app first")
    return _keyring


def encrypt(plain: str) -> str:
    return _current().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as error:
        raise KeyringError(
            "a stored secret cannot be decrypted with the configured keys"
        ) from error


def rotate(token: str) -> str:
    """Re-encrypt a ciphertext with the newest key."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as error:
        raise KeyringError(
            "a stored secret cannot be decrypted with the configured keys"
        ) from error


class EncryptedText(TypeDecorator[str]):
    """A string column stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else decrypt(value)


class EncryptedJSON(TypeDecorator[dict[str, Any]]):
    """A JSON object column stored as one Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, Any] | None, dialect: Dialect) -> str | None:
        return None if value is None else encrypt(json.dumps(value, sort_keys=True))

    def process_result_value(self, value: str | None, dialect: Dialect) -> dict[str, Any] | None:
        return None if value is None else json.loads(decrypt(value))
