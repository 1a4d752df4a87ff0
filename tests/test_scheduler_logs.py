"""The scheduler's log names each job, and an idle worker's dispatch stays quiet at INFO."""

from __future__ import annotations

import logging
import time

import pytest
from flask import Flask

from plugin.scheduler import build_scheduler


def test_jobs_log_by_name_and_idle_dispatch_writes_nothing_at_info(
    app: Flask, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = build_scheduler(app)

    with caplog.at_level(logging.INFO):
        scheduler.start()
        time.sleep(3.5)  # every job's first run (after 1 s), then dispatch each second
        scheduler.shutdown(wait=True)

    lines = [r.getMessage() for r in caplog.records if r.name.startswith("apscheduler.executors")]
    assert lines, "the executor logged nothing at all"
    assert not [line for line in lines if "run_job" in line]
    assert [line for line in lines if line.startswith('Running job "sync_shopify (trigger')]
    assert [line for line in lines if line.startswith('Job "expire (trigger')]
    assert not [line for line in lines if '"dispatch (trigger' in line]


def test_dispatch_runs_are_logged_at_debug(app: Flask, caplog: pytest.LogCaptureFixture) -> None:
    scheduler = build_scheduler(app)

    with caplog.at_level(logging.DEBUG, logger="apscheduler"):
        scheduler.start()
        time.sleep(2.5)
        scheduler.shutdown(wait=True)

    dispatch = [
        r for r in caplog.records if r.getMessage().startswith('Running job "dispatch (trigger')
    ]
    assert dispatch
    assert {r.levelname for r in dispatch} == {"DEBUG"}
