"""Operations tables: the journal of backups and restores (what /health/detailed reports).

`backup_runs` is the journal of the archives themselves, so it is the one table a backup's
manifest does not hash: a backup cannot contain its own finished row, and a restore writes
its row into the database it restored (docs/runbook.md, "Backup and restore")."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.types import JSONType

RUN_KINDS = ("manual", "scheduled", "pre_restore", "restore")
RUN_STATUSES = ("ok", "failed")


class BackupRun(Base):
    __tablename__ = "backup_runs"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('manual', 'scheduled', 'pre_restore', 'restore')", name="kind_known"
        ),
        CheckConstraint("status IN ('ok', 'failed')", name="status_known"),
        Index(None, "kind", "status", "finished_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    path: Mapped[str | None] = mapped_column(String(1000))
    size_bytes: Mapped[int | None] = mapped_column(BigInteger)
    engine: Mapped[str] = mapped_column(String(16))
    schema_revision: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(String(1000))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
