"""The operations jobs `kosh worker` runs: the scheduled backup (checked every minute, taken
in the background so web orders keep flowing), the backup alerts, and retention (hourly)."""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.error_tracking import report_job_error
from kosh.ops import retention, schedule
from kosh.ops.metrics import BACKUP_LAST_SUCCESS, LEDGER_DRIFT
from kosh.ops.models import BackupRun
from kosh.stock import verify as stock_verify

log = structlog.get_logger(__name__)
CHECK_SECONDS = 60.0
RETENTION_SECONDS = 3600.0


async def export_gauges(session: AsyncSession) -> None:
    """Database state as gauges for Prometheus (deploy/prometheus/kosh-rules.yml): the last
    good backup's time and the last verify's drift, from the journal, so they are right in
    every worker process, also after a restart."""
    good = await session.scalar(
        select(func.max(BackupRun.finished_at)).where(
            BackupRun.kind != "restore", BackupRun.status == "ok"
        )
    )
    BACKUP_LAST_SUCCESS.set(good.timestamp() if good else 0)
    run = await stock_verify.last_run(session)
    LEDGER_DRIFT.set(-1 if run is None else run.drift_count)
    await session.rollback()


class OpsJobs:
    def __init__(self, settings: Settings, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.engine: AsyncEngine = sessions.kw["bind"]
        self._last_check = -CHECK_SECONDS
        self._last_retention = -RETENTION_SECONDS
        self._backup: asyncio.Task[None] | None = None

    async def tick(self, *, wait: bool = False) -> None:
        """Start what is due; with `wait` (kosh worker --once), finish it before returning."""
        now = time.monotonic()
        if now - self._last_check >= CHECK_SECONDS:
            self._last_check = now
            if self._backup is None or self._backup.done():
                self._backup = asyncio.create_task(self._backup_and_alert())
        if now - self._last_retention >= RETENTION_SECONDS:
            self._last_retention = now
            try:
                async with self.sessions() as session:
                    await retention.run(session, self.settings)
            except Exception:  # retention must not stop the worker
                log.exception("retention_failed")
                report_job_error("retention")
        if wait:
            await self.finish()

    async def _backup_and_alert(self) -> None:
        try:
            async with self.sessions() as session:
                await schedule.run_if_due(self.engine, session, self.settings)
            async with self.sessions() as session:
                await schedule.check_alerts(session, self.settings)
            async with self.sessions() as session:
                await export_gauges(session)
        except Exception:
            log.exception("scheduled_backup_check_failed")
            report_job_error("scheduled_backup")

    async def finish(self) -> None:
        if self._backup is not None:
            await self._backup

    async def stop(self) -> None:
        """Stop a backup in progress (its partial files are removed)."""
        if self._backup is not None and not self._backup.done():
            self._backup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._backup
