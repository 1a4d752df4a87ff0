"""`shopnudge sync STORE [--full]`: pull from the platform now, with a progress bar."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from connectors.base import Progress
from connectors.errors import AuthFailed, PlatformError, TransientError
from connectors.network import NetworkError
from plugin.config import Settings
from plugin.connect import NoConnector, connector_for
from plugin.db import get_database
from plugin.models import Platform, Store
from plugin.reachability import Unreachable, probe
from plugin.stores.registry import find_store
from plugin.sync.run import sync_store


def platform_address(store: Store, settings: Settings) -> str:
    """The address the shop's connector calls (a local fake's in tests and demos)."""
    if store.platform == Platform.SHOPIFY:
        return settings.shopify_shop_url(store.domain)
    return store.base_url or f"https://{store.domain}"


@click.command(help="Pull products, customers, orders and carts from the shop now.")
@click.argument("store_ref", metavar="STORE")
@click.option("--full", is_flag=True, help="Backfill everything instead of changes since last run.")
@with_appcontext
def sync(store_ref: str, full: bool) -> None:
    database = get_database()
    with database.session() as session:
        store = find_store(session, store_ref)
        if store is None:
            click.echo(f"error: no store {store_ref!r} (see `shopnudge stores list`)", err=True)
            raise SystemExit(2)
        settings = current_app.config["SHOPNUDGE"]
        try:
            connector = connector_for(store, settings)
        except NoConnector as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(2) from None
        store_id, address = store.id, platform_address(store, settings)
    try:
        probe(address, settings.http_timeout)
    except Unreachable as error:
        click.echo(f"error: cannot reach the shop at {address}: {error}", err=True)
        raise SystemExit(1) from None
    bars: dict[str, tqdm] = {}

    def show(progress: Progress) -> None:
        bar = bars.get(progress.resource)
        if bar is None:
            bar = bars[progress.resource] = tqdm(
                desc=f"{progress.resource:<9}", unit=" rec", total=progress.total, leave=True
            )
        bar.total = progress.total
        bar.update(progress.fetched - bar.n)
        bar.set_postfix(written=progress.written)

    try:
        results = sync_store(database, store_id, connector, full=full, progress=show)
    except PlatformError as error:
        failure: PlatformError | None = error
    else:
        failure = None
    finally:
        for bar in bars.values():  # before the last line, so it stands on a line of its own
            bar.close()
    if failure is not None:
        click.echo(f"error: {failure_line(failure, address)}", err=True)
        raise SystemExit(1)
    for resource, counts in results.items():
        click.echo(
            f"{resource}: {counts.created} created, {counts.updated} updated, "
            f"{counts.unchanged} unchanged"
        )


def failure_line(error: PlatformError, address: str) -> str:
    """What stopped the sync, in one line."""
    if isinstance(error, AuthFailed):
        return f"the platform refused our credentials: {error}"
    if isinstance(error, NetworkError):  # the probe passed: the shop went away during the sync
        return f"lost the shop at {address} during the sync: {error}"
    if isinstance(error, TransientError):
        return f"the platform kept failing, retries used up: {error}"
    return f"the platform refused: {error}"
