"""Suppliers and supplier parts: the rules, as helpers that join the caller's transaction
(never commit; `kosh.purchasing.service` wraps them into use cases).

A supplier's code is unique; a supplier part is unique by (supplier, SKU); at most one
supplier part per part is `preferred` (marking one unmarks the others in the same
transaction). Price breaks are per base unit in the supplier's currency; the price of a
quantity is that of the largest break at or below it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.core import audit
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, field_error
from kosh.core.types import like_escape
from kosh.purchasing.models import Supplier, SupplierPart, SupplierPrice
from kosh.purchasing.schemas import PriceBreak


@dataclass(frozen=True)
class Offer:
    """A supplier part with what a page or the API shows beside it."""

    supplier_part: SupplierPart
    supplier: Supplier
    part: Part


def stale(what: str, current: int | None = None) -> ConflictError:
    return ConflictError(
        f"The {what} was changed by someone else; reload and try again.",
        code="stale_version",
        details={} if current is None else {"current_version": current},
    )


def supplier_snapshot(supplier: Supplier) -> dict[str, Any]:
    return {
        "code": supplier.code,
        "name": supplier.name,
        "contact": supplier.contact,
        "email": supplier.email,
        "phone": supplier.phone,
        "currency": supplier.currency,
        "lead_time_days": supplier.lead_time_days,
        "notes": supplier.notes,
        "active": supplier.active,
    }


def offer_snapshot(sp: SupplierPart) -> dict[str, Any]:
    return {
        "supplier_id": sp.supplier_id,
        "part_id": sp.part_id,
        "sku": sp.sku,
        "manufacturer": sp.manufacturer,
        "mpn": sp.mpn,
        "pack_size": sp.pack_size,
        "pack_unit": sp.pack_unit,
        "min_order_qty": sp.min_order_qty,
        "lead_time_days": sp.lead_time_days,
        "preferred": sp.preferred,
        "active": sp.active,
        "prices": [[p.min_qty, str(p.unit_price)] for p in sp.prices],
    }


# --- suppliers ------------------------------------------------------------------------


async def get_supplier_or_raise(session: AsyncSession, supplier_id: int) -> Supplier:
    supplier = await session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFoundError(f"No supplier with id {supplier_id}.", code="supplier_not_found")
    return supplier


async def get_supplier_by_code(session: AsyncSession, code: str) -> Supplier | None:
    found = await session.scalar(select(Supplier).where(Supplier.code == code.strip()))
    return found


async def get_supplier_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str = "supplier_code"
) -> Supplier:
    supplier = await get_supplier_by_code(session, code)
    if supplier is None:
        raise NotFoundError(
            f"No supplier {code.strip()!r}.",
            code="supplier_not_found",
            errors=[field_error([loc], "no such supplier")],
        )
    return supplier


async def add_supplier(session: AsyncSession, **fields: Any) -> Supplier:
    """Insert a supplier (flushed, audited). A taken code is 409 supplier_code_taken."""
    if await get_supplier_by_code(session, fields["code"]) is not None:
        raise _code_taken(fields["code"])
    supplier = Supplier(**fields)
    session.add(supplier)
    try:
        await session.flush()
    except IntegrityError as exc:  # the same code created concurrently
        raise _code_taken(fields["code"]) from exc
    await audit.record(
        session,
        action="supplier.create",
        entity_type="supplier",
        entity_id=supplier.id,
        after=supplier_snapshot(supplier),
    )
    return supplier


def _code_taken(code: str) -> ConflictError:
    return ConflictError(
        f"Supplier code {code!r} exists already.",
        code="supplier_code_taken",
        errors=[field_error(["code"], "already exists")],
    )


async def change_supplier(
    session: AsyncSession, supplier: Supplier, *, version: int, changes: dict[str, Any]
) -> Supplier:
    if supplier.version != version:
        raise stale("supplier", supplier.version)
    before = supplier_snapshot(supplier)
    for name, value in changes.items():
        setattr(supplier, name, value)
    if supplier_snapshot(supplier) == before:
        return supplier
    try:
        await session.flush()
    except StaleDataError as exc:
        raise stale("supplier") from exc
    await audit.record(
        session,
        action="supplier.update",
        entity_type="supplier",
        entity_id=supplier.id,
        before=before,
        after=supplier_snapshot(supplier),
    )
    return supplier


def _supplier_filter(q: str) -> ColumnElement[bool]:
    pattern = f"%{like_escape(q)}%"
    return or_(Supplier.code.ilike(pattern, escape="\\"), Supplier.name.ilike(pattern, escape="\\"))


async def search_suppliers(
    session: AsyncSession,
    *,
    q: str | None = None,
    active: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Supplier], int]:
    query = select(Supplier)
    if q:
        query = query.where(_supplier_filter(q))
    if active is not None:
        query = query.where(Supplier.active.is_(active))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Supplier.code).limit(limit).offset(offset))
    return list(rows), int(total or 0)


# --- supplier parts -------------------------------------------------------------------


async def load_offer(session: AsyncSession, supplier_part_id: int) -> Offer:
    """The supplier part with its prices, supplier and part; 404 supplier_part_not_found."""
    sp = await session.scalar(
        select(SupplierPart)
        .where(SupplierPart.id == supplier_part_id)
        .options(selectinload(SupplierPart.prices))
        .execution_options(populate_existing=True)
    )
    if sp is None:
        raise NotFoundError(
            f"No supplier part with id {supplier_part_id}.", code="supplier_part_not_found"
        )
    supplier = await get_supplier_or_raise(session, sp.supplier_id)
    part = await part_service.get_part_or_raise(session, sp.part_id)
    return Offer(supplier_part=sp, supplier=supplier, part=part)


async def find_offer(
    session: AsyncSession, *, supplier_id: int, sku: str | None = None, part_id: int | None = None
) -> SupplierPart | None:
    """The supplier's active offer by SKU, or of a part (preferred first, then oldest)."""
    query = (
        select(SupplierPart)
        .where(SupplierPart.supplier_id == supplier_id, SupplierPart.active.is_(True))
        .options(selectinload(SupplierPart.prices))
    )
    if sku is not None:
        query = query.where(SupplierPart.sku == sku.strip())
    if part_id is not None:
        query = query.where(SupplierPart.part_id == part_id)
    # populate_existing: `_unmark_other_preferred` may have changed a loaded offer's row.
    found = await session.scalar(
        query.order_by(SupplierPart.preferred.desc(), SupplierPart.id)
        .limit(1)
        .execution_options(populate_existing=True)
    )
    return found


