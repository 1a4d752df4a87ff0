"""`shopnudge worker` processes on PostgreSQL share the outbox: each row sent once, none lost.

The workers send through the Cloud API client to the fake Graph API, which counts every send it
receives and reports each accepted one by a signed status webhook to the app (served here), as
Meta does. Workers are SIGKILLed at random moments and restarted: what the fake received is the
truth each row's final state is checked against. Each victim is stopped (SIGSTOP) a moment before
its SIGKILL, so the test sees which rows it had handed to the network without an answer recorded
at the moment it died: its calls in flight, exactly the rows it may leave uncertain.
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
from sqlalchemy import ColumnElement, func, select, text, update
from sqlalchemy.orm import Session

from plugin import migrate
from plugin.db import Database, utcnow
from plugin.engine.claims import (
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
from tests.fakes.meta_contract import meta_contract
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


def wait_started(logs: list[Path]) -> None:
    """Until every worker has said it started: from then on SIGTERM stops it cleanly."""
    deadline = time.monotonic() + 120
    while not all(log.exists() and b"worker started" in log.read_bytes() for log in logs):
        assert time.monotonic() < deadline, "a worker did not start"
        time.sleep(0.1)


def release_all(database: Database, logs: list[Path]) -> None:
    """Once every worker has said it started, make every row due."""
    wait_started(logs)
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
    #: Each worker's log, by pid.
    log_of: dict[int, Path] = field(default_factory=dict)
    #: pid of every worker SIGKILLed.
    killed: list[int] = field(default_factory=list)
    #: For each kill, the rows its worker had handed off without recording an answer when it
    #: was stopped: its calls in flight at that moment.
    in_flight: dict[int, set[int]] = field(default_factory=dict)
    #: For each kill, the rows its worker had claimed but not yet handed off: never sent by it.
    unsent: dict[int, set[int]] = field(default_factory=dict)

    def start(self, slot: int | None = None) -> None:
        log = self.tmp_path / f"worker-{len(self.logs)}.log"
        worker = start_worker(self.url, log, self.tmp_path / "instance", self.graph_url)
        self.logs.append(log)
        self.log_of[worker.pid] = log
        if slot is None:
            self.workers.append(worker)
        else:
            self.workers[slot] = worker

    def kill(self, slot: int, database: Database) -> None:
        """Freeze the worker, note its calls in flight, SIGKILL it."""
        victim = self.workers[slot]
        victim.send_signal(signal.SIGSTOP)
        quiet(database, victim.pid)  # a statement it had sent lands; one it had not, never will
        with database.session() as session:
            self.in_flight[victim.pid] = set(
                session.scalars(select(Notification.id).where(unrecorded(victim.pid)))
            )
            self.unsent[victim.pid] = set(
                session.scalars(
                    select(Notification.id).where(
                        Notification.claimed_by.like(f"%:{victim.pid}:%"),
                        Notification.state == NotificationState.SENDING,
                        Notification.handed_at.is_(None),
                    )
                )
            )
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        self.killed.append(victim.pid)

    def stop(self) -> None:
        """The way a process manager stops them, once the last restarted one is up (a
        SIGTERM during start-up ends a process that holds nothing, by the default action)."""
        wait_started([self.log_of[worker.pid] for worker in self.workers])
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


def local_ports(pid: int) -> set[int]:
    """The local TCP ports of process `pid`'s sockets (Linux /proc)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        target = os.readlink(fd) if fd.is_symlink() else ""
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


def quiet(database: Database, pid: int) -> None:
    """Until PostgreSQL has finished every statement the (stopped) process `pid` had sent."""
    ports = list(local_ports(pid))
    deadline = time.monotonic() + 30
    query = text(
        "SELECT count(*) FROM pg_stat_activity WHERE client_port = ANY(:ports)"
        " AND state NOT IN ('idle', 'idle in transaction')"
    )
    while ports and time.monotonic() < deadline:
        with database.session() as session:
            if not session.scalar(query, {"ports": ports}):
                return
        time.sleep(0.01)


def unrecorded(pid: int) -> ColumnElement[bool]:
    """Rows worker `pid` handed to the network and never recorded an answer for: still
    `sending`, expired unconfirmed, or settled by a status webhook instead of by the worker."""
    return (
        Notification.claimed_by.like(f"%:{pid}:%")
        & Notification.handed_at.is_not(None)
        & (
            (Notification.state == NotificationState.SENDING)
            | Notification.reason.in_((UNCONFIRMED, RECONCILED))
        )
    )


