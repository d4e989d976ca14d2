"""`kosh backup`: one self-describing archive of the whole database, taken while KOSH runs.

- SQLite: the online backup API copies a consistent snapshot in one step (writers go on in WAL
  mode); the digests are computed on that copy, so they describe exactly what is archived.
- PostgreSQL: a REPEATABLE READ transaction exports its snapshot, `pg_dump --format=custom
  --snapshot=...` dumps exactly that snapshot while the same transaction computes the
  digests. The client tools must be at least the server's major version.

The manifest (archive.py) carries the KOSH version, the schema revision, the engine, per table
the row count and content hash (digest.py), the creation time and the fingerprint of the
KOSH_SECRET_KEY the stored web-store credentials need. Each run is journalled in
`backup_runs` (kind manual / scheduled / pre_restore) for /health/detailed.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import text
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from kosh import __version__
from kosh.core.config import Settings
from kosh.core.db import create_session_factory, transactional, utcnow
from kosh.ops import archive, digest
from kosh.ops.metrics import BACKUP_BYTES, BACKUP_LAST_SUCCESS, BACKUP_SECONDS, BACKUPS
from kosh.ops.models import BackupRun

log = structlog.get_logger(__name__)
NAME_PREFIX = "kosh-backup-"
STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """The backup could not be taken (the message says why); nothing was written."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size_bytes: int
    manifest: dict[str, Any]


def secret_fingerprint(settings: Settings) -> str:
    """Identifies the secret key without revealing it."""
    key = settings.secret_key.get_secret_value().encode()
    return hashlib.sha256(b"kosh-secret-key-fingerprint:" + key).hexdigest()[:16]


