"""The audit trail: every mutation calls `record` inside its own transaction."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, union_all
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
    AUDIT_EVENTS.labels(action=action).inc()
    row = _row(action, entity_type, actor)
    row.update(entity_id=None if entity_id is None else str(entity_id), before=before, after=after)
    batched: list[dict[str, Any]] | None = session.info.get(_BATCH)
    if batched is not None:
        batched.append(row)
        return
    deferred = _deferred(session)
    if deferred is not None:
        deferred.append(row)
        return
    await session.execute(_INSERT, row)


def _row(action: str, entity_type: str, actor: Actor | None) -> dict[str, Any]:
    who = actor or current_actor()
    return {
        "at": utcnow(),
        "actor_type": who.kind,
        "actor_id": who.id,
        "actor_name": who.name,
        "action": action,
        "entity_type": entity_type,
        "request_id": current_request_id(),
        "ip": current_client_ip(),
    }


def inserted_by(entity_id: Any, after: Any, when: Any) -> Any:
    """A data-modifying CTE writing one event, for a use case's own statement: its entity
    id (text) and `after` are expressions of the statement's other CTEs, written only `when`
    holds; who, when and from where are bound (`inserted_params`)."""
    bound = [c for c in _TABLE.c if c.name not in {"id", "entity_id", "before", "after"}]
    source = select(
        *(bindparam(f"audit_row_{c.name}", type_=c.type) for c in bound),
        entity_id,
        after,
    ).where(when)
    columns = [c.name for c in bound] + ["entity_id", "after"]
    return insert(_TABLE).from_select(columns, source).cte("audit_written")


def inserted_params(*, action: str, entity_type: str, actor: Actor | None = None) -> dict[str, Any]:
    """The bound values of `inserted_by`'s event."""
    return {f"audit_row_{name}": value for name, value in _row(action, entity_type, actor).items()}


def counted(action: str) -> None:
    """An event of `action` was written by a use case's own statement (`inserted_by`)."""
    AUDIT_EVENTS.labels(action=action).inc()


async def write(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Write events held back (a `batch`, or `take_deferred` when nothing else is left to
    carry them) in one INSERT; none is nothing."""
    if rows:
        await session.execute(_INSERT, rows)


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
    deferred = _deferred(session)
    if deferred is not None:
        deferred.extend(rows)
    else:
        await write(session, rows)


def defer(session: AsyncSession) -> None:
    """Until its transaction ends, the events recorded outside savepoints wait to be
    written by the statement that ends it (`take_deferred`, `written_with`): the
    idempotency middleware stores a request's answer and its events in one statement,
    one round trip fewer while the use case's row locks are held. Recorded inside a
    savepoint, an event is written at once (it must roll back with the savepoint); a
    transaction that rolls back drops the deferral with it."""
    session.info[_DEFERRED] = (session.sync_session.get_transaction(), [])


def take_deferred(session: AsyncSession) -> list[dict[str, Any]]:
    """The events waiting in this transaction (none after a rollback); ends the deferral:
    the caller writes them before it commits."""
    held = session.info.pop(_DEFERRED, None)
    if held is None or held[0] is not session.sync_session.get_transaction():
        return []
    rows: list[dict[str, Any]] = held[1]
    return rows


def written_with(statement: Any, rows: list[dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """`statement` (PostgreSQL) inserting `rows` too, in a data-modifying CTE, and the
    parameters the rows bind: built once per statement and number of rows."""
    params = {
        f"audit_{index}_{column}": value
        for index, row in enumerate(rows)
        for column, value in row.items()
    }
    return _with_rows(statement, len(rows)), params


@functools.lru_cache(maxsize=32)
def _with_rows(statement: Any, count: int) -> Any:
    # INSERT ... SELECT of bound values: unlike a multi-row VALUES, SQLAlchemy can cache it
    columns = [column for column in _TABLE.c if column.name != "id"]
    rows = [
        select(*(bindparam(f"audit_{index}_{c.name}", type_=c.type) for c in columns))
        for index in range(count)
    ]
    source = rows[0] if count == 1 else union_all(*rows)
    added = insert(_TABLE).from_select([c.name for c in columns], source)
    return statement.add_cte(added.cte("audit_rows"))


def _deferred(session: AsyncSession) -> list[dict[str, Any]] | None:
    held = session.info.get(_DEFERRED)
    sync = session.sync_session
    if held is None or held[0] is not sync.get_transaction() or sync.in_nested_transaction():
        return None
    rows: list[dict[str, Any]] = held[1]
    return rows


_BATCH = "kosh_audit_batch"
_DEFERRED = "kosh_audit_deferred"
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
