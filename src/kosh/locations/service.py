"""Warehouses and locations: creation rules and the lookups stock operations rely on.

Rules: warehouse codes are unique; location codes are unique within their warehouse;
every warehouse has exactly one manufacturing-floor location with code `MFG`, created in
the same transaction as the warehouse.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import (
    ConflictError,
    NotFoundError,
    RuleViolationError,
    ValidationError,
    field_error,
)
from kosh.core.types import like_escape
from kosh.locations.models import LOCATION_KINDS, MFG_CODE, Location, Warehouse


def _location_snapshot(location: Location) -> dict[str, Any]:
    return {
        "warehouse_id": location.warehouse_id,
        "code": location.code,
        "kind": location.kind,
        "description": location.description,
        "active": location.active,
    }


def _check_kind(kind: str) -> None:
    if kind not in LOCATION_KINDS:
        raise ValidationError(
            "Unknown location kind.",
            errors=[field_error(["kind"], f"must be one of {', '.join(LOCATION_KINDS)}")],
        )


# --- lookups (read-only, no commit) ---------------------------------------------------


async def get_warehouse_or_raise(
    session: AsyncSession, warehouse_id: int, *, loc: str = "warehouse_id"
) -> Warehouse:
    """The warehouse; NotFoundError (404, code warehouse_not_found) otherwise."""
    warehouse = await session.get(Warehouse, warehouse_id)
    if warehouse is None:
        raise NotFoundError(
            f"No warehouse with id {warehouse_id}.",
            code="warehouse_not_found",
            errors=[field_error([loc], "no such warehouse")],
        )
    return warehouse


async def get_location_or_raise(
    session: AsyncSession, location_id: int, *, loc: str = "location_id"
) -> Location:
    """The location; NotFoundError (404, code location_not_found) otherwise."""
    location = await session.get(Location, location_id)
    if location is None:
        raise NotFoundError(
            f"No location with id {location_id}.",
            code="location_not_found",
            errors=[field_error([loc], "no such location")],
        )
    return location


async def usable_location(
    session: AsyncSession,
    location_id: int,
    *,
    loc: str = "location_id",
    warehouse_id: int | None = None,
    kinds: Collection[str] | None = None,
) -> Location:
    """A location stock may move into: it exists (404), is active, belongs to
    `warehouse_id` when given and has one of `kinds` when given (each 422
    location_unusable naming the field `loc`)."""
    location = await get_location_or_raise(session, location_id, loc=loc)
    problem = None
    if not location.active:
        problem = "is inactive"
    elif warehouse_id is not None and location.warehouse_id != warehouse_id:
        problem = "is in another warehouse"
    elif kinds is not None and location.kind not in kinds:
        problem = f"is a {location.kind} location; needs {' or '.join(sorted(kinds))}"
    if problem:
        raise RuleViolationError(
            f"Location {location.code} {problem}.",
            code="location_unusable",
            errors=[field_error([loc], problem)],
            details={"location_id": location.id},
        )
    return location


async def find_location(session: AsyncSession, warehouse_id: int, code: str) -> Location | None:
    """The location with this code in the warehouse, or None."""
    result = await session.scalar(
        select(Location).where(Location.warehouse_id == warehouse_id, Location.code == code)
    )
    return result


async def mfg_location(session: AsyncSession, warehouse_id: int) -> Location:
    """The warehouse's manufacturing floor (code MFG); NotFoundError when it is missing."""
    location = await find_location(session, warehouse_id, MFG_CODE)
    if location is None:
        raise NotFoundError(
            f"Warehouse {warehouse_id} has no {MFG_CODE} location.",
            code="mfg_location_missing",
        )
    return location


async def warehouse_and_floor(
    session: AsyncSession, warehouse_id: int, *, loc: str = "warehouse_id"
) -> tuple[Warehouse, Location]:
    """The warehouse (404 warehouse_not_found) and its MFG floor (404
    mfg_location_missing), read in one statement: the pick's destination look-up."""
    found = (
        await session.execute(
            select(Warehouse, Location)
            .outerjoin(
                Location,
                and_(Location.warehouse_id == Warehouse.id, Location.code == MFG_CODE),
            )
            .where(Warehouse.id == warehouse_id)
        )
    ).first()
    if found is None:
        raise NotFoundError(
            f"No warehouse with id {warehouse_id}.",
            code="warehouse_not_found",
            errors=[field_error([loc], "no such warehouse")],
        )
    warehouse, floor = found[0], found[1]
    if floor is None:
        raise NotFoundError(
            f"Warehouse {warehouse_id} has no {MFG_CODE} location.",
            code="mfg_location_missing",
        )
    return warehouse, floor


async def usable_location_and_floor(
    session: AsyncSession,
    location_id: int,
    *,
    loc: str = "location_id",
    kinds: Collection[str] | None = None,
) -> tuple[Location, Location]:
    """`usable_location` and the MFG floor of its warehouse, read in one statement (the
    restock's look-up); 404 mfg_location_missing when the warehouse has none."""
    floor_table = aliased(Location)
    found = (
        await session.execute(
            select(Location, floor_table)
            .outerjoin(
                floor_table,
                and_(
                    floor_table.warehouse_id == Location.warehouse_id,
                    floor_table.code == MFG_CODE,
                ),
            )
            .where(Location.id == location_id)
        )
    ).first()
    if found is None:
        raise NotFoundError(
            f"No location with id {location_id}.",
            code="location_not_found",
            errors=[field_error([loc], "no such location")],
        )
    location, floor = found[0], found[1]
    location = await usable_location(session, location.id, loc=loc, kinds=kinds)
    if floor is None:
        raise NotFoundError(
            f"Warehouse {location.warehouse_id} has no {MFG_CODE} location.",
            code="mfg_location_missing",
        )
    return location, floor


