"""Read-only quality views shared by the pages: the dashboard figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.locations import service as location_service
from kosh.quality import sla
from kosh.quality.models import Return, Ticket
from kosh.stock import queries as stock_queries

MAX_QUARANTINE_LOCATIONS = 200


@dataclass(frozen=True)
class Dashboard:
    open_ncrs_by_cause: list[tuple[str, int]]
    quarantine_units: int
    quarantine_value: Decimal
    returns_this_month: int
    sla_this_month: dict[str, dict[str, int]]

    @property
    def sla_compliance_pct(self) -> float | None:
        met = sum(v["met"] for v in self.sla_this_month.values())
        total = met + sum(v["breached"] for v in self.sla_this_month.values())
        return round(100 * met / total, 1) if total else None


def month_start(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def dashboard(session: AsyncSession, *, now: datetime) -> Dashboard:
    rows = await session.execute(
        select(Ticket.cause, func.count())
        .where(Ticket.kind == "ncr", Ticket.category != "done")
        .group_by(Ticket.cause)
        .order_by(func.count().desc(), Ticket.cause)
    )
    by_cause = [(cause or "unknown", int(count)) for cause, count in rows]
    locations, _ = await location_service.list_locations(
        session, kind="quarantine", limit=MAX_QUARANTINE_LOCATIONS
    )
    held = await stock_queries.held_lots(session, location_ids=[loc.id for loc in locations])
    numbers = {h.part_number for h in held}
    parts = await part_service.parts_by_numbers(session, numbers)
    value = sum(
        (Decimal(h.qty) * (parts[h.part_number].unit_cost or Decimal(0)) for h in held),
        Decimal(0),
    )
    start = month_start(now)
    returns = await session.scalar(
        select(func.count()).select_from(Return).where(Return.created_at >= start)
    )
    return Dashboard(
        open_ncrs_by_cause=by_cause,
        quarantine_units=sum(h.qty for h in held),
        quarantine_value=value.quantize(Decimal("0.01")),
        returns_this_month=int(returns or 0),
        sla_this_month=await sla.compliance(session, since=start, now=now),
    )
