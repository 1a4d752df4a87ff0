"""Dispatch throughput with 1 and 4 worker processes on PostgreSQL, beside the configured limit.

Seeds due notifications to distinct confirmed buyers, starts the worker processes, and once
all of them are ready lets each run the dispatcher (claim with SKIP LOCKED, guards, limiter,
send, record) until nothing is due; prints messages per second. The channel is the dry-run
channel (records, answers a wamid) unless --fake-meta serves tests/fakes/meta.py on a local port
and sends to it through the Cloud API client (or --graph-url names another server).

The seeded tables are vacuumed and analysed before the clock starts, as autovacuum keeps a live
shop's: without statistics PostgreSQL reads a buyer's recent messages through the state index,
which the runs before left full of dead rows (16 ms a batch instead of 0.1 ms).

Beside each rate it prints the CPU the workers spent per message while dispatching (each
measures its own, every thread, from the start signal on; starting the app and exiting are
printed apart, as they are not per message) and how busy the machine's cores were, and says
what held the rate: the limiter (within 5% of the limit), the machine (its cores at least 90%
busy: workers, PostgreSQL and the fake server share them), or our code. The machine's cores
and load average at the start come first: the figures are only as quiet as the machine.
Last, what the hand-off record (`handed_at`, committed with the rate tokens right before the
calls so a killed worker's unsent rows go back to `pending`) cost: statements per message and
their wall time per message (the statement, not the commit it shares), summed over the
workers (each runs beside its senders, so it delays a worker's next hand-off rather than a
call in flight).

    .venv/bin/python bench/dispatch.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import multiprocessing
import os
import resource
import sys
import time
from dataclasses import dataclass
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path

from sqlalchemy import delete, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.compose import vacuum
from plugin import create_app, crypto, migrate
from plugin.config import ENVIRONMENT
from plugin.db import Database, utcnow
from plugin.engine.dispatch import Dispatcher
from plugin.engine.outbox import insert_rows
from plugin.models import (
    Notification,
    RateBucket,
    Store,
    Subscription,
    WhatsAppAccount,
    WhatsAppTemplate,
)

SENDERS = "SHOPNUDGE_SEND_CONCURRENCY"
KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="


def seed(database: Database, count: int, mps: int, cloud: bool) -> None:
    with database.session() as session:
        for model in (Notification, Subscription, WhatsAppTemplate, WhatsAppAccount, RateBucket):
            session.execute(delete(model))
        session.execute(delete(Store))
        store = Store(
            platform="shopify",
            domain="bench-dispatch.myshopify.com",
            settings={
                "holdout_percent": 0,
                "quiet_hours_start": "00:00",
                "quiet_hours_end": "00:00",
            },
        )
        session.add(store)
        session.flush()
        session.add(
            WhatsAppAccount(
                store_id=store.id,
                phone_number_id="1098765432",
                waba_id="bench",
                token="EAAG-test-token",  # what the fake Graph API accepts
                quality_rating="GREEN",
                throughput_mps=mps,
                dry_run=not cloud,
            )
        )
        session.add(
            WhatsAppTemplate(
                store_id=store.id,
                name="shopnudge_recommendation",
                language="de",
                purpose="recommendation",
                status="APPROVED",
            )
        )
        phones = [f"+49152{n:08d}" for n in range(count)]
        session.add_all(
            Subscription(store_id=store.id, phone=p, state="confirmed", locale="de") for p in phones
        )
        now = utcnow()
        insert_rows(
            session,
            [
                {
                    "store_id": store.id,
                    "dedupe_key": f"bench:{n}",
                    "flow": "recommendation",
                    "phone": phone,
                    "template_name": "shopnudge_recommendation",
                    "language": "de",
                    "parameters": {"body": [{"type": "text", "text": "Kim"}]},
                    "context": {"purpose": "recommendation"},
                    "state": "pending",
                    "due_at": now - dt.timedelta(seconds=1),
                    "cost_micros": 113100,
                    "created_at": now,
                    "updated_at": now,
                }
                for n, phone in enumerate(phones)
            ],
        )
    for table in ("notifications", "subscriptions"):  # as autovacuum would have, in a live shop
        vacuum(database.url, table)


def work(
    url: str,
    graph_url: str | None,
    ready: Barrier,
    concurrency: int,
    report: Queue[tuple[int, float, float]],
) -> None:
    config: dict[str, object] = {
        "database_url": url,
        "encryption_keys": (KEY,),
        "secret_key": "bench",
        "encryption_keys_in_instance": False,
        "log_level": "WARNING",
        "send_concurrency": concurrency,
    }
    if graph_url:
        config["graph_api_url"] = graph_url
    app = create_app(config)
    with app.app_context():
        database = app.extensions["shopnudge.db"]
        with database.session() as session:  # connected before the clock starts
            session.execute(select(1))
        dispatcher = Dispatcher(database, app.config["SHOPNUDGE"])  # as the worker's, kept
        ready.wait()
        cpu = time.process_time()  # every thread of this process: the senders too
        statements, seconds = 0, 0.0
        while True:
            counts = dispatcher.dispatch_due(utcnow())
            statements += counts.hand_offs
            seconds += counts.hand_off_seconds
            if not counts.sent:
                break
        report.put((statements, seconds, time.process_time() - cpu))
        dispatcher.close()
        database.dispose()


def busy_cores() -> tuple[float, float]:
    """Seconds the machine's cores were busy and in all since boot (Linux /proc/stat)."""
    fields = [float(n) for n in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(fields) - idle) / tick, sum(fields) / tick


