"""The demo site carries quality data: SLA policies, two open NCRs, one unit contained."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.quality import demo as quality_demo
from kosh.quality import queries
from kosh.quality import service as quality_service
from kosh.stock import demo
from tests.support.stock import a_warehouse


async def test_demo_site_has_open_ncrs_and_quarantined_stock(session: AsyncSession) -> None:
    result = await demo.load_demo_site(session)
    assert result.created
    _, total = await quality_service.list_tickets(session, kind="ncr")
    assert total == 2
    figures = await queries.dashboard(session, now=utcnow())
    assert dict(figures.open_ncrs_by_cause) == {"supplier": 1, "handling": 1}
    assert figures.quarantine_units == 1
    assert len(await quality_service.list_policies(session)) == 6


async def test_demo_needs_a_quarantine_location(session: AsyncSession) -> None:
    warehouse = await a_warehouse(session)
    assert await quality_demo.load_quality_demo(session, warehouse_id=warehouse.id, pcns=[]) == 0
