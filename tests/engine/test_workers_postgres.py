"""`shopnudge worker` processes on PostgreSQL share the outbox: each row sent once, none lost.

The workers send through the Cloud API client to the fake Graph API, which counts every send it
receives and reports each accepted one by a signed status webhook to the app (served here), as
Meta does. Workers are SIGKILLed at random moments and restarted: what the fake received is the
truth each row's final state is checked against.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from plugin import migrate
from plugin.db import Database, utcnow
from plugin.engine.dispatch import (
    BATCH,
    CLAIM_TIMEOUT,
    SENDING_TIMEOUT,
    UNCONFIRMED,
    claim,
    reconcile_sending,
)
from plugin.engine.outbox import insert_rows
from plugin.models import Notification, NotificationState, Subscription, WebhookDelivery
from tests.conftest import TEST_ENCRYPTION_KEY, make_app
from tests.factories import make_store, make_template, make_whatsapp_account
from tests.fakes.meta import FakeMeta
from tests.fakes.meta_statuses import StatusWebhooks
from tests.fakes.server import LocalServer

pytestmark = pytest.mark.postgres
APP_SECRET = "fake-meta-app-secret"
PHONE_NUMBER_ID = "1098765432"
WABA_ID = "2098765432"
#: The reason a status webhook gives a `sending` row it settles (plugin/whatsapp/statuses.py).
RECONCILED = "reconciled from a status webhook"


def seed_held(database: Database, count: int, mps: int, token: str | None = None) -> None:
    """One shop, a number at `mps` (dry run, or on the fake Graph API with its `token`), `count`
    confirmed buyers with one row each, due in an hour: `release_all` makes them due once every
    worker is up, so none gets a head start."""
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
        number = {"phone_number_id": PHONE_NUMBER_ID, "waba_id": WABA_ID, "token": token}
        make_whatsapp_account(
            session,
            store,
            throughput_mps=mps,
            **({"dry_run": False, **number} if token else {}),
        )
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


def start_worker(url: str, log: Path, instance: Path, graph_url: str) -> subprocess.Popen[bytes]:
    env = dict(
        os.environ,
        SHOPNUDGE_DATABASE_URL=url,
        SHOPNUDGE_ENCRYPTION_KEYS=TEST_ENCRYPTION_KEY,
        SHOPNUDGE_SECRET_KEY="test-secret-key",
        SHOPNUDGE_INSTANCE_PATH=str(instance),
        SHOPNUDGE_GRAPH_API_URL=graph_url,
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
    while not all(log.exists() and b"worker started" in log.read_bytes() for log in logs):
        assert time.monotonic() < deadline, "a worker did not start"
        time.sleep(0.1)
    with database.session() as session:
        session.execute(update(Notification).values(due_at=utcnow() - dt.timedelta(seconds=1)))


def counts(session: Session) -> dict[str, int]:
    session.expire_all()
    grouped = session.execute(select(Notification.state, func.count()).group_by(Notification.state))
    return {state: number for state, number in grouped}


@dataclass
class Cluster:
    """Four worker processes, restartable, and the fake Graph API they send to."""

    url: str
    tmp_path: Path
    graph_url: str
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)
    #: pid of every worker SIGKILLed.
    killed: list[int] = field(default_factory=list)

    def start(self, slot: int | None = None) -> None:
        log = self.tmp_path / f"worker-{len(self.logs)}.log"
        worker = start_worker(self.url, log, self.tmp_path / "instance", self.graph_url)
        self.logs.append(log)
        if slot is None:
            self.workers.append(worker)
        else:
            self.workers[slot] = worker

    def kill(self, slot: int) -> None:
        victim = self.workers[slot]
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.killed.append(victim.pid)

    def stop(self) -> None:
        """The way a process manager stops them."""
        for worker in self.workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in self.workers:
            assert worker.wait(timeout=30) == 0, "a worker did not stop cleanly"

    def force_stop(self) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()


def settle(database: Database, statuses: StatusWebhooks, killed: list[int]) -> None:
    """Until nothing is due, the live workers hold no row, and every status was processed."""
    deadline = time.monotonic() + 600
    dead = tuple(f":{pid}:" for pid in killed)
    while time.monotonic() < deadline:
        with database.session() as session:
            pending = session.scalar(
                select(func.count()).where(Notification.state == NotificationState.PENDING)
            )
            holders = session.scalars(
                select(Notification.claimed_by).where(
                    Notification.state == NotificationState.SENDING
                )
            ).all()
            unprocessed = session.scalar(
                select(func.count()).where(WebhookDelivery.processed_at.is_(None))
            )
        live = [h for h in holders if not any(d in (h or "") for d in dead)]
        if not pending and not live and statuses.wait_idle(0.5) and not unprocessed:
            return
        time.sleep(0.5)
    raise AssertionError("the workers did not finish the outbox")


def run_workers(
    postgres_url: str, tmp_path: Path, count: int, kills: int, mps: int, seed: int = 15
) -> None:
    # given `count` due rows on PostgreSQL for a number on the fake Graph API, which sends a
    # signed status webhook for every message it accepts to the app served here
    migrate.upgrade(postgres_url)
    fake = FakeMeta()  # a number the workers' account refresh finds upgraded: no tier limit
    fake.add_phone_number(
        PHONE_NUMBER_ID,
        messaging_limit_tier="TIER_UNLIMITED",
        whatsapp_business_manager_messaging_limit="TIER_UNLIMITED",
        throughput={"level": "HIGH"},
    )
    app = make_app(postgres_url, tmp_path / "instance", whatsapp_app_secret=APP_SECRET)
    concurrency = app.config["SHOPNUDGE"].send_concurrency
    database = Database(postgres_url)
    seed_held(database, count, mps, token=fake.token)
    rng = random.Random(seed)
    with (
        LocalServer(fake.app, keep_alive=True) as graph,
        LocalServer(app) as web,
        StatusWebhooks(f"{web.url}/webhooks/whatsapp", APP_SECRET, WABA_ID).attach(
            fake
        ) as statuses,
    ):
        cluster = Cluster(postgres_url, tmp_path, graph.url)
        try:
            for _ in range(4):
                cluster.start()
            release_all(database, cluster.logs)
            # when workers are SIGKILLed at random moments and restarted at once
            for _ in range(kills):
                time.sleep(rng.uniform(0.2, 1.2))
                slot = rng.randrange(4)
                cluster.kill(slot)
                cluster.start(slot)
            settle(database, statuses, cluster.killed)
            # and reconciliation, a claim timeout later, finds the rows the dead never handed off
            reconcile_sending(database, utcnow() + CLAIM_TIMEOUT + dt.timedelta(seconds=1))
            settle(database, statuses, cluster.killed)
            cluster.stop()
        finally:
            cluster.force_stop()
        # and, a sending timeout later, settles what no status webhook confirmed
        reconcile_sending(database, utcnow() + SENDING_TIMEOUT + dt.timedelta(seconds=1))
    # then the fake received each row at most once, every send naming its row
    sends = [r.json for r in fake.sends()]
    assert fake.refused == []
    received = collections.Counter(str(body.get("biz_opaque_callback_data")) for body in sends)
    assert received.most_common(1)[0][1] == 1, "a notification was sent twice"
    with database.sessionmaker() as session:
        rows = session.execute(
            select(
                Notification.id,
                Notification.state,
                Notification.reason,
                Notification.claimed_by,
                Notification.handed_at,
                Notification.provider_message_id,
            )
        ).all()
    assert set(received) <= {str(row.id) for row in rows}
    # and every row it accepted is sent with Meta's id, the uncertain ones too
    sent = {str(row.id) for row in rows if row.state == NotificationState.SENT}
    assert sent == set(received)
    assert all(row.provider_message_id for row in rows if row.state == NotificationState.SENT)
    # and every row is terminal: sent, or expired unconfirmed after a dead worker handed it
    # to the network (a kill between the hand-off and the request): none lost unattempted
    unsent = [row for row in rows if row.state != NotificationState.SENT]
    dead = [f":{pid}:" for pid in cluster.killed]
    assert {(row.state, row.reason) for row in unsent} <= {("expired", UNCONFIRMED)}
    assert all(row.handed_at is not None for row in unsent)
    assert all(any(d in row.claimed_by for d in dead) for row in unsent)
    assert len(rows) == count
    # and each kill left at most its worker's calls in flight uncertain
    uncertain = collections.Counter(
        next(pid for pid, d in zip(cluster.killed, dead, strict=True) if d in row.claimed_by)
        for row in rows
        if row.claimed_by
        and any(d in row.claimed_by for d in dead)
        and (row.state != NotificationState.SENT or row.reason == RECONCILED)
    )
    assert all(number <= concurrency for number in uncertain.values())
    print(
        f"\n{count} rows, {kills} kills: {len(sent)} sent, {len(unsent)} expired unconfirmed, "
        f"{sum(uncertain.values())} uncertain (most per kill {max(uncertain.values(), default=0)},"
        f" bound {concurrency}); {len(statuses.delivered)} status webhooks"
    )
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


def test_four_workers_send_each_of_1000_notifications_once_while_two_are_killed(
    postgres_url: str, tmp_path: Path
) -> None:
    # 250 msg/s: the run lasts seconds, so every worker takes part and the kills land mid-run
    run_workers(postgres_url, tmp_path, 1000, kills=2, mps=250)


@pytest.mark.slow
def test_four_workers_send_each_of_10000_notifications_exactly_once(
    postgres_url: str, tmp_path: Path
) -> None:
    run_workers(postgres_url, tmp_path, 10_000, kills=0, mps=2000)


@pytest.mark.slow
def test_20_sigkills_with_restarts_among_four_workers_lose_and_duplicate_none_of_10000(
    postgres_url: str, tmp_path: Path
) -> None:
    run_workers(postgres_url, tmp_path, 10_000, kills=20, mps=500)
