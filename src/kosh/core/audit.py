"""The audit trail: every mutation calls `record` inside its own transaction."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.actor import Actor, current_actor
from kosh.core.db import utcnow
from kosh.core.metrics import AUDIT_EVENTS
from kosh.core.models import AuditEvent
from kosh.core.request_context import current_client_ip, current_request_id


async def record(
    session: AsyncSession,
    *,
    action: str,
    entity_type: str,
    entity_id: object | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor: Actor | None = None,
) -> None:
    """Write an audit event in the caller's transaction (it commits or rolls back with it,
    a savepoint's included). One Core INSERT, built once: no unit of work on every
    mutation's path; inside `batch`, one INSERT for the block's events at its end."""
    who = actor or current_actor()
    row = {
        "at": utcnow(),
        "actor_type": who.kind,
        "actor_id": who.id,
        "actor_name": who.name,
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id),
        "before": before,
        "after": after,
        "request_id": current_request_id(),
        "ip": current_client_ip(),
    }
    AUDIT_EVENTS.labels(action=action).inc()
    batched: list[dict[str, Any]] | None = session.info.get(_BATCH)
    if batched is not None:
        batched.append(row)
        return
    await session.execute(_INSERT, row)


@contextlib.asynccontextmanager
async def batch(session: AsyncSession) -> AsyncIterator[None]:
    """The events recorded in the block are written together, one multi-row INSERT when
    it ends (an error in it writes none: the caller's transaction rolls back). For a step
    that records several events in a row, as applying a web order does; nothing in the
    block may read the audit trail or roll back a savepoint. Nested, the outer one writes."""
    if session.info.get(_BATCH) is not None:
        yield
        return
    rows: list[dict[str, Any]] = []
    session.info[_BATCH] = rows
    try:
        yield
    finally:
        session.info.pop(_BATCH, None)
    if rows:
        await session.execute(_INSERT, rows)


_BATCH = "kosh_audit_batch"
_TABLE = cast(Table, AuditEvent.__table__)
_INSERT = insert(_TABLE)


async def search(
    session: AsyncSession,
    *,
    actor: str | None = None,
    action: str | None = None,
    entity_type: str | None = None,
    entity_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[AuditEvent], int]:
    query = select(AuditEvent)
    if actor:
        query = query.where(AuditEvent.actor_name == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if entity_type:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id:
        query = query.where(AuditEvent.entity_id == entity_id)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit).offset(offset))
    return list(rows), int(total or 0)
