"""Read-only alert queries: the filtered list and the open counts by severity."""

from __future__ import annotations

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.models import Alert
from kosh.alerts.schemas import AlertCounts

_SEVERITY_ORDER = case((Alert.severity == "critical", 0), (Alert.severity == "warning", 1), else_=2)
_STATE_ORDER = case((Alert.state == "open", 0), (Alert.state == "acknowledged", 1), else_=2)


ALERT_SORTS = ("severity", "raised", "kind")


async def list_alerts(
    session: AsyncSession,
    *,
    state: str | None = None,
    kind: str | None = None,
    severity: str | None = None,
    sort: str = "severity",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Alert], int]:
    """By default open first, then acknowledged, then resolved; critical first; newest
    first. `sort` (one of ALERT_SORTS) orders the whole list by severity, time raised or
    kind instead, `descending` reversing it."""
    query = select(Alert)
    if state:
        query = query.where(Alert.state == state)
    if kind:
        query = query.where(Alert.kind == kind)
    if severity:
        query = query.where(Alert.severity == severity)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    newest = (Alert.last_raised_at.desc(), Alert.id.desc())
    orders = {
        "severity": (_SEVERITY_ORDER.desc(),) if descending else (_STATE_ORDER, _SEVERITY_ORDER),
        "raised": (Alert.last_raised_at.asc(), Alert.id.asc()) if descending else newest,
        "kind": (Alert.kind.desc() if descending else Alert.kind.asc(), _SEVERITY_ORDER),
    }
    rows = await session.scalars(query.order_by(*orders[sort], *newest).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def open_counts(session: AsyncSession) -> AlertCounts:
    rows = await session.execute(
        select(Alert.severity, func.count()).where(Alert.state == "open").group_by(Alert.severity)
    )
    counts = {severity: int(n) for severity, n in rows}
    return AlertCounts(
        critical=counts.get("critical", 0),
        warning=counts.get("warning", 0),
        info=counts.get("info", 0),
        total=sum(counts.values()),
    )


async def open_count(session: AsyncSession, *, kind: str) -> int:
    total = await session.scalar(
        select(func.count()).select_from(Alert).where(Alert.state == "open", Alert.kind == kind)
    )
    return int(total or 0)