def children_cpu() -> float:
    """CPU seconds of this process's ended children (the workers, once joined)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


@dataclass
class Run:
    """One measured run: the rate, and where the CPU went meanwhile (seconds)."""

    limit: int
    count: int
    seconds: float
    workers_cpu: float  # all worker processes, from the start signal to the last record
    startup_cpu: float  # what they spent besides: starting the app, connecting, exiting
    own_cpu: float  # this process: the fake Graph API server's threads
    busy_cpu: float  # the whole machine's busy core time
    cores: float  # core time there was (seconds times cores)
    hand_offs: int  # hand-off statements, all workers
    hand_off_seconds: float  # their wall time, all workers

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def per_message(self, cpu: float) -> float:
        return 1e6 * cpu / self.count

    def held_by(self, in_flight: float) -> str:
        """What kept the rate: `in_flight` messages a second is all the senders can do."""
        if self.rate >= 0.95 * self.limit:
            return "limiter"
        if self.busy_cpu >= 0.9 * self.cores:
            return "machine"
        if self.rate >= 0.85 * in_flight:
            return "answer time (sends in flight / latency)"
        return "our code"


def run(
    url: str, workers: int, count: int, mps: int, graph_url: str | None, concurrency: int
) -> Run:
    crypto.configure((KEY,))
    database = Database(url)
    seed(database, count, mps, cloud=graph_url is not None)
    ready = multiprocessing.Barrier(workers + 1)
    report: Queue[tuple[int, float, float]] = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(target=work, args=(url, graph_url, ready, concurrency, report))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    ready.wait()
    started, (busy, total) = time.perf_counter(), busy_cores()
    children_before, own_cpu = children_cpu(), time.process_time()
    reports = [report.get() for _ in processes]  # before join: a full pipe would block a child
    for process in processes:
        process.join()
    elapsed = time.perf_counter() - started
    own_cpu = time.process_time() - own_cpu
    busy_after, total_after = busy_cores()
    with database.session() as session:
        query = select(Notification.state, func.count()).group_by(Notification.state)
        states = {state: number for state, number in session.execute(query)}
    database.dispose()
    assert states.get("sent") == count, f"not all {count} sent: {states}"
    return Run(
        limit=mps,
        count=count,
        seconds=elapsed,
        workers_cpu=sum(cpu for _, _, cpu in reports),
        startup_cpu=children_cpu() - children_before - sum(cpu for _, _, cpu in reports),
        own_cpu=own_cpu,
        busy_cpu=busy_after - busy,
        cores=total_after - total,
        hand_offs=sum(statements for statements, _, _ in reports),
        hand_off_seconds=sum(seconds for _, seconds, _ in reports),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--messages", type=int, default=4000)
    parser.add_argument("--limits", type=int, nargs="+", default=[80, 1000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--graph-url", help="a Cloud API server to send to (default: dry run)")
    parser.add_argument("--fake-meta", action="store_true", help="serve the fake Graph API")
    parser.add_argument(
        "--check-contract",
        action="store_true",
        help="let the fake validate every send against Meta's OpenAPI description (the tests"
        " do; off by default here: it costs the fake ~0.8 ms of the two cores per send)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=int(os.environ.get(SENDERS) or str(ENVIRONMENT[SENDERS])),
        help=f"sends in flight per worker (default: {SENDERS} or its default)",
    )
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds the fake takes to answer a send"
    )
    args = parser.parse_args()
    migrate.upgrade(args.url)
    if args.fake_meta:
        from tests.fakes.meta import FakeMeta
        from tests.fakes.meta_contract import meta_contract
        from tests.fakes.server import LocalServer

        if args.check_contract:
            meta_contract()  # read once now: a worker's 64 first sends would each read it
        fake = FakeMeta(stall_seconds=args.latency, check_contract=args.check_contract)
        server = LocalServer(fake.app, keep_alive=True)
        args.graph_url = server.__enter__().url
    channel = f"Cloud API at {args.graph_url}" if args.graph_url else "dry-run channel"
    if args.latency:
        channel += f" answering in {args.latency * 1000:.0f} ms"
    print(f"{args.messages:,} due messages to distinct buyers, {channel}, PostgreSQL")
    print(f"{args.concurrency} sends in flight per worker at most")
    load = ", ".join(f"{n:.2f}" for n in os.getloadavg())
    print(f"{os.cpu_count()} cores, load average {load} at start")
    print("CPU per message: workers (from the start signal to their last record), fake server,")
    print("the rest (PostgreSQL, other work); the workers' start-up and exit printed apart")
    print(
        f"{'limit':>10} {'workers':>8} {'rate':>11} {'CPU per message':>25} {'busy':>5}"
        f"  {'hand-off per message':>22}  held by"
    )
    for mps in args.limits:
        for workers in args.workers:
            done = run(args.url, workers, args.messages, mps, args.graph_url, args.concurrency)
            senders = workers * args.concurrency / args.latency if args.latency else math.inf
            rest = done.busy_cpu - done.workers_cpu - done.startup_cpu - done.own_cpu
            cpu = " ".join(
                f"{done.per_message(part):>5.0f}" for part in (done.workers_cpu, done.own_cpu, rest)
            )
            statements = done.hand_offs / done.count
            hand_off = f"{statements:.2f} stmt {done.per_message(done.hand_off_seconds):>4.0f} µs"
            print(
                f"{mps:>6} msg/s {workers:>8} {done.rate:>5.0f} msg/s {cpu} µs"
                f" {done.busy_cpu / done.cores:>5.0%}  {hand_off:>22}  {done.held_by(senders)}",
                flush=True,
            )
            startup = done.startup_cpu / workers
            print(f"{'':>16} workers' start-up and exit: {startup:.2f} CPU-s each")


if __name__ == "__main__":
    main()
