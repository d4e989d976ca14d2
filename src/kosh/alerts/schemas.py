"""Pydantic shapes for alerts."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from kosh.core.types import CleanLine, Id, RequiredText

AlertState = Literal["open", "acknowledged", "resolved"]
Severity = Literal["info", "warning", "critical"]


class AlertAcknowledge(BaseModel):
    """What was done about the alert (`note`, required) and optionally the action taken."""

    model_config = ConfigDict(extra="forbid")
    note: Annotated[RequiredText, Field(max_length=1000)]
    action: Annotated[CleanLine, Field(max_length=200)] | None = None


class AlertAcknowledgeMany(BaseModel):
    """Acknowledge every open alert that matches: the listed `ids`, or the filter (`kind`,
    `severity`, `job_id`; none of them means every open alert), with one note."""

    model_config = ConfigDict(extra="forbid")
    note: Annotated[RequiredText, Field(max_length=1000)]
    action: Annotated[CleanLine, Field(max_length=200)] | None = None
    ids: Annotated[list[Id], Field(min_length=1, max_length=1000)] | None = None
    kind: Annotated[CleanLine, Field(max_length=32)] | None = None
    severity: Severity | None = None
    job_id: Id | None = None


class AlertsAcknowledged(BaseModel):
    acknowledged: int


class AlertRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    kind: str
    subject_key: str
    severity: Severity
    state: AlertState
    title: str
    message: str
    details: dict[str, Any] | None
    part_id: int | None
    job_id: int | None
    warehouse_id: int | None
    first_raised_at: datetime
    last_raised_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    ack_note: str | None
    ack_action: str | None
    resolved_at: datetime | None
    reopened_count: int
    version: int


class AlertPage(BaseModel):
    items: list[AlertRead]
    total: int
    next: str | None = None


class AlertCounts(BaseModel):
    """Open alerts by severity (what still needs someone)."""

    critical: int
    warning: int
    info: int
    total: int
