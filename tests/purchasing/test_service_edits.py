"""Purchasing use cases that change what exists: suppliers, offers re-imported, draft and
placed orders edited or extended, reorder suggestions turned into draft orders, and the
inactive warehouse refused on order creation. Against the real database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError
from kosh.core.models import AuditEvent
from kosh.locations import service as location_service
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.models import (
    PurchaseOrder,
    PurchaseOrderLine,
    Supplier,
    SupplierPart,
    SupplierPrice,
)
from kosh.purchasing.schemas import (
    OrderLineIn,
    PriceBreak,
    SupplierPartCreate,
    SupplierUpdate,
)
from tests.purchasing.factories import a_po, a_supplier, an_offer, buying
from tests.support.stock import a_part


async def _audit(session: AsyncSession, action: str) -> list[AuditEvent]:
    rows = await session.scalars(
        select(AuditEvent)
        .where(AuditEvent.action == action)
        .order_by(AuditEvent.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _supplier(session: AsyncSession, code: str) -> Supplier:
    supplier = await session.scalar(
        select(Supplier).where(Supplier.code == code).execution_options(populate_existing=True)
    )
    assert supplier is not None
    return supplier


async def _order(session: AsyncSession, order_id: int) -> PurchaseOrder:
    order = await session.get(PurchaseOrder, order_id, populate_existing=True)
    assert order is not None
    return order


async def _lines(session: AsyncSession, order_id: int) -> list[tuple[int, int, int, Decimal]]:
    """(line_no, part_id, qty, unit_price) of an order's lines, as stored."""
    rows = await session.execute(
        select(
            PurchaseOrderLine.line_no,
            PurchaseOrderLine.part_id,
            PurchaseOrderLine.qty,
            PurchaseOrderLine.unit_price,
        )
        .where(PurchaseOrderLine.order_id == order_id)
        .order_by(PurchaseOrderLine.line_no)
    )
    return [(no, part, qty, Decimal(price)) for no, part, qty, price in rows.all()]


async def _breaks(session: AsyncSession, supplier_part_id: int) -> list[tuple[int, Decimal]]:
    rows = await session.execute(
        select(SupplierPrice.min_qty, SupplierPrice.unit_price)
        .where(SupplierPrice.supplier_part_id == supplier_part_id)
        .order_by(SupplierPrice.min_qty)
    )
    return [(q, Decimal(p)) for q, p in rows.all()]


# --- suppliers ------------------------------------------------------------------------


async def test_update_supplier_changes_and_deactivates_with_audit(session: AsyncSession) -> None:
    # given
    code = await a_supplier(session, code="MOUSER")
    supplier = await _supplier(session, code)
    supplier_id, version = supplier.id, supplier.version
    # when: renamed and deactivated at the version read
    await purchasing_service.update_supplier(
        session,
        supplier_id,
        data=SupplierUpdate(version=version, name="Mouser Electronics", active=False),
    )
    # then: stored, version bumped, one audit row with before and after
    stored = await _supplier(session, code)
    assert (stored.name, stored.active, stored.version) == (
        "Mouser Electronics",
        False,
        version + 1,
    )
    [event] = await _audit(session, "supplier.update")
    assert (event.entity_type, event.entity_id) == ("supplier", str(supplier_id))
    assert event.before is not None
    assert event.after is not None
    assert (event.before["name"], event.before["active"]) == ("Supplier MOUSER", True)
    assert (event.after["name"], event.after["active"]) == ("Mouser Electronics", False)
    # and: an inactive supplier takes no new order
    b = await buying(session)
    with pytest.raises(RuleViolationError) as inactive:
        await purchasing_service.create_order(
            session, supplier_code=code, warehouse_id=b.site.warehouse_id
        )
    assert inactive.value.code == "supplier_inactive"


