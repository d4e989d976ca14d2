"""Pydantic shapes for BOMs, their lines, comparisons and imports."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from kosh.core.types import CleanLine

MAX_QTY = 1_000_000_000
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _clean(value: str) -> str:
    value = value.strip()
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    return value


def _non_empty(value: str) -> str:
    if not value:
        raise ValueError("must not be empty")
    return value


def _designators(value: str) -> str:
    return " ".join(value.replace(",", " ").replace(";", " ").split())


PartNumber = Annotated[
    str, Field(max_length=64), AfterValidator(_clean), AfterValidator(_non_empty)
]
Revision = Annotated[str, Field(max_length=32), AfterValidator(_clean), AfterValidator(_non_empty)]
Qty = Annotated[StrictInt, Field(gt=0, le=MAX_QTY)]
Version = Annotated[StrictInt, Field(ge=1)]
Notes = Annotated[str, Field(max_length=500), AfterValidator(_clean)]
# Designators reach the spreadsheet exports: control characters are refused (422), not stored.
Designators = Annotated[CleanLine, Field(max_length=100_000), AfterValidator(_designators)]
BomStatus = Literal["draft", "active", "obsolete"]


class BomLineIn(BaseModel):
    """A line to add or to put: the part, its quantity per assembly, designators, notes."""

    model_config = ConfigDict(extra="forbid")
    part_number: PartNumber
    qty: Qty
    refdes: Designators = ""
    notes: Notes = ""


class BomLinesPut(BaseModel):
    """All lines of a draft BOM at once (they replace the current lines)."""

    model_config = ConfigDict(extra="forbid")
    version: Version
    lines: Annotated[list[BomLineIn], Field(max_length=200_000)]


class BomLineAdd(BomLineIn):
    version: Version


class BomLinePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version
    qty: Qty | None = None
    refdes: Designators | None = None
    notes: Notes | None = None


class BomLineDelete(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Version


class BomUpdate(BaseModel):
    """Change a BOM's status or notes; `version` must be the one read (409 when stale)."""

    model_config = ConfigDict(extra="forbid")
    version: Version
    status: BomStatus | None = None
    notes: Notes | None = None


class BomCopy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    revision: Revision
    notes: Notes | None = None


class BomLineRead(BaseModel):
    id: int
    line_no: int
    part_id: int
    part_number: str
    description: str
    unit: str
    qty: int
    refdes: str
    notes: str


class BomRead(BaseModel):
    id: int
    assembly_part_id: int
    assembly_part_number: str
    revision: str
    status: str
    notes: str
    source: str | None
    version: int
    line_count: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class BomDetail(BomRead):
    lines: list[BomLineRead]


class BomPage(BaseModel):
    items: list[BomRead]
    total: int
    next: str | None = None


class LineChange(BaseModel):
    part_number: str
    description: str
    qty_from: int | None
    qty_to: int | None
    refdes_from: str | None
    refdes_to: str | None
    notes_from: str | None
    notes_to: str | None


class BomComparison(BaseModel):
    base: BomRead
    other: BomRead
    added: list[LineChange]
    removed: list[LineChange]
    changed: list[LineChange]
    unchanged: int


class ImportProblemRead(BaseModel):
    row: int | None
    column: str | None
    message: str
    severity: str


class ImportRead(BaseModel):
    """An import's state; `preview` holds the recognised sheet, columns and first rows."""

    id: int
    status: Literal["queued", "running", "succeeded", "failed"]
    phase: str
    dry_run: bool
    file_name: str
    file_kind: str | None
    rows_total: int | None
    rows_done: int
    lines_count: int | None
    error_count: int
    warning_count: int
    errors: list[ImportProblemRead]
    errors_truncated: bool
    errors_csv: str
    bom_id: int | None = None
    message: str | None = None
    options: dict[str, Any]
    preview: dict[str, Any] | None = None
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class ImportAccepted(BaseModel):
    id: int
    status: str
    url: str


def parse_mapping(raw: str | None) -> dict[str, str | None]:
    """The user's column mapping from a form field: a JSON object field -> column or null.

    Raises ValueError with a readable message when it is not one."""
    import json

    from kosh.bom.columns import FIELDS

    if raw is None or not raw.strip():
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise ValueError('must be a JSON object like {"qty": "Menge"}') from None
    if not isinstance(value, dict):
        raise ValueError('must be a JSON object like {"qty": "Menge"}')
    mapping: dict[str, str | None] = {}
    for field, column in value.items():
        if field not in FIELDS:
            raise ValueError(f"unknown field {field!r}; use {', '.join(FIELDS)}")
        if column is not None and (not isinstance(column, str) or len(column) > 200):
            raise ValueError(f"{field}: give a column header, a column letter or null")
        mapping[field] = column
    return mapping