async def mfg_location_ids(session: AsyncSession, warehouse_ids: Collection[int]) -> dict[int, int]:
    """warehouse id -> id of its MFG location, for the warehouses given."""
    if not warehouse_ids:
        return {}
    rows = await session.execute(
        select(Location.warehouse_id, Location.id).where(
            Location.warehouse_id.in_(list(warehouse_ids)), Location.code == MFG_CODE
        )
    )
    return dict(rows.all())


async def location_of_kind(session: AsyncSession, warehouse_id: int, kind: str) -> Location | None:
    """The first (lowest id) active location of `kind` in the warehouse, or None."""
    result = await session.scalar(
        select(Location)
        .where(
            Location.warehouse_id == warehouse_id,
            Location.kind == kind,
            Location.active.is_(True),
        )
        .order_by(Location.id)
        .limit(1)
    )
    return result


async def list_warehouses(
    session: AsyncSession, *, active: bool | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Warehouse], int]:
    query = select(Warehouse)
    if active is not None:
        query = query.where(Warehouse.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Warehouse.code).limit(limit).offset(offset))
    return list(rows), int(total or 0)


async def list_locations(
    session: AsyncSession,
    *,
    warehouse_id: int | None = None,
    kind: str | None = None,
    active: bool | None = None,
    q: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Location], int]:
    """Locations ordered by warehouse and code; `q` is a code prefix."""
    query = select(Location)
    if warehouse_id is not None:
        query = query.where(Location.warehouse_id == warehouse_id)
    if kind is not None:
        query = query.where(Location.kind == kind)
    if active is not None:
        query = query.where(Location.active.is_(active))
    if q:
        escaped = like_escape(q)
        query = query.where(Location.code.ilike(f"{escaped}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Location.warehouse_id, Location.code).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


# --- writes ---------------------------------------------------------------------------


async def _add_location(
    session: AsyncSession, *, warehouse_id: int, code: str, kind: str, description: str = ""
) -> Location:
    """Insert and audit a location in the caller's transaction (a savepoint guards the
    insert, so a duplicate code is a clean 409 and the caller's transaction lives on)."""
    location = Location(warehouse_id=warehouse_id, code=code, kind=kind, description=description)
    try:
        async with session.begin_nested():
            session.add(location)
            await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            f"Location code {code!r} is taken in this warehouse.",
            code="location_code_taken",
            errors=[field_error(["code"], "already exists in this warehouse")],
        ) from exc
    await audit.record(
        session,
        action="location.create",
        entity_type="location",
        entity_id=location.id,
        after=_location_snapshot(location),
    )
    return location


@transactional
async def create_warehouse(session: AsyncSession, *, code: str, name: str) -> Warehouse:
    """Create a warehouse and its MFG location (kind mfg_floor) in one transaction.
    Rule: warehouse codes are unique (409 warehouse_code_taken)."""
    taken = await session.scalar(select(Warehouse.id).where(Warehouse.code == code))
    if taken is not None:
        raise _warehouse_code_taken(code)
    warehouse = Warehouse(code=code, name=name)
    session.add(warehouse)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _warehouse_code_taken(code) from exc
    await audit.record(
        session,
        action="warehouse.create",
        entity_type="warehouse",
        entity_id=warehouse.id,
        after={"code": code, "name": name},
    )
    await _add_location(
        session,
        warehouse_id=warehouse.id,
        code=MFG_CODE,
        kind="mfg_floor",
        description="Manufacturing floor",
    )
    return warehouse


def _warehouse_code_taken(code: str) -> ConflictError:
    return ConflictError(
        f"Warehouse code {code!r} is taken.",
        code="warehouse_code_taken",
        errors=[field_error(["code"], "already exists")],
    )


@transactional
async def create_location(
    session: AsyncSession, *, warehouse_id: int, code: str, kind: str, description: str = ""
) -> Location:
    """Create a location. Rules: the warehouse exists (404) and is active (422); the code
    is unique within the warehouse (409 location_code_taken)."""
    _check_kind(kind)
    warehouse = await get_warehouse_or_raise(session, warehouse_id)
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    if await find_location(session, warehouse_id, code) is not None:
        raise ConflictError(
            f"Location code {code!r} is taken in warehouse {warehouse.code}.",
            code="location_code_taken",
            errors=[field_error(["code"], "already exists in this warehouse")],
        )
    return await _add_location(
        session, warehouse_id=warehouse_id, code=code, kind=kind, description=description
    )


async def ensure_location(
    session: AsyncSession, warehouse_id: int, code: str, kind: str
) -> Location:
    """The location `code` in the warehouse, created (audited, not committed) when missing.

    For locations made on demand, such as a shipping dock or a receiving area. A location
    that exists with another kind is a RuleViolationError (422 location_kind_mismatch).
    """
    _check_kind(kind)
    location = await find_location(session, warehouse_id, code)
    if location is None:
        await get_warehouse_or_raise(session, warehouse_id)
        try:
            location = await _add_location(session, warehouse_id=warehouse_id, code=code, kind=kind)
        except ConflictError:
            # Created by a concurrent transaction between our look-up and insert.
            location = await find_location(session, warehouse_id, code)
            if location is None:
                raise
    if location.kind != kind:
        raise RuleViolationError(
            f"Location {code} exists as a {location.kind} location, not {kind}.",
            code="location_kind_mismatch",
        )
    return location
