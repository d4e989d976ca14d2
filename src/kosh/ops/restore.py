"""`kosh restore ARCHIVE [--force]`: load a backup into the configured database.

In this order, and nothing is touched before step 4:
1. the archive is read whole and checked (archive.py): encryption tags, gzip CRC, members,
   payload checksum; a corrupted or truncated archive is refused;
2. the manifest must be for this engine (moving between SQLite and PostgreSQL is refused:
   see the runbook) and for a schema revision this KOSH knows (not a newer release);
3. SQLite: the archived copy passes `PRAGMA integrity_check` and its digests equal the
   manifest's; PostgreSQL: `pg_restore --list` reads the dump;
4. a database holding data is refused unless `force`, which first takes a backup
   (kind pre_restore) of what it replaces;
5. the data is loaded (SQLite: the backup API; PostgreSQL: the schema is recreated and
   `pg_restore --single-transaction --exit-on-error`), and its digests must equal the
   manifest's;
6. migrations bring an older archive up to this release; the ledger is replayed against the
   balances (the check `kosh verify` makes; drift must be 0; read-only, so no `verify_runs`
   row is added and the restored tables stay exactly those of the manifest: a backup of the
   restored database has the same hashes); the run is journalled in `backup_runs`.

A target holding data is also refused while a `kosh worker` heartbeat in it is fresh.
"""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from alembic.script import ScriptDirectory
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory, utcnow
from kosh.core.migrate import alembic_config, current_revisions, missing_revisions, upgrade
from kosh.core.models import WorkerHeartbeat
from kosh.ops import archive, backup, digest
from kosh.ops.archive import ArchiveError
from kosh.ops.health import WORKER_STALE_AFTER
from kosh.ops.metrics import RESTORES
from kosh.stock import verify as stock_verify

log = structlog.get_logger(__name__)


class RestoreError(Exception):
    """The restore was refused or failed; `touched` says whether the database changed."""

    def __init__(self, message: str, *, touched: bool = False) -> None:
        super().__init__(message)
        self.touched = touched


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    tables: int
    rows: int
    migrated: bool
    drift: int
    replaced_backup: Path | None
    warnings: list[str] = field(default_factory=list)


def mismatches(expected: dict[str, Any], found: dict[str, digest.TableDigest]) -> list[str]:
    """Readable differences between a manifest's tables and digests of a database."""
    problems = []
    for name, want in sorted(expected.items()):
        got = found.get(name)
        if got is None or got.rows != want["rows"] or got.sha256 != want["sha256"]:
            problems.append(
                f"{name}: manifest {want['rows']} rows, found "
                f"{'no table' if got is None or got.rows < 0 else f'{got.rows} rows'}"
                + ("" if got is None or got.rows != want["rows"] else " with other content")
            )
    return problems


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {rev.revision for rev in script.walk_revisions()}


def _columns(manifest: dict[str, Any]) -> dict[str, list[str]]:
    return {name: list(t["columns"]) for name, t in manifest["tables"].items()}


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


async def _check_sqlite_copy(payload: Path, manifest: dict[str, Any]) -> None:
    verdict = await asyncio.to_thread(_integrity, payload)
    if verdict != "ok":
        raise RestoreError(f"the archived database fails its integrity check: {verdict}")
    copy = create_async_engine(f"sqlite+aiosqlite:///{payload}", poolclass=NullPool)
    try:
        async with copy.connect() as conn:
            found = await digest.digests(conn, columns=_columns(manifest))
    finally:
        await copy.dispose()
    problems = mismatches(manifest["tables"], found)
    if problems:
        raise RestoreError(
            "the archived database differs from its manifest: " + "; ".join(problems)
        )


