"""Four `shopnudge worker` processes on PostgreSQL share the outbox: each row sent at most once.

Every worker logs "notification N sending by W" right before it calls the channel; the logs of
all workers together are the record of every send attempt, even of a worker killed mid-run.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plugin import migrate
from plugin.db import Database, utcnow
from plugin.engine.dispatch import (
    BATCH,
    SENDING_TIMEOUT,
    UNCONFIRMED,
    claim,
    reconcile_sending,
)
from plugin.engine.jobs import JOBS  # registered on import
from plugin.engine.outbox import insert_rows
from plugin.models import Notification, NotificationState, Subscription
from tests.conftest import TEST_ENCRYPTION_KEY, make_app
from tests.factories import make_store, make_template, make_whatsapp_account

pytestmark = pytest.mark.postgres
SENDING = re.compile(r"notification (\d+) sending by (\S+)")


def seed_held(database: Database, count: int, mps: int) -> None:
    """One shop, a dry-run number at `mps`, `count` confirmed buyers with one row each, due in an
    hour: `release_all` makes them due once every worker is up, so none gets a head start."""
    now = utcnow()
    with database.session() as session:
        store = make_store(
            session,
            credentials=None,
            settings={
                "holdout_percent": 0,
                "quiet_hours_start": "00:00",
                "quiet_hours_end": "00:00",
            },
        )
        make_whatsapp_account(session, store, throughput_mps=mps)
        make_template(session, store, "cart_reminder_1")
        phones = [f"+49151{n:08d}" for n in range(count)]
        session.add_all(
            Subscription(store_id=store.id, phone=p, state="confirmed", locale="de") for p in phones
        )
        session.flush()
        rows = [
            {
                "store_id": store.id,
                "dedupe_key": f"load:{n}",
                "flow": "recommendation",
                "phone": phone,
                "template_name": "shopnudge_cart_reminder_1",
                "language": "de",
                "parameters": {"body": []},
                "context": {"purpose": "cart_reminder_1"},
                "state": NotificationState.PENDING,
                "due_at": now + dt.timedelta(hours=1),
                "cost_micros": 113100,
                "created_at": now,
                "updated_at": now,
            }
            for n, phone in enumerate(phones)
        ]
        insert_rows(session, rows)


def start_worker(url: str, log: Path, instance: Path) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SHOPNUDGE_DATABASE_URL=url,
        SHOPNUDGE_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        SHOPNUDGE_SECRET_KEY="test-secret-key",
        SHOPNUDGE_INSTANCE_PATH=str(instance),
        SHOPNUDGE_LOG_LEVEL="INFO",
    )
    shopnudge = Path(sys.executable).with_name("shopnudge")
    with log.open("wb") as output:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(shopnudge), "worker"], env=env, stdout=output, stderr=subprocess.STDOUT
        )


def release_all(database: Database, logs: list[Path]) -> None:
    """Once every worker has said it started, make every row due."""
    deadline = time.monotonic() + 120
    while not all(b"worker started" in log.read_bytes() for log in logs):
        assert time.monotonic() < deadline, "a worker did not start"
        time.sleep(0.1)
    with database.session() as session:
        session.execute(update(Notification).values(due_at=utcnow() - dt.timedelta(seconds=1)))


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    grouped = session.execute(select(Notification.state, func.count()).group_by(Notification.state))
    return {state: number for state, number in grouped}


def run_workers(
    postgres_url: str, tmp_path: Path, count: int, kill_after: float | None, mps: int = 2000
) -> None:
    # given `count` notifications on PostgreSQL for a number allowed `mps` messages a second
    migrate.upgrade(postgres_url)
    app = make_app(postgres_url, tmp_path / "instance")
    database = Database(postgres_url)
    seed_held(database, count, mps)
    # when four workers run, one of them killed with SIGKILL mid-run
    logs = [tmp_path / f"worker-{n}.log" for n in range(4)]
    workers = [start_worker(postgres_url, log, tmp_path / "instance") for log in logs]
    killed = None
    deadline = time.monotonic() + 600
    try:
        release_all(database, logs)
        with database.sessionmaker() as session:
            if kill_after is not None:
                while counts(session).get("sent", 0) < count * kill_after:
                    time.sleep(0.05)
                killed = workers[0]
                killed.send_signal(signal.SIGKILL)
                killed.wait()
            while counts(session).get("pending", 0) and time.monotonic() < deadline:
                time.sleep(0.5)
            time.sleep(2)  # let the last claimed batches finish
        for worker in workers:  # the way a process manager stops them
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            assert worker.wait(timeout=30) in (0, -signal.SIGKILL), "a worker did not stop cleanly"
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
    reconcile_sending(database, utcnow() + SENDING_TIMEOUT + dt.timedelta(seconds=1))
    # then every row was attempted at most once, and every row ended sent or expired unconfirmed
    attempts = collections.Counter()
    by_worker = collections.Counter()
    for log in logs:
        for notification_id, worker in SENDING.findall(log.read_text(errors="replace")):
            attempts[int(notification_id)] += 1
            by_worker[worker] += 1
    assert attempts.most_common(1)[0][1] == 1, "a notification was sent twice"
    with database.sessionmaker() as session:
        final = counts(session)
        rows = session.execute(
            select(
                Notification.id, Notification.state, Notification.reason, Notification.claimed_by
            )
        ).all()
        wamids = session.scalar(select(func.count(func.distinct(Notification.provider_message_id))))
    sent = {row.id for row in rows if row.state == "sent"}
    expired = [row for row in rows if row.state == "expired"]
    assert final.get("pending", 0) == 0 and final.get("sending", 0) == 0
    assert len(sent) + len(expired) == count
    assert sent <= set(attempts), "a row is marked sent without a recorded attempt"
    assert wamids == len(sent)
    assert len(by_worker) >= 2, "the work was not shared"
    if killed is None:
        assert expired == [] and len(sent) == count
    else:
        killed_pid = f":{killed.pid}:"
        assert all(row.reason == UNCONFIRMED and killed_pid in row.claimed_by for row in expired)
        # at most what the killed worker held: in each of its (up to two) overlapping dispatch
        # runs, the calls its senders were making and one batch claimed behind them
        held = JOBS["dispatch"].max_instances * (app.config["SHOPNUDGE"].send_concurrency + BATCH)
        assert len(expired) <= held
    app.extensions["shopnudge.db"].dispose()
    database.dispose()


def test_a_claim_takes_one_batch_even_before_postgresql_has_statistics(
    postgres_url: str, tmp_path: Path
) -> None:
    # given three batches of due rows in a table PostgreSQL has not analysed yet
    migrate.upgrade(postgres_url)
    app = make_app(postgres_url, tmp_path / "instance")
    database = app.extensions["shopnudge.db"]
    try:
        seed_held(database, 3 * BATCH, 2000)
        # when a worker claims
        claimed = claim(database, utcnow() + dt.timedelta(hours=2))
        # then it holds one batch and the rest are still pending
        with database.sessionmaker() as session:
            states = counts(session)
        assert (len(claimed), states) == (BATCH, {"sending": BATCH, "pending": 2 * BATCH})
    finally:
        database.dispose()


def test_four_workers_send_each_of_1000_notifications_once_even_when_one_is_killed(
    postgres_url: str, tmp_path: Path
) -> None:
    # 250 msg/s: the run lasts seconds, so every worker takes part and the kill lands mid-run
    run_workers(postgres_url, tmp_path, 1000, kill_after=0.3, mps=250)


@pytest.mark.slow
def test_four_workers_send_each_of_10000_notifications_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    run_workers(postgres_url, tmp_path, 10_000, kill_after=None)


@pytest.mark.slow
def test_sigkill_of_a_worker_among_four_loses_none_and_duplicates_none_of_10000(
    postgres_url: str, tmp_path: Path
) -> None:
    run_workers(postgres_url, tmp_path, 10_000, kill_after=0.25)
