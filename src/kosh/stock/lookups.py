"""The look-ups stock use cases start with: a lot by its PCN, and a pick's part, warehouse
and floor (folded into one statement on the hot path)."""

from __future__ import annotations

from sqlalchemy import Integer, String, and_, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.core.errors import NotFoundError, field_error
from kosh.locations import service as location_service
from kosh.locations.models import MFG_CODE, Location, Warehouse
from kosh.stock.models import Lot

# built once: a reused statement skips construction and cache-key generation per pick
_PART_WAREHOUSE_FLOOR = (
    select(Part, Warehouse, Location)
    .select_from(Warehouse)
    .outerjoin(Location, and_(Location.warehouse_id == Warehouse.id, Location.code == MFG_CODE))
    .outerjoin(Part, Part.number == bindparam("lookup_part", type_=String()))
    .where(Warehouse.id == bindparam("lookup_warehouse", type_=Integer()))
)


async def part_warehouse_and_floor(
    session: AsyncSession, part_number: str, warehouse_id: int
) -> tuple[Part, Warehouse, Location]:
    """The part by its exact number, the warehouse and its MFG floor in one statement,
    read fresh in the caller's transaction (nothing cached: a warehouse made inactive on
    another node counts at once). Anything missing, or a number that differs in case,
    takes the separate look-ups, which give the same answers and the same 404s in the
    same order (part, warehouse, floor) as before."""
    params = {"lookup_part": part_number.strip(), "lookup_warehouse": warehouse_id}
    found = (await session.execute(_PART_WAREHOUSE_FLOOR, params)).first()
    if found is not None and found[0] is not None and found[2] is not None:
        return found[0], found[1], found[2]
    part = await part_service.get_part_by_number_or_raise(session, part_number)
    warehouse, floor = await location_service.warehouse_and_floor(session, warehouse_id)
    return part, warehouse, floor


async def get_lot_by_pcn(session: AsyncSession, pcn: str) -> Lot | None:
    """The lot with this PCN (surrounding spaces ignored), or None. Case does not matter
    (`pcn000051` finds PCN000051): the exact PCN wins, else the one lot whose PCN differs
    only in case; two such lots match neither."""
    wanted = pcn.strip()
    exact = await session.scalar(select(Lot).where(Lot.pcn == wanted))
    if exact is not None or not wanted:
        return exact
    # Only on a miss: the index serves the exact match, this one scans.
    found = (
        await session.scalars(select(Lot).where(func.upper(Lot.pcn) == wanted.upper()).limit(2))
    ).all()
    return found[0] if len(found) == 1 else None


async def get_lot_by_pcn_or_raise(session: AsyncSession, pcn: str, *, loc: str = "pcn") -> Lot:
    """The lot with this PCN; NotFoundError (404, code pcn_not_found) otherwise."""
    lot = await get_lot_by_pcn(session, pcn)
    if lot is None:
        raise NotFoundError(
            f"No PCN {pcn.strip()}.",
            code="pcn_not_found",
            errors=[field_error([loc], "no such PCN")],
            details={"pcn": pcn.strip()},
        )
    return lot
