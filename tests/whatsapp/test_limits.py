"""Meta's throughput limit: batched grants from the shared bucket, in one and many processes."""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time

import pytest
from sqlalchemy.orm import Session

from plugin import ratelimit
from plugin.db import Database
from plugin.models import WhatsAppAccount
from plugin.whatsapp import limits

START = dt.datetime(2026, 1, 6, 10, 0, tzinfo=dt.UTC)


def test_batched_take_grants_what_the_bucket_holds_and_never_more(session: Session) -> None:
    # given a full bucket of 10 tokens refilled at 100 a second
    def take(wanted: int, after_ms: int) -> tuple[int, float]:
        at = START + dt.timedelta(milliseconds=after_ms)
        return ratelimit.take_up_to(session, "b", rate=100, burst=10, wanted=wanted, now=at)

    # when batches of 4 are taken at once, then after 20 ms
    granted = [take(4, 0), take(4, 0), take(4, 0), take(4, 20)]
    # then the first two get 4 each, the third none of the 2 left, the fourth the 4 there are
    assert [g for g, _ in granted] == [4, 4, 0, 4]
    session.commit()


def test_refused_batched_take_waits_for_what_it_wants_up_to_half_the_burst(
    session: Session,
) -> None:
    # given an empty bucket of 10 refilled at 100 tokens a second
    ratelimit.take_up_to(session, "b", rate=100, burst=10, wanted=10, now=START)
    # when 3 are wanted, then 8
    few = ratelimit.take_up_to(session, "b", rate=100, burst=10, wanted=3, now=START)
    many = ratelimit.take_up_to(session, "b", rate=100, burst=10, wanted=8, now=START)
    # then nothing is granted; the first comes back when its 3 are there, the second when
    # half the burst is (a later wake-up would lose the tokens past the burst)
    assert (few, many) == ((0, pytest.approx(0.03)), (0, pytest.approx(0.05)))
    session.commit()


def test_batched_take_waits_for_its_floor_rather_than_take_slivers(session: Session) -> None:
    # given an empty bucket of 10 refilled at 100 tokens a second
    ratelimit.take_up_to(session, "b", rate=100, burst=10, wanted=10, now=START)
    # when 8 are wanted 20 ms later (2 tokens back), then 60 ms later (6 tokens back)
    early = ratelimit.take_up_to(
        session, "b", rate=100, burst=10, wanted=8, now=START + dt.timedelta(milliseconds=20)
    )
    later = ratelimit.take_up_to(
        session, "b", rate=100, burst=10, wanted=8, now=START + dt.timedelta(milliseconds=60)
    )
    # then the early take gets nothing and is told to wait for 3 more (its floor is 5, half
    # the burst); the later one gets the 6 there are
    assert early == (0, pytest.approx(0.03))
    assert later == (6, 0.0)
    session.commit()


def grant_batches(
    url: str,
    key: str,
    start: float,
    until: float,
    results: multiprocessing.Queue[tuple[int, float]],
) -> None:
    """One worker process: take batches of 20 as dispatch does, until `until`."""
    database = Database(url)
    account = WhatsAppAccount(phone_number_id=key, throughput_mps=200)
    database.engine.connect().close()
    time.sleep(max(0.0, start - time.time()))
    granted = 0
    while time.time() < until:
        granted += limits.acquire(database, account, 20)
    results.put((granted, time.time()))
    database.dispose()


@pytest.mark.postgres
def test_batched_grants_across_four_processes_never_exceed_the_bucket(postgres_url: str) -> None:
    # given a number allowed 200 messages a second (a burst of 20) and four worker processes
    from plugin import migrate

    migrate.upgrade(postgres_url)
    key = "1098765432"
    start = time.time() + 1.0
    until = start + 1.5
    results: multiprocessing.Queue[tuple[int, float]] = multiprocessing.Queue()
    processes = [
        multiprocessing.Process(
            target=grant_batches, args=(postgres_url, key, start, until, results)
        )
        for _ in range(4)
    ]
    # when each takes batches of 20 as fast as it can
    for process in processes:
        process.start()
    answers = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join()
    # then all they were granted fits the full bucket plus what refilled while they took
    granted = sum(count for count, _ in answers)
    elapsed = max(ended for _, ended in answers) - start
    assert granted <= 20 + 200 * elapsed
    assert granted > 0


def test_tokens_taken_for_a_hand_off_that_fails_are_given_back(database: Database) -> None:
    # given a number allowed 80 messages a second: a burst of 8 tokens
    account = WhatsAppAccount(phone_number_id="1098765433", throughput_mps=80)
    # when the block that took 8 of them fails before it commits
    with pytest.raises(RuntimeError), limits.tokens(database, account, 20) as (_, granted):
        assert granted == 8
        raise RuntimeError("the hand-off failed")
    # then the bucket still holds them: the next take gets the whole burst at once
    assert limits.acquire(database, account, 20) == 8
    assert limits.acquire(database, account, 20, until=time.monotonic()) == 0
