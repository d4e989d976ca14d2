"""Picks of one part and warehouse take turns in a process (kosh.stock.pick_queue): in
arrival order, one at a time; other parts and warehouses do not wait; nothing is kept."""

from __future__ import annotations

import asyncio
import gc

import pytest

from kosh.stock import pick_queue
from kosh.stock.metrics import PICKS_QUEUED


async def test_picks_of_one_part_take_turns_in_arrival_order() -> None:
    events: list[str] = []
    queued_before = PICKS_QUEUED._value.get()

    async def pick(name: str, part: str, warehouse: int, hold: float) -> None:
        async with pick_queue.turn(part, warehouse):
            events.append(f"{name} in")
            await asyncio.sleep(hold)
            events.append(f"{name} out")

    first = asyncio.create_task(pick("a", "P-1", 1, 0.05))
    await asyncio.sleep(0)  # a holds the turn
    waiting = [asyncio.create_task(pick(n, " P-1 ", 1, 0.01)) for n in ("b", "c")]
    other_part = asyncio.create_task(pick("x", "P-2", 1, 0.0))
    other_warehouse = asyncio.create_task(pick("y", "P-1", 2, 0.0))
    await asyncio.gather(first, *waiting, other_part, other_warehouse)

    same = [e for e in events if e[0] in "abc"]
    assert same == ["a in", "a out", "b in", "b out", "c in", "c out"]
    # P-2 and warehouse 2 went ahead while a held P-1 in warehouse 1
    assert events.index("x out") < events.index("a out")
    assert events.index("y out") < events.index("a out")
    assert PICKS_QUEUED._value.get() - queued_before == 2


async def test_a_turn_nobody_waits_for_is_not_kept() -> None:
    async with pick_queue.turn("P-9", 9):
        assert any(key[1:] == ("P-9", 9) for key in pick_queue._turns)
    gc.collect()
    assert not any(key[1:] == ("P-9", 9) for key in pick_queue._turns)


async def test_a_failing_pick_gives_up_its_turn() -> None:
    async def failing() -> None:
        async with pick_queue.turn("P-7", 1):
            raise RuntimeError("refused")

    for _ in range(2):  # the second would time out if the first had kept the turn
        with pytest.raises(RuntimeError):
            await asyncio.wait_for(failing(), timeout=1)
