"""The `bom_imports` section of /health/detailed: the import queue across all processes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.metrics import SHEETS_REFUSED
from kosh.bom.models import BomImport
from kosh.core.config import get_settings
from kosh.core.db import utcnow
from kosh.ops.health import DETAILED_SECTIONS, Check

# An import queued longer than this is stuck (each runs in seconds; with the default two
# reading slots a queue this old means they are all taken by something that never ends).
STUCK_MINUTES = 15


def _stale_seconds() -> int:
    try:
        return get_settings().bom_import_stale_seconds
    except Exception:
        return 120


async def bom_imports_section(session: AsyncSession) -> Check:
    """Queued (waiting for a reading slot) and running imports, the oldest queued age, and
    the spreadsheets refused for their shape since the process started. Not ok when an
    import has been queued for STUCK_MINUTES or a running one stopped its heartbeat."""
    now = utcnow()
    counts = dict(
        (
            await session.execute(
                select(BomImport.status, func.count())
                .where(BomImport.status.in_(("queued", "running")))
                .group_by(BomImport.status)
            )
        ).all()
    )
    oldest = await session.scalar(
        select(func.min(BomImport.created_at)).where(BomImport.status == "queued")
    )
    silent = await session.scalar(
        select(func.count())
        .select_from(BomImport)
        .where(
            BomImport.status == "running",
            BomImport.heartbeat_at < now - timedelta(seconds=_stale_seconds()),
        )
    )
    oldest_age = (now - oldest).total_seconds() if oldest else 0.0
    refused = {
        sample.labels["reason"]: int(sample.value)
        for metric in SHEETS_REFUSED.collect()
        for sample in metric.samples
        if sample.name.endswith("_total")
    }
    return Check(
        oldest_age < STUCK_MINUTES * 60 and not silent,
        {
            "queued": int(counts.get("queued", 0)),
            "running": int(counts.get("running", 0)),
            "oldest_queued_age_seconds": round(oldest_age, 1),
            "running_without_heartbeat": int(silent or 0),
            "refused_for_shape": refused,
        },
    )


def register() -> None:
    DETAILED_SECTIONS["bom_imports"] = bom_imports_section
