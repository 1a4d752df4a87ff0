"""Webhook acknowledgement under gunicorn: signed orders/create at a fixed open-loop rate.

Starts gunicorn (sync workers) on a throwaway PostgreSQL database, fires Shopify's documented
orders/create example (new ids per delivery, signed over the exact bytes) at a steady rate that
does not wait for answers, so a slow answer makes the next ones queue and the latency shows it
(latency = answer time - the moment the delivery was due). Prints the achieved rate,
p50/p99/max, the gunicorn processes' CPU per delivery (from /proc) and that of the database
backends, checks that every delivery was stored exactly once, then lets the inbox process them
(as `shopnudge worker` does) and checks that every order exists exactly once. The baseline in
the same run is GET /healthz at the same rate: what gunicorn and HTTP cost alone.

    .venv/bin/python -u bench/webhooks.py [--rate 200] [--seconds 20] [--workers 4]
        [--processing worker|after_answer] [--postgres-admin-url URL]

`--processing after_answer` makes the web processes process each delivery right after their
answer (the single-process default) instead of leaving it to the workers.
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from plugin import create_app, inbox, migrate  # noqa: E402
from plugin.db import get_database  # noqa: E402
from plugin.models import Order, Store, WebhookDelivery  # noqa: E402
from plugin.webhook_handlers import HANDLERS  # noqa: E402
from tests.vendor import vendor_file  # noqa: E402

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="
SECRET = "bench-app-secret"
DOMAIN = "bench-shop.myshopify.com"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One open-loop phase: when each request was due, and how long after that it was answered."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    wall: float = 0.0
    server_cpu: float = 0.0
    database_cpu: float = 0.0


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{os.cpu_count()} cores, load average {load} at start, Python {sys.version.split()[0]}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def process_cpu(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each given process (those that are gone are left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / TICKS
    return seconds


def cpu_since(pids: list[int], before: dict[int, float]) -> float:
    """CPU seconds spent since `before`; a process started since counts whole."""
    return sum(now - before.get(pid, 0.0) for pid, now in process_cpu(pids).items())


def children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError):
                continue
            if ppid == parent:
                found.append(int(entry.name))
    return found


def backend_pids(url: str, name: str) -> list[int]:
    """The PostgreSQL server processes serving the bench database (same machine)."""
    engine = create_engine(url)
    with engine.connect() as connection:
        pids = connection.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE datname = :name"), {"name": name}
        ).all()
    engine.dispose()
    return list(pids)


def delivery_bodies(count: int) -> list[tuple[bytes, dict[str, str]]]:
    """Shopify's orders/create example with fresh ids, signed; built before the clock starts."""
    path = vendor_file("shopify", "webhook-examples-2026-07", "orders", "create.json")
    example = json.loads(path.read_text())["response"]
    requests = []
    for n in range(count):
        body = copy.deepcopy(example)
        body["id"] = 10**12 + n
        body["admin_graphql_api_id"] = f"gid://shopify/Order/{10**12 + n}"
        raw = json.dumps(body).encode()
        digest = hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()
        requests.append(
            (
                raw,
                {
                    "Content-Type": "application/json",
                    "X-Shopify-Topic": "orders/create",
                    "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
                    "X-Shopify-Shop-Domain": DOMAIN,
                    "X-Shopify-API-Version": "2026-07",
                    "X-Shopify-Webhook-Id": str(uuid.uuid4()),
                    "X-Shopify-Event-Id": str(uuid.uuid4()),
                    "X-Shopify-Triggered-At": "2026-12-04T10:00:00.000000Z",
                },
            )
        )
    return requests


def fire(
    port: int,
    requests: list[tuple[str, str, bytes | None, dict[str, str]]],
    rate: float,
    cpu_pids: Any,
) -> Run:
    """Send request i at start + i / rate from a pool of threads; never wait for answers."""
    run = Run()
    lock = threading.Lock()
    next_index = iter(range(len(requests)))
    cpu_before = [process_cpu(group) for group in cpu_pids()]
    start = time.monotonic() + 0.2

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            due = start + index / rate
            pause = due - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            method, path, body, headers = requests[index]
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request(method, path, body=body, headers=headers)
                answer = connection.getresponse()
                answer.read()
                status = answer.status
            except OSError:
                status = 0
            finally:
                connection.close()
            latency = time.monotonic() - due
            with lock:
                run.latencies.append(latency)
                run.statuses[status] = run.statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(128)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run.wall = time.monotonic() - start
    server, database = (
        cpu_since(group, before) for group, before in zip(cpu_pids(), cpu_before, strict=True)
    )
    run.server_cpu, run.database_cpu = server, database
    return run


def report(name: str, run: Run, rate: float) -> None:
    latencies = sorted(run.latencies)
    count = len(latencies)

    def at(share: float) -> float:
        return latencies[min(count - 1, int(share * count))] * 1000

    print(
        f"{name:<9} asked {rate:,.0f}/s, achieved {count / run.wall:,.1f}/s over {run.wall:.1f} s"
        f" | p50 {at(0.50):.1f} ms  p99 {at(0.99):.1f} ms  max {latencies[-1] * 1000:.1f} ms"
        f" | gunicorn CPU {run.server_cpu:.2f} s = {run.server_cpu / count * 1000:.2f} ms each"
        f" | database CPU {run.database_cpu / count * 1000:.2f} ms each"
        f" | answers {dict(sorted(run.statuses.items()))}",
        flush=True,
    )


