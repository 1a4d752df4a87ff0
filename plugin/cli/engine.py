"""`shopnudge tick [--now ISO-8601]`: run every job once with one clock, for cron and tests."""

from __future__ import annotations

import datetime as dt

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from tqdm import tqdm

from plugin.db import utcnow
from plugin.scheduler import JobOutcome, attempt_job, jobs


def parse_now(text: str | None) -> dt.datetime:
    """An ISO-8601 moment; without a zone it is UTC."""
    if not text:
        return utcnow()
    try:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"not an ISO-8601 time: {text!r}", param_hint="--now") from None
    return moment.replace(tzinfo=dt.UTC) if moment.tzinfo is None else moment.astimezone(dt.UTC)


def run_every_job(app: Flask, now: dt.datetime) -> dict[str, JobOutcome]:
    """Each job once, in the scheduler's order, with a bar that names the job running (a sync or
    a compose can take many seconds)."""
    outcomes = {}
    table = jobs()
    with tqdm(total=len(table), desc="tick", unit=" job", leave=True) as bar:
        for name, job in table.items():
            bar.set_postfix_str(name)
            outcomes[name] = attempt_job(app, job, now)
            bar.update(1)
    return outcomes


@click.command(help="Run every job once (sync, compose, dispatch, expiry) and exit.")
@click.option("--now", "now_text", metavar="ISO-8601", help="Fix the clock (default: now).")
@with_appcontext
def tick(now_text: str | None) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    now = parse_now(now_text)
    outcomes = run_every_job(app, now)
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
