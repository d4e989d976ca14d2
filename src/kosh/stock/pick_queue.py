"""Picks of one part from one warehouse take turns inside a process.

Every pick of a part locks its oldest lot until it commits. When many scanners pick the
same part at once, PostgreSQL wakes all of a lot's waiters at each commit and they race
for it again, so the slowest wait many times the median, and every waiter holds a
connection. Queuing them here first (an asyncio lock per part and warehouse, first come
first served) leaves at most one of this process's picks of the part waiting on the
database: the others wait here, in arrival order, at no cost to the database. Nothing
about the rules changes; the database lock still decides across processes and nodes.
"""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import AsyncIterator

from kosh.stock.metrics import PICKS_QUEUED

# one lock per event loop, part number and warehouse; a lock nobody holds or waits for
# is dropped with its last reference
_turns: weakref.WeakValueDictionary[tuple[int, str, int], asyncio.Lock] = (
    weakref.WeakValueDictionary()
)


@contextlib.asynccontextmanager
async def turn(part_number: str, warehouse_id: int) -> AsyncIterator[None]:
    """Wait for this process's earlier picks of the part from the warehouse to finish."""
    key = (id(asyncio.get_running_loop()), part_number.strip(), warehouse_id)
    lock = _turns.get(key)
    if lock is None:
        lock = asyncio.Lock()
        _turns[key] = lock
    if lock.locked():
        PICKS_QUEUED.inc()
    async with lock:
        yield
