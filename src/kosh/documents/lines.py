"""Document lines: what a line asks for, checked against the document's type and warehouse
(part, PCN and locations exist and fit; stock is only checked when posting). Joins the
caller's transaction, never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core.errors import (
    ConflictError,
    DomainError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.documents import errors
from kosh.documents.models import Document, DocumentLine
from kosh.locations import service as location_service
from kosh.stock import service as stock_service
from kosh.stock.service import STOCKABLE_KINDS

MAX_LINES = 2000


@dataclass(frozen=True)
class LineRequest:
    """A line as asked for: a PCN or a part number (or both, then they must agree)."""

    qty: int
    pcn: str | None = None
    part_number: str | None = None
    from_location_id: int | None = None
    to_location_id: int | None = None
    date_code: str | None = None
    supplier: str | None = None
    note: str = ""


def required(value: str | None, loc: str, what: str) -> str:
    text = (value or "").strip()
    if not text:
        raise ValidationError(f"{what} is required.", errors=[field_error([loc], "required")])
    return text


async def _resolve_part_and_lot(
    session: AsyncSession, line: LineRequest
) -> tuple[int, str, int | None, str | None]:
    """(part id, part number, lot id, PCN) of a transfer or issue line."""
    lot = None
    if line.pcn:
        lot = await stock_service.get_lot_by_pcn_or_raise(session, line.pcn)
    if line.part_number:
        part = await part_service.get_part_by_number_or_raise(session, line.part_number)
        if lot is not None and lot.part_id != part.id:
            raise RuleViolationError(
                f"PCN {lot.pcn} is not part {part.number}.",
                code="pcn_part_mismatch",
                errors=[field_error(["pcn"], f"is not a lot of {part.number}")],
            )
    elif lot is not None:
        part = await part_service.get_part_or_raise(session, lot.part_id)
    else:
        raise ValidationError(
            "A line needs a PCN or a part number.",
            errors=[field_error(["pcn"], "give a PCN or a part number")],
        )
    return part.id, part.number, (lot.id if lot else None), (lot.pcn if lot else None)


async def _build_line(
    session: AsyncSession, document: Document, line: LineRequest, line_no: int
) -> DocumentLine:
    """A checked line: the part, PCN and locations exist and fit the document type.
    Stock is not checked here (a draft holds nothing); posting checks it."""
    warehouse_id = document.warehouse_id
    made = DocumentLine(line_no=line_no, qty=line.qty, note=line.note or "")
    if document.type == "receipt":
        part = await part_service.get_part_by_number_or_raise(
            session, required(line.part_number, "part_number", "A part number")
        )
        if not part.active:
            raise RuleViolationError(
                f"Part {part.number} is inactive.",
                code="part_inactive",
                errors=[field_error(["part_number"], "is inactive")],
            )
        if line.pcn and await stock_service.get_lot_by_pcn(session, line.pcn) is not None:
            raise ConflictError(
                f"PCN {line.pcn} exists already.",
                code="pcn_taken",
                errors=[field_error(["pcn"], "already exists")],
            )
        destination = await location_service.usable_location(
            session,
            _id(line.to_location_id, "to_location_id"),
            loc="to_location_id",
            warehouse_id=warehouse_id,
            kinds=STOCKABLE_KINDS,
        )
        made.part_id, made.part_number = part.id, part.number
        made.pcn = line.pcn or None
        made.to_location_id = destination.id
        made.date_code, made.supplier = line.date_code or None, line.supplier or None
        return made
    if document.type not in ("transfer", "issue"):
        raise RuleViolationError(
            "A stocktake has no lines to add; record counts instead.",
            code="lines_not_allowed",
        )
    made.part_id, made.part_number, made.lot_id, made.pcn = await _resolve_part_and_lot(
        session, line
    )
    source = await location_service.get_location_or_raise(
        session, _id(line.from_location_id, "from_location_id"), loc="from_location_id"
    )
    if source.warehouse_id != warehouse_id:
        raise RuleViolationError(
            f"Location {source.code} is in another warehouse.",
            code="location_unusable",
            errors=[field_error(["from_location_id"], "is in another warehouse")],
        )
    made.from_location_id = source.id
    if document.type == "transfer":
        destination = await location_service.usable_location(
            session, _id(line.to_location_id, "to_location_id"), loc="to_location_id"
        )
        if destination.id == source.id:
            raise ValidationError(
                "Source and destination are the same location.",
                code="same_location",
                errors=[field_error(["to_location_id"], "must differ from from_location_id")],
            )
        made.to_location_id = destination.id
    elif line.to_location_id is not None:
        raise ValidationError(
            "An issue sends stock to nowhere; it has no destination.",
            errors=[field_error(["to_location_id"], "must be empty on an issue")],
        )
    return made


def _id(value: int | None, loc: str) -> int:
    if value is None:
        raise ValidationError(f"{loc} is required.", errors=[field_error([loc], "required")])
    return value


async def add_lines(
    session: AsyncSession, document: Document, lines: Sequence[LineRequest]
) -> list[DocumentLine]:
    if len(document.lines) + len(lines) > MAX_LINES:
        raise RuleViolationError(
            f"A document holds at most {MAX_LINES} lines.",
            code="too_many_lines",
            errors=[field_error(["lines"], f"at most {MAX_LINES}")],
        )
    start = max((line.line_no for line in document.lines), default=0) + 1
    added = []
    for offset, line in enumerate(lines):
        try:
            made = await _build_line(session, document, line, start + offset)
        except DomainError as exc:
            raise errors.on_line(exc, start + offset, document.number) from None
        document.lines.append(made)
        added.append(made)
    return added