async def test_update_supplier_refuses_a_stale_version_and_an_unknown_id(
    session: AsyncSession,
) -> None:
    # given: a supplier changed once since version 1 was read
    code = await a_supplier(session)
    supplier = await _supplier(session, code)
    supplier_id, first = supplier.id, supplier.version
    await purchasing_service.update_supplier(
        session, supplier_id, data=SupplierUpdate(version=first, notes="Net 30")
    )
    # when / then: the old version is refused and nothing changes
    with pytest.raises(ConflictError) as stale:
        await purchasing_service.update_supplier(
            session, supplier_id, data=SupplierUpdate(version=first, name="Lost update")
        )
    assert stale.value.code == "stale_version"
    stored = await _supplier(session, code)
    assert (stored.name, stored.notes, stored.version) == (f"Supplier {code}", "Net 30", first + 1)
    assert len(await _audit(session, "supplier.update")) == 1
    # and: an unknown supplier is 404
    with pytest.raises(NotFoundError) as missing:
        await purchasing_service.update_supplier(
            session, supplier_id + 1000, data=SupplierUpdate(version=1, name="Nobody")
        )
    assert missing.value.code == "supplier_not_found"


# --- import ---------------------------------------------------------------------------


async def test_import_updates_an_existing_offer_replacing_or_keeping_its_prices(
    session: AsyncSession,
) -> None:
    # given: two offers of one supplier, each with its price breaks
    code = await a_supplier(session)
    part = await a_part(session)
    other = await a_part(session)
    priced = await an_offer(
        session, supplier_code=code, part_number=part.number, sku="SKU-A", prices=[(1, "0.50")]
    )
    kept = await an_offer(
        session,
        supplier_code=code,
        part_number=other.number,
        sku="SKU-B",
        prices=[(1, "2.00"), (10, "1.80")],
    )
    versions = dict((await session.execute(select(SupplierPart.id, SupplierPart.version))).all())
    # when: one row brings new prices, one brings none, one is a new SKU
    created, updated = await purchasing_service.import_supplier_parts(
        session,
        rows=[
            SupplierPartCreate(
                supplier_code=code,
                part_number=part.number,
                sku="SKU-A",
                prices=[
                    PriceBreak(min_qty=1, unit_price=Decimal("0.45")),
                    PriceBreak(min_qty=50, unit_price=Decimal("0.40")),
                ],
            ),
            SupplierPartCreate(
                supplier_code=code, part_number=other.number, sku="SKU-B", pack_size=10
            ),
            SupplierPartCreate(supplier_code=code, part_number=other.number, sku="SKU-C"),
        ],
    )
    # then
    assert (created, updated) == (1, 2)
    assert await _breaks(session, priced) == [(1, Decimal("0.45")), (50, Decimal("0.40"))]
    assert await _breaks(session, kept) == [(1, Decimal("2.00")), (10, Decimal("1.80"))]
    rows = await session.execute(
        select(SupplierPart.id, SupplierPart.pack_size, SupplierPart.version).execution_options(
            populate_existing=True
        )
    )
    state = {sp_id: (pack, version) for sp_id, pack, version in rows.all()}
    assert state[priced] == (1, versions[priced] + 1)
    assert state[kept] == (10, versions[kept] + 1)
    assert len(state) == 3
    events = await _audit(session, "supplier_part.update")
    assert {e.entity_id for e in events} == {str(priced), str(kept)}
    assert len(events) == 2
    by_id = {e.entity_id: e for e in events}
    kept_event = by_id[str(kept)]
    assert kept_event.before is not None
    assert kept_event.after is not None
    assert kept_event.before["prices"] == kept_event.after["prices"]
    assert (kept_event.before["pack_size"], kept_event.after["pack_size"]) == (1, 10)


# --- orders ---------------------------------------------------------------------------


async def test_create_order_refuses_an_inactive_warehouse(session: AsyncSession) -> None:
    # given: the warehouse is deactivated
    b = await buying(session)
    warehouse = await location_service.get_warehouse_or_raise(session, b.site.warehouse_id)
    warehouse.active = False
    await session.commit()
    # when / then
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.create_order(
            session,
            supplier_code=b.supplier_code,
            warehouse_id=b.site.warehouse_id,
            lines=[OrderLineIn(supplier_sku=b.sku, qty=10)],
        )
    assert caught.value.code == "warehouse_inactive"
    assert await session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
    assert await session.scalar(select(func.count()).select_from(PurchaseOrderLine)) == 0


