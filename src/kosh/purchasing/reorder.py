"""Reorder rules and suggested purchases (helpers; the committing verbs are in `service`).

A part needs ordering in a warehouse when its projected stock is below its minimum:

    projected = on hand in storage - reserved by sales orders - still to pick for open
                production jobs + on order (placed POs) + in production (open jobs
                building it)

The minimum and maximum come from the part's reorder rule in that warehouse, or, without
one, from the part's reorder point (minimum = maximum = reorder point). The suggestion
orders up to the maximum (rounded up to the rule's order multiple), at least the supplier's
minimum order, rounded up to whole packs, from the part's preferred supplier (else the offer
cheapest at that quantity). Its lead time (the rule's, else the offer's, else the
supplier's) dates it: expected = today + lead time, the draft PO line's expected date.

An assembly with an active BOM is suggested as a build (`action = "build"`): the
shortfall itself, no supplier; acting on it plans a production job (through
`kosh.production.service`) next to the draft POs, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom import queries as bom_queries
from kosh.catalog import queries as part_queries
from kosh.catalog import service as part_service
from kosh.core import audit
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, RuleViolationError, field_error
from kosh.core.types import MAX_QTY
from kosh.locations import service as location_service
from kosh.production import queries as job_queries
from kosh.production import service as job_service
from kosh.production.models import Job
from kosh.purchasing import orders, suppliers
from kosh.purchasing import queries as purchasing_queries
from kosh.purchasing.models import PurchaseOrder, ReorderRule, Supplier, SupplierPart
from kosh.sales import service as sales_service


@dataclass(frozen=True)
class Suggestion:
    part_id: int
    part_number: str
    warehouse_id: int
    on_hand: int
    reserved: int
    job_demand: int
    on_order: int
    projected: int
    min_qty: int
    max_qty: int
    suggested_qty: int
    packs: int | None
    supplier_part_id: int | None
    supplier_code: str | None
    supplier_sku: str | None
    unit_price: Decimal | None
    currency: str | None
    action: str = "purchase"  # or "build": an assembly with an active BOM
    bom_id: int | None = None
    in_production: int = 0
    lead_time_days: int | None = None
    expected_date: date | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def round_to_packs(need: int, *, pack_size: int, min_order_qty: int) -> int:
    """At least `need` and the minimum order, in whole packs."""
    qty = max(need, min_order_qty, 1)
    packs = -(-qty // pack_size)
    return packs * pack_size


def round_up(qty: int, multiple: int | None) -> int:
    """`qty` rounded up to a whole number of `multiple` (unchanged without one)."""
    if not multiple or multiple <= 1:
        return qty
    return -(-qty // multiple) * multiple


async def put_rule(
    session: AsyncSession,
    *,
    part_number: str,
    warehouse_id: int,
    min_qty: int,
    max_qty: int,
    order_multiple: int | None = None,
    lead_time_days: int | None = None,
) -> ReorderRule:
    """Create or replace a rule (flushed, audited). 404 part_not_found / warehouse."""
    part = await part_service.get_part_by_number_or_raise(session, part_number)
    await location_service.get_warehouse_or_raise(session, warehouse_id)
    rule = await session.scalar(
        select(ReorderRule).where(
            ReorderRule.part_id == part.id, ReorderRule.warehouse_id == warehouse_id
        )
    )
    before = None if rule is None else _rule_view(rule)
    if rule is None:
        rule = ReorderRule(part_id=part.id, warehouse_id=warehouse_id)
        session.add(rule)
    rule.min_qty, rule.max_qty = min_qty, max_qty
    rule.order_multiple, rule.lead_time_days = order_multiple, lead_time_days
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "The rule was created by someone else meanwhile; try again.", code="rule_taken"
        ) from exc
    await audit.record(
        session,
        action="reorder_rule.set",
        entity_type="reorder_rule",
        entity_id=rule.id,
        before=before,
        after={"part_id": part.id, "warehouse_id": warehouse_id, **_rule_view(rule)},
    )
    return rule


def _rule_view(rule: ReorderRule) -> dict[str, int | None]:
    return {
        "min_qty": rule.min_qty,
        "max_qty": rule.max_qty,
        "order_multiple": rule.order_multiple,
        "lead_time_days": rule.lead_time_days,
    }


def _choose(offers: Sequence[SupplierPart], need: int) -> SupplierPart | None:
    if not offers:
        return None
    preferred = [o for o in offers if o.preferred]
    if preferred:
        return preferred[0]

    def cost(offer: SupplierPart) -> tuple[int, Decimal, int]:
        qty = round_to_packs(need, pack_size=offer.pack_size, min_order_qty=offer.min_order_qty)
        price = suppliers.price_for(offer, qty)
        return (price is None, (price or Decimal(0)) * qty, offer.id)

    return min(offers, key=cost)


def _lead_time(
    rule: ReorderRule | None, offer: SupplierPart | None, supplier: Supplier | None
) -> int | None:
    """The rule's lead time, else the offer's, else its supplier's (None for a build
    without one on its rule)."""
    if rule is not None and rule.lead_time_days is not None:
        return rule.lead_time_days
    if offer is not None and offer.lead_time_days is not None:
        return offer.lead_time_days
    return supplier.lead_time_days if supplier is not None else None


async def suggestions(
    session: AsyncSession, *, warehouse_id: int, today: date | None = None
) -> list[Suggestion]:
    """The parts to order for a warehouse (see the module docstring), by part number."""
    await location_service.get_warehouse_or_raise(session, warehouse_id)
    today = today or utcnow().date()
    limits: dict[int, tuple[int, int]] = {
        part.id: (part.reorder_point, part.reorder_point)
        for part in await part_queries.parts_with_reorder_point(session)
    }
    rules: dict[int, ReorderRule] = {}
    for rule in await session.scalars(
        select(ReorderRule).where(ReorderRule.warehouse_id == warehouse_id)
    ):
        limits[rule.part_id] = (rule.min_qty, rule.max_qty)
        rules[rule.part_id] = rule
    if not limits:
        return []
    ids = sorted(limits)
    held = await sales_service.on_hand(session, part_ids=ids, warehouse_id=warehouse_id)
    taken = await sales_service.reserved(session, part_ids=ids, warehouse_id=warehouse_id)
    coming = await purchasing_queries.on_order(session, part_ids=ids, warehouse_id=warehouse_id)
    jobs = await job_queries.job_demand(session, warehouse_id=warehouse_id)
    building = await job_queries.in_production(session, warehouse_id=warehouse_id, part_ids=ids)
    projection = {
        pid: held[pid] - taken[pid] - jobs.get(pid, 0) + coming[pid] + building.get(pid, 0)
        for pid in ids
    }
    short = [pid for pid in ids if projection[pid] < limits[pid][0]]
    if not short:
        return []
    boms = await bom_queries.active_bom_ids(session, short)
    parts = await part_queries.parts_by_ids(session, short)
    offers: dict[int, list[SupplierPart]] = {}
    for offer in await suppliers.offers_of_parts(session, short):
        offers.setdefault(offer.part_id, []).append(offer)
    supplier_ids = {o.supplier_id for found in offers.values() for o in found}
    by_id = {
        s.id: s
        for s in await session.scalars(select(Supplier).where(Supplier.id.in_(supplier_ids)))
    }
    found: list[Suggestion] = []
    for pid in short:
        part = parts.get(pid)
        if part is None or not part.active:
            continue
        low, high = limits[pid]
        projected = projection[pid]
        found_rule = rules.get(pid)
        need = round_up(
            max(high, low) - projected, found_rule.order_multiple if found_rule else None
        )
        bom_id = boms.get(pid)
        chosen = None if bom_id is not None else _choose(offers.get(pid, []), need)
        qty, packs, price = max(need, 1), None, part.unit_cost
        supplier = by_id.get(chosen.supplier_id) if chosen else None
        lead = _lead_time(found_rule, chosen, supplier)
        if chosen is not None:
            qty = round_to_packs(
                need, pack_size=chosen.pack_size, min_order_qty=chosen.min_order_qty
            )
            packs = qty // chosen.pack_size if chosen.pack_size > 1 else None
            price = suppliers.price_for(chosen, qty) or part.unit_cost
        found.append(
            Suggestion(
                part_id=pid,
                part_number=part.number,
                warehouse_id=warehouse_id,
                on_hand=held[pid],
                reserved=taken[pid],
                job_demand=jobs.get(pid, 0),
                on_order=coming[pid],
                projected=projected,
                min_qty=low,
                max_qty=high,
                suggested_qty=qty,
                packs=packs,
                supplier_part_id=chosen.id if chosen else None,
                supplier_code=supplier.code if supplier else None,
                supplier_sku=chosen.sku if chosen else None,
                unit_price=price,
                currency=supplier.currency if supplier else None,
                action="purchase" if bom_id is None else "build",
                bom_id=bom_id,
                in_production=building.get(pid, 0),
                lead_time_days=lead,
                expected_date=None if lead is None else today + timedelta(days=lead),
            )
        )
    found.sort(key=lambda s: s.part_number)
    return found


@dataclass(frozen=True)
class Planned:
    """What acting on suggestions made: draft POs (one per supplier) and planned jobs."""

    orders: list[PurchaseOrder] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)


JOB_PREFIX = "SUG-"


async def _job_number(session: AsyncSession, today: date) -> str:
    """SUG-<yymmdd>-<nnn>: the next free number of the day (a job number is unique)."""
    serial = 1
    while await job_service.job_number_taken(session, f"{JOB_PREFIX}{today:%y%m%d}-{serial:03d}"):
        serial += 1
    return f"{JOB_PREFIX}{today:%y%m%d}-{serial:03d}"


async def act(
    session: AsyncSession,
    *,
    warehouse_id: int,
    part_ids: Sequence[int] | None,
    prefix: str,
    today: date,
) -> Planned:
    """For the suggestions (of `part_ids` when given): draft POs, one per supplier, for the
    purchases that have a supplier (a price unknown everywhere is entered as 0 for the
    buyer to fill in), and one planned job per build (its active BOM, the shortfall).
    Purchases without a supplier are left out; a chosen suggestion over 1,000,000,000
    units refuses the step (422 suggestion_too_large). Joins the caller's transaction."""
    wanted = set(part_ids) if part_ids is not None else None
    grouped: dict[str, list[orders.NewLine]] = {}
    builds: list[Suggestion] = []
    for s in await suggestions(session, warehouse_id=warehouse_id, today=today):
        if wanted is not None and s.part_id not in wanted:
            continue
        if s.suggested_qty > MAX_QTY:
            raise RuleViolationError(
                f"{s.part_number}: {s.suggested_qty:,} units is more than one line or job "
                "may take; order it by hand.",
                code="suggestion_too_large",
                errors=[field_error(["part_ids"], f"{s.part_number} needs more than {MAX_QTY}")],
                details={"part_id": s.part_id, "suggested_qty": s.suggested_qty},
            )
        if s.action == "build":
            builds.append(s)
            continue
        if s.supplier_part_id is None:
            continue
        offer = await suppliers.load_offer(session, s.supplier_part_id)
        grouped.setdefault(offer.supplier.code, []).append(
            orders.NewLine(
                supplier_part=offer.supplier_part,
                qty=s.suggested_qty,
                packs=s.packs,
                unit_price=s.unit_price if s.unit_price is not None else Decimal(0),
                expected_date=s.expected_date,
            )
        )
    made = Planned()
    for code in sorted(grouped):
        supplier = await suppliers.get_supplier_by_code_or_raise(session, code)
        made.orders.append(
            await orders.add_order(
                session,
                supplier=supplier,
                warehouse_id=warehouse_id,
                lines=grouped[code],
                prefix=prefix,
                notes="Made from reorder suggestions.",
            )
        )
    for s in builds:
        made.jobs.append(
            await job_service.add_job(
                session,
                number=await _job_number(session, today),
                assembly_part_number=s.part_number,
                qty=s.suggested_qty,
                warehouse_id=warehouse_id,
                bom_id=s.bom_id,
                due_date=s.expected_date,
                notes="Planned from reorder suggestions.",
            )
        )
    return made
