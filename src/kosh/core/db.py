"""Engines, sessions and the unit of work shared by every feature.

Both engines run the same service code. SQLite gets WAL, a busy timeout, foreign keys
and `BEGIN IMMEDIATE` for write transactions so writers queue instead of failing late;
PostgreSQL gets pool limits and statement/lock timeouts so nothing hangs.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

import structlog
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from kosh.core import events
from kosh.core.config import Settings
from kosh.core.fair_pool import FirstComeFirstServedPool
from kosh.core.metrics import DB_RETRIES

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always returned timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_engine(settings: Settings, *, url: str | None = None) -> AsyncEngine:
    url = url or settings.effective_database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    return _postgres_engine(url, settings)


def _sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    if url.startswith("sqlite+aiosqlite:///") and ":memory:" not in url:
        from pathlib import Path

        Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": settings.db_busy_timeout_ms / 1000},
        poolclass=FirstComeFirstServedPool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
    )
    busy_ms = settings.db_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so `_on_begin` decides the mode.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "BEGIN IMMEDIATE" if conn.get_execution_options().get("kosh_write") else "BEGIN"
        conn.exec_driver_sql(mode)

    return engine


def _postgres_engine(url: str, settings: Settings) -> AsyncEngine:
    # No pre-ping: it is a round trip on every checkout. Connections are recycled after
    # db_pool_recycle seconds instead, and a connection found dead (server restart) fails
    # its statement, invalidates the pool's older connections and the unit of work (or the
    # authentication read) runs again on a fresh one: see `is_retryable`.
    return create_async_engine(
        url,
        poolclass=FirstComeFirstServedPool,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_recycle=settings.db_pool_recycle,
        pool_pre_ping=False,
        connect_args={
            "timeout": settings.db_connect_timeout,
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "lock_timeout": str(settings.db_lock_timeout_ms),
                "application_name": "kosh",
            },
        },
    )


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


# --- the unit of work -----------------------------------------------------------------

_RETRYABLE_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock detected


def is_retryable(exc: BaseException) -> bool:
    """True for failures that succeed when the whole unit of work runs again."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    for candidate in (orig, getattr(orig, "__cause__", None)):
        if getattr(candidate, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def is_disconnect(exc: BaseException) -> bool:
    """True when the statement failed because its connection was dead (and is now
    invalidated): nothing ran, so running it again on a fresh connection is safe."""
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


AfterCommit = Callable[[], Awaitable[None]]
# session.info key of a request's in-transaction idempotency claim (kosh.core.idempotency)
CLAIM_INFO = "kosh_idempotency_claim"


class InTransactionClaim(Protocol):
    session: AsyncSession | None

    async def acquire(self, session: AsyncSession) -> None: ...

    def hold(self, session: AsyncSession, callbacks: list[AfterCommit]) -> None: ...


def after_commit(session: AsyncSession, callback: Callable[[], Awaitable[None]]) -> None:
    """Queue a side effect (mail, notification) to run only once the transaction commits."""
    session.info.setdefault("after_commit", []).append(callback)


P = ParamSpec("P")
R = TypeVar("R")


def transactional(
    fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
    """Run a service use case as one transaction: commit on success, roll back on any error.

    Deadlocks, serialization failures, SQLite lock timeouts and a dead connection (before
    the commit was sent) re-run the whole use case (bounded, jittered), so the function
    must not keep state between attempts.
    """
    return _unit_of_work(fn, claims_key=False)


def idempotent_transaction(
    fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]],
) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
    """`transactional`, and when the request sent an Idempotency-Key on a path listed in
    `kosh.core.idempotency.IN_TRANSACTION_PATHS`, the key is claimed as the transaction's
    first statement and the transaction is left open on success: the idempotency
    middleware stores the answer in it and commits once (then runs the after-commit side
    effects). A taken key raises IdempotencyHitError before the use case runs. Without a
    key it is exactly `transactional`."""
    return _unit_of_work(fn, claims_key=True)


def _unit_of_work(
    fn: Callable[Concatenate[AsyncSession, P], Awaitable[R]], *, claims_key: bool
) -> Callable[Concatenate[AsyncSession, P], Awaitable[R]]:
    @functools.wraps(fn)
    async def run(session: AsyncSession, /, *args: P.args, **kwargs: P.kwargs) -> R:
        claim: InTransactionClaim | None = session.info.get(CLAIM_INFO) if claims_key else None
        if claim is not None:
            session.info.pop(CLAIM_INFO)  # one use case per request holds the key
        attempts = int(session.info.get("retry_attempts", 5))
        retrying = AsyncRetrying(
            stop=stop_after_attempt(attempts),
            wait=wait_random_exponential(multiplier=0.01, max=0.4),
            retry=retry_if_exception(lambda exc: is_retryable(exc) or _reconnect(session, exc)),
            reraise=True,
            before_sleep=lambda state: _count_retry(fn.__name__, state.attempt_number),
        )
        async for attempt in retrying:
            with attempt:
                session.info["after_commit"] = []
                session.info[_COMMITTING] = False
                events.reset(session)
                try:
                    if session.in_transaction() and session.get_bind().dialect.name == "sqlite":
                        # A read before the use case (authentication, a look-up) opened a
                        # deferred transaction; end it so this one starts with BEGIN
                        # IMMEDIATE and queues for the write lock instead of failing late.
                        await session.commit()
                    if not session.in_transaction():
                        await session.connection(execution_options={"kosh_write": True})
                    if claim is not None:
                        await claim.acquire(session)
                    result = await fn(session, *args, **kwargs)
                    await events.dispatch(session)
                    if claim is not None:
                        await session.flush()
                    else:
                        session.info[_COMMITTING] = True
                        await session.commit()
                except BaseException:
                    await session.rollback()
                    raise
        callbacks = session.info.pop("after_commit", [])
        if claim is not None:
            claim.hold(session, callbacks)  # the middleware commits, then runs them
            return result
        for callback in callbacks:
            try:
                await callback()
            except Exception:
                log.exception("after_commit_failed", use_case=fn.__name__)
        return result

    return run


_COMMITTING = "kosh_committing"


def _reconnect(session: AsyncSession, exc: BaseException) -> bool:
    """A dead connection is worth another attempt unless it died during COMMIT (then the
    outcome is unknown and running again could apply the use case twice)."""
    return is_disconnect(exc) and not session.info.get(_COMMITTING, False)


def _count_retry(use_case: str, attempt: int) -> None:
    DB_RETRIES.labels(use_case=use_case).inc()
    log.warning("unit_of_work_retry", use_case=use_case, attempt=attempt)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
