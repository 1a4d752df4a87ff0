"""Encryption key rotation."""

from __future__ import annotations

import click
from cryptography.fernet import Fernet
from flask import current_app
from flask.cli import with_appcontext

from plugin import crypto
from plugin.config import encryption_keys_file
from plugin.db import get_database
from plugin.secrets import reencrypt_all


@click.group(help="Encryption keys for secrets at rest.")
def keys() -> None:
    pass


@keys.command("rotate", help="Re-encrypt every stored secret with the newest key.")
@click.option(
    "--generate/--no-generate",
    default=None,
    help="Add a new key first (default: yes when keys live in the instance folder).",
)
@with_appcontext
def keys_rotate(generate: bool | None) -> None:
    settings = current_app.config["SHOPNUDGE"]
    keyring = list(settings.encryption_keys)
    if generate is None:
        generate = settings.encryption_keys_in_instance
    if generate:
        if not settings.encryption_keys_in_instance:
            click.echo(
                "error: keys come from SHOPNUDGE_ENCRYPTION_KEYS: put a new key first there "
                "and run `keys rotate --no-generate`",
                err=True,
            )
            raise SystemExit(2)
        keyring.insert(0, Fernet.generate_key().decode())
        crypto.configure(keyring)
    count = reencrypt_all(get_database())
    if generate:
        path = encryption_keys_file(settings.instance_path)
        path.write_text("\n".join(keyring) + "\n")
        path.chmod(0o600)
    click.echo(f"re-encrypted {count} secrets with the newest key")
