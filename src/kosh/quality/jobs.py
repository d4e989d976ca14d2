"""The quality jobs `kosh worker` runs (every KOSH_QUALITY_SLA_CHECK_SECONDS): preventive
maintenance tickets that fell due (exactly once across workers, see
`kosh.quality.maintenance`), then the SLA check that raises `sla_warning` /
`sla_breached` alerts. A failing job is logged and retried on the next round; it never
stops the worker."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.error_tracking import report_job_error
from kosh.quality import maintenance, sla

log = structlog.get_logger(__name__)


@dataclass
class QualityJobs:
    sessions: async_sessionmaker[AsyncSession]
    every_seconds: float = 60.0
    _last: float = field(default=-1e18)

    async def tick(self) -> bool:
        """Run when due; True when it ran."""
        now = time.monotonic()
        if now - self._last < self.every_seconds:
            return False
        self._last = now
        await run_once(self.sessions)
        return True


async def run_once(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    """One round of both jobs; answers the preventive tickets it opened."""
    made: list[str] = []
    try:
        async with sessions() as session:
            made = await maintenance.open_due_tickets(session)
    except Exception:
        log.exception("maintenance_plans_failed")
        report_job_error("quality_plans")
    try:
        async with sessions() as session:
            await sla.check(session)
    except Exception:
        log.exception("sla_check_failed")
        report_job_error("quality_sla")
    return made
