"""`sync` says which step failed (DNS, refused, timeout, TLS) within the HTTP timeout; `tick`
shows which job it is on."""

from __future__ import annotations

import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Response
from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from plugin.models import Store
from tests.factories import make_store
from tests.fakes.server import LocalServer

TIMEOUT = 0.5


@pytest.fixture
def app_overrides() -> dict[str, Any]:
    return {"http_timeout": TIMEOUT, "allow_http_hosts": frozenset({"127.0.0.1"})}


def woocommerce_store(session: Session, base_url: str) -> Store:
    store = make_store(
        session,
        platform="woocommerce",
        domain=base_url.split("://")[1],
        base_url=base_url,
        credentials={"consumer_key": "ck_test", "consumer_secret": "cs_test"},
    )
    session.commit()
    return store


def sync(runner: FlaskCliRunner, store: Store) -> tuple[int, str, float]:
    started = time.monotonic()
    result = runner.invoke(args=["sync", store.public_key])
    return result.exit_code, result.output, time.monotonic() - started


@pytest.fixture
def silent_listener() -> Iterator[int]:
    """A port that accepts connections and never says a word."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    yield server.getsockname()[1]
    server.close()


@pytest.fixture
def plain_text_server() -> Iterator[int]:
    """A port that answers anything with plain HTTP, as a site without TLS does."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(5)

    def answer() -> None:
        try:
            connection, _ = server.accept()
        except OSError:
            return
        with connection:
            connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    server.close()
    thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_name_that_does_not_resolve_is_reported_as_dns_at_once(
    runner: FlaskCliRunner, session: Session
) -> None:
    store = woocommerce_store(session, "https://shop.invalid")

    code, output, seconds = sync(runner, store)

    assert code == 1
    assert output.startswith(
        "error: cannot reach the shop at https://shop.invalid: DNS: the name shop.invalid "
        "does not resolve ("
    )
    assert "refused" not in output
    assert seconds < 5


def test_a_closed_port_is_reported_as_refused(runner: FlaskCliRunner, session: Session) -> None:
    port = free_port()
    store = woocommerce_store(session, f"http://127.0.0.1:{port}")

    code, output, seconds = sync(runner, store)

    assert code == 1
    assert output == (
        f"error: cannot reach the shop at http://127.0.0.1:{port}: refused: nothing accepts "
        f"connections on 127.0.0.1 port {port}\n"
    )
    assert seconds < 5


def test_a_host_that_never_answers_is_a_timeout_within_the_http_timeout(
    runner: FlaskCliRunner, session: Session, silent_listener: int
) -> None:
    store = woocommerce_store(session, f"https://127.0.0.1:{silent_listener}")

    code, output, seconds = sync(runner, store)

    assert code == 1
    assert output == (
        f"error: cannot reach the shop at https://127.0.0.1:{silent_listener}: timeout: "
        f"127.0.0.1 port {silent_listener} did not answer within 0.5 s\n"
    )
    assert TIMEOUT <= seconds < TIMEOUT + 3


def test_a_site_without_tls_on_an_https_address_is_reported_as_tls(
    runner: FlaskCliRunner, session: Session, plain_text_server: int
) -> None:
    store = woocommerce_store(session, f"https://127.0.0.1:{plain_text_server}")

    code, output, _seconds = sync(runner, store)

    assert code == 1
    assert output.startswith(
        f"error: cannot reach the shop at https://127.0.0.1:{plain_text_server}: TLS: the "
        "secure connection to 127.0.0.1 failed ("
    )


def test_tick_shows_each_job_on_its_progress_bar(runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["tick", "--now", "2026-01-05T10:00:00Z"])

    assert result.exit_code == 0, result.output
    assert "tick: 100%" in result.output
    for job in ("sync_shopify", "compose_reminders", "dispatch", "attribution"):
        assert job in result.output
    assert re.search(r"tick at 2026-01-05T10:00:00\+00:00: ran \d+ jobs\n$", result.output)


def test_retries_are_logged_as_they_happen_and_the_end_says_retries_ran_out(
    runner: FlaskCliRunner, session: Session, caplog: pytest.LogCaptureFixture
) -> None:
    busy = Flask("busy")

    @busy.route("/", defaults={"path": ""})
    @busy.route("/<path:path>")
    def unavailable(path: str) -> Response:
        return Response("busy", status=503, headers={"Retry-After": "0"})

    with LocalServer(busy) as server:
        store = woocommerce_store(session, server.url)
        with caplog.at_level(logging.WARNING, logger="connectors"):
            code, output, _seconds = sync(runner, store)

    retries = [r.getMessage() for r in caplog.records if "answered 503; try" in r.getMessage()]
    assert code == 1
    assert retries[0].endswith("answered 503; try 2 of 5 in 0.0 s")
    assert retries[-1].endswith("answered 503; try 5 of 5 in 0.0 s")
    assert "error: the platform kept failing, retries used up: " in output