async def test_update_draft_order_changes_notes_and_replaces_lines(session: AsyncSession) -> None:
    # given: a draft of 100 of the site's part, and a second offered part
    b = await buying(session)
    order_id, number, _ = await a_po(session, b, 100, place=False)
    second = await a_part(session)
    await an_offer(
        session,
        supplier_code=b.supplier_code,
        part_number=second.number,
        sku="SECOND-SKU",
        prices=[(1, "1.25")],
    )
    version = (await _order(session, order_id)).version
    # when: notes, expected date and the lines change together
    await purchasing_service.update_order(
        session,
        order_id,
        version=version,
        changes={"notes": "Rush", "expected_date": date(2031, 5, 1)},
        lines=[
            OrderLineIn(supplier_sku=b.sku, qty=1000),
            OrderLineIn(supplier_sku="SECOND-SKU", qty=4),
        ],
    )
    # then: the old line is gone, the new ones are numbered from 1 and priced by break
    order = await _order(session, order_id)
    assert (order.status, order.notes, order.expected_date) == ("draft", "Rush", date(2031, 5, 1))
    assert order.version == version + 1  # one edit, one bump (lines and fields together)
    assert await _lines(session, order_id) == [
        (1, b.site.part_id, 1000, Decimal("0.30")),
        (2, second.id, 4, Decimal("1.25")),
    ]
    [event] = await _audit(session, "purchase_order.update")
    assert (event.entity_type, event.entity_id) == ("purchase_order", number)
    # and: the version read before the edit is now stale; nothing more changes
    with pytest.raises(ConflictError) as stale:
        await purchasing_service.update_order(
            session, order_id, version=version, changes={"notes": "Lost"}
        )
    assert stale.value.code == "stale_version"
    assert (await _order(session, order_id)).notes == "Rush"
    assert len(await _audit(session, "purchase_order.update")) == 1


async def test_replacing_only_a_drafts_lines_bumps_its_version_once(
    session: AsyncSession,
) -> None:
    # given: a draft at version v
    b = await buying(session)
    order_id, _, _ = await a_po(session, b, 100, place=False)
    version = (await _order(session, order_id)).version
    # when: only its lines are replaced, twice in a row at the version just read
    for qty in (300, 400):
        await purchasing_service.update_order(
            session,
            order_id,
            version=version,
            changes={},
            lines=[OrderLineIn(supplier_sku=b.sku, qty=qty)],
        )
        # then: one bump per edit, and the next edit at the new version is accepted
        order = await _order(session, order_id)
        assert order.version == version + 1
        version = order.version
    assert await _lines(session, order_id) == [(1, b.site.part_id, 400, Decimal("0.40"))]
    # and: adding lines bumps it once too
    await purchasing_service.add_lines(
        session, order_id, version=version, lines=[OrderLineIn(supplier_sku=b.sku, qty=5)]
    )
    assert (await _order(session, order_id)).version == version + 1


async def test_update_placed_order_keeps_its_lines_locked(session: AsyncSession) -> None:
    # given: a placed order of 100
    b = await buying(session)
    order_id, _, _ = await a_po(session, b, 100)
    version = (await _order(session, order_id)).version
    # when / then: new lines are refused, and nothing changes (notes included)
    with pytest.raises(RuleViolationError) as locked:
        await purchasing_service.update_order(
            session,
            order_id,
            version=version,
            changes={"notes": "Not this"},
            lines=[OrderLineIn(supplier_sku=b.sku, qty=5)],
        )
    assert locked.value.code == "lines_locked"
    order = await _order(session, order_id)
    assert (order.notes, order.version) == ("", version)
    assert await _lines(session, order_id) == [(1, b.site.part_id, 100, Decimal("0.40"))]
    assert await _audit(session, "purchase_order.update") == []
    # and: its notes alone may still change
    await purchasing_service.update_order(
        session, order_id, version=version, changes={"notes": "Call before delivery"}
    )
    order = await _order(session, order_id)
    assert (order.status, order.notes, order.version) == (
        "placed",
        "Call before delivery",
        version + 1,
    )
    assert len(await _audit(session, "purchase_order.update")) == 1


