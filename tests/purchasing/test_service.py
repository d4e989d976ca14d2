"""Purchasing use cases against the real database: suppliers, offers, the PO state machine,
on order, receipts (ledger rows and balances), reversals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.purchasing import queries as purchasing_queries
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.barcode import encode_ecia
from kosh.purchasing.models import PurchaseReceipt, SupplierPart
from kosh.purchasing.receiving import Bag
from kosh.purchasing.schemas import OrderLineIn, SupplierCreate, SupplierPartUpdate
from kosh.stock.models import Lot, StockTransaction
from tests.purchasing.factories import (
    a_po,
    a_supplier,
    an_offer,
    buying,
    ledger_units,
    line_state,
    order_status,
    receipt_units,
)
from tests.support.stock import a_part, all_balances, non_zero, replayed


async def test_supplier_code_is_unique(session: AsyncSession) -> None:
    # given
    await a_supplier(session, code="DIGIKEY")
    # when / then
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.create_supplier(
            session, data=SupplierCreate(code="DIGIKEY", name="Again")
        )
    assert caught.value.code == "supplier_code_taken"


async def test_one_preferred_offer_per_part_and_price_breaks(session: AsyncSession) -> None:
    # given: two suppliers offer one part, the first preferred
    part = await a_part(session)
    first = await an_offer(
        session, supplier_code=await a_supplier(session), part_number=part.number, preferred=True
    )
    # when: the second becomes preferred
    second = await an_offer(
        session,
        supplier_code=await a_supplier(session),
        part_number=part.number,
        preferred=True,
        prices=[(1, "1.00"), (10, "0.80")],
    )
    # then
    rows = dict((await session.execute(select(SupplierPart.id, SupplierPart.preferred))).all())
    assert rows == {first: False, second: True}
    # and: changing the breaks alone bumps the version
    sp = await session.get(SupplierPart, second)
    assert sp is not None
    version = sp.version
    updated = await purchasing_service.update_supplier_part(
        session,
        second,
        data=SupplierPartUpdate(version=version, prices=[{"min_qty": 5, "unit_price": "0.5"}]),  # type: ignore[list-item]
    )
    assert updated.version == version + 1
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.update_supplier_part(
            session, second, data=SupplierPartUpdate(version=version, pack_size=10)
        )
    assert caught.value.code == "stale_version"


async def test_order_numbering_packs_and_price_breaks(session: AsyncSession) -> None:
    # given: a reel of 1000
    b = await buying(session, pack_size=1000)
    # when: two reels and 1000 base units
    order = await purchasing_service.create_order(
        session,
        supplier_code=b.supplier_code,
        warehouse_id=b.site.warehouse_id,
        lines=[
            OrderLineIn(supplier_sku=b.sku, packs=2),
            OrderLineIn(part_number=b.site.part_number, qty=1000),
        ],
        prefix="PO-",
    )
    # then
    assert order.number == f"PO-{order.id:06d}"
    assert order.status == "draft"
    assert [(line.qty, line.packs) for line in order.lines] == [(2000, 2), (1000, 1)]
    assert [line.unit_price for line in order.lines] == [Decimal("0.3000"), Decimal("0.3000")]
    # and: a draft is not on order
    assert await purchasing_queries.on_order(
        session, part_ids=[b.site.part_id], warehouse_id=b.site.warehouse_id
    ) == {b.site.part_id: 0}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"supplier_sku": "NOPE", "qty": 1}, "supplier_part_not_found"),
        ({"part_number": "NO-SUCH-PART", "qty": 1}, "part_not_found"),
        ({"qty": 1500}, "not_whole_packs"),
    ],
)
async def test_bad_lines_refuse_the_whole_order(
    session: AsyncSession, line: dict[str, object], code: str
) -> None:
    # given
    b = await buying(session, pack_size=1000)
    fields = line if "part_number" in line else {"supplier_sku": b.sku, **line}
    # when / then
    with pytest.raises((NotFoundError, RuleViolationError)) as caught:
        await purchasing_service.create_order(
            session,
            supplier_code=b.supplier_code,
            warehouse_id=b.site.warehouse_id,
            lines=[OrderLineIn(supplier_sku=b.sku, packs=1), OrderLineIn(**fields)],  # type: ignore[arg-type]
        )
    assert caught.value.code == code
    assert await purchasing_queries.count_open_orders(session) == 0


async def test_wrong_currency_is_refused(session: AsyncSession) -> None:
    b = await buying(session)
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.create_order(
            session, supplier_code=b.supplier_code, warehouse_id=b.site.warehouse_id, currency="USD"
        )
    assert caught.value.code == "currency_mismatch"


async def test_placed_order_is_on_order_until_received_or_closed(session: AsyncSession) -> None:
    # given
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 300, expected=date(2026, 12, 14))
    part, wh = b.site.part_id, b.site.warehouse_id
    # then: on order, with the PO and its date
    assert await purchasing_queries.on_order(session, part_ids=[part], warehouse_id=wh) == {
        part: 300
    }
    [incoming] = await purchasing_queries.incoming(
        session, part_ids=[part], due_by=date(2026, 12, 14)
    )
    assert (incoming.order_number, incoming.qty, incoming.expected_date) == (
        number,
        300,
        date(2026, 12, 14),
    )
    assert (
        await purchasing_queries.incoming(session, part_ids=[part], due_by=date(2026, 12, 13)) == []
    )
    # when: 100 arrive, then the rest is closed short
    await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.site.bin_ids[0],
        bags=[Bag(line_id=line_id, qty=100)],
    )
    assert await purchasing_queries.on_order(session, part_ids=[part], warehouse_id=wh) == {
        part: 200
    }
    await purchasing_service.close_short(session, order_id=order_id, reason="discontinued")
    # then
    assert await order_status(session, order_id) == "closed_short"
    assert await purchasing_queries.on_order(session, part_ids=[part], warehouse_id=wh) == {part: 0}
    actions = set(await session.scalars(select(AuditEvent.action)))
    assert {
        "purchase_order.create",
        "purchase_order.place",
        "purchase_order.receive",
        "purchase_order.close_short",
    } <= actions


async def test_receipt_writes_ledger_lot_balance_and_cost(session: AsyncSession) -> None:
    # given: 100 ordered at 0.40 (the 100 break)
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 100)
    # when: 60 arrive into goods-in
    order, [booked] = await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.receiving_id,
        bags=[Bag(line_id=line_id, qty=60, lot_code="L1", date_code="2312", country="CN")],
    )
    # then: one receive ledger row from nowhere, referencing the PO
    [entry] = list(
        await session.scalars(select(StockTransaction).where(StockTransaction.reference == number))
    )
    assert (entry.kind, entry.qty, entry.from_location_id, entry.to_location_id) == (
        "receive",
        60,
        None,
        b.receiving_id,
    )
    assert entry.id == booked.receipt.transaction_id
    lot = await session.get(Lot, booked.lot.id)
    assert lot is not None
    assert (lot.date_code, lot.reference, lot.part_id) == ("2312", number, b.site.part_id)
    assert (lot.lot_code, lot.country_of_origin) == ("L1", "CN")
    assert (await all_balances(session))[(lot.id, b.receiving_id)] == 60
    assert await replayed(session) == non_zero(await all_balances(session))
    assert (await line_state(session, line_id)).qty_received == 60
    assert order.status == "partially_received"
    part = await part_service.get_part_or_raise(session, b.site.part_id)
    await session.refresh(part)
    assert part.unit_cost == Decimal("0.4000")
    # when: the remaining 40
    order, _ = await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.site.bin_ids[0],
        bags=[Bag(line_id=line_id, qty=40)],
    )
    # then
    assert order.status == "received"
    assert await ledger_units(session, number) == 100 == await receipt_units(session, order_id)


async def test_receipt_by_distributor_label(session: AsyncSession) -> None:
    # given
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 500)
    label = encode_ecia(
        [
            ("P", b.sku),
            ("1P", b.mpn),
            ("K", number),
            ("1T", "LOT7"),
            ("10D", "2331"),
            ("4L", "MY"),
            ("Q", "200"),
        ]
    )
    # when
    _, [booked] = await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(barcode=label)]
    )
    # then: the label's qty, lot, date code and country are booked
    receipt = booked.receipt
    assert (receipt.line_id, receipt.qty, receipt.lot_code, receipt.date_code, receipt.country) == (
        line_id,
        200,
        "LOT7",
        "2331",
        "MY",
    )
    assert receipt.label_format == "ecia"
    # and: the PCN itself carries them (traceability outlives the receipt row)
    lot = await session.get(Lot, booked.lot.id, populate_existing=True)
    assert lot is not None
    assert (lot.date_code, lot.lot_code, lot.country_of_origin, lot.supplier) == (
        "2331",
        "LOT7",
        "MY",
        f"Supplier {b.supplier_code}",
    )


@pytest.mark.parametrize(
    ("pairs", "code"),
    [
        ([("1P", "OTHER-MPN"), ("Q", "5")], "barcode_no_line"),
        ([("1P", "{mpn}"), ("K", "PO-999999"), ("Q", "5")], "barcode_other_po"),
        ([("1P", "{mpn}")], "qty_required"),
    ],
)
async def test_label_problems_change_nothing(
    session: AsyncSession, pairs: list[tuple[str, str]], code: str
) -> None:
    # given
    b = await buying(session)
    order_id, number, _ = await a_po(session, b, 50)
    label = encode_ecia([(di, value.format(mpn=b.mpn)) for di, value in pairs])
    # when / then
    with pytest.raises((RuleViolationError, ValidationError)) as caught:
        await purchasing_service.receive(
            session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(barcode=label)]
        )
    assert caught.value.code == code
    assert await ledger_units(session, number) == 0
    assert await order_status(session, order_id) == "placed"


async def test_label_for_another_part_than_the_line(session: AsyncSession) -> None:
    # given: a PO with two lines, the label is for the first
    b = await buying(session)
    other = await a_part(session)
    sku2 = "OTHER-SKU"
    await an_offer(session, supplier_code=b.supplier_code, part_number=other.number, sku=sku2)
    order = await purchasing_service.create_order(
        session,
        supplier_code=b.supplier_code,
        warehouse_id=b.site.warehouse_id,
        lines=[OrderLineIn(supplier_sku=b.sku, qty=10), OrderLineIn(supplier_sku=sku2, qty=10)],
    )
    await purchasing_service.place(session, order_id=order.id)
    second = order.lines[1].id
    # when / then
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.receive(
            session,
            order_id=order.id,
            location_id=b.receiving_id,
            bags=[Bag(line_id=second, barcode=encode_ecia([("1P", b.mpn), ("Q", "5")]))],
        )
    assert caught.value.code == "barcode_part_mismatch"


async def test_over_receipt_is_refused_unless_allowed(session: AsyncSession) -> None:
    # given
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 100)
    # when / then: 101 with no tolerance
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=b.receiving_id,
            bags=[Bag(line_id=line_id, qty=101)],
        )
    assert caught.value.code == "over_receipt"
    assert caught.value.details["allowed"] == 100
    assert await ledger_units(session, number) == 0
    # and: a 5 % tolerance lets 105 through, not 106
    with pytest.raises(ConflictError):
        await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=b.receiving_id,
            bags=[Bag(line_id=line_id, qty=106)],
            tolerance=Decimal("0.05"),
        )
    await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.receiving_id,
        bags=[Bag(line_id=line_id, qty=105)],
        tolerance=Decimal("0.05"),
    )
    # and: a manager may allow more
    _, [booked] = await purchasing_service.receive(
        session,
        order_id=order_id,
        location_id=b.receiving_id,
        bags=[Bag(line_id=line_id, qty=50)],
        allow_over_receipt=True,
    )
    assert booked.receipt.over_receipt is True
    assert (await line_state(session, line_id)).qty_received == 155
    assert await order_status(session, order_id) == "received"


async def test_several_bags_all_or_none(session: AsyncSession) -> None:
    # given
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 100)
    # when: the second bag would over-receive
    with pytest.raises(ConflictError):
        await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=b.receiving_id,
            bags=[Bag(line_id=line_id, qty=60), Bag(line_id=line_id, qty=60)],
        )
    # then: nothing at all was booked
    assert await ledger_units(session, number) == 0
    assert (await line_state(session, line_id)).qty_received == 0
    assert list(await session.scalars(select(PurchaseReceipt))) == []


@pytest.mark.parametrize("state", ["draft", "cancelled", "closed_short"])
async def test_cannot_receive_unless_placed(session: AsyncSession, state: str) -> None:
    # given: an order of 10 that is a draft, cancelled, or 4 received and closed short
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 10, place=state != "draft")
    received, receipt_id = 0, 0
    if state == "cancelled":
        await purchasing_service.cancel(session, order_id=order_id)
    if state == "closed_short":
        _, [booked] = await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=b.receiving_id,
            bags=[Bag(line_id=line_id, qty=4)],
        )
        received, receipt_id = 4, booked.receipt.id
        await purchasing_service.close_short(session, order_id=order_id, reason="discontinued")
    # when / then: a bag is refused, even one a manager allows over
    for allow in (False, True):
        with pytest.raises(ConflictError) as caught:
            await purchasing_service.receive(
                session,
                order_id=order_id,
                location_id=b.receiving_id,
                bags=[Bag(line_id=line_id, qty=1)],
                allow_over_receipt=allow,
            )
        assert caught.value.code == "po_not_receivable"
    # and: nothing moved
    assert (await line_state(session, line_id)).qty_received == received
    assert await ledger_units(session, number) == received == await receipt_units(session, order_id)
    assert await order_status(session, order_id) == state
    if state == "closed_short":
        # and: its receipts cannot be reversed any more either
        with pytest.raises(ConflictError) as refused:
            await purchasing_service.reverse_receipt(
                session, order_id=order_id, receipt_id=receipt_id, reason="late"
            )
        assert refused.value.code == "po_not_reversible"
        assert await ledger_units(session, number) == 4


async def test_location_of_another_warehouse_is_refused(session: AsyncSession) -> None:
    b = await buying(session)
    other = await buying(session)
    order_id, _, line_id = await a_po(session, b, 10)
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.receive(
            session,
            order_id=order_id,
            location_id=other.receiving_id,
            bags=[Bag(line_id=line_id, qty=1)],
        )
    assert caught.value.code == "location_unusable"


async def test_reversal_writes_a_reversing_row_and_reopens_the_line(session: AsyncSession) -> None:
    # given: fully received
    b = await buying(session)
    order_id, number, line_id = await a_po(session, b, 30)
    _, [booked] = await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(line_id=line_id, qty=30)]
    )
    assert await order_status(session, order_id) == "received"
    # when
    order, receipt = await purchasing_service.reverse_receipt(
        session, order_id=order_id, receipt_id=booked.receipt.id, reason="wrong part delivered"
    )
    # then: a reversing ledger row, nothing deleted, balance back to 0, line open again
    kinds = list(
        await session.scalars(
            select(StockTransaction.kind)
            .where(StockTransaction.reference == number)
            .order_by(StockTransaction.id)
        )
    )
    assert kinds == ["receive", "receipt_reversal"]
    assert receipt.reversed_at is not None
    assert (await all_balances(session))[(booked.lot.id, b.receiving_id)] == 0
    assert await replayed(session) == non_zero(await all_balances(session))
    assert (await line_state(session, line_id)).qty_received == 0
    assert order.status == "placed"
    assert await ledger_units(session, number) == 0 == await receipt_units(session, order_id)
    # and: twice is refused
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.reverse_receipt(
            session, order_id=order_id, receipt_id=booked.receipt.id, reason="again"
        )
    assert caught.value.code == "already_reversed"


async def test_reversal_refused_once_the_stock_moved(session: AsyncSession) -> None:
    from kosh.stock import service as stock_service

    b = await buying(session)
    order_id, _, line_id = await a_po(session, b, 30)
    _, [booked] = await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(line_id=line_id, qty=30)]
    )
    await stock_service.transfer(
        session,
        pcn=booked.lot.pcn,
        from_location_id=b.receiving_id,
        to_location_id=b.site.bin_ids[0],
        qty=10,
    )
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.reverse_receipt(
            session, order_id=order_id, receipt_id=booked.receipt.id, reason="late"
        )
    assert caught.value.code == "stock_moved"
    assert (await line_state(session, line_id)).qty_received == 30


async def test_state_machine_refusals(session: AsyncSession) -> None:
    b = await buying(session)
    order_id, _, line_id = await a_po(session, b, 10)
    with pytest.raises(ConflictError) as caught:
        await purchasing_service.place(session, order_id=order_id)
    assert caught.value.code == "invalid_transition"
    with pytest.raises(ConflictError):
        await purchasing_service.close_short(session, order_id=order_id)
    with pytest.raises(ConflictError) as stale:
        await purchasing_service.cancel(session, order_id=order_id, version=1)
    assert stale.value.code == "stale_version"
    await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(line_id=line_id, qty=1)]
    )
    with pytest.raises(ConflictError):
        await purchasing_service.cancel(session, order_id=order_id)
    empty = await purchasing_service.create_order(
        session, supplier_code=b.supplier_code, warehouse_id=b.site.warehouse_id
    )
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.place(session, order_id=empty.id)
    assert caught.value.code == "no_lines"


async def test_health_section_reports_receipt_drift(session: AsyncSession) -> None:
    from sqlalchemy import update

    from kosh.purchasing.health import purchasing_section
    from kosh.purchasing.models import PurchaseOrderLine

    # given: a partly received PO
    b = await buying(session)
    order_id, _, line_id = await a_po(session, b, 30, expected=date(2000, 1, 1))
    await purchasing_service.receive(
        session, order_id=order_id, location_id=b.receiving_id, bags=[Bag(line_id=line_id, qty=5)]
    )
    check = await purchasing_section(session)
    assert check.ok
    assert (check.detail["open_orders"], check.detail["overdue_orders"]) == (1, 1)
    # when: someone edits a received qty behind KOSH's back
    await session.execute(
        update(PurchaseOrderLine).where(PurchaseOrderLine.id == line_id).values(qty_received=6)
    )
    # then
    check = await purchasing_section(session)
    assert not check.ok
    assert check.detail["drifting_lines"] == [line_id]
    await session.rollback()


async def test_import_marking_two_offers_preferred_keeps_the_last(session: AsyncSession) -> None:
    from kosh.purchasing import csvfile

    # given: two suppliers, one part
    part = await a_part(session)
    first, second = await a_supplier(session), await a_supplier(session)
    text = (
        "supplier_code,part_number,sku,pack_size,preferred,prices\n"
        f"{first},{part.number},A-1,10,true,1:0.5;100:0.4\n"
        f"{second},{part.number},B-1,1,true,1:0.45\n"
    )
    # when: imported, then imported again (both rows update)
    assert await purchasing_service.import_supplier_parts(session, rows=csvfile.parse(text)) == (
        2,
        0,
    )
    assert await purchasing_service.import_supplier_parts(session, rows=csvfile.parse(text)) == (
        0,
        2,
    )
    # then: one preferred offer, the last row's
    rows = (
        await session.execute(
            select(SupplierPart.sku, SupplierPart.preferred).execution_options(
                populate_existing=True
            )
        )
    ).all()
    assert sorted(rows) == [("A-1", False), ("B-1", True)]


async def test_csv_import_refuses_bad_rows_naming_them(session: AsyncSession) -> None:
    from kosh.purchasing import csvfile

    text = "supplier_code,part_number,sku,pack_size,prices\nS,P,K,²,1:x\nS,P\n"
    with pytest.raises(ValidationError) as caught:
        csvfile.parse(text)
    locs = [e["loc"] for e in caught.value.errors]
    assert ["csv", 2, "pack_size"] in locs
    assert any(loc[:2] == ["csv", 3] for loc in locs)
