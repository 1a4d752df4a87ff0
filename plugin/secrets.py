"""Re-encrypting every secret column, for key rotation."""

from __future__ import annotations

from sqlalchemy import Column, Text, literal, select, type_coerce, update

from plugin import crypto
from plugin.crypto import EncryptedJSON, EncryptedText
from plugin.db import Base, Database


def encrypted_columns() -> list[Column]:  # type: ignore[type-arg]
    return [
        column
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedText | EncryptedJSON)
    ]


def reencrypt_all(database: Database) -> int:
    """Rewrite every ciphertext under the newest key in one transaction; returns how many."""
    count = 0
    with database.engine.begin() as connection:
        for column in encrypted_columns():
            table = column.table
            key = next(iter(table.primary_key.columns))
            # Read and write the ciphertext itself, bypassing the column's decrypting type.
            rows = connection.execute(
                select(key, type_coerce(column, Text).label("value")).where(column.is_not(None))
            ).all()
            for row_id, value in rows:
                connection.execute(
                    update(table)
                    .where(key == row_id)
                    .values({column.name: literal(crypto.rotate(value), Text)})
                )
                count += 1
    return count