async def offers_of_parts(session: AsyncSession, part_ids: Sequence[int]) -> list[SupplierPart]:
    """Active offers of active suppliers for these parts, preferred first, then oldest."""
    if not part_ids:
        return []
    rows = await session.scalars(
        select(SupplierPart)
        .join(Supplier, Supplier.id == SupplierPart.supplier_id)
        .where(
            SupplierPart.part_id.in_(sorted(set(part_ids))),
            SupplierPart.active.is_(True),
            Supplier.active.is_(True),
        )
        .options(selectinload(SupplierPart.prices))
        .order_by(SupplierPart.part_id, SupplierPart.preferred.desc(), SupplierPart.id)
    )
    return list(rows)


def price_for(sp: SupplierPart, qty: int) -> Decimal | None:
    """The unit price of `qty` base units: the largest break at or below it (below the
    first break, the first break's price); None without breaks."""
    if not sp.prices:
        return None
    breaks = sorted(sp.prices, key=lambda p: p.min_qty)
    chosen = breaks[0]
    for candidate in breaks:
        if candidate.min_qty <= qty:
            chosen = candidate
    return Decimal(chosen.unit_price)


def _set_prices(sp: SupplierPart, prices: Sequence[PriceBreak]) -> None:
    sp.prices = [SupplierPrice(min_qty=p.min_qty, unit_price=p.unit_price) for p in prices]


async def _unmark_other_preferred(session: AsyncSession, sp: SupplierPart) -> None:
    await session.execute(
        update(SupplierPart)
        .where(
            SupplierPart.part_id == sp.part_id,
            SupplierPart.id != sp.id,
            SupplierPart.preferred.is_(True),
        )
        .values(preferred=False, version=SupplierPart.version + 1)
        .execution_options(synchronize_session=False)
    )


