"""Scheduled backups: once a day at KOSH_BACKUP_TIME (UTC) `kosh worker` writes an archive to
KOSH_BACKUP_DIR/scheduled and prunes that directory to the newest archive of each of the last
KOSH_BACKUP_KEEP_DAILY days, KOSH_BACKUP_KEEP_WEEKLY ISO weeks and KOSH_BACKUP_KEEP_MONTHLY
months (the newest archive is always kept; archives written by `kosh backup` elsewhere are
never touched).

A slot missed while no worker ran is caught up at the next start; a failed attempt is retried
an hour later. On PostgreSQL several workers may run: an advisory lock lets one of them take
the backup. The `backups` section of /health/detailed and the alerts `backup_stale` (no good
backup for KOSH_BACKUP_STALE_HOURS) and `backup_failed` (the last scheduled attempt failed)
read the journal `backup_runs`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from kosh.alerts import service as alert_service
from kosh.core.config import Settings, get_settings
from kosh.core.db import utcnow
from kosh.ops import backup
from kosh.ops.health import Check
from kosh.ops.metrics import BACKUPS_PRUNED
from kosh.ops.models import BackupRun

log = structlog.get_logger(__name__)
SCHEDULED_DIR = "scheduled"
RETRY_AFTER = timedelta(hours=1)
ALERT_KEYS = {"backup_stale": "ops:backup_stale", "backup_failed": "ops:backup_failed"}
_LOCK_ID = 7_251_035  # pg advisory lock: one worker takes the scheduled backup
_NAME = re.compile(
    re.escape(backup.NAME_PREFIX) + r"(\d{8}T\d{6}Z)-(sqlite|postgresql)\.tar\.gz(\.enc)?$"
)


def slot(now: datetime, at: str) -> datetime:
    """The latest scheduled moment at or before `now`."""
    hour, minute = (int(part) for part in at.split(":"))
    today = now.replace(hour=hour, minute=minute, second=0, microsecond=0)
    return today if now >= today else today - timedelta(days=1)


def archive_time(path: Path) -> datetime | None:
    match = _NAME.fullmatch(path.name)
    if match is None:
        return None
    return datetime.strptime(match.group(1), backup.STAMP).replace(tzinfo=UTC)


def to_keep(stamps: Iterable[datetime], *, daily: int, weekly: int, monthly: int) -> set[datetime]:
    """Grandfather-father-son: the newest of each of the last `daily` days, `weekly` ISO
    weeks and `monthly` months that have an archive; always the newest one."""
    ordered = sorted(set(stamps), reverse=True)
    kept: set[datetime] = set(ordered[:1])
    rules = (
        (daily, lambda t: t.date().isoformat()),
        (weekly, lambda t: tuple(t.isocalendar())[:2]),
        (monthly, lambda t: (t.year, t.month)),
    )
    for count, bucket in rules:
        seen: set[object] = set()
        for stamp in ordered:
            key = bucket(stamp)
            if key in seen:
                continue
            if len(seen) >= count:
                break
            seen.add(key)
            kept.add(stamp)
    return kept


def prune(directory: Path, settings: Settings) -> list[Path]:
    """Delete the archives in `directory` that the retention rules do not keep."""
    archives = {p: t for p in directory.glob(backup.NAME_PREFIX + "*") if (t := archive_time(p))}
    keep = to_keep(
        archives.values(),
        daily=settings.backup_keep_daily,
        weekly=settings.backup_keep_weekly,
        monthly=settings.backup_keep_monthly,
    )
    removed = []
    for path, stamp in sorted(archives.items()):
        if stamp not in keep:
            path.unlink(missing_ok=True)
            removed.append(path)
    if removed:
        BACKUPS_PRUNED.inc(len(removed))
        log.info("backups_pruned", removed=[p.name for p in removed], kept=len(keep))
    return removed


async def _last(session: AsyncSession, *conditions: object) -> BackupRun | None:
    query = select(BackupRun).where(*conditions).order_by(BackupRun.id.desc()).limit(1)  # type: ignore[arg-type]
    return await session.scalar(query)


async def is_due(session: AsyncSession, settings: Settings, now: datetime) -> bool:
    if settings.backup_time is None:
        return False
    since = slot(now, settings.backup_time)
    done = await _last(
        session,
        BackupRun.kind == "scheduled",
        BackupRun.status == "ok",
        BackupRun.started_at >= since,
    )
    if done is not None:
        return False
    failed = await _last(
        session,
        BackupRun.kind == "scheduled",
        BackupRun.status == "failed",
        BackupRun.started_at >= max(since, now - RETRY_AFTER),
    )
    return failed is None


async def run_if_due(
    engine: AsyncEngine, session: AsyncSession, settings: Settings
) -> backup.BackupResult | None:
    """Take the scheduled backup when it is due (one worker at a time), prune, alert."""
    if not await is_due(session, settings, utcnow()):
        return None
    await session.rollback()
    async with engine.connect() as lock:
        if engine.dialect.name == "postgresql":
            if not await lock.scalar(text("SELECT pg_try_advisory_lock(:id)"), {"id": _LOCK_ID}):
                return None
            await lock.commit()
        try:
            if not await is_due(session, settings, utcnow()):  # another worker just did it
                return None
            await session.rollback()
            directory = settings.effective_backup_dir / SCHEDULED_DIR
            try:
                result = await backup.take_backup(engine, settings, to=directory, kind="scheduled")
            except backup.BackupError:
                return None
            prune(directory.resolve(), settings)
            return result
        finally:
            if engine.dialect.name == "postgresql":
                await lock.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _LOCK_ID})
                await lock.commit()


async def status(session: AsyncSession, settings: Settings, now: datetime | None = None) -> Check:
    """The `backups` section: last good backup (age, size, kind), last failure, last restore.
    Not ok when a schedule is set and the newest good backup is older than
    KOSH_BACKUP_STALE_HOURS (or there is none), or the last scheduled attempt failed."""
    now = now or utcnow()
    good = await _last(session, BackupRun.kind != "restore", BackupRun.status == "ok")
    last_scheduled = await _last(session, BackupRun.kind == "scheduled")
    failed = await _last(session, BackupRun.kind != "restore", BackupRun.status == "failed")
    restored = await _last(session, BackupRun.kind == "restore")
    age = (now - good.finished_at).total_seconds() if good else None
    stale = settings.backup_time is not None and (
        age is None or age > settings.backup_stale_hours * 3600
    )
    scheduled_failed = last_scheduled is not None and last_scheduled.status == "failed"
    return Check(
        not stale and not scheduled_failed,
        {
            "schedule": settings.backup_time,
            "stale": stale,
            "last_backup": None
            if good is None
            else {
                "at": good.finished_at.isoformat(),
                "age_seconds": round(age or 0),
                "size_bytes": good.size_bytes,
                "kind": good.kind,
                "path": good.path,
            },
            "last_failure": None
            if failed is None
            else {"at": failed.finished_at.isoformat(), "kind": failed.kind, "error": failed.error},
            "last_scheduled_failed": scheduled_failed,
            "last_restore": None
            if restored is None
            else {
                "at": restored.finished_at.isoformat(),
                "status": restored.status,
                "drift": (restored.details or {}).get("drift"),
                "archive": restored.path,
            },
        },
    )


async def health_section(session: AsyncSession) -> Check:
    return await status(session, get_settings())


async def check_alerts(session: AsyncSession, settings: Settings) -> dict[str, bool]:
    """Raise or resolve `backup_stale` and `backup_failed` through the alerts feature."""
    found = await status(session, settings)
    await session.rollback()
    detail = found.detail
    active = {
        "backup_stale": bool(detail["stale"]),
        "backup_failed": detail["last_scheduled_failed"],
    }
    if active["backup_stale"]:
        last = detail["last_backup"]
        await alert_service.raise_alert(
            session,
            kind="backup_stale",
            key=ALERT_KEYS["backup_stale"],
            severity="critical",
            message="No good backup yet."
            if last is None
            else f"The newest good backup is {last['age_seconds'] // 3600} hours old "
            f"(limit KOSH_BACKUP_STALE_HOURS={settings.backup_stale_hours}).",
            details={"last_backup": last},
        )
    if active["backup_failed"]:
        failure = detail["last_failure"] or {}
        await alert_service.raise_alert(
            session,
            kind="backup_failed",
            key=ALERT_KEYS["backup_failed"],
            severity="critical",
            message=f"The scheduled backup failed: {failure.get('error')}"[:1000],
            details={"last_failure": failure},
        )
    cleared = [ALERT_KEYS[kind] for kind, on in active.items() if not on]
    await alert_service.resolve_alerts(session, keys=cleared)
    return active