def archive_name(engine_name: str, at: datetime, *, encrypted: bool) -> str:
    return f"{NAME_PREFIX}{at.strftime(STAMP)}-{engine_name}.tar.gz" + (".enc" if encrypted else "")


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def libpq_env(url: URL) -> dict[str, str]:
    """The connection as libpq environment variables (no password on a command line)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    values = {
        "PGHOST": url.host,
        "PGPORT": str(url.port) if url.port else None,
        "PGUSER": url.username,
        "PGPASSWORD": url.password,
        "PGDATABASE": url.database,
    }
    ssl = url.query.get("ssl") or url.query.get("sslmode")
    if isinstance(ssl, str):
        values["PGSSLMODE"] = {"true": "require"}.get(ssl, ssl)
    env.update({k: v for k, v in values.items() if v})
    return env


async def schema_revision(conn: AsyncConnection) -> list[str]:
    rows = await conn.execute(text("SELECT version_num FROM alembic_version"))
    return sorted(r[0] for r in rows)


def _sqlite_copy(source: Path, target: Path, busy_ms: int) -> None:
    if not source.is_file():
        raise BackupError(f"the SQLite database {source} does not exist")
    src = sqlite3.connect(source)
    dst = sqlite3.connect(target)
    try:
        src.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        # pages=-1: one step under one read lock, so the copy is one consistent snapshot
        # even while other connections write (WAL lets them).
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained single file
    finally:
        dst.close()
        src.close()


async def run_tool(program: str, *args: str, env: dict[str, str]) -> None:
    try:
        proc = await asyncio.create_subprocess_exec(
            program,
            *args,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
    except FileNotFoundError:
        raise BackupError(
            f"{program} is not installed (PostgreSQL client tools: apt-get install "
            "postgresql-client)"
        ) from None
    try:
        _, stderr = await proc.communicate()
    except asyncio.CancelledError:  # a stopped worker or a failed digest: do not leave it running
        proc.kill()
        await proc.wait()
        raise
    if proc.returncode != 0:
        raise BackupError(f"{program} failed ({proc.returncode}): {stderr.decode()[-800:]}")


async def _snapshot_sqlite(
    engine: AsyncEngine, settings: Settings, payload: Path
) -> tuple[list[str], dict[str, digest.TableDigest]]:
    await asyncio.to_thread(
        _sqlite_copy, sqlite_path(engine.url), payload, settings.db_busy_timeout_ms
    )
    copy = create_async_engine(f"sqlite+aiosqlite:///{payload}", poolclass=NullPool)
    try:
        async with copy.connect() as conn:
            return await schema_revision(conn), await digest.digests(conn)
    finally:
        await copy.dispose()


async def _snapshot_postgres(
    engine: AsyncEngine, payload: Path
) -> tuple[list[str], dict[str, digest.TableDigest]]:
    async with engine.connect() as plain:
        conn = await plain.execution_options(isolation_level="REPEATABLE READ")
        await conn.execute(text("SET LOCAL statement_timeout = 0"))
        snapshot = await conn.scalar(text("SELECT pg_export_snapshot()"))
        dump = asyncio.create_task(
            run_tool(
                "pg_dump",
                "--format=custom",
                "--compress=0",  # the archive compresses it
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={payload}",
                env=libpq_env(engine.url),
            )
        )
        try:
            revision = await schema_revision(conn)
            tables = await digest.digests(conn)
        except BaseException:
            dump.cancel()  # the digests failed: pg_dump's result no longer matters
            await asyncio.gather(dump, return_exceptions=True)
            raise
        # The exported snapshot lives as long as this transaction: keep it until pg_dump has
        # finished with it.
        await dump
        await conn.rollback()
    return revision, tables


async def take_backup(
    engine: AsyncEngine, settings: Settings, *, to: Path | None = None, kind: str = "manual"
) -> BackupResult:
    """Write one archive into `to` (default KOSH_BACKUP_DIR) and journal the run.

    Raises BackupError (journalled as failed, counted) when the database cannot be read, the
    client tools are missing or the directory is not writable; no partial archive remains."""
    started, clock = utcnow(), time.perf_counter()
    directory = (to or settings.effective_backup_dir).resolve()
    engine_name = engine.dialect.name
    passphrase = (
        settings.backup_encryption_key.get_secret_value()
        if settings.backup_encryption_key
        else None
    )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / archive_name(engine_name, started, encrypted=passphrase is not None)
        while target.exists():  # two backups in one second
            started = utcnow()
            target = directory / archive_name(
                engine_name, started, encrypted=passphrase is not None
            )
            await asyncio.sleep(0.2)
        with archive.scratch_dir(directory) as scratch:
            payload = Path(scratch) / archive.PAYLOADS[engine_name]
            if engine_name == "sqlite":
                revision, tables = await _snapshot_sqlite(engine, settings, payload)
            else:
                revision, tables = await _snapshot_postgres(engine, payload)
            manifest = {
                "format": archive.FORMAT,
                "kosh_version": __version__,
                "created_at": started.isoformat(),
                "kind": kind,
                "engine": engine_name,
                "schema_revision": revision,
                "secret_key_fingerprint": secret_fingerprint(settings),
                "encrypted": passphrase is not None,
                "tables": {name: d.as_dict() for name, d in tables.items()},
                "payload": {
                    "name": payload.name,
                    "bytes": payload.stat().st_size,
                    "sha256": archive.sha256_of(payload),
                },
            }
            await asyncio.to_thread(
                archive.pack, target, manifest=manifest, payload=payload, passphrase=passphrase
            )
    except (BackupError, OSError, archive.ArchiveError, SQLAlchemyError) as exc:
        await _journal_failure(engine, kind=kind, started=started, error=str(exc))
        raise BackupError(str(exc)) from exc
    except Exception as exc:
        await _journal_failure(engine, kind=kind, started=started, error=repr(exc))
        raise
    size = target.stat().st_size
    seconds = time.perf_counter() - clock
    await _journal(
        engine,
        kind=kind,
        status="ok",
        started=started,
        path=str(target),
        size_bytes=size,
        engine_name=engine_name,
        revision=",".join(revision),
        details={
            "seconds": round(seconds, 2),
            "rows": sum(t.rows for t in tables.values()),
            "tables": len(tables),
            "encrypted": passphrase is not None,
        },
    )
    BACKUPS.labels(kind, "ok").inc()
    BACKUP_SECONDS.observe(seconds)
    BACKUP_BYTES.set(size)
    BACKUP_LAST_SUCCESS.set(time.time())
    log.info("backup_written", kind=kind, path=str(target), bytes=size, seconds=round(seconds, 2))
    return BackupResult(path=target, size_bytes=size, manifest=manifest)


async def _journal_failure(
    engine: AsyncEngine, *, kind: str, started: datetime, error: str
) -> None:
    BACKUPS.labels(kind, "failed").inc()
    log.error("backup_failed", kind=kind, error=error)
    await _journal(
        engine,
        kind=kind,
        status="failed",
        started=started,
        engine_name=engine.dialect.name,
        error=error[:1000],
    )


async def _journal(engine: AsyncEngine, **values: Any) -> None:
    """Journal the run; never fail the backup on it (the database may be what failed, or be
    at a revision before the journal existed)."""
    try:
        async with create_session_factory(engine)() as session:
            await record_run(session, **values)
    except Exception:
        log.exception("backup_journal_failed")


@transactional
async def record_run(
    session: AsyncSession,
    *,
    kind: str,
    status: str,
    started: datetime,
    engine_name: str,
    path: str | None = None,
    size_bytes: int | None = None,
    revision: str | None = None,
    error: str | None = None,
    details: dict[str, Any] | None = None,
) -> BackupRun:
    """Journal one backup or restore (the row /health/detailed reads)."""
    run = BackupRun(
        kind=kind,
        status=status,
        started_at=started,
        finished_at=utcnow(),
        path=path,
        size_bytes=size_bytes,
        engine=engine_name,
        schema_revision=revision,
        error=error,
        details=details,
    )
    session.add(run)
    return run