async def test_add_lines_to_a_draft_numbers_them_after_the_last(session: AsyncSession) -> None:
    # given: a draft with one line
    b = await buying(session)
    order_id, number, _ = await a_po(session, b, 100, place=False)
    version = (await _order(session, order_id)).version
    # when
    await purchasing_service.add_lines(
        session,
        order_id,
        version=version,
        lines=[OrderLineIn(part_number=b.site.part_number, qty=10)],
    )
    # then: line 2, priced from the preferred offer's first break
    assert await _lines(session, order_id) == [
        (1, b.site.part_id, 100, Decimal("0.40")),
        (2, b.site.part_id, 10, Decimal("0.50")),
    ]
    assert (await _order(session, order_id)).version == version + 1
    [event] = await _audit(session, "purchase_order.add_lines")
    assert (event.entity_type, event.entity_id) == ("purchase_order", number)
    # and: the old version is stale
    with pytest.raises(ConflictError) as stale:
        await purchasing_service.add_lines(
            session, order_id, version=version, lines=[OrderLineIn(supplier_sku=b.sku, qty=1)]
        )
    assert stale.value.code == "stale_version"
    assert len(await _lines(session, order_id)) == 2


async def test_add_lines_refused_once_placed_and_for_an_unknown_sku(session: AsyncSession) -> None:
    # given: a draft, and the same supplier's placed order
    b = await buying(session)
    draft_id, _, _ = await a_po(session, b, 100, place=False)
    placed_id, _, _ = await a_po(session, b, 100)
    # when / then: a placed order takes no lines
    with pytest.raises(RuleViolationError) as locked:
        await purchasing_service.add_lines(
            session, placed_id, version=None, lines=[OrderLineIn(supplier_sku=b.sku, qty=5)]
        )
    assert locked.value.code == "lines_locked"
    assert len(await _lines(session, placed_id)) == 1
    # and: a line that does not resolve adds nothing to the draft
    with pytest.raises(NotFoundError) as unknown:
        await purchasing_service.add_lines(
            session, draft_id, version=None, lines=[OrderLineIn(supplier_sku="NO-SUCH", qty=5)]
        )
    assert unknown.value.code == "supplier_part_not_found"
    assert len(await _lines(session, draft_id)) == 1
    assert await _audit(session, "purchase_order.add_lines") == []


# --- reorder suggestions --------------------------------------------------------------


async def test_order_suggestions_make_one_draft_per_supplier(session: AsyncSession) -> None:
    # given: keep 100 to 200 of the site's part (none in stock), and of a part nobody sells
    b = await buying(session)
    orphan = await a_part(session)
    for number in (b.site.part_number, orphan.number):
        await purchasing_service.set_reorder_rule(
            session, part_number=number, warehouse_id=b.site.warehouse_id, min_qty=100, max_qty=200
        )
    # when
    made = await purchasing_service.order_suggestions(
        session, warehouse_id=b.site.warehouse_id, prefix="SUG-"
    )
    # then: one draft, for the supplier of the part, topping up to the max at its break
    assert (len(made.orders), made.jobs) == (1, [])
    order_id = made.orders[0].id
    order = await _order(session, order_id)
    supplier = await _supplier(session, b.supplier_code)
    assert (order.status, order.supplier_id, order.warehouse_id) == (
        "draft",
        supplier.id,
        b.site.warehouse_id,
    )
    assert order.number.startswith("SUG-")
    assert order.notes == "Made from reorder suggestions."
    assert await _lines(session, order_id) == [(1, b.site.part_id, 200, Decimal("0.40"))]
    assert await session.scalar(select(func.count()).select_from(PurchaseOrder)) == 1
    [event] = await _audit(session, "purchase_order.create")
    assert event.entity_id == order.number
    # and: parts left out by `part_ids` make no order
    assert (
        await purchasing_service.order_suggestions(
            session, warehouse_id=b.site.warehouse_id, part_ids=[orphan.id]
        )
    ).orders == []
    assert await session.scalar(select(func.count()).select_from(PurchaseOrder)) == 1


async def test_order_suggestions_for_an_unknown_warehouse_is_404(session: AsyncSession) -> None:
    # given: no warehouse 424242; when / then
    with pytest.raises(NotFoundError) as caught:
        await purchasing_service.order_suggestions(session, warehouse_id=424242)
    assert caught.value.code == "warehouse_not_found"
    assert await session.scalar(select(func.count()).select_from(PurchaseOrder)) == 0
