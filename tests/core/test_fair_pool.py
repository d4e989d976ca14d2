"""The connection pool serves requests in the order they asked: a connection given back goes to
the longest waiter, never to a newcomer; a waiter that gives up loses nothing for the others."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
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


async def _use(engine: AsyncEngine, name: str, served: list[str]) -> None:
    async with engine.connect() as connection:
        served.append(name)
        await connection.execute(text("SELECT 1"))


async def _queue(engine: AsyncEngine, served: list[str], *names: str) -> list[asyncio.Task[None]]:
    """One checkout per name, each started once the ones before it queue."""
    tasks = []
    for name in names:
        tasks.append(asyncio.create_task(_use(engine, name, served)))
        await _waiting(engine, len(tasks))
    return tasks


async def test_a_returned_connection_goes_to_the_longest_waiter_not_to_a_newcomer(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []
    holder = await one_connection.connect()
    await holder.execute(text("SELECT 1"))
    waiters = await _queue(one_connection, served, "first", "second")

    # Given back and asked for again in one step, before the waiters' tasks run (as a
    # request whose step was already scheduled would): the newcomer queues behind them.
    await holder.close()
    await _use(one_connection, "newcomer", served)
    await asyncio.wait_for(asyncio.gather(*waiters), 10)

    assert served == ["first", "second", "newcomer"]


async def test_many_checkouts_are_served_in_the_order_they_queued(
    one_connection: AsyncEngine,
) -> None:
    served: list[str] = []
    holder = await one_connection.connect()
    tasks = await _queue(one_connection, served, *(f"c{number}" for number in range(12)))
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
    holder: AsyncConnection = await one_connection.connect()
    doomed, patient = await _queue(one_connection, served, "doomed", "patient")

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
    holder = await one_connection.connect()
    (gone,) = await _queue(one_connection, served, "gone")
    gone.cancel()
    with pytest.raises(asyncio.CancelledError):
        await gone
    (after,) = await _queue(one_connection, served, "after")
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


_OPERATIONS = st.lists(
    st.one_of(
        st.just(("ask", 0)),
        st.just(("give", 0)),
        st.tuples(st.just("cancel"), st.integers(0, 5)),
        st.tuples(st.just("give and cancel"), st.integers(0, 5)),
    ),
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(connections=st.integers(1, 3), operations=_OPERATIONS)
@example(connections=1, operations=[("ask", 0)] * 3 + [("give", 0)] * 2)
@example(connections=1, operations=[("ask", 0)] * 3 + [("give and cancel", 0), ("give", 0)])
def test_no_connection_is_lost_or_shared_and_waiters_are_served_in_order(
    connections: int, operations: list[tuple[str, int]]
) -> None:
    """Whatever mix of checkouts, give-backs and requests giving up (a give-back and a
    cancellation in one step included): every connection is idle or held by exactly one
    request, nobody is idle-waiting beside an idle connection, and the requests that were
    served were served in the order they queued."""

    async def scenario() -> None:
        queue: FirstComeFirstServedQueue[int] = FirstComeFirstServedQueue(maxsize=connections)
        for connection in range(connections):
            queue.put_nowait(connection)
        held: list[int] = []
        waiting: list[tuple[int, asyncio.Task[int]]] = []
        queued_order: list[int] = []
        served_order: list[int] = []

        async def settle() -> None:
            for _ in range(3):
                await asyncio.sleep(0)
            for number, task in list(waiting):
                if task.done():
                    waiting.remove((number, task))
                    if not task.cancelled():
                        held.append(task.result())
                        served_order.append(number)

        for number, (operation, index) in enumerate(operations):
            if operation == "ask":
                if queue.qsize():
                    held.append(queue.get_nowait())
                else:
                    waiting.append((number, asyncio.create_task(queue._wait(limit=None))))
                    queued_order.append(number)
            elif operation == "give" and held:
                queue.put_nowait(held.pop(0))
            elif operation in ("cancel", "give and cancel") and waiting:
                if operation == "give and cancel" and held:
                    queue.put_nowait(held.pop(0))
                waiting[index % len(waiting)][1].cancel()
            await settle()

            assert sorted(held + list(queue._idle)) == list(range(connections))
            assert not (queue.qsize() and any(not t.done() for _, t in waiting))
        served = set(served_order)
        assert served_order == [number for number in queued_order if number in served]
        for _, task in waiting:
            task.cancel()
        await asyncio.gather(*(task for _, task in waiting), return_exceptions=True)

    asyncio.run(scenario())
