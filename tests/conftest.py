"""Fixtures: a real database per run (SQLite file, or PostgreSQL), the app, a browser.

SHOPNUDGE_TEST_DATABASE_URL runs the whole suite on that database (CI points it at a fresh
PostgreSQL database). Tests marked `postgres` get their own throwaway PostgreSQL database from
the server at SHOPNUDGE_TEST_POSTGRES_ADMIN_URL and skip, with the reason, where none answers;
with SHOPNUDGE_REQUIRE_POSTGRES=1 (CI) a missing server fails them instead.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from plugin import create_app, migrate
from plugin.config import Settings
from plugin.db import Base, Database, get_database

TEST_ENCRYPTION_KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
POSTGRES_ADMIN_URL = os.environ.get(
    "SHOPNUDGE_TEST_POSTGRES_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
CHROMIUM = os.environ.get("SHOPNUDGE_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as error:
        return (
            f"PostgreSQL is not reachable at {make_url(POSTGRES_ADMIN_URL).render_as_string()} "
            f"({type(error).__name__}); set SHOPNUDGE_TEST_POSTGRES_ADMIN_URL to run these tests"
        )
    return None


def create_postgres_database() -> str:
    """Create a throwaway database and return its SQLAlchemy URL."""
    name = f"shopnudge_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    reason = _postgres_unavailable_reason()
    if reason:
        if os.environ.get("SHOPNUDGE_REQUIRE_POSTGRES") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """An empty PostgreSQL database of this test's own, dropped afterwards."""
    url = create_postgres_database()
    try:
        yield url
    finally:
        drop_postgres_database(url)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The suite's database, migrated to head once."""
    url = os.environ.get("SHOPNUDGE_TEST_DATABASE_URL") or (
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'shopnudge.db'}"
    )
    migrate.upgrade(url)
    return url


def clear_database(database: Database) -> None:
    """Empty every table so the next test starts clean (faster than migrating again)."""
    tables = list(reversed(Base.metadata.sorted_tables))
    with database.engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in tables)
            connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                connection.execute(table.delete())


def make_app(database_url: str, instance_path: Path, **overrides: Any) -> Flask:
    config: dict[str, Any] = {
        "instance_path": instance_path,
        "database_url": database_url,
        "secret_key": "test-secret-key",
        "encryption_keys": (TEST_ENCRYPTION_KEY,),
        "encryption_keys_in_instance": False,
        "public_url": "http://shopnudge.test",
    }
    config.update(overrides)
    app = create_app(config)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    """Settings a test module overrides (e.g. fake vendor URLs); override this fixture."""
    return {}


@pytest.fixture
def app(database_url: str, tmp_path: Path, app_overrides: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path / "instance", **app_overrides)
    database = get_database(app)
    clear_database(database)
    yield app
    clear_database(database)
    database.dispose()


@pytest.fixture
def settings(app: Flask) -> Settings:
    """The app's settings, as the edges (routes, CLI, jobs) pass them to the library."""
    return app.config["SHOPNUDGE"]


@pytest.fixture
def database(app: Flask) -> Database:
    return get_database(app)


@pytest.fixture
def session(database: Database) -> Iterator[Session]:
    """A session on the app's database; the test commits what it wants others to see."""
    with database.sessionmaker() as session:
        yield session


class ServedClient(FlaskClient):
    """Reads each answer whole and closes it, as a WSGI server does: work a view leaves for
    after its answer (`response.call_on_close`) has run when the call returns."""

    def open(self, *args: Any, buffered: bool = True, **kwargs: Any) -> Any:
        return super().open(*args, buffered=buffered, **kwargs)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    app.test_client_class = ServedClient
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def live_app(app: Flask) -> Iterator[str]:
    """Our app on a real local HTTP port (for browsers and for other processes)."""
    from tests.fakes.server import LocalServer

    with LocalServer(app) as server:
        yield server.url


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright; never a downloaded browser."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing: apt-get install -y chromium (python3 dev.py test does)"
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed: pip install -e '.[dev]'")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
