"""The `reorder_suggested` alert (mailed in the alerts digest): one per part and warehouse
while the suggested purchases list it, resolved by itself once it is ordered (placed) or
back above its minimum. Checked every CHECK_SECONDS by every app process (`lifespan`) and
by `check` directly; each alert change is its own transaction (alerts' `raise_alert`)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts import queries as alert_queries
from kosh.alerts import service as alert_service
from kosh.locations import service as location_service
from kosh.purchasing import reorder

log = structlog.get_logger(__name__)

KIND = "reorder_suggested"
CHECK_SECONDS = 600


def alert_key(part_id: int, warehouse_id: int) -> str:
    return f"{KIND}:part:{part_id}:warehouse:{warehouse_id}"


async def check(session: AsyncSession) -> int:
    """Raise or refresh an alert per suggestion, resolve those no longer suggested;
    answers how many are suggested."""
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=1000)
    found: list[reorder.Suggestion] = []
    for warehouse in warehouses:
        found += await reorder.suggestions(session, warehouse_id=warehouse.id)
    open_keys: set[str] = set()
    for state in ("open", "acknowledged"):
        alerts, _ = await alert_queries.list_alerts(session, state=state, kind=KIND, limit=10_000)
        open_keys |= {alert.subject_key for alert in alerts}
    await session.rollback()  # end the read: each alert change is its own transaction
    for s in found:
        supplier = f" from {s.supplier_code} ({s.supplier_sku})" if s.supplier_code else ""
        verb = "Build" if s.action == "build" else "Order"
        await alert_service.raise_alert(
            session,
            kind=KIND,
            key=alert_key(s.part_id, s.warehouse_id),
            severity="critical" if s.projected <= 0 else "info",
            title=f"{verb} {s.suggested_qty} of {s.part_number}{supplier}",
            message=(
                f"{s.part_number}: projected {s.projected} (in storage {s.on_hand}, reserved "
                f"{s.reserved}, jobs {s.job_demand}, on order {s.on_order}, in production "
                f"{s.in_production}) is below its minimum {s.min_qty}; suggested "
                f"{verb.lower()} {s.suggested_qty}{supplier}."
            ),
            details=s.as_dict()
            | {
                "unit_price": None if s.unit_price is None else str(s.unit_price),
                "expected_date": s.expected_date.isoformat() if s.expected_date else None,
            },
        )
    current = {alert_key(s.part_id, s.warehouse_id) for s in found}
    await alert_service.resolve_alerts(session, keys=sorted(open_keys - current))
    return len(found)


async def _loop(sessions: async_sessionmaker[AsyncSession]) -> None:
    while True:
        await asyncio.sleep(CHECK_SECONDS)
        try:
            async with sessions() as session:
                await check(session)
        except Exception:
            log.exception("reorder_alerts_failed")


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Check the reorder suggestions every CHECK_SECONDS while the app runs."""
    task = asyncio.create_task(_loop(app.state.sessions), name="reorder-alerts")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
