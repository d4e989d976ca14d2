"""Parts: the rules for creating and changing them, and the lookups other features use.

Part numbers are unique (exact match after trimming); edits carry the `version` that was
read, so two people editing one part cannot overwrite each other silently.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate, PartUpdate
from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, NotFoundError, field_error

_LOOKUP_CHUNK = 500  # keeps IN (...) lists well under every driver's parameter limit


def part_snapshot(part: Part) -> dict[str, Any]:
    """The audited view of a part (JSON-safe)."""
    return {
        "number": part.number,
        "description": part.description,
        "unit": part.unit,
        "category": part.category,
        "manufacturer": part.manufacturer,
        "mpn": part.mpn,
        "reorder_point": part.reorder_point,
        "unit_cost": None if part.unit_cost is None else str(part.unit_cost),
        "list_price": None if part.list_price is None else str(part.list_price),
        "active": part.active,
    }


def _number_taken(number: str) -> ConflictError:
    return ConflictError(
        f"Part number {number!r} already exists.",
        code="part_number_taken",
        errors=[field_error(["number"], "already exists")],
        details={"number": number},
    )


# --- lookups (read-only, no commit) ---------------------------------------------------


async def get_part_by_number(session: AsyncSession, number: str) -> Part | None:
    """The part with this number (surrounding spaces ignored), or None. Case does not
    matter (a scanner or a phone keyboard may send `r-0402-10k`): the exact number wins,
    else the one part whose number differs only in case; two such parts match neither."""
    wanted = number.strip()
    exact = await session.scalar(select(Part).where(Part.number == wanted))
    if exact is not None or not wanted:
        return exact
    # Only on a miss: the index serves the exact match, this one scans.
    found = (
        await session.scalars(
            select(Part).where(func.upper(Part.number) == wanted.upper()).limit(2)
        )
    ).all()
    return found[0] if len(found) == 1 else None


async def get_part_or_raise(session: AsyncSession, part_id: int) -> Part:
    """The part with this id; NotFoundError (404, code part_not_found) otherwise."""
    part = await session.get(Part, part_id)
    if part is None:
        raise NotFoundError(f"No part with id {part_id}.", code="part_not_found")
    return part


async def get_part_by_number_or_raise(
    session: AsyncSession, number: str, *, loc: str = "part_number"
) -> Part:
    """The part with this number; NotFoundError (404, code part_not_found) naming `loc`."""
    part = await get_part_by_number(session, number)
    if part is None:
        raise NotFoundError(
            f"No part numbered {number.strip()!r}.",
            code="part_not_found",
            errors=[field_error([loc], "no such part")],
            details={"part_number": number.strip()},
        )
    return part


async def parts_by_numbers(session: AsyncSession, numbers: Collection[str]) -> dict[str, Part]:
    """The known parts among `numbers`, keyed by number; unknown numbers are simply absent."""
    wanted = sorted({n.strip() for n in numbers if n and n.strip()})
    found: dict[str, Part] = {}
    for start in range(0, len(wanted), _LOOKUP_CHUNK):
        chunk = wanted[start : start + _LOOKUP_CHUNK]
        for part in await session.scalars(_BY_NUMBERS, {"numbers": chunk}):
            found[part.number] = part
    return found


# Built once (every web order looks its SKUs up): a reused statement keeps its cache key.
_BY_NUMBERS = select(Part).where(Part.number.in_(bindparam("numbers", expanding=True)))


# --- writes ---------------------------------------------------------------------------


async def add_parts(session: AsyncSession, parts: Sequence[PartCreate]) -> list[Part]:
    """Add parts inside the caller's transaction (flushed, audited, never committed).

    Used where creating parts is one step of a larger use case (the BOM import creates the
    parts it does not know). A number given twice, or one that exists already, is a
    ConflictError (409, code part_number_taken) and the caller's transaction rolls back.
    """
    seen: set[str] = set()
    for data in parts:
        if data.number in seen:
            raise _number_taken(data.number)
        seen.add(data.number)
    existing = await parts_by_numbers(session, seen)
    if existing:
        raise _number_taken(sorted(existing)[0])
    created = [Part(**data.model_dump()) for data in parts]
    session.add_all(created)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent insert of the same number won the race
        raise ConflictError(
            "A part number was created by someone else meanwhile; try again.",
            code="part_number_taken",
        ) from exc
    for part in created:
        await audit.record(
            session,
            action="part.create",
            entity_type="part",
            entity_id=part.id,
            after=part_snapshot(part),
        )
    return created


@transactional
async def create_part(session: AsyncSession, *, data: PartCreate) -> Part:
    """Create one part. Rule: the number is unique (409 part_number_taken)."""
    [part] = await add_parts(session, [data])
    return part


@transactional
async def update_part(session: AsyncSession, part_id: int, *, data: PartUpdate) -> Part:
    """Change a part's fields or deactivate it (`active: false`).

    Rules: `data.version` must equal the stored version (409 stale_version, with
    current_version); a new number must be free (409 part_number_taken). The version goes
    up by one on every change (the mapper's version counter also catches a race between
    two updates that both read the same version).
    """
    part = await get_part_or_raise(session, part_id)
    if part.version != data.version:
        raise ConflictError(
            "The part was changed by someone else; reload and try again.",
            code="stale_version",
            details={"current_version": part.version},
        )
    changes = data.changes()
    new_number = changes.get("number")
    if new_number is not None and new_number != part.number:
        other = await get_part_by_number(session, new_number)
        if other is not None:
            raise _number_taken(new_number)
    before = part_snapshot(part)
    for name, value in changes.items():
        money = name in ("unit_cost", "list_price") and value is not None
        setattr(part, name, Decimal(value) if money else value)
    if part_snapshot(part) == before:
        return part  # nothing changed: no new version, no audit event
    try:
        await session.flush()
    except StaleDataError as exc:
        raise ConflictError(
            "The part was changed by someone else; reload and try again.",
            code="stale_version",
        ) from exc
    except IntegrityError as exc:
        raise _number_taken(str(new_number)) from exc
    await audit.record(
        session,
        action="part.deactivate" if before["active"] and not part.active else "part.update",
        entity_type="part",
        entity_id=part.id,
        before=before,
        after=part_snapshot(part),
    )
    return part


async def record_purchase_cost(session: AsyncSession, *, part_id: int, unit_cost: Decimal) -> bool:
    """Set a part's unit cost to what it was last bought at, inside the caller's
    transaction (goods in against a purchase order); never commits.

    A plain conditional UPDATE (version + 1) rather than a versioned ORM flush: two
    receipts of one part racing must both succeed, the later cost winning. Audited when
    the cost changes; answers whether it did.
    """
    result = await session.execute(
        update(Part)
        .where(
            Part.id == part_id,
            or_(Part.unit_cost.is_(None), Part.unit_cost != unit_cost),
        )
        .values(unit_cost=unit_cost, version=Part.version + 1, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    await audit.record(
        session,
        action="part.purchase_cost",
        entity_type="part",
        entity_id=part_id,
        after={"unit_cost": str(unit_cost)},
    )
    return True
