"""Core statements run straight on asyncpg inside the session's transaction (PostgreSQL),
or on their own when asked (`begin=False`: the token read, the scanner's pick alone).

Why: on the hot paths (pick, receipt, transfer) SQLAlchemy's execution pipeline costs more
CPU than asyncpg itself: about 80-100 µs per Core statement (greenlet hop, execution
context, result wrapping) against asyncpg's 60, and several times that for a statement
with an expanding IN list. A scanner's pick sends five statements; with two cores shared
by the app and the database, that CPU is the pick rate (docs/runbook.md, "Request cost on
the stock hot paths").

The statement is still built with SQLAlchemy Core and compiled by SQLAlchemy once per
statement; its bind and result processors run as SQLAlchemy runs them, the statement is
prepared in the connection's own statement cache, and `before_cursor_execute` listeners
still see it. Errors are handed to SQLAlchemy's own error handling, so callers get the
same exceptions (IntegrityError, a dead connection invalidated for the retry).
Anywhere else (SQLite, a statement with Python-side defaults or a schema map) it is
`session.execute`.
"""

from __future__ import annotations

import functools
from collections import namedtuple
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True, eq=False)
class _Plan:
    """A statement compiled for PostgreSQL, and how to turn its rows into tuples."""

    compiled: SQLCompiler
    row: Callable[..., tuple[Any, ...]]
    result_types: tuple[Any, ...]
    # expanding (IN list) parameters' names; their rendering depends only on the lists'
    # lengths, and SQLAlchemy's rendering rewrites the whole string: kept per lengths
    expanding: tuple[str, ...]
    expansions: dict[tuple[int, ...], _Expansion] = field(default_factory=dict)
    # the columns' server types: the result processors of those that have one
    converters: dict[tuple[int, ...], list[tuple[int, Any]]] = field(default_factory=dict)


@dataclass(frozen=True)
class _Expansion:
    sql: str
    names: list[str]
    processors: Mapping[str, Any]
    keys: Mapping[str, list[str]]  # an expanding parameter's name: its elements' names


@functools.lru_cache(maxsize=256)
def _plan(statement: Any, dialect: Any) -> _Plan | None:
    """None when the statement needs what only SQLAlchemy's execution does."""
    compiled = statement.compile(dialect=dialect)
    if not isinstance(compiled, SQLCompiler) or not compiled.positional:
        return None
    if compiled.insert_prefetch or compiled.update_prefetch or compiled.schema_translate_map:
        return None
    if compiled.literal_execute_params or any(
        bind.type._is_tuple_type for bind in compiled.post_compile_params
    ):
        return None
    keys = [column.keyname for column in compiled._result_columns]
    row: Any = namedtuple("Row", keys, rename=True)._make if keys else tuple  # type: ignore[attr-defined]
    return _Plan(
        compiled=compiled,
        row=row,
        result_types=tuple(column.type for column in compiled._result_columns),
        expanding=tuple(
            dict.fromkeys(compiled.bind_names[bind] for bind in compiled.post_compile_params)
        ),
    )


async def rows(
    session: AsyncSession,
    statement: Any,
    params: Mapping[str, Any] | None = None,
    *,
    begin: bool = True,
) -> Sequence[Any]:
    """All rows of `statement` run with `params` in the session's transaction (begun if it
    was not): named tuples on the direct path, SQLAlchemy rows otherwise. With `begin`
    False and no transaction open on the connection, the statement runs on its own
    (PostgreSQL commits it as it ends: no BEGIN, no COMMIT round trip)."""
    bound = await _bound(session)
    plan = _plan(statement, bound.connection.dialect) if bound.adapted is not None else None
    if plan is None:
        result = await session.execute(statement, dict(params or {}))
        # a DML statement without RETURNING has no rows to list (an ORM result always has)
        return list(result) if getattr(result, "returns_rows", True) else []
    return await _run(bound, plan, dict(params or {}), begin=begin)


async def outside_transaction(session: AsyncSession) -> bool:
    """True on PostgreSQL when the session's connection has no transaction open yet, so a
    statement run with `begin=False` commits on its own."""
    bound = await _bound(session)
    return bound.adapted is not None and bound.adapted._transaction is None


@dataclass(frozen=True, eq=False)
class _Bound:
    """The session transaction's connection, and asyncpg's adapter of it (None elsewhere)."""

    transaction: Any
    connection: AsyncConnection
    adapted: Any


_BOUND = "kosh_direct_connection"


