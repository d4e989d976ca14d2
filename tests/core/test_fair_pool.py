"""The connection pool serves requests in the order they asked: a connection given back goes to
the longest waiter, never to a newcomer; a waiter that gives up loses nothing for the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import text
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from kosh.core.config import Settings
from kosh.core.db import create_engine
from kosh.core.fair_pool import FirstComeFirstServedQueue


@pytest.fixture
async def one_connection(base_settings: Settings) -> AsyncIterator[AsyncEngine]:
    """An engine whose pool holds one connection and no overflow: everyone else waits."""
    settings = base_settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 5.0}
    )
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


async def _waiting(engine: AsyncEngine, count: int) -> None:
    """Until `count` checkouts queue for the connection."""
    for _ in range(500):
        if sum(not w.done() for w in engine.sync_engine.pool._pool._waiters) == count:  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"{count} checkouts never queued")


def _waited() -> float:
    return REGISTRY.get_sample_value("kosh_db_pool_wait_seconds_count") or 0.0


async def _use(engine: AsyncEngine, name: str, served: list[str], hold: asyncio.Event) -> None:
    async with engine.connect() as connection:
        served.append(name)
        await connection.execute(text("SELECT 1"))
        await hold.wait()


async def test_a_returned_connection_goes_to_the_longest_waiter_not_to_a_newcomer(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []
    released = asyncio.Event()
    released.set()
    holder = await one_connection.connect()
    await holder.execute(text("SELECT 1"))
    first = asyncio.create_task(_use(one_connection, "first", served, released))
    await _waiting(one_connection, 1)
    second = asyncio.create_task(_use(one_connection, "second", served, released))
    await _waiting(one_connection, 2)

    # Given back and asked for again in one step, before the waiters' tasks run (as a
    # request whose step was already scheduled would): the newcomer queues behind them.
    await holder.close()
    async with one_connection.connect() as again:
        served.append("newcomer")
        await again.execute(text("SELECT 1"))
    await asyncio.wait_for(asyncio.gather(first, second), 10)

    assert served == ["first", "second", "newcomer"]


async def test_many_checkouts_are_served_in_the_order_they_queued(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []
    released = asyncio.Event()
    released.set()
    holder = await one_connection.connect()
    tasks = []
    for number in range(12):
        tasks.append(asyncio.create_task(_use(one_connection, f"c{number}", served, released)))
        await _waiting(one_connection, number + 1)
    before = _waited()
    await holder.close()
    await asyncio.wait_for(asyncio.gather(*tasks), 20)

    assert served == [f"c{number}" for number in range(12)]
    assert _waited() - before == 12  # each queued checkout counted in the histogram


async def test_a_waiter_that_times_out_gets_the_pool_error_and_the_connection_stays_in_the_pool(
    base_settings: Settings,
) -> None:
    engine = create_engine(
        base_settings.model_copy(
            update={"db_pool_size": 1, "db_max_overflow": 0, "db_pool_timeout": 0.05}
        )
    )
    try:
        holder = await engine.connect()
        with pytest.raises(PoolTimeoutError):
            await engine.connect()
        await holder.close()

        async with engine.connect() as again:  # given back to the pool, not to the dead waiter
            assert (await again.scalar(text("SELECT 1"))) == 1
        assert engine.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_connection_handed_to_a_cancelled_waiter_passes_to_the_next(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []
    released = asyncio.Event()
    released.set()
    holder: AsyncConnection = await one_connection.connect()
    doomed = asyncio.create_task(_use(one_connection, "doomed", served, released))
    await _waiting(one_connection, 1)
    patient = asyncio.create_task(_use(one_connection, "patient", served, released))
    await _waiting(one_connection, 2)

    # The connection is handed to the first waiter, which is cancelled before it runs.
    await holder.close()
    doomed.cancel()
    await asyncio.wait_for(patient, 10)
    with pytest.raises(asyncio.CancelledError):
        await doomed

    assert served == ["patient"]
    assert one_connection.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    assert one_connection.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]


async def test_a_cancelled_waiter_is_skipped(one_connection: AsyncEngine) -> None:
    served: list[str] = []
    released = asyncio.Event()
    released.set()
    holder = await one_connection.connect()
    gone = asyncio.create_task(_use(one_connection, "gone", served, released))
    await _waiting(one_connection, 1)
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    after = asyncio.create_task(_use(one_connection, "after", served, released))
    await _waiting(one_connection, 1)
    await holder.close()
    await asyncio.wait_for(after, 10)

    assert served == ["after"]
    assert one_connection.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]


async def test_with_overflow_room_nobody_waits(base_settings: Settings) -> None:
    engine = create_engine(
        base_settings.model_copy(update={"db_pool_size": 1, "db_max_overflow": 2})
    )
    try:
        before = _waited()
        connections = [await engine.connect() for _ in range(3)]
        for connection in connections:
            await connection.close()
        assert _waited() == before
        assert engine.sync_engine.pool.checkedin() == 1  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


async def test_a_connection_handed_over_as_the_wait_times_out_is_taken_not_lost() -> None:
    queue: FirstComeFirstServedQueue[str] = FirstComeFirstServedQueue(maxsize=1)
    waiting = asyncio.create_task(queue._wait(limit=0.02))
    await asyncio.sleep(0)  # queued
    time.sleep(0.05)  # noqa: ASYNC251 - the deadline passes while the loop is busy elsewhere
    await asyncio.sleep(0)  # the time-out is due now, this step runs just before it
    queue.put_nowait("connection")

    assert await waiting == "connection"
    assert queue.qsize() == 0
