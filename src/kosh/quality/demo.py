"""Demo data for quality (`kosh demo-data`): SLA policies for every kind at normal and high
priority (24x7), two open NCRs with causes, part of one PCN contained in QC-HOLD; then a
return (RMA) of the shipped demo order and a preventive maintenance plan."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core.errors import DomainError
from kosh.locations import service as location_service
from kosh.quality import service as quality_service
from kosh.quality.models import TICKET_KINDS
from kosh.quality.returns import LineIn
from kosh.sales import service as sales_service


async def load_quality_demo(session: AsyncSession, *, warehouse_id: int, pcns: list[str]) -> int:
    """Answers how many tickets it opened (0 without a quarantine location or PCNs)."""
    quarantine = await location_service.location_of_kind(session, warehouse_id, "quarantine")
    if quarantine is None or len(pcns) < 2:
        return 0
    quarantine_id = quarantine.id
    for kind in TICKET_KINDS:
        for priority, response, resolution in (("normal", 480, 2400), ("high", 120, 960)):
            await quality_service.set_policy(
                session,
                kind=kind,
                priority=priority,
                response_minutes=response,
                resolution_minutes=resolution,
            )
    first = await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Solder bridges on incoming reels",
        priority="high",
        cause="supplier",
    )
    first_id = first.id
    for pcn in pcns[:20]:  # the first PCN that still has a unit outside quarantine
        try:
            await quality_service.contain(
                session, ticket_id=first_id, pcn=pcn, location_id=quarantine_id, qty=1
            )
        except DomainError:
            continue
        break
    await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Label unreadable",
        cause="handling",
        links=quality_service.Links(pcn=pcns[1]),
    )
    return 2


async def load_returns_and_plans(
    session: AsyncSession, *, shipped_order_id: int | None, machine_code: str | None
) -> tuple[int, int]:
    """A return (RMA) of one unit of the shipped demo order and a monthly preventive plan on
    the demo reflow oven; each only when there is none yet. Answers (returns, plans) made."""
    returns = plans = 0
    _, existing = await quality_service.list_returns(session, limit=1)
    if shipped_order_id is not None and not existing:
        order = await sales_service.get_order(session, shipped_order_id)
        first = order.lines[0]
        part = await part_service.get_part_or_raise(session, first.part_id)
        await quality_service.create_return(
            session,
            sales_order_id=shipped_order_id,
            lines=[LineIn(part_number=part.number, qty=1)],
            reason="Dead on arrival: no USB enumeration",
            outcome="replacement",
        )
        returns = 1
    if machine_code is not None and not await quality_service.plan_statuses(session):
        await quality_service.create_plan(session, machine_code=machine_code, every_days=30)
        plans = 1
    return returns, plans
