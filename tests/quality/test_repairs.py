"""RMA inspection outcome `repair`: a production job for the returned part, linked to the
return line, with the units kept in quarantine for it (never available); one job per
line; no BOM to repair by refuses the whole inspection."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom, BomLine
from kosh.core.errors import ConflictError, RuleViolationError
from kosh.production import service as job_service
from kosh.quality import returns as return_ops
from kosh.quality import service as quality_service
from kosh.quality.models import ReturnLine
from kosh.sales import service as sales_service
from kosh.stock.models import Lot
from tests.quality.support import Shop, a_shop
from tests.quality.test_returns import _line, _shipped_order
from tests.support.stock import a_part, balances, ledger


async def _repair_bom(session: AsyncSession, shop: Shop) -> None:
    """The returned part is repaired with one new fuse."""
    fuse = await a_part(session, f"FUSE-{shop.part_id}")
    bom = Bom(assembly_part_id=shop.part_id, revision="R", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=fuse.id, qty=1, refdes="F1"))
    await session.commit()


async def _received(session: AsyncSession, shop: Shop, qty: int) -> tuple[int, str, int]:
    order_id = await _shipped_order(session, shop, qty, qty)
    rma = await quality_service.create_return(
        session, sales_order_id=order_id, lines=_line(shop, qty), reason="Dead", outcome="repair"
    )
    rma_id = rma.id
    lines = await quality_service.receive(session, return_id=rma_id, location_id=shop.quarantine_id)
    lot_id = lines[0].lot_id
    assert lot_id is not None
    return rma_id, (await session.get_one(Lot, lot_id)).pcn, lot_id


async def test_repair_plans_a_job_and_keeps_the_units_in_quarantine(
    session: AsyncSession,
) -> None:
    # given a received return of 3 units of a part that has a BOM
    shop = await a_shop(session)
    await _repair_bom(session, shop)
    rma_id, pcn, lot_id = await _received(session, shop, 3)
    # when inspection sends 2 to repair
    rma = await quality_service.inspect(
        session, return_id=rma_id, lines=[return_ops.InspectionIn(pcn, 2, "repair")]
    )
    number = rma.number
    # then a planned job for 2 of the part exists, linked to the return line
    assert rma.status == "received"
    (line,) = await return_ops.lines_of(session, rma_id)
    assert (line.repair_qty, line.restocked_qty, line.scrapped_qty) == (2, 0, 0)
    assert line.repair_job_id is not None
    job = await job_service.get_job_or_raise(session, line.repair_job_id)
    assert job.number == f"{number}-R{line.id}"
    assert (job.assembly_part_id, job.qty, job.status) == (shop.part_id, 2, "planned")
    assert job.warehouse_id == shop.warehouse_id
    assert pcn in job.notes
    # and the units stay in quarantine: no movement, not on hand for sales
    assert await balances(session, lot_id) == {shop.quarantine_id: 3}
    assert [e.kind for e in await ledger(session, lot_id)] == ["receive"]
    on_hand = await sales_service.on_hand(
        session, part_ids=[shop.part_id], warehouse_id=shop.warehouse_id
    )
    assert on_hand.get(shop.part_id, 0) == 0
    # a second repair on the line is refused; nothing changes
    with pytest.raises(ConflictError) as caught:
        await quality_service.inspect(
            session, return_id=rma_id, lines=[return_ops.InspectionIn(pcn, 1, "repair")]
        )
    assert caught.value.code == "repair_already_planned"
    # more than is left to decide is refused too
    with pytest.raises(ConflictError) as over:
        await quality_service.inspect(
            session, return_id=rma_id, lines=[return_ops.InspectionIn(pcn, 2, "scrap")]
        )
    assert over.value.code == "over_inspection"
    # the last unit scrapped closes the return
    closed = await quality_service.inspect(
        session, return_id=rma_id, lines=[return_ops.InspectionIn(pcn, 1, "scrap")]
    )
    assert closed.status == "closed"
    assert await balances(session, lot_id) == {shop.quarantine_id: 2}


async def test_repair_without_a_bom_changes_nothing(session: AsyncSession) -> None:
    # given a received return of a part without a BOM
    shop = await a_shop(session)
    rma_id, pcn, lot_id = await _received(session, shop, 2)
    # when one is scrapped and one sent to repair in one inspection
    with pytest.raises(RuleViolationError) as caught:
        await quality_service.inspect(
            session,
            return_id=rma_id,
            lines=[
                return_ops.InspectionIn(pcn, 1, "scrap"),
                return_ops.InspectionIn(pcn, 1, "repair"),
            ],
        )
    # then all of it is refused: no scrap, no job
    assert caught.value.code == "no_active_bom"
    await session.rollback()
    line = (await return_ops.lines_of(session, rma_id))[0]
    await session.refresh(line)
    assert (line.scrapped_qty, line.repair_qty, line.repair_job_id) == (0, 0, None)
    assert await balances(session, lot_id) == {shop.quarantine_id: 2}


async def test_repair_over_the_api(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    shop = await a_shop(session)
    await _repair_bom(session, shop)
    rma_id, pcn, _ = await _received(session, shop, 1)
    answer = await client.post(
        f"/api/v1/returns/{rma_id}/inspect",
        json={"lines": [{"pcn": pcn, "qty": 1, "outcome": "repair"}]},
        headers=operator_headers,
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "closed"
    assert body["lines"][0]["repair_qty"] == 1
    job_id = body["lines"][0]["repair_job_id"]
    assert isinstance(job_id, int)
    await session.rollback()
    line = await session.get_one(ReturnLine, body["lines"][0]["id"], populate_existing=True)
    assert line.repair_job_id == job_id
