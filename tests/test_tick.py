"""`shopnudge tick` tells when a job failed instead of exiting 0 as if all went well."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from plugin import migrate
from plugin.db import get_database
from plugin.scheduler import job_areas, jobs
from tests.conftest import make_app


def test_tick_exits_1_naming_the_jobs_that_failed_and_runs_the_others(tmp_path: Path) -> None:
    # given a database that lost its outbox table (a broken restore)
    url = f"sqlite:///{tmp_path / 'broken.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE notifications"))
    engine.dispose()
    app = make_app(url, tmp_path / "instance")
    # when the clock ticks
    result = app.test_cli_runner().invoke(args=["tick", "--now", "2026-01-05T10:00:00Z"])
    get_database(app).dispose()
    # then tick fails, naming the jobs that need the outbox, after running every other job
    assert result.exit_code == 1
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("error: ")
    assert "job(s) failed (see the log): " in last
    failed = set(last.split(": ")[-1].split(", "))
    assert "dispatch" in failed
    assert "process_webhooks" not in failed
    ran = int(result.output.split("ran ")[1].split(" jobs")[0])
    assert ran > 0


def test_tick_exits_0_when_every_job_ran(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fine.db'}"
    migrate.upgrade(url)
    app = make_app(url, tmp_path / "instance")
    result = app.test_cli_runner().invoke(args=["tick", "--now", "2026-01-05T10:00:00Z"])
    get_database(app).dispose()
    assert result.exit_code == 0, result.output
    assert "error" not in result.output


def test_the_job_table_names_each_job_once_and_orders_pull_compose_send_credit() -> None:
    # the table is data: no app, no blueprint has to be imported first for a job to exist
    names = [job.name for area in job_areas() for job in area]
    assert len(names) == len(set(names)), "two jobs would share one name and one lease"
    order = list(jobs())
    assert order == names
    assert order[0] == "process_webhooks"
    for before, after in (
        ("refresh_shopify_tokens", "sync_shopify"),
        ("set_up_woocommerce", "sync_woocommerce"),
        ("sync_shopify", "compose_reminders"),
        ("sync_woocommerce", "compose_reminders"),
        ("mark_abandoned_carts", "compose_reminders"),
        ("campaign_watch", "dispatch"),
        ("expire", "dispatch"),
        ("compose_recommendations", "dispatch"),
        ("dispatch", "attribution"),
    ):
        assert order.index(before) < order.index(after), (before, after)
