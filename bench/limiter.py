"""Does the WhatsApp throughput limiter hold its rate across processes? Prints the measured rate.

Four processes take tokens from one phone number's bucket on PostgreSQL for a fixed time, as
fast as they can, the way dispatch does (`limits.acquire`, up to a batch of messages per lock;
`--batch 1` takes one per lock); the measured rate is all grants over the elapsed time, beside
the configured one (target: within 10%).

    .venv/bin/python bench/limiter.py --url postgresql+psycopg://postgres@127.0.0.1:5432/DB
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from plugin import crypto, migrate
from plugin.db import Database
from plugin.engine.claims import BATCH
from plugin.models import WhatsAppAccount
from plugin.whatsapp import limits

KEY = "hQ1bC7o4sQw4tqg0a3N8rQ9kY2m7FZB2lV5c8Qp1x1E="


def hammer(
    url: str, rate: int, batch: int, start: float, until: float, results: multiprocessing.Queue
) -> None:
    crypto.configure((KEY,))
    database = Database(url)
    account = WhatsAppAccount(phone_number_id=f"bench-limiter-{rate}", throughput_mps=rate)
    limits.acquire(database, account, 1)  # connect (and create the bucket) before the start
    time.sleep(max(0.0, start - time.time()))
    granted = 0
    while time.time() < until:
        count = limits.acquire(database, account, batch)
        if time.time() < until:  # a grant after the end is not counted
            granted += count
    results.put(granted)
    database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--rate", type=int, default=80)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch", type=int, default=BATCH, help="messages wanted per lock")
    args = parser.parse_args()
    migrate.upgrade(args.url)
    results: multiprocessing.Queue = multiprocessing.Queue()
    start = time.time() + 3.0  # all processes connected before the clock starts
    until = start + args.seconds
    processes = [
        multiprocessing.Process(
            target=hammer, args=(args.url, args.rate, args.batch, start, until, results)
        )
        for _ in range(args.processes)
    ]
    for process in processes:
        process.start()
    granted = [results.get() for _ in processes]
    for process in processes:
        process.join()
    elapsed = until - start
    measured = sum(granted) / elapsed
    print(
        f"configured: {args.rate} msg/s per number; {args.processes} processes, {elapsed:.0f} s, "
        f"up to {args.batch} messages per lock"
    )
    print(f"granted per process: {granted}")
    print(
        f"measured: {measured:.1f} msg/s ({(measured / args.rate - 1) * 100:+.1f}% of configured)"
    )


if __name__ == "__main__":
    main()