def _load_sqlite(payload: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    src = sqlite3.connect(payload)
    dst = sqlite3.connect(target, timeout=5)
    try:
        src.backup(dst, pages=-1)  # replaces every page of the target, WAL included
    finally:
        dst.close()
        src.close()


async def _refuse_live_workers(engine: AsyncEngine) -> None:
    """A worker writing into the database being replaced would mix old and new data."""
    since = utcnow() - WORKER_STALE_AFTER
    async with engine.connect() as conn:
        live = list(
            await conn.scalars(
                select(WorkerHeartbeat.worker_id).where(WorkerHeartbeat.last_seen_at > since)
            )
        )
    if live:
        raise RestoreError(
            f"refused: kosh worker {', '.join(live[:3])} used this database in the last "
            "2 minutes; stop the workers and app nodes first"
        )


async def _load_postgres(engine: AsyncEngine, payload: Path) -> None:
    env = backup.libpq_env(engine.url)
    async with engine.begin() as conn:
        # Everything KOSH has lives in the schema `public`; recreating it removes what a
        # newer or half-loaded schema left, so pg_restore starts from empty.
        await conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await engine.dispose()
    try:
        await backup.run_tool(
            "pg_restore",
            "--no-owner",
            "--no-privileges",
            "--single-transaction",
            "--exit-on-error",
            f"--dbname={engine.url.database}",
            str(payload),
            env=env,
        )
    except backup.BackupError as exc:
        raise RestoreError(str(exc), touched=True) from None


async def restore(
    settings: Settings, archive_path: Path, *, force: bool = False, url: str | None = None
) -> RestoreResult:
    """Restore `archive_path` into the configured database (or `url`). Raises RestoreError
    (with `touched` False while nothing changed)."""
    try:
        result = await _restore(settings, archive_path, force=force, url=url)
    except RestoreError as exc:
        RESTORES.labels("refused" if not exc.touched else "failed").inc()
        log.error("restore_failed", archive=str(archive_path), error=str(exc), touched=exc.touched)
        raise
    RESTORES.labels("ok").inc()
    return result


async def _restore(
    settings: Settings, archive_path: Path, *, force: bool, url: str | None
) -> RestoreResult:
    started = utcnow()
    passphrase = (
        settings.backup_encryption_key.get_secret_value()
        if settings.backup_encryption_key
        else None
    )
    warnings: list[str] = []
    engine = create_engine(settings, url=url)
    try:
        with archive.scratch_dir(settings.effective_backup_dir) as scratch:
            try:
                unpacked = await asyncio.to_thread(
                    archive.unpack, archive_path, Path(scratch), passphrase=passphrase
                )
            except ArchiveError as exc:
                raise RestoreError(f"refused: {exc}") from None
            manifest = unpacked.manifest
            target_engine = engine.dialect.name
            if manifest["engine"] != target_engine:
                raise RestoreError(
                    f"refused: the archive is a {manifest['engine']} backup and the database is "
                    f"{target_engine}; moving between engines is not supported by kosh restore "
                    "(docs/runbook.md, 'Backup and restore')"
                )
            unknown = set(manifest["schema_revision"]) - _known_revisions()
            if unknown:
                raise RestoreError(
                    f"refused: the archive's schema revision {sorted(unknown)} is newer than "
                    "this KOSH release; restore it with the release that wrote it "
                    f"(KOSH {manifest['kosh_version']})"
                )
            if manifest["secret_key_fingerprint"] != backup.secret_fingerprint(settings):
                warnings.append(
                    "KOSH_SECRET_KEY differs from the one in use when the backup was taken "
                    f"(fingerprint {manifest['secret_key_fingerprint']}): stored web-store "
                    "credentials will not decrypt until that key is set or they are entered again"
                )
            if target_engine == "sqlite":
                await _check_sqlite_copy(unpacked.payload, manifest)
            else:
                try:
                    await backup.run_tool(
                        "pg_restore",
                        "--list",
                        str(unpacked.payload),
                        env=backup.libpq_env(engine.url),
                    )
                except backup.BackupError as exc:
                    raise RestoreError(f"refused: the dump is unreadable: {exc}") from None

            replaced: Path | None = None
            async with engine.connect() as conn:
                full = await digest.holds_data(conn)
            if full and not force:
                raise RestoreError(
                    f"refused: the database is not empty ({len(full)} tables hold data, e.g. "
                    f"{', '.join(full[:5])}); restore into an empty database, or pass --force to "
                    "replace it (a backup of it is taken first)"
                )
            if full:
                await _refuse_live_workers(engine)
                try:
                    taken = await backup.take_backup(engine, settings, kind="pre_restore")
                except backup.BackupError as exc:
                    raise RestoreError(
                        f"refused: the backup of the database to be replaced failed: {exc}"
                    ) from None
                replaced = taken.path
                log.info("restore_replaced_backup", path=str(replaced))

            if target_engine == "sqlite":
                await engine.dispose()
                try:
                    await asyncio.to_thread(
                        _load_sqlite, unpacked.payload, backup.sqlite_path(engine.url)
                    )
                except sqlite3.Error as exc:
                    # The copy is one transaction into the target: on failure it is unchanged.
                    raise RestoreError(
                        f"the database could not be written ({exc}): stop the app and the "
                        "workers that use it, then restore again"
                    ) from None
            else:
                await _load_postgres(engine, unpacked.payload)
        return await _after_load(
            engine, settings, manifest, archive_path, replaced, warnings, started
        )
    finally:
        await engine.dispose()


async def _after_load(
    engine: AsyncEngine,
    settings: Settings,
    manifest: dict[str, Any],
    archive_path: Path,
    replaced: Path | None,
    warnings: list[str],
    started: Any,
) -> RestoreResult:
    async with engine.connect() as conn:
        found = await digest.digests(conn, columns=_columns(manifest))
    problems = mismatches(manifest["tables"], found)
    if problems:
        raise RestoreError(
            "the loaded database differs from the manifest: "
            + "; ".join(problems)
            + (f"; the replaced database is in {replaced}" if replaced else ""),
            touched=True,
        )
    migrated = bool(missing_revisions(await current_revisions(engine)))
    if migrated:
        await upgrade(engine)
    async with create_session_factory(engine)() as session:
        drift = len(await stock_verify.replay_differences(session))
        revision = ",".join(sorted(await current_revisions(engine)))
        await backup.record_run(
            session,
            kind="restore",
            status="ok" if drift == 0 else "failed",
            started=started,
            engine_name=engine.dialect.name,
            path=str(archive_path),
            revision=revision,
            error=None if drift == 0 else f"ledger drift {drift} after restore",
            details={
                "archive_created_at": manifest["created_at"],
                "rows": sum(t["rows"] for t in manifest["tables"].values()),
                "migrated": migrated,
                "drift": drift,
                "replaced_backup": str(replaced) if replaced else None,
            },
        )
    log.info(
        "restore_done",
        archive=str(archive_path),
        tables=len(manifest["tables"]),
        migrated=migrated,
        drift=drift,
    )
    return RestoreResult(
        manifest=manifest,
        tables=len(manifest["tables"]),
        rows=sum(t["rows"] for t in manifest["tables"].values()),
        migrated=migrated,
        drift=drift,
        replaced_backup=replaced,
        warnings=warnings,
    )
