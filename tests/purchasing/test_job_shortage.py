"""Job shortage planning counts what placed purchase orders bring by the job's due date,
says which PO covers it, and the shortage alert quotes it ("short 300; 200 due on PO-...")."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

import kosh.wiring  # noqa: F401 - event subscribers, as every entry point has them
from kosh.alerts.models import Alert
from kosh.bom.models import Bom, BomLine
from kosh.production import planning
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.schemas import OrderLineIn
from tests.purchasing.factories import a_supplier, an_offer
from tests.support.stock import a_location, a_part, a_warehouse


async def test_shortage_counts_what_is_due_by_the_job(session: AsyncSession) -> None:
    # given: an assembly of one part, none in stock; a job for 300 due on the 14th
    warehouse = await a_warehouse(session)
    await a_location(session, warehouse.id)
    assembly = await a_part(session)
    part = await a_part(session)
    bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=part.id, qty=1, refdes="U1"))
    await session.commit()
    job = await job_service.create_job(
        session,
        number="J-300",
        assembly_part_number=assembly.number,
        qty=300,
        warehouse_id=warehouse.id,
        due_date=date(2026, 12, 14),
    )
    await job_service.release_job(session, job_id=job.id, confirm=True, may_confirm=True)
    # and: a PO bringing 200 on the 10th and another 100 on the 20th (too late)
    code = await a_supplier(session)
    sku = "SKU-J"
    await an_offer(session, supplier_code=code, part_number=part.number, sku=sku)
    numbers = []
    for qty, due in ((200, date(2026, 12, 10)), (100, date(2026, 12, 20))):
        order = await purchasing_service.create_order(
            session,
            supplier_code=code,
            warehouse_id=warehouse.id,
            lines=[OrderLineIn(supplier_sku=sku, qty=qty)],
            expected_date=due,
        )
        await purchasing_service.place(session, order_id=order.id)
        numbers.append(order.number)
    # when
    loaded = await session.get(Job, job.id, populate_existing=True)
    assert loaded is not None
    plan = await planning.job_plan(session, loaded)
    # then: still short 300 (nothing is here), 200 of it due on the first PO in time
    [line] = plan.lines
    assert line.shortage == 300
    assert line.on_order_by_due == 200
    assert line.incoming == [{"number": numbers[0], "qty": 200, "expected_date": "2026-12-10"}]
    assert line.as_shortage()["on_order_by_due"] == 200
    # and: the alert, re-checked when the PO was placed, says so
    alert = await session.scalar(
        select(Alert).where(Alert.kind == "job_shortage").execution_options(populate_existing=True)
    )
    assert alert is not None
    assert alert.title.endswith(f"short by 300; 200 due on {numbers[0]} on 2026-12-10")


async def test_suggestions_count_what_open_jobs_still_need(session: AsyncSession) -> None:
    from kosh.purchasing import reorder
    from kosh.stock import service as stock_service

    # given: 100 in stock, reorder point 50, a released job needing 80 of it
    warehouse = await a_warehouse(session)
    bin_ = await a_location(session, warehouse.id)
    assembly = await a_part(session)
    part = await a_part(session, reorder_point=50)
    bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=part.id, qty=1, refdes="U1"))
    await session.commit()
    await stock_service.receive(session, part_number=part.number, qty=100, location_id=bin_.id)
    code = await a_supplier(session)
    await an_offer(session, supplier_code=code, part_number=part.number, sku="J-SKU", pack_size=10)
    assert await reorder.suggestions(session, warehouse_id=warehouse.id) == []
    job = await job_service.create_job(
        session,
        number="J-80",
        assembly_part_number=assembly.number,
        qty=80,
        warehouse_id=warehouse.id,
    )
    await job_service.release_job(session, job_id=job.id, confirm=True, may_confirm=True)
    # when
    [s] = await reorder.suggestions(session, warehouse_id=warehouse.id)
    # then: 100 - 80 = 20 projected, order 30 (3 packs of 10) up to 50
    assert (s.on_hand, s.job_demand, s.projected, s.suggested_qty, s.packs) == (100, 80, 20, 30, 3)


async def test_reorder_suggested_alert_raises_and_resolves(session: AsyncSession) -> None:
    from kosh.purchasing import alerting

    # given: a part below its reorder point, offered by a supplier
    warehouse = await a_warehouse(session)
    await a_location(session, warehouse.id)
    part = await a_part(session, reorder_point=20)
    code = await a_supplier(session)
    await an_offer(session, supplier_code=code, part_number=part.number, sku="R-SKU")
    number, warehouse_id = part.number, warehouse.id  # check() ends the session's reads
    # when
    assert await alerting.check(session) == 1
    # then
    alert = await session.scalar(select(Alert).where(Alert.kind == "reorder_suggested"))
    assert alert is not None
    assert alert.title == f"Order 20 of {number} from {code} (R-SKU)"
    assert alert.state == "open"
    # when: ordered, the suggestion is gone and the alert resolves by itself
    order = await purchasing_service.create_order(
        session,
        supplier_code=code,
        warehouse_id=warehouse_id,
        lines=[OrderLineIn(supplier_sku="R-SKU", qty=20)],
    )
    await purchasing_service.place(session, order_id=order.id)
    assert await alerting.check(session) == 0
    resolved = await session.scalar(
        select(Alert)
        .where(Alert.kind == "reorder_suggested")
        .execution_options(populate_existing=True)
    )
    assert resolved is not None
    assert resolved.state == "resolved"
