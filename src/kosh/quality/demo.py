"""Demo data for quality (`kosh demo-data`): SLA policies for every kind at normal and high
priority (24x7), two open NCRs with causes, part of one PCN contained in QC-HOLD."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import DomainError
from kosh.locations import service as location_service
from kosh.quality import service as quality_service
from kosh.quality.models import TICKET_KINDS


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
