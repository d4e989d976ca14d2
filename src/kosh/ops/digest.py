"""Content digests of the database: per table, its row count and a SHA-256 over its rows.

Rows are read in primary-key order through the models' column types (so a timestamp is an
aware UTC datetime and a JSON column a dict on both engines) and written canonically (JSON
with sorted keys, ISO timestamps, decimals as text, bytes as hex), one line per row. The
same data therefore gives the same digest however it got there: the backup computes them on
the snapshot it archives, the restore on what it loaded, and they must be equal.

`backup_runs`, the journal of the backups themselves, is not digested (models.py says why).
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import enum
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, MetaData, Table, inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection

from kosh.core.db import Base

UNDIGESTED = frozenset({"backup_runs", "alembic_version"})


@dataclass(frozen=True)
class TableDigest:
    rows: int
    sha256: str
    columns: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "sha256": self.sha256, "columns": list(self.columns)}


_PLAIN = frozenset({type(None), bool, int, str})
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _canonical(value: Any) -> Any:
    if type(value) in _PLAIN:  # most values: checked first, it is the hot path
        return value
    if isinstance(value, bool | int | str):  # subclasses (enums of str, ...)
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return aware.astimezone(dt.UTC).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b16encode(bytes(value)).decode()
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, enum.Enum):
        return _canonical(value.value)
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def model_tables() -> dict[str, Table]:
    import kosh.models  # noqa: F401 - every feature's tables in Base.metadata

    return {t.name: t for t in Base.metadata.sorted_tables if t.name not in UNDIGESTED}


async def existing_columns(conn: AsyncConnection) -> dict[str, list[str]]:
    """Tables and their columns as they are in the database (an older schema has fewer)."""

    def read(sync_conn: Any) -> dict[str, list[str]]:
        inspector = inspect(sync_conn)
        return {
            name: [c["name"] for c in inspector.get_columns(name)]
            for name in inspector.get_table_names()
        }

    return await conn.run_sync(read)


def _table_for(name: str, columns: list[str], known: dict[str, Table]) -> Table:
    """The model's table restricted to `columns` (unknown columns typed as plain values)."""
    metadata = MetaData()
    model = known.get(name)
    chosen: list[Column[Any]] = []
    for column_name in columns:
        if model is not None and column_name in model.c:
            source = model.c[column_name]
            chosen.append(Column(column_name, source.type, primary_key=source.primary_key))
        else:
            chosen.append(Column(column_name))
    return Table(name, metadata, *chosen)


async def table_digest(conn: AsyncConnection, table: Table) -> TableDigest:
    order = [c for c in table.columns if c.primary_key] or list(table.columns)
    hasher = hashlib.sha256()
    rows = 0
    result = await conn.stream(select(table).order_by(*order).execution_options(yield_per=2000))
    # Whole partitions, not rows: each step of an async result is a greenlet switch.
    async for partition in result.partitions(2000):
        lines = [_ENCODER.encode([_canonical(v) for v in row]) for row in partition]
        hasher.update(("\n".join(lines) + "\n").encode())
        rows += len(lines)
    return TableDigest(rows=rows, sha256=hasher.hexdigest(), columns=tuple(table.columns.keys()))


async def digests(
    conn: AsyncConnection, *, columns: dict[str, list[str]] | None = None
) -> dict[str, TableDigest]:
    """Digests of every KOSH table present in the database, or of exactly the tables and
    columns given (a manifest's, when checking a restore)."""
    known = model_tables()
    present = await existing_columns(conn)
    if columns is None:
        columns = {
            name: [c.name for c in table.columns if c.name in present[name]]
            for name, table in known.items()
            if name in present
        }
    found: dict[str, TableDigest] = {}
    for name in sorted(columns):
        if name not in present:
            found[name] = TableDigest(rows=-1, sha256="missing", columns=())
            continue
        found[name] = await table_digest(conn, _table_for(name, columns[name], known))
    return found


async def holds_data(conn: AsyncConnection) -> list[str]:
    """The KOSH tables that hold at least one row (an empty, merely migrated database is
    empty)."""
    present = await existing_columns(conn)
    full = []
    for name, table in model_tables().items():
        if name in present:
            key = _table_for(name, present[name][:1], {name: table})
            if (await conn.execute(select(key).limit(1))).first() is not None:
                full.append(name)
    return full