async def _bound(session: AsyncSession) -> _Bound:
    """Looked up once per transaction: each look-up is two greenlet hops."""
    transaction = session.sync_session.get_transaction()
    bound: _Bound | None = session.info.get(_BOUND)
    if bound is not None and transaction is not None and bound.transaction is transaction:
        return bound
    connection = await session.connection()
    adapted = None
    if connection.dialect.name == "postgresql":
        adapted = (await connection.get_raw_connection()).dbapi_connection
    bound = _Bound(transaction or session.sync_session.get_transaction(), connection, adapted)
    session.info[_BOUND] = bound
    return bound


async def first(
    session: AsyncSession,
    statement: Any,
    params: Mapping[str, Any] | None = None,
    *,
    begin: bool = True,
) -> Any:
    """The first row, or None."""
    found = await rows(session, statement, params, begin=begin)
    return found[0] if found else None


async def scalar(
    session: AsyncSession, statement: Any, params: Mapping[str, Any] | None = None
) -> Any:
    """The first column of the first row, or None."""
    row = await first(session, statement, params)
    return None if row is None else row[0]


async def _run(bound: _Bound, plan: _Plan, params: dict[str, Any], *, begin: bool) -> list[Any]:
    connection, adapted = bound.connection, bound.adapted
    compiled = plan.compiled
    values = cast(dict[str, Any], compiled.construct_params(params, escape_names=False))
    processors: Mapping[str, Any] = compiled._bind_processors
    sql, names = compiled.string, compiled.positiontup or []
    if plan.expanding:
        expansion = _expand(plan, values)
        sql, names, processors = expansion.sql, expansion.names, expansion.processors
    args = [
        processors[name](values[name]) if name in processors else values[name] for name in names
    ]
    sync = connection.sync_connection
    if sync is None:  # pragma: no cover - session.connection() returns a started one
        raise RuntimeError("no connection")
    if sync._has_events or sync.engine._has_events:
        sync.dispatch.before_cursor_execute(sync, None, sql, args, None, False)
    try:
        async with adapted._execute_mutex:
            if adapted._transaction is None and begin:
                await adapted._start_transaction()
            prepared, attributes = await adapted._prepare(
                sql,
                connection.dialect._invalidate_schema_cache_asof,  # type: ignore[attr-defined]
            )
            records = await prepared.fetch(*args)
    except Exception as error:
        await connection.run_sync(_raise_translated, adapted, error, sql, args)
        raise  # pragma: no cover - _raise_translated always raises
    if not records:
        return []
    if not plan.result_types:  # text(): no columns to convert
        return [tuple(record) for record in records]
    converters = _converters(plan, connection.dialect, attributes)
    if not converters:
        return [plan.row(record) for record in records]
    converted = []
    for record in records:
        columns = list(record)
        for index, convert in converters:
            columns[index] = convert(columns[index])
        converted.append(plan.row(columns))
    return converted


_MAX_EXPANSIONS = 64


def _expand(plan: _Plan, values: dict[str, Any]) -> _Expansion:
    """The statement with its IN lists rendered for these lengths; `values` gets each
    element under its own name."""
    lengths = tuple(len(values[name]) for name in plan.expanding)
    expansion = plan.expansions.get(lengths)
    if expansion is None:
        state = plan.compiled._process_parameters_for_postcompile(dict(values))
        expansion = _Expansion(
            sql=state.statement,
            names=list(state.positiontup or []),
            processors={**plan.compiled._bind_processors, **state.processors},
            keys=dict(state.parameter_expansion),
        )
        if len(plan.expansions) < _MAX_EXPANSIONS:
            plan.expansions[lengths] = expansion
    for name in plan.expanding:
        values.update(zip(expansion.keys[name], values.pop(name), strict=True))
    return expansion


def _converters(plan: _Plan, dialect: Any, attributes: Sequence[Any]) -> list[tuple[int, Any]]:
    """The columns' result processors (position, function) for the columns that have one,
    kept per the server's types of the columns (the same on every connection, in practice)."""
    oids = tuple(attribute.type.oid for attribute in attributes)
    converters = plan.converters.get(oids)
    if converters is None:
        converters = [
            (index, process)
            for index, (type_, oid) in enumerate(zip(plan.result_types, oids, strict=True))
            if (process := type_._cached_result_processor(dialect, oid)) is not None
        ]
        if len(plan.converters) < _MAX_EXPANSIONS:
            plan.converters[oids] = converters
    return converters


def _raise_translated(
    connection: Connection, adapted: Any, error: Exception, sql: str, args: list[Any]
) -> None:
    """Raise `error` as SQLAlchemy would have: the driver's error mapped to the DBAPI's,
    then wrapped (and a dead connection invalidated) by the Connection."""
    try:
        adapted._handle_exception(error)
    except Exception as dbapi_error:
        connection._handle_dbapi_exception(dbapi_error, sql, args, None, None)
        raise
    raise error  # pragma: no cover - _handle_exception always raises
