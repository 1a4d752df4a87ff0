"""Running ShopNudge: web and scheduler together (embedded), or the scheduler alone (worker)."""

from __future__ import annotations

import contextlib
import logging
import signal
from types import FrameType

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

from plugin import migrate
from plugin.scheduler import build_scheduler

log = logging.getLogger(__name__)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def stop_on_sigterm() -> None:
    """Process managers (systemd, Docker, Kubernetes) stop services with SIGTERM, and a shell
    starts background jobs with SIGINT ignored: SIGTERM must stop us as cleanly as Ctrl+C."""
    signal.signal(signal.SIGTERM, _interrupt)


def serve_app(app: Flask, host: str, port: int) -> None:
    """Serve the web app with the scheduler in the same process until interrupted."""
    stop_on_sigterm()
    scheduler = build_scheduler(app)
    scheduler.start()
    server = make_server(host, port, app, threaded=True)
    click.echo(f"ShopNudge on http://{host}:{port}/ (Ctrl+C stops)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        scheduler.shutdown(wait=False)
        server.server_close()


@click.command(help="Serve the web app and run the scheduler in one process.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    migrate.upgrade(app.config["SHOPNUDGE"].database_url)
    serve_app(app, host, port)


@click.command(help="Run the scheduler and dispatch without the web app (any number of them).")
@with_appcontext
def worker() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    scheduler = build_scheduler(app, blocking=True)
    stop_on_sigterm()
    click.echo("worker started (Ctrl+C or SIGTERM stops)")
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
    if scheduler.running:  # let a running dispatch batch record its outcomes
        scheduler.shutdown(wait=True)