async def add_offer(
    session: AsyncSession,
    *,
    supplier: Supplier,
    part: Part,
    sku: str,
    prices: Sequence[PriceBreak] = (),
    **fields: Any,
) -> SupplierPart:
    """Insert a supplier part (flushed, audited); 409 supplier_sku_taken for a taken SKU."""
    taken = await session.scalar(
        select(SupplierPart.id).where(
            SupplierPart.supplier_id == supplier.id, SupplierPart.sku == sku
        )
    )
    if taken is not None:
        raise _sku_taken(supplier.code, sku)
    sp = SupplierPart(supplier_id=supplier.id, part_id=part.id, sku=sku, **fields)
    sp.prices = []
    _set_prices(sp, prices)
    session.add(sp)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _sku_taken(supplier.code, sku) from exc
    if sp.preferred:
        await _unmark_other_preferred(session, sp)
    await audit.record(
        session,
        action="supplier_part.create",
        entity_type="supplier_part",
        entity_id=sp.id,
        after=offer_snapshot(sp),
    )
    return sp


def _sku_taken(code: str, sku: str) -> ConflictError:
    return ConflictError(
        f"Supplier {code} already has SKU {sku!r}.",
        code="supplier_sku_taken",
        errors=[field_error(["sku"], "already exists for this supplier")],
    )


async def change_offer(
    session: AsyncSession, sp: SupplierPart, *, version: int, changes: dict[str, Any]
) -> SupplierPart:
    if sp.version != version:
        raise stale("supplier part", sp.version)
    before = offer_snapshot(sp)
    prices = changes.pop("prices", None)
    for name, value in changes.items():
        setattr(sp, name, value)
    if prices is not None:
        sp.prices.clear()
        await session.flush()  # the old breaks go before the new ones (unique min_qty)
        _set_prices(sp, [PriceBreak.model_validate(p) for p in prices])
    if offer_snapshot(sp) == before:
        return sp
    sp.updated_at = utcnow()  # a change of the breaks alone must bump the version too
    try:
        await session.flush()
    except StaleDataError as exc:
        raise stale("supplier part") from exc
    if sp.preferred:
        await _unmark_other_preferred(session, sp)
    await audit.record(
        session,
        action="supplier_part.update",
        entity_type="supplier_part",
        entity_id=sp.id,
        before=before,
        after=offer_snapshot(sp),
    )
    return sp


async def search_offers(
    session: AsyncSession,
    *,
    q: str | None = None,
    supplier_id: int | None = None,
    part_id: int | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Offer], int]:
    """Supplier parts matching SKU, MPN, manufacturer or part number (case-insensitive)."""
    query = (
        select(SupplierPart, Supplier, Part)
        .join(Supplier, Supplier.id == SupplierPart.supplier_id)
        .join(Part, Part.id == SupplierPart.part_id)
    )
    if q:
        pattern = f"%{like_escape(q)}%"
        query = query.where(
            or_(
                SupplierPart.sku.ilike(pattern, escape="\\"),
                SupplierPart.mpn.ilike(pattern, escape="\\"),
                SupplierPart.manufacturer.ilike(pattern, escape="\\"),
                Part.number.ilike(pattern, escape="\\"),
            )
        )
    if supplier_id is not None:
        query = query.where(SupplierPart.supplier_id == supplier_id)
    if part_id is not None:
        query = query.where(SupplierPart.part_id == part_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = (
        await session.execute(
            query.options(selectinload(SupplierPart.prices))
            .order_by(Supplier.code, SupplierPart.sku)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return [Offer(supplier_part=r[0], supplier=r[1], part=r[2]) for r in rows], int(total or 0)


def require_active(supplier: Supplier, loc: str = "supplier_code") -> None:
    if not supplier.active:
        raise RuleViolationError(
            f"Supplier {supplier.code} is inactive.",
            code="supplier_inactive",
            errors=[field_error([loc], "is inactive")],
        )
