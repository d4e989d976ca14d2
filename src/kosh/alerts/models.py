"""Alerts (one row per subject, re-opened when the condition returns) and mail digests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from kosh.core.db import Base, UTCDateTime, utcnow
from kosh.core.types import JSONType

ALERT_STATES = ("open", "acknowledged", "resolved")
SEVERITIES = ("info", "warning", "critical")


class AlertNotification(Base):
    """One digest mail: which alerts it carried and whether it went out."""

    __tablename__ = "alert_notifications"
    __table_args__ = (
        CheckConstraint("status IN ('sending', 'sent', 'failed')", name="status_known"),
        Index(None, "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default="sending")
    recipients: Mapped[list[str]] = mapped_column(JSONType)
    subject: Mapped[str] = mapped_column(String(300))
    alert_count: Mapped[int] = mapped_column(Integer)
    alert_ids: Mapped[list[int]] = mapped_column(JSONType)
    error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Alert(Base):
    """A condition that needs a person, deduplicated by `subject_key`."""

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("state IN ('open', 'acknowledged', 'resolved')", name="state_known"),
        CheckConstraint("severity IN ('info', 'warning', 'critical')", name="severity_known"),
        CheckConstraint("reopened_count >= 0", name="reopened_non_negative"),
        Index(None, "state", "kind"),
        Index(None, "part_id"),
        Index(None, "job_id"),
        Index(None, "notify_pending"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    subject_key: Mapped[str] = mapped_column(String(200), unique=True)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    state: Mapped[str] = mapped_column(String(16), default="open")
    title: Mapped[str] = mapped_column(String(300))
    message: Mapped[str] = mapped_column(String(1000), default="")
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    part_id: Mapped[int | None] = mapped_column(ForeignKey("parts.id", ondelete="CASCADE"))
    job_id: Mapped[int | None] = mapped_column(ForeignKey("production_jobs.id", ondelete="CASCADE"))
    warehouse_id: Mapped[int | None] = mapped_column(ForeignKey("warehouses.id"))
    first_raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_raised_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by_id: Mapped[int | None] = mapped_column(Integer)
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ack_note: Mapped[str | None] = mapped_column(String(1000))
    ack_action: Mapped[str | None] = mapped_column(String(200))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reopened_count: Mapped[int] = mapped_column(Integer, default=0)
    notify_pending: Mapped[bool] = mapped_column(Boolean, default=True)
    notification_id: Mapped[int | None] = mapped_column(
        ForeignKey("alert_notifications.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012 - SQLAlchemy's API