def prepare(url: str, instance: Path) -> None:
    migrate.upgrade(url)
    app = create_app(
        {
            "instance_path": instance,
            "database_url": url,
            "secret_key": "bench",
            "encryption_keys": (KEY,),
            "encryption_keys_in_instance": False,
            "log_level": "WARNING",
        }
    )
    with get_database(app).session() as session:
        session.add(Store(platform="shopify", domain=DOMAIN, name="Bench", credentials={}))
    get_database(app).dispose()


def start_gunicorn(
    url: str, instance: Path, port: int, workers: int, settings: dict[str, str]
) -> Any:
    """gunicorn with `workers` sync workers on `url`, once /healthz answers from every worker;
    `settings` are further environment variables of the app."""
    env = dict(
        os.environ,
        SHOPNUDGE_DATABASE_URL=url,
        SHOPNUDGE_INSTANCE_PATH=str(instance),
        SHOPNUDGE_SECRET_KEY="bench",
        SHOPNUDGE_ENCRYPTION_KEYS=KEY,
        SHOPNUDGE_LOG_LEVEL="WARNING",
        **settings,
    )
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers",
            str(workers),
            "--worker-class",
            "sync",
            "--backlog",
            "2048",
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "wsgi:app",
        ],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200 and len(children(server.pid)) >= workers:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("gunicorn did not answer within 60 s")


def drain(url: str, instance: Path, expected: int) -> None:
    """Process the stored deliveries as a worker's process_webhooks job does, and check them."""
    app = create_app(
        {
            "instance_path": instance,
            "database_url": url,
            "secret_key": "bench",
            "encryption_keys": (KEY,),
            "encryption_keys_in_instance": False,
            "log_level": "WARNING",
        }
    )

    database = get_database(app)
    cpu, wall, done = time.process_time(), time.monotonic(), 0
    with app.app_context():
        while True:
            finished = inbox.process_pending(database, app.config["SHOPNUDGE"], HANDLERS, limit=500)
            done += finished
            if not finished:
                break
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    with database.session() as session:
        orders, distinct = session.execute(
            select(func.count(), func.count(func.distinct(Order.platform_id)))
        ).one()
        left = session.scalar(
            select(func.count())
            .select_from(WebhookDelivery)
            .where(WebhookDelivery.processed_at.is_(None))
        )
    if done:
        print(
            f"processing (worker): {done:,} deliveries in {wall:.1f} s wall, {cpu:.2f} CPU-s"
            f" = {cpu / done * 1000:.2f} ms CPU each (this process; database not counted)",
            flush=True,
        )
    verdict = "ok" if orders == distinct == expected and not left else "WRONG"
    print(
        f"orders: {orders:,} rows, {distinct:,} distinct, expected {expected:,},"
        f" unprocessed deliveries {left}: {verdict}",
        flush=True,
    )
    database.dispose()


def check_stored(url: str, expected: int) -> None:
    engine = create_engine(url)
    with engine.connect() as connection:
        rows, distinct = connection.execute(
            text("SELECT count(*), count(DISTINCT delivery_id) FROM webhook_deliveries")
        ).one()
    engine.dispose()
    verdict = "ok" if rows == distinct == expected else "WRONG"
    print(f"stored deliveries: {rows:,} rows, {distinct:,} distinct, sent {expected:,}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--processing", choices=("worker", "after_answer"), default="worker")
    parser.add_argument(
        "--postgres-admin-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    print(f"machine: {machine()}", flush=True)
    os.environ["SHOPNUDGE_TEST_POSTGRES_ADMIN_URL"] = args.postgres_admin_url
    from tests.conftest import create_postgres_database, drop_postgres_database

    total = int(args.rate * args.seconds)
    bodies = delivery_bodies(total)
    url = create_postgres_database()
    name = url.rsplit("/", 1)[1]
    port = free_port()
    cpu, wall = time.process_time(), time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        instance = Path(tmp)
        server = None
        try:
            prepare(url, instance)
            server = start_gunicorn(
                url,
                instance,
                port,
                args.workers,
                {"SHOPNUDGE_WEBHOOK_PROCESSING": args.processing, "SHOPIFY_API_SECRET": SECRET},
            )
            assert server is not None
            pids = lambda: ([server.pid, *children(server.pid)], backend_pids(url, name))  # noqa: E731
            health = [("GET", "/healthz", None, {})] * total
            report("healthz", fire(port, health[: int(args.rate * 2)], args.rate, pids), args.rate)
            report("healthz", fire(port, health, args.rate, pids), args.rate)
            posts = [("POST", "/webhooks/shopify", raw, headers) for raw, headers in bodies]
            print(
                f"{total:,} orders/create deliveries ({len(bodies[0][0]):,} bytes each),"
                f" {args.workers} sync workers, processing: {args.processing}",
                flush=True,
            )
            report("webhooks", fire(port, posts, args.rate, pids), args.rate)
            check_stored(url, total)
            if args.processing == "after_answer":
                time.sleep(2)  # the last answers' processing
        finally:
            if server is not None:
                server.terminate()
                server.wait(30)
        drain(url, instance, total)
        drop_postgres_database(url)
    print(
        f"bench process: {time.process_time() - cpu:.1f} CPU-s, {time.monotonic() - wall:.1f} s"
        " wall (load generator and processing included)",
        flush=True,
    )


if __name__ == "__main__":
    main()
