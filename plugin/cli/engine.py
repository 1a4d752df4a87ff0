"""`shopnudge tick [--now ISO-8601]`: run every job once with one clock, for cron and tests."""

from __future__ import annotations

import datetime as dt

import click
from flask import current_app
from flask.cli import with_appcontext

from plugin.db import utcnow
from plugin.scheduler import JobOutcome, run_all


def parse_now(text: str | None) -> dt.datetime:
    """An ISO-8601 moment; without a zone it is UTC."""
    if not text:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {text!r}", param_hint="--now") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


@click.command(help="Run every job once (sync, compose, dispatch, expiry) and exit.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Fix the clock (default: now).")
@with_appcontext
def tick(now_text: str | None) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = parse_now(now_text)
    outcomes = run_all(app, now)
    ran = [name for name, outcome in outcomes.items() if outcome is JobOutcome.RAN]
    click.echo(f"tick at {now.isoformat()}: ran {len(ran)} jobs")
    for name, outcome in outcomes.items():
        if outcome is JobOutcome.SKIPPED:
            click.echo(f"  {name}: another process holds its lease; skipped")
    failed = [name for name, outcome in outcomes.items() if outcome is JobOutcome.FAILED]
    if failed:
        click.echo(
            f"error: {len(failed)} job(s) failed (see the log): {', '.join(failed)}", err=True
        )
        raise SystemExit(1)
