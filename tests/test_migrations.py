"""The schema is only ever changed by migrations, and they match the models exactly."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from plugin import migrate
from plugin.db import Base, make_engine


def schema_diff(url: str) -> list[object]:
    engine = make_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    engine.dispose()
    return diff


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    names = set(inspect(engine).get_table_names()) - {"alembic_version"}
    engine.dispose()
    return names


def assert_migrations_match_models(url: str) -> None:
    migrate.upgrade(url)
    assert schema_diff(url) == []
    assert table_names(url) == set(Base.metadata.tables)
    migrate.downgrade(url, "base")
    assert table_names(url) == set()
    migrate.upgrade(url)
    assert schema_diff(url) == []


def test_upgrade_head_matches_models_and_downgrade_base_empties_sqlite(tmp_path: Path) -> None:
    assert_migrations_match_models(f"sqlite:///{tmp_path / 'schema.db'}")


@pytest.mark.postgres
def test_upgrade_head_matches_models_and_downgrade_base_empties_postgres(postgres_url: str) -> None:
    assert_migrations_match_models(postgres_url)
