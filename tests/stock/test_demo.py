"""Demo and scale data: realistic, consistent with the ledger (no drift), usable by the real
use cases afterwards, and a second run refuses without changing anything."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog.models import Part
from kosh.locations.models import Location, Warehouse
from kosh.stock import demo
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from kosh.stock.models import Lot, StockBalance, StockTransaction


async def count(session: AsyncSession, model: type, *where: object) -> int:
    query = select(func.count()).select_from(model)
    for condition in where:
        query = query.where(condition)  # type: ignore[arg-type]
    return int(await session.scalar(query) or 0)


async def test_demo_site_is_realistic_and_consistent(session: AsyncSession) -> None:
    # when the demo site is loaded
    result = await demo.load_demo_site(session)

    # then it has a warehouse with bins and areas, fifty parts with makers and MPNs, lots
    # in stock and some activity beyond the receipts
    assert result.created
    warehouse = await session.scalar(select(Warehouse).where(Warehouse.code == "MAIN"))
    assert warehouse is not None
    kinds = set(
        await session.scalars(select(Location.kind).where(Location.warehouse_id == warehouse.id))
    )
    assert kinds == {"storage", "receiving", "shipping", "quarantine", "mfg_floor"}
    assert await count(session, Part) == len(demo.CATALOG) == 50
    assert await count(session, Part, Part.mpn.is_(None)) == 0
    lots = await count(session, Lot)
    assert 50 <= lots <= 150
    kinds_moved = set(await session.scalars(select(StockTransaction.kind).distinct()))
    assert {"receive", "pick", "restock", "consume", "transfer", "adjust", "scrap"} <= kinds_moved
    assert await stock_verify.replay_differences(session) == []


async def test_demo_site_twice_refuses_and_changes_nothing(session: AsyncSession) -> None:
    await demo.load_demo_site(session)
    rows = await count(session, StockTransaction)

    again = await demo.load_demo_site(session)

    assert not again.created
    assert "already loaded" in again.message
    assert await count(session, StockTransaction) == rows
    assert await count(session, Part) == 50


async def test_scale_data_is_consistent_and_time_ordered(session: AsyncSession) -> None:
    # when a small scale data set is generated
    plan = demo.scale_plan(200, lots_per_part=3, ledger_rows=3000)
    result = await demo.load_scale_data(session, plan)

    # then the counts are as planned and the ledger replays to the balances
    assert result.created
    assert await count(session, Part, Part.number.like("S-%")) == 200
    assert await count(session, Lot) == 600
    assert await count(session, StockTransaction) == 3000
    assert await count(session, StockBalance, StockBalance.qty < 0) == 0
    assert await stock_verify.replay_differences(session) == []
    # ledger ids grow with time, as in a live system
    times = list(await session.scalars(select(StockTransaction.at).order_by(StockTransaction.id)))
    assert times == sorted(times)


async def test_scale_data_works_with_the_real_use_cases(session: AsyncSession) -> None:
    # given scale data
    await demo.load_scale_data(session, demo.scale_plan(50, ledger_rows=500))
    warehouse_id = await session.scalar(select(Warehouse.id).where(Warehouse.code == "SCALE"))
    part = await session.scalar(select(Part).where(Part.number == "S-0000001"))
    assert warehouse_id is not None
    assert part is not None
    oldest = await session.scalar(
        select(Lot.pcn)
        .join(StockBalance, StockBalance.lot_id == Lot.id)
        .join(Location, Location.id == StockBalance.location_id)
        .where(Lot.part_id == part.id, Location.kind == "storage", StockBalance.qty > 0)
        .order_by(Lot.received_at, Lot.id)
        .limit(1)
    )
    last_pcn = await session.scalar(select(func.max(Lot.pcn)))

    # when a unit is picked and a new lot received
    picked = await stock_service.pick(
        session, part_number="S-0000001", qty=1, warehouse_id=warehouse_id, reference="J-1"
    )
    bin_id = picked.lines[0].from_location_id
    receipt = await stock_service.receive(
        session, part_number="S-0000001", qty=10, location_id=bin_id
    )

    # then FIFO took the oldest lot on a shelf, the PCN numbering continued, and nothing drifted
    assert picked.lines[0].pcn == oldest
    assert last_pcn is not None
    assert receipt.lot.pcn > last_pcn
    assert await stock_verify.replay_differences(session) == []


async def test_scale_data_twice_refuses(session: AsyncSession) -> None:
    await demo.load_scale_data(session, demo.scale_plan(10, ledger_rows=40))

    again = await demo.load_scale_data(session, demo.scale_plan(10, ledger_rows=40))

    assert not again.created
    assert await count(session, Part) == 10
