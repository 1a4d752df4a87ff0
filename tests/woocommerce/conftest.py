"""Fixtures: the fake WooCommerce site over HTTPS, and our app on a real port it can call."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from plugin.models import Store
from plugin.stores.registry import add_store
from tests.fakes.woocommerce import FakeWooCommerce
from tests.fakes.woocommerce_site import write_self_signed_cert


class LateApp:
    """A WSGI app set after the server started (our public URL must be known first)."""

    target: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        if self.target is None:  # a test that does not serve our app: calls to it fail
            start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"not serving"]
        return self.target(environ, start_response)


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return write_self_signed_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def trust_fake(tls_files: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """requests (and so the woocommerce package) trusts the fake's certificate."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_files[0]))


@pytest.fixture
def make_woo(tls_files: tuple[Path, Path], trust_fake: None) -> Iterator[Callable[..., Any]]:
    started: list[FakeWooCommerce] = []

    def make(**options: Any) -> FakeWooCommerce:
        options.setdefault("tls", tls_files)
        fake = FakeWooCommerce(**options).__enter__()
        started.append(fake)
        return fake

    yield make
    for fake in started:
        fake.__exit__()


@pytest.fixture
def woo(make_woo: Callable[..., FakeWooCommerce]) -> FakeWooCommerce:
    return make_woo()


@pytest.fixture
def our_server(tls_files: tuple[Path, Path], trust_fake: None) -> Iterator[tuple[LateApp, str]]:
    """Our app over HTTPS (the fake's certificate): WooCommerce posts keys only to https."""
    holder = LateApp()
    server = make_server(
        "127.0.0.1", 0, holder, threaded=True, ssl_context=(str(tls_files[0]), str(tls_files[1]))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield holder, f"https://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def app_overrides(our_server: tuple[LateApp, str]) -> dict[str, Any]:
    return {
        "public_url": our_server[1],
        "http_timeout": 10.0,
        "allow_http_hosts": frozenset({"127.0.0.1"}),
    }


@pytest.fixture
def live(app: Flask, our_server: tuple[LateApp, str]) -> str:
    our_server[0].target = app
    return our_server[1]


def connect_store(
    session: Session, app: Flask, woo: FakeWooCommerce, *, webhook_secret: str | None = None
) -> Store:
    """A store registered with fresh keys of the fake, the manual way."""
    key, secret = woo.add_keys()
    store = add_store(
        session,
        app.config["SHOPNUDGE"],
        platform="woocommerce",
        domain=woo.url,
        consumer_key=key,
        consumer_secret=secret,
        webhook_secret=webhook_secret,
    )
    session.commit()
    return store