def settle(database: Database, statuses: StatusWebhooks, killed: list[int]) -> None:
    """Until nothing is due, the live workers hold no row, and every status was processed."""
    deadline = time.monotonic() + 600
    dead = tuple(f":{pid}:" for pid in killed)
    pending, live, unprocessed = 0, [], 0
    while time.monotonic() < deadline:
        with database.session() as session:
            pending = session.scalar(
                select(func.count()).where(Notification.state == NotificationState.PENDING)
            )
            holders = session.scalars(  # unanswered: a row recorded uncertain has its reason
                select(Notification.claimed_by).where(
                    Notification.state == NotificationState.SENDING,
                    Notification.reason.is_(None),
                )
            ).all()
            unprocessed = session.scalar(
                select(func.count()).where(WebhookDelivery.processed_at.is_(None))
            )
        live = [h for h in holders if not any(d in (h or "") for d in dead)]
        if not pending and not live and statuses.wait_idle(0.5) and not unprocessed:
            return
        time.sleep(0.5)
    raise AssertionError(
        f"the workers did not finish the outbox: {pending} pending, {len(live)} held by live"
        f" workers ({collections.Counter(live).most_common(3)}), {unprocessed} status"
        f" deliveries unprocessed"
    )


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
    try:
        seed_held(database, count, mps, token=fake.token)
        meta_contract()  # read once now, not by each of hundreds of first sends at once
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
                    cluster.kill(slot, database)
                    cluster.start(slot)
                settle(database, statuses, cluster.killed)
                # and reconciliation, a claim timeout later, finds the rows the dead never
                # handed off
                reconcile_sending(database, utcnow() + CLAIM_TIMEOUT + dt.timedelta(seconds=1))
                settle(database, statuses, cluster.killed)
                cluster.stop()
            finally:
                cluster.force_stop()
            # and, a sending timeout later, settles what no status webhook confirmed
            reconcile_sending(database, utcnow() + SENDING_TIMEOUT + dt.timedelta(seconds=1))
        # then the fake received each row at most once (counted by recipient: one buyer per row,
        # and a send through the Marketing Messages API carries no biz_opaque_callback_data)
        assert fake.refused == []
        received = collections.Counter(
            str(r.json.get("to") or r.json.get("recipient")).lstrip("+") for r in fake.sends()
        )
        assert received and received.most_common(1)[0][1] == 1, "a notification was sent twice"
        with database.sessionmaker() as session:
            rows = session.execute(
                select(
                    Notification.id,
                    Notification.phone,
                    Notification.state,
                    Notification.reason,
                    Notification.claimed_by,
                    Notification.handed_at,
                    Notification.provider_message_id,
                )
            ).all()
            uncertain = {
                pid: set(session.scalars(select(Notification.id).where(unrecorded(pid))))
                for pid in cluster.killed
            }
        assert len(rows) == count
        assert set(received) <= {row.phone.lstrip("+") for row in rows}
        # and every row it accepted is sent with Meta's id, the uncertain ones too
        sent = {row.phone.lstrip("+") for row in rows if row.state == NotificationState.SENT}
        assert sent == set(received)
        assert all(row.provider_message_id for row in rows if row.state == NotificationState.SENT)
        # and every other row is terminal with its reason: expired unconfirmed after a dead worker
        # handed it to the network (a kill between the hand-off and the request); none was lost
        # unattempted, and no live worker left one uncertain
        unsent = [row for row in rows if row.state != NotificationState.SENT]
        assert {(row.state, row.reason) for row in unsent} <= {("expired", UNCONFIRMED)}
        assert all(row.handed_at is not None for row in unsent)
        assert {row.id for row in unsent} <= set().union(*uncertain.values())
        # and the rows a kill caught claimed but not yet handed off went back and were sent (once)
        given_back = set().union(*cluster.unsent.values())
        assert given_back <= {row.id for row in rows if row.state == NotificationState.SENT}
        # and the rows each kill left uncertain are exactly its calls in flight when it died
        assert uncertain == cluster.in_flight
        assert all(len(ids) <= concurrency for ids in uncertain.values())
        most = max((len(ids) for ids in uncertain.values()), default=0)
        print(
            f"\n{count} rows, {kills} kills: {len(sent)} sent, {len(unsent)} expired unconfirmed;"
            f" {sum(len(ids) for ids in uncertain.values())} uncertain, each kill's equal to its"
            f" calls in flight (most {most}, bound {concurrency}); {len(given_back)} caught claimed"
            f" but not handed off, all sent;"
            f" {len(statuses.delivered)} status webhooks"
        )
    finally:  # a failed run leaves no connection for a later test to find
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
        claimed = claim(database, utcnow() + dt.timedelta(hours=2), "w1")
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
