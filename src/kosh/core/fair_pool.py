"""A database connection pool that hands its connections out in the order they were asked for.

Why: SQLAlchemy's asyncio pool keeps its idle connections in an `asyncio.Queue`, and a
connection given back while requests wait for one can be taken by a request that arrives
before the longest-waiting one wakes up; the passed-over request then queues again at the
back. On a busy floor (more scans in flight in a worker than it has connections) that is
most of the pick's tail: some scans wait several turns while the median waits none
(docs/runbook.md, "Waiting for a connection"). Here a connection given back goes straight
to the request that has waited longest, and nobody takes one while others wait.

Everything else is SQLAlchemy's `AsyncAdaptedQueuePool` (overflow, recycle, invalidation,
`pool_timeout`); only the queue under it changes, through its `_queue_class` hook.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import TypeVar

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util.concurrency import await_
from sqlalchemy.util.queue import Empty, Full, QueueCommon

from kosh.core.metrics import DB_POOL_WAIT

T = TypeVar("T")


class FirstComeFirstServedQueue(QueueCommon[T]):
    """The pool's idle connections, and the requests waiting for one, both in order.

    Idle connections and live waiters never exist together: a connection given back while
    someone waits is that waiter's at once, and a waiter only queues when none is idle."""

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        self.maxsize = maxsize
        self.use_lifo = use_lifo
        self._idle: deque[T] = deque()
        self._waiters: deque[asyncio.Future[T]] = deque()

    def empty(self) -> bool:
        return not self._idle

    def full(self) -> bool:
        return 0 < self.maxsize <= len(self._idle)

    def qsize(self) -> int:
        return len(self._idle)

    def put_nowait(self, item: T) -> None:
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():  # a waiter that gave up (timed out, cancelled) is skipped
                waiter.set_result(item)
                return
        if self.full():
            raise Full()
        self._idle.append(item)

    def put(self, item: T, block: bool = True, timeout: float | None = None) -> None:
        # the pool gives connections back without blocking; a full queue closes the surplus
        self.put_nowait(item)

    def get_nowait(self) -> T:
        if not self._idle:
            raise Empty()
        return self._idle.pop() if self.use_lifo else self._idle.popleft()

    def get(self, block: bool = True, timeout: float | None = None) -> T:
        if not block or self._idle:
            return self.get_nowait()
        return await_(self._wait(limit=timeout))

    async def _wait(self, *, limit: float | None) -> T:
        waiter: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        began = time.perf_counter()
        try:
            async with asyncio.timeout(limit):
                return await waiter
        except BaseException as error:
            if not waiter.done():
                waiter.cancel()
            elif not waiter.cancelled():
                # the connection arrived as the wait ended: a time-out takes it after all,
                # a cancelled request passes it on to the next waiter
                if isinstance(error, TimeoutError):
                    return waiter.result()
                self.put_nowait(waiter.result())
            if isinstance(error, TimeoutError):
                raise Empty() from None
            raise
        finally:
            DB_POOL_WAIT.observe(time.perf_counter() - began)


class FirstComeFirstServedPool(AsyncAdaptedQueuePool):
    """SQLAlchemy's asyncio queue pool on the first-come-first-served queue."""

    _queue_class = FirstComeFirstServedQueue[ConnectionPoolEntry]
