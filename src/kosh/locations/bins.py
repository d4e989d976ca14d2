"""Bulk bin creation: a range pattern (aisle letters x rack numbers x level numbers,
zero-padded) expanded into codes such as A-01-01 ... C-03-04, previewed, then created all
or nothing.

Rules: at most MAX_BINS codes per request (422 too_many_bins); a code that exists in the
warehouse already, in any case, refuses the whole request (409 location_codes_taken,
listing them); the warehouse exists (404) and is active (422 warehouse_inactive). One
audit event records the batch (pattern, count, first and last code).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import structlog
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.locations import metrics
from kosh.locations.models import Location, Warehouse
from kosh.locations.service import get_warehouse_or_raise

MAX_BINS = 5000
LISTED_TAKEN = 50  # duplicates named in the message and details; the count says the rest
SAMPLE = 12
QUERY_CHUNK = 500  # codes per IN (...) when looking for duplicates

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class BinRange:
    """Aisles `aisle_from`..`aisle_to` (single letters), racks and levels as inclusive
    number ranges, each number zero-padded to `digits`, joined by `separator`."""

    aisle_from: str
    aisle_to: str
    rack_from: int
    rack_to: int
    level_from: int
    level_to: int
    digits: int = 2
    separator: str = "-"
    kind: str = "storage"

    def aisles(self) -> list[str]:
        letters = string.ascii_uppercase
        first, last = letters.find(self.aisle_from.upper()), letters.find(self.aisle_to.upper())
        return list(letters[first : last + 1])

    @property
    def count(self) -> int:
        return (
            len(self.aisles())
            * max(0, self.rack_to - self.rack_from + 1)
            * max(0, self.level_to - self.level_from + 1)
        )

    def codes(self) -> list[str]:
        """Every code, aisle by aisle, rack by rack, level by level."""
        sep, width = self.separator, self.digits
        return [
            f"{aisle}{sep}{rack:0{width}d}{sep}{level:0{width}d}"
            for aisle in self.aisles()
            for rack in range(self.rack_from, self.rack_to + 1)
            for level in range(self.level_from, self.level_to + 1)
        ]


@dataclass(frozen=True, slots=True)
class BinPreview:
    count: int
    first: str
    last: str
    sample: list[str]
    taken: list[str]
    taken_count: int


def check_range(pattern: BinRange) -> None:
    """Ranges run forward (422 bin_range_invalid naming the field) and yield at most
    MAX_BINS codes (422 too_many_bins)."""
    letters = string.ascii_uppercase
    problems = []
    for field, value in (("aisle_from", pattern.aisle_from), ("aisle_to", pattern.aisle_to)):
        if len(value) != 1 or value.upper() not in letters:
            problems.append(field_error([field], "must be one letter A to Z"))
    if not problems and letters.find(pattern.aisle_to.upper()) < letters.find(
        pattern.aisle_from.upper()
    ):
        problems.append(field_error(["aisle_to"], "must not come before the first aisle"))
    if pattern.rack_to < pattern.rack_from:
        problems.append(field_error(["rack_to"], "must not be less than the first rack"))
    if pattern.level_to < pattern.level_from:
        problems.append(field_error(["level_to"], "must not be less than the first level"))
    if problems:
        raise ValidationError(
            "The bin range is not valid.", code="bin_range_invalid", errors=problems
        )
    if pattern.count > MAX_BINS:
        raise RuleViolationError(
            f"The range makes {pattern.count:,} bins; at most {MAX_BINS:,} per request.",
            code="too_many_bins",
            details={"count": pattern.count, "limit": MAX_BINS},
        )


async def _taken(session: AsyncSession, warehouse_id: int, codes: list[str]) -> list[str]:
    """The codes (as given) that exist in the warehouse already, compared in any case."""
    wanted = {code.upper(): code for code in codes}
    found: list[str] = []
    keys = list(wanted)
    for start in range(0, len(keys), QUERY_CHUNK):
        chunk = keys[start : start + QUERY_CHUNK]
        rows = await session.scalars(
            select(func.upper(Location.code)).where(
                Location.warehouse_id == warehouse_id, func.upper(Location.code).in_(chunk)
            )
        )
        found.extend(wanted[code] for code in rows)
    return sorted(found)


async def _usable_warehouse(session: AsyncSession, warehouse_id: int) -> Warehouse:
    warehouse = await get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    return warehouse


async def preview_bins(
    session: AsyncSession, *, warehouse_id: int, pattern: BinRange
) -> BinPreview:
    """What `create_bins` would make: the count, first and last codes, a sample, and the
    codes that exist already. Changes nothing; the same 404/422 as `create_bins`."""
    check_range(pattern)
    await _usable_warehouse(session, warehouse_id)
    codes = pattern.codes()
    taken = await _taken(session, warehouse_id, codes)
    return BinPreview(
        count=len(codes),
        first=codes[0],
        last=codes[-1],
        sample=codes[:SAMPLE],
        taken=taken[:LISTED_TAKEN],
        taken_count=len(taken),
    )


def _codes_taken(warehouse: Warehouse, taken: list[str]) -> ConflictError:
    listed = ", ".join(taken[:LISTED_TAKEN])
    more = f" and {len(taken) - LISTED_TAKEN:,} more" if len(taken) > LISTED_TAKEN else ""
    return ConflictError(
        f"{len(taken):,} of these bins exist in {warehouse.code} already: {listed}{more}. "
        "Nothing was created.",
        code="location_codes_taken",
        details={"taken": taken[:LISTED_TAKEN], "taken_count": len(taken)},
    )


@transactional
async def create_bins(
    session: AsyncSession, *, warehouse_id: int, pattern: BinRange, description: str = ""
) -> list[str]:
    """Create every bin of the range in one transaction and answer their codes.

    Rules: see the module docstring. 422 bin_range_invalid / too_many_bins, 404
    warehouse_not_found, 422 warehouse_inactive, 409 location_codes_taken (also when a
    concurrent request took a code between the check and the insert); nothing is created
    on any error."""
    check_range(pattern)
    warehouse = await _usable_warehouse(session, warehouse_id)
    codes = pattern.codes()
    taken = await _taken(session, warehouse_id, codes)
    if taken:
        raise _codes_taken(warehouse, taken)
    rows = [
        {
            "warehouse_id": warehouse_id,
            "code": code,
            "kind": pattern.kind,
            "description": description,
        }
        for code in codes
    ]
    try:
        async with session.begin_nested():
            await session.execute(insert(Location), rows)
    except IntegrityError as exc:
        raise _codes_taken(warehouse, await _taken(session, warehouse_id, codes) or codes) from exc
    await audit.record(
        session,
        action="location.bulk_create",
        entity_type="warehouse",
        entity_id=warehouse_id,
        after={
            "count": len(codes),
            "first": codes[0],
            "last": codes[-1],
            "kind": pattern.kind,
            "pattern": {
                "aisles": [pattern.aisle_from.upper(), pattern.aisle_to.upper()],
                "racks": [pattern.rack_from, pattern.rack_to],
                "levels": [pattern.level_from, pattern.level_to],
                "digits": pattern.digits,
                "separator": pattern.separator,
            },
        },
    )
    metrics.BINS_CREATED.inc(len(codes))
    log.info("bins_created", warehouse=warehouse.code, count=len(codes), first=codes[0])
    return codes
