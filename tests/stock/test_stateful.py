"""Hypothesis drives random sequences of receive / pick / restock / transfer / adjust /
consume against the real services and a plain-Python model of the stock room.

After every step: no balance is negative, the balances equal the model (so FIFO, default
restock destinations and refusals all behave as specified), the ledger replays to the
balances, and the units in stock equal received - consumed + count differences.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import Base, create_engine, create_session_factory
from kosh.core.errors import DomainError, ValidationError
from kosh.stock import service as stock_service
from kosh.stock.errors import InsufficientStockError
from tests.support.stock import LotRef, a_site, all_balances, non_zero, replayed

T = TypeVar("T")
Key = tuple[int, int]  # (lot id, location id)


async def _empty(engine: AsyncEngine) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                await conn.execute(text(f"DELETE FROM {table}"))  # noqa: S608 - our table names


class StockRoom(RuleBasedStateMachine):
    """One warehouse: three storage bins, the MFG floor and one part."""

    runner: asyncio.Runner
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    lots = Bundle("lots")

    def __init__(self) -> None:
        super().__init__()
        self.model: dict[Key, int] = {}
        self.lot_ids: list[int] = []
        self.last_pick_from: dict[int, int] = {}
        self.received = 0
        self.removed = 0
        self.adjusted = 0

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coroutine)

    async def _call(self, use_case: Any, **kwargs: Any) -> Any:
        async with self.sessions() as session:
            return await use_case(session, **kwargs)

    def attempt(self, use_case: Any, **kwargs: Any) -> Any:
        """Run a use case; answer its result or the DomainError it raised."""
        try:
            return self.run(self._call(use_case, **kwargs))
        except DomainError as refused:
            return refused

    def qty(self, lot: int, location: int) -> int:
        return self.model.get((lot, location), 0)

    def shift(self, lot: int, source: int | None, target: int | None, qty: int) -> None:
        if source is not None:
            self.model[(lot, source)] = self.qty(lot, source) - qty
        if target is not None:
            self.model[(lot, target)] = self.qty(lot, target) + qty

    @property
    def places(self) -> list[int]:
        return [*self.bins, self.floor]

    @initialize()
    def open_site(self) -> None:
        async def setup() -> None:
            await _empty(self.engine)
            async with self.sessions() as session:
                site = await a_site(session, bins=3)
            self.site = site
            self.bins = site.bin_ids
            self.floor = site.floor_id

        self.run(setup())

    @rule(target=lots, qty=st.integers(1, 60), bin_index=st.integers(0, 2))
    def receive(self, qty: int, bin_index: int) -> LotRef:
        receipt = self.attempt(
            stock_service.receive,
            part_number=self.site.part_number,
            qty=qty,
            location_id=self.bins[bin_index],
        )
        lot = LotRef(id=receipt.lot.id, pcn=receipt.lot.pcn)
        self.lot_ids.append(lot.id)
        self.shift(lot.id, None, self.bins[bin_index], qty)
        self.received += qty
        return lot

    @rule(qty=st.integers(1, 80), only=st.none() | lots)
    def pick(self, qty: int, only: LotRef | None) -> None:
        # the expected FIFO plan: lots in receipt order, bins in id order
        plan: list[tuple[int, int, int]] = []
        remaining = qty
        for lot in self.lot_ids:
            if only is not None and lot != only.id:
                continue
            for location in sorted(self.bins):
                if remaining and self.qty(lot, location) > 0:
                    take = min(remaining, self.qty(lot, location))
                    plan.append((lot, location, take))
                    remaining -= take
        outcome = self.attempt(
            stock_service.pick,
            part_number=self.site.part_number,
            qty=qty,
            warehouse_id=self.site.warehouse_id,
            reference="J-1",
            pcn=only.pcn if only else None,
        )
        if remaining:
            assert isinstance(outcome, InsufficientStockError), outcome
            assert outcome.details["available"] == qty - remaining
            return
        assert [(line.lot_id, line.from_location_id, line.qty) for line in outcome.lines] == plan
        for lot, location, take in plan:
            self.shift(lot, location, self.floor, take)
            self.last_pick_from[lot] = location

    @rule(lot=lots, qty=st.integers(1, 40), to_index=st.none() | st.integers(0, 2))
    def restock(self, lot: LotRef, qty: int, to_index: int | None) -> None:
        target = self.bins[to_index] if to_index is not None else self.last_pick_from.get(lot.id)
        outcome = self.attempt(
            stock_service.restock,
            pcn=lot.pcn,
            qty=qty,
            to_location_id=self.bins[to_index] if to_index is not None else None,
        )
        if target is None:
            assert isinstance(outcome, ValidationError), outcome
        elif qty > self.qty(lot.id, self.floor):
            assert isinstance(outcome, InsufficientStockError), outcome
        else:
            assert not isinstance(outcome, DomainError), outcome
            self.shift(lot.id, self.floor, target, qty)

    @rule(lot=lots, qty=st.integers(1, 40), source=st.integers(0, 3), dest=st.integers(0, 3))
    def transfer(self, lot: LotRef, qty: int, source: int, dest: int) -> None:
        from_id, to_id = self.places[source], self.places[dest]
        outcome = self.attempt(
            stock_service.transfer,
            pcn=lot.pcn,
            qty=qty,
            from_location_id=from_id,
            to_location_id=to_id,
        )
        if from_id == to_id:
            assert isinstance(outcome, ValidationError), outcome
        elif qty > self.qty(lot.id, from_id):
            assert isinstance(outcome, InsufficientStockError), outcome
        else:
            assert not isinstance(outcome, DomainError), outcome
            self.shift(lot.id, from_id, to_id, qty)

    @rule(lot=lots, place=st.integers(0, 3), counted=st.integers(0, 80))
    def adjust(self, lot: LotRef, place: int, counted: int) -> None:
        location = self.places[place]
        outcome = self.attempt(
            stock_service.adjust_count,
            pcn=lot.pcn,
            location_id=location,
            counted_qty=counted,
            reason="cycle count",
        )
        assert outcome.previous_qty == self.qty(lot.id, location)
        self.adjusted += counted - self.qty(lot.id, location)
        self.model[(lot.id, location)] = counted

    @rule(lot=lots, qty=st.integers(1, 40), place=st.integers(0, 3), scrap=st.booleans())
    def consume(self, lot: LotRef, qty: int, place: int, scrap: bool) -> None:
        location = self.places[place]
        outcome = self.attempt(
            stock_service.consume,
            pcn=lot.pcn,
            qty=qty,
            location_id=location,
            reason="used",
            scrap=scrap,
        )
        if qty > self.qty(lot.id, location):
            assert isinstance(outcome, InsufficientStockError), outcome
            return
        assert outcome.entry.kind == ("scrap" if scrap else "consume")
        self.shift(lot.id, location, None, qty)
        self.removed += qty

    @invariant()
    def books_balance(self) -> None:
        if not hasattr(self, "site"):
            return

        async def read() -> tuple[dict[Key, int], dict[Key, int]]:
            async with self.sessions() as session:
                return await all_balances(session), await replayed(session)

        balances, ledger = self.run(read())
        assert all(qty >= 0 for qty in balances.values())
        assert non_zero(balances) == non_zero(self.model)
        assert ledger == non_zero(balances)
        assert sum(balances.values()) == self.received - self.removed + self.adjusted


def test_random_operations_keep_every_invariant(
    base_settings: Settings, engine: AsyncEngine
) -> None:
    # The machine runs its own event loop (hypothesis calls rules synchronously), so it
    # gets its own engine on that loop; `engine` only guarantees the migrated schema.
    with asyncio.Runner() as runner:
        own_engine = create_engine(base_settings)
        StockRoom.runner = runner
        StockRoom.engine = own_engine
        StockRoom.sessions = create_session_factory(own_engine)
        try:
            run_state_machine_as_test(
                StockRoom,
                settings=settings(
                    max_examples=20,
                    stateful_step_count=25,
                    deadline=None,
                    suppress_health_check=[HealthCheck.too_slow],
                ),
            )
        finally:
            runner.run(_empty(own_engine))
            runner.run(own_engine.dispose())


pytestmark = pytest.mark.slow
