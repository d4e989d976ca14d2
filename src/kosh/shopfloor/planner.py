"""Pure placement of a job's operations on a board of free work-centre minutes (no I/O;
kosh.shopfloor.scheduling reads the board and books the result).

Days are the planning grain: an operation fills free minutes day by day (it may span
days) and starts no earlier than the day the operation before it ends.
- forward: from `start`, each operation as early as it fits, by `end`;
- backward: from `end` (the due date), in reverse sequence, each operation as late as it
  fits, no earlier than `start`;
- forced (a manager's confirmed override): forward, and what does not fit by `end` goes
  on `end` itself beyond capacity; the overload per operation and day is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol


class Step(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def seq(self) -> int: ...
    @property
    def work_centre_id(self) -> int: ...
    @property
    def planned_minutes(self) -> int: ...


@dataclass
class Placement:
    operation_id: int
    seq: int
    work_centre_id: int
    minutes: int
    days: list[tuple[date, int]] = field(default_factory=list)

    @property
    def first_day(self) -> date | None:
        return self.days[0][0] if self.days else None

    @property
    def last_day(self) -> date | None:
        return self.days[-1][0] if self.days else None


@dataclass
class Shortfall:
    """The operation that did not fit, and the window it had."""

    placement: Placement
    window_from: date
    window_to: date
    remaining: int


@dataclass(frozen=True)
class Overload:
    operation_id: int
    work_centre_id: int
    day: date
    minutes: int


class Board:
    """Free minutes per (work centre, day) over the horizon, updated as the plan fills."""

    def __init__(
        self, caps: dict[int, dict[date, int]], rows: dict[tuple[int, date], tuple[int, int]]
    ):
        self.caps = caps
        self.rows = rows  # (wc, day) -> (capacity, planned) of existing load rows
        self.taken: dict[tuple[int, date], int] = {}

    def capacity(self, wc: int, day: date) -> int:
        row = self.rows.get((wc, day))
        return row[0] if row else self.caps[wc].get(day, 0)

    def free(self, wc: int, day: date) -> int:
        planned = self.rows.get((wc, day), (0, 0))[1] + self.taken.get((wc, day), 0)
        return max(self.capacity(wc, day) - planned, 0)

    def take(self, wc: int, day: date, minutes: int) -> None:
        self.taken[(wc, day)] = self.taken.get((wc, day), 0) + minutes


def _fill(board: Board, placement: Placement, day: date, step: int, bound: date) -> int:
    """Fill from `day` towards `bound` (step +1 or -1); answers the minutes left."""
    remaining = placement.minutes
    wc = placement.work_centre_id
    while remaining and (day <= bound if step > 0 else day >= bound):
        free = board.free(wc, day)
        if free:
            take = min(free, remaining)
            board.take(wc, day, take)
            placement.days.append((day, take))
            remaining -= take
        if remaining:
            day += timedelta(days=step)
    if step < 0:
        placement.days.reverse()
    return remaining


def _placement(op: Step) -> Placement:
    return Placement(op.id, op.seq, op.work_centre_id, op.planned_minutes)


def place_forward(
    board: Board, ops: Sequence[Step], start: date, end: date
) -> tuple[list[Placement], Shortfall | None]:
    placements: list[Placement] = []
    cursor = start
    for op in ops:
        placement = _placement(op)
        placements.append(placement)
        remaining = _fill(board, placement, cursor, 1, end)
        if remaining:
            return placements, Shortfall(placement, cursor, end, remaining)
        cursor = placement.last_day or cursor
    return placements, None


def place_backward(
    board: Board, ops: Sequence[Step], start: date, end: date
) -> tuple[list[Placement], Shortfall | None]:
    """Placements come back in sequence order."""
    placements: list[Placement] = []
    cursor = end
    for op in reversed(ops):
        placement = _placement(op)
        placements.insert(0, placement)
        remaining = _fill(board, placement, cursor, -1, start)
        if remaining:
            return placements, Shortfall(placement, start, cursor, remaining)
        cursor = placement.first_day or cursor
    return placements, None


def place_forced(
    board: Board, ops: Sequence[Step], start: date, end: date
) -> tuple[list[Placement], list[Overload]]:
    placements: list[Placement] = []
    overloads: list[Overload] = []
    cursor = start
    for op in ops:
        placement = _placement(op)
        placements.append(placement)
        remaining = _fill(board, placement, cursor, 1, end)
        if remaining:
            board.take(op.work_centre_id, end, remaining)
            days = dict(placement.days)
            days[end] = days.get(end, 0) + remaining
            placement.days = sorted(days.items())
            overloads.append(Overload(op.id, op.work_centre_id, end, remaining))
        cursor = placement.last_day or cursor
    return placements, overloads


def finish_of(placements: Sequence[Placement], default: date) -> date:
    return max((p.last_day for p in placements if p.last_day), default=default)
