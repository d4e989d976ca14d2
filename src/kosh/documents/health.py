"""The documents section of /health/detailed: open drafts and stocktakes, the oldest
draft, and an integrity check (a posted transfer, issue or receipt always has the ledger
rows its posting wrote; one without any would mean a posting applied nothing)."""

from __future__ import annotations

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import utcnow
from kosh.documents.models import Document, DocumentMovement
from kosh.ops.health import DETAILED_SECTIONS, Check


async def documents_section(session: AsyncSession) -> Check:
    drafts, stocktakes, oldest = (
        await session.execute(
            select(
                func.count(),
                func.count().filter(Document.type == "stocktake"),
                func.min(Document.created_at),
            ).where(Document.status == "draft")
        )
    ).one()
    empty_posted = await session.scalar(
        select(func.count())
        .select_from(Document)
        .where(
            Document.status == "posted",
            Document.type != "stocktake",
            ~exists().where(DocumentMovement.document_id == Document.id),
        )
    )
    last_posted = await session.scalar(select(func.max(Document.posted_at)))
    return Check(
        not empty_posted,
        {
            "drafts": int(drafts or 0),
            "open_stocktakes": int(stocktakes or 0),
            "oldest_draft_age_hours": (
                round((utcnow() - oldest).total_seconds() / 3600, 1) if oldest else None
            ),
            "posted_without_ledger_rows": int(empty_posted or 0),
            "last_posted_at": last_posted.isoformat() if last_posted else None,
        },
    )


def register() -> None:
    DETAILED_SECTIONS["documents"] = documents_section
