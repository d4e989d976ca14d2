"""Document use cases, given / when / then, asserting ledger rows AND balances."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.documents import service as document_service
from kosh.documents.service import LineRequest
from kosh.stock import verify as stock_verify
from kosh.stock.errors import InsufficientStockError
from kosh.stock.models import Lot, StockTransaction
from tests.support.stock import (
    Site,
    a_location,
    a_part,
    a_site,
    a_warehouse,
    all_balances,
    balances,
    ledger,
    non_zero,
    replayed,
    stock_in,
)


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=3)


async def _audit_actions(session: AsyncSession, number: str) -> list[str]:
    rows = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == number).order_by(AuditEvent.id)
    )
    return list(rows)


async def _clean_ledger(session: AsyncSession) -> None:
    current = await all_balances(session)
    assert min(current.values(), default=0) >= 0
    assert await replayed(session) == non_zero(current)
    report = await stock_verify.verify(session)
    assert report.ok, report.differences
    assert report.drift_count == 0


# --- transfer -------------------------------------------------------------------------


async def test_transfer_document_moves_every_line_with_the_number_as_reference(
    session: AsyncSession, site: Site
) -> None:
    # given two PCNs in bin 1 and another warehouse
    a = await stock_in(session, site.part_number, site.bin_ids[0], 100)
    b = await stock_in(session, site.part_number, site.bin_ids[0], 50)
    other = await a_warehouse(session)
    far = await a_location(session, other, code="FAR-1")
    far_id = far.id
    document = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(pcn=a.pcn, qty=30, from_location_id=site.bin_ids[0], to_location_id=far_id),
            LineRequest(
                pcn=b.pcn, qty=50, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            ),
        ],
    )
    assert document.number == f"TR-{document.id:06d}"
    assert document.status == "draft"
    assert len(await ledger(session)) == 2  # only the receipts

    # when
    posted = await document_service.post_document(
        session, document_id=document.id, version=document.version
    )

    # then
    assert posted.document.status == "posted"
    assert posted.movements == 2
    assert await balances(session, a.id) == {site.bin_ids[0]: 70, far_id: 30}
    assert await balances(session, b.id) == {site.bin_ids[0]: 0, site.bin_ids[1]: 50}
    moved = [e for e in await ledger(session) if e.kind == "transfer"]
    assert [(e.lot_id, e.qty, e.reference) for e in moved] == [
        (a.id, 30, document.number),
        (b.id, 50, document.number),
    ]
    assert await _audit_actions(session, document.number) == ["document.create", "document.post"]
    await _clean_ledger(session)


async def test_a_part_line_takes_the_oldest_pcns_at_the_source(
    session: AsyncSession, site: Site
) -> None:
    # given two PCNs of the part in bin 1
    old = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    new = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(
                part_number=site.part_number,
                qty=15,
                from_location_id=site.bin_ids[0],
                to_location_id=site.bin_ids[2],
            )
        ],
    )
    # when
    await document_service.post_document(session, document_id=document.id)
    # then
    assert await balances(session, old.id) == {site.bin_ids[0]: 0, site.bin_ids[2]: 10}
    assert await balances(session, new.id) == {site.bin_ids[0]: 5, site.bin_ids[2]: 5}
    await _clean_ledger(session)


async def test_a_short_fifth_line_posts_nothing_and_names_the_line(
    session: AsyncSession, site: Site
) -> None:
    # given five lines, the fifth asks for more than there is
    lots = [await stock_in(session, site.part_number, site.bin_ids[0], 10) for _ in range(5)]
    lines = [
        LineRequest(
            pcn=lot.pcn,
            qty=10 if n < 4 else 11,
            from_location_id=site.bin_ids[0],
            to_location_id=site.bin_ids[1],
        )
        for n, lot in enumerate(lots)
    ]
    document = await document_service.create_document(
        session, type="transfer", warehouse_id=site.warehouse_id, lines=lines
    )
    document_id, number = document.id, document.number
    before = await all_balances(session)
    rows_before = len(await ledger(session))

    # when
    with pytest.raises(InsufficientStockError) as refused:
        await document_service.post_document(session, document_id=document_id)

    # then: 409 naming line 5 and what is available; nothing moved, still a draft
    assert refused.value.status == 409
    assert refused.value.details["line_no"] == 5
    assert refused.value.details["available"] == 10
    assert refused.value.details["requested"] == 11
    assert "Line 5" in refused.value.message
    assert await all_balances(session) == before
    assert len(await ledger(session)) == rows_before
    again = await document_service.get_document(session, document_id)
    assert again.status == "draft"
    assert "document.post" not in await _audit_actions(session, number)


async def test_posting_twice_is_refused_and_a_posted_document_is_immutable(
    session: AsyncSession, site: Site
) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(
                pcn=lot.pcn, qty=4, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            )
        ],
    )
    await document_service.post_document(session, document_id=document.id)
    for attempt in (
        document_service.post_document(session, document_id=document.id),
        document_service.cancel_document(session, document_id=document.id),
        document_service.add_line(
            session,
            document_id=document.id,
            line=LineRequest(
                pcn=lot.pcn, qty=1, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            ),
        ),
        document_service.remove_line(session, document_id=document.id, line_no=1),
    ):
        with pytest.raises(ConflictError) as refused:
            await attempt
        assert refused.value.code == "invalid_status"
    assert await balances(session, lot.id) == {site.bin_ids[0]: 6, site.bin_ids[1]: 4}


async def test_stale_version_is_refused(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    line = LineRequest(
        pcn=lot.pcn, qty=1, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
    )
    document = await document_service.create_document(
        session, type="transfer", warehouse_id=site.warehouse_id, lines=[line]
    )
    document_id = document.id
    edited = await document_service.add_line(session, document_id=document_id, line=line, version=1)
    assert edited.version == 2
    assert [x.line_no for x in edited.lines] == [1, 2]
    with pytest.raises(ConflictError) as refused:
        await document_service.post_document(session, document_id=document_id, version=1)
    assert refused.value.code == "stale_version"
    assert refused.value.details["current_version"] == 2
    removed = await document_service.remove_line(
        session, document_id=document_id, line_no=1, version=2
    )
    assert [x.line_no for x in removed.lines] == [2]
    updated = await document_service.update_document(
        session, document_id=document_id, version=3, notes="to the far shelf"
    )
    assert updated.notes == "to the far shelf"
    assert updated.version == 4


async def test_line_checks_name_the_line(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    other = await a_part(session)
    good = LineRequest(
        pcn=lot.pcn, qty=1, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
    )
    b0, b1 = site.bin_ids[0], site.bin_ids[1]
    cases: list[tuple[LineRequest, type[Exception], str]] = [
        (
            LineRequest(pcn="NOPE", qty=1, from_location_id=b0, to_location_id=b1),
            NotFoundError,
            "pcn_not_found",
        ),
        (
            LineRequest(
                pcn=lot.pcn, part_number=other.number, qty=1, from_location_id=b0, to_location_id=b1
            ),
            RuleViolationError,
            "pcn_part_mismatch",
        ),
        (
            LineRequest(pcn=lot.pcn, qty=1, from_location_id=b0, to_location_id=b0),
            ValidationError,
            "same_location",
        ),
        (LineRequest(pcn=lot.pcn, qty=1, from_location_id=b0), ValidationError, "validation_error"),
        (
            LineRequest(qty=1, from_location_id=b0, to_location_id=b1),
            ValidationError,
            "validation_error",
        ),
        (
            LineRequest(pcn=lot.pcn, qty=1, from_location_id=999_999, to_location_id=b1),
            NotFoundError,
            "location_not_found",
        ),
    ]
    for bad, error, code in cases:
        with pytest.raises(error) as refused:
            await document_service.create_document(
                session, type="transfer", warehouse_id=site.warehouse_id, lines=[good, bad]
            )
        assert refused.value.code == code  # type: ignore[attr-defined]
        assert refused.value.details["line_no"] == 2  # type: ignore[attr-defined]
    with pytest.raises(NotFoundError):
        await document_service.create_document(session, type="transfer", warehouse_id=999_999)


async def test_a_source_in_another_warehouse_is_refused(session: AsyncSession, site: Site) -> None:
    other = await a_warehouse(session)
    far = await a_location(session, other)
    lot = await stock_in(session, site.part_number, far.id, 5)
    with pytest.raises(RuleViolationError) as refused:
        await document_service.create_document(
            session,
            type="transfer",
            warehouse_id=site.warehouse_id,
            lines=[
                LineRequest(
                    pcn=lot.pcn, qty=1, from_location_id=far.id, to_location_id=site.bin_ids[0]
                )
            ],
        )
    assert refused.value.code == "location_unusable"


# --- issue ----------------------------------------------------------------------------


async def test_issue_scraps_many_lines_with_the_reason(session: AsyncSession, site: Site) -> None:
    a = await stock_in(session, site.part_number, site.bin_ids[0], 20)
    b = await stock_in(session, site.part_number, site.bin_ids[1], 20)
    with pytest.raises(ValidationError):
        await document_service.create_document(
            session, type="issue", warehouse_id=site.warehouse_id, issue_kind="scrap"
        )
    document = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        issue_kind="scrap",
        reason="water damage, cost centre 4100",
        lines=[
            LineRequest(pcn=a.pcn, qty=5, from_location_id=site.bin_ids[0]),
            LineRequest(part_number=site.part_number, qty=7, from_location_id=site.bin_ids[1]),
        ],
    )
    assert document.number.startswith("IS-")
    await document_service.post_document(session, document_id=document.id)
    assert await balances(session, a.id) == {site.bin_ids[0]: 15}
    assert await balances(session, b.id) == {site.bin_ids[1]: 13}
    scrapped = [e for e in await ledger(session) if e.kind == "scrap"]
    assert [(e.qty, e.to_location_id, e.reason, e.reference) for e in scrapped] == [
        (5, None, "water damage, cost centre 4100", document.number),
        (7, None, "water damage, cost centre 4100", document.number),
    ]
    await _clean_ledger(session)


# --- receipt --------------------------------------------------------------------------


async def test_receipt_without_po_creates_pcns(session: AsyncSession, site: Site) -> None:
    document = await document_service.create_document(
        session,
        type="receipt",
        warehouse_id=site.warehouse_id,
        notes="donation",
        lines=[
            LineRequest(part_number=site.part_number, qty=40, to_location_id=site.bin_ids[0]),
            LineRequest(
                part_number=site.part_number,
                qty=2,
                to_location_id=site.bin_ids[1],
                pcn="FOUND-1",
                date_code="2440",
                supplier="customer-owned",
            ),
        ],
    )
    posted = await document_service.post_document(session, document_id=document.id)
    lines = posted.document.lines
    assert lines[0].pcn
    assert lines[1].pcn == "FOUND-1"
    found = await session.scalar(select(Lot).where(Lot.pcn == "FOUND-1"))
    assert found is not None
    assert found.supplier == "customer-owned"
    assert found.reference == document.number
    assert await balances(session, found.id) == {site.bin_ids[1]: 2}
    entries = await ledger(session)
    assert [(e.kind, e.from_location_id, e.qty, e.reference) for e in entries] == [
        ("receive", None, 40, document.number),
        ("receive", None, 2, document.number),
    ]
    await _clean_ledger(session)


async def test_receipt_of_a_taken_pcn_is_refused(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 1)
    with pytest.raises(ConflictError) as refused:
        await document_service.create_document(
            session,
            type="receipt",
            warehouse_id=site.warehouse_id,
            lines=[
                LineRequest(
                    part_number=site.part_number, qty=1, to_location_id=site.bin_ids[0], pcn=lot.pcn
                )
            ],
        )
    assert refused.value.code == "pcn_taken"


async def test_receipt_pcn_taken_between_draft_and_post_posts_nothing(
    session: AsyncSession, site: Site
) -> None:
    document = await document_service.create_document(
        session,
        type="receipt",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(part_number=site.part_number, qty=3, to_location_id=site.bin_ids[0]),
            LineRequest(
                part_number=site.part_number, qty=1, to_location_id=site.bin_ids[0], pcn="LATE-1"
            ),
        ],
    )
    document_id = document.id
    await stock_in(session, site.part_number, site.bin_ids[1], 1, pcn="LATE-1")
    rows_before = len(await ledger(session))
    with pytest.raises(ConflictError) as refused:
        await document_service.post_document(session, document_id=document_id)
    assert refused.value.code == "pcn_taken"
    assert refused.value.details["line_no"] == 2
    assert len(await ledger(session)) == rows_before
    assert await session.scalar(select(Lot).where(Lot.reference.is_not(None))) is None


# --- cancel and reverse ---------------------------------------------------------------


async def test_cancel_moves_nothing(session: AsyncSession, site: Site) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        reason="test",
        lines=[LineRequest(pcn=lot.pcn, qty=10, from_location_id=site.bin_ids[0])],
    )
    document_id = document.id
    cancelled = await document_service.cancel_document(
        session, document_id=document_id, reason="wrong bin"
    )
    assert cancelled.status == "cancelled"
    assert cancelled.cancelled_at is not None
    assert await balances(session, lot.id) == {site.bin_ids[0]: 10}
    with pytest.raises(ConflictError):
        await document_service.post_document(session, document_id=document_id)
    with pytest.raises(ConflictError):
        await document_service.reverse_document(session, document_id=document_id)


async def test_reverse_undoes_a_receipt_and_a_transfer_once(
    session: AsyncSession, site: Site
) -> None:
    # given a posted receipt and a posted transfer of what it received
    receipt = await document_service.create_document(
        session,
        type="receipt",
        warehouse_id=site.warehouse_id,
        lines=[LineRequest(part_number=site.part_number, qty=9, to_location_id=site.bin_ids[0])],
    )
    posted = await document_service.post_document(session, document_id=receipt.id)
    pcn = posted.document.lines[0].pcn
    assert pcn is not None
    transfer = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(
                pcn=pcn, qty=4, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            )
        ],
    )
    await document_service.post_document(session, document_id=transfer.id)

    receipt_id, receipt_number = receipt.id, receipt.number
    transfer_id, transfer_number = transfer.id, transfer.number

    # when the receipt is reversed first: 4 of its units are no longer where it put them
    with pytest.raises(InsufficientStockError) as refused:
        await document_service.reverse_document(session, document_id=receipt_id)
    assert refused.value.details["line_no"] == 1

    # when the transfer, then the receipt are reversed
    back = await document_service.reverse_document(
        session, document_id=transfer_id, reason="wrong shelf"
    )
    assert back.document.status == "posted"
    assert back.document.reverses_id == transfer_id
    assert back.document.number.startswith("TR-")
    await document_service.reverse_document(session, document_id=receipt_id)

    # then nothing is left, the ledger shows each step, and a second reversal is refused
    lot = await session.scalar(select(Lot).where(Lot.pcn == pcn))
    assert lot is not None
    assert non_zero({(lot.id, k): v for k, v in (await balances(session, lot.id)).items()}) == {}
    kinds = [(e.kind, e.reference) for e in await ledger(session, lot.id)]
    assert kinds == [
        ("receive", receipt_number),
        ("transfer", transfer_number),
        ("transfer", back.document.number),
        ("adjust", kinds[3][1]),
    ]
    with pytest.raises(ConflictError) as again:
        await document_service.reverse_document(session, document_id=transfer_id)
    assert again.value.code == "already_reversed"
    assert "document.reverse" in await _audit_actions(session, transfer_number)
    await _clean_ledger(session)


async def test_empty_document_does_not_post(session: AsyncSession, site: Site) -> None:
    document = await document_service.create_document(
        session, type="transfer", warehouse_id=site.warehouse_id
    )
    with pytest.raises(RuleViolationError) as refused:
        await document_service.post_document(session, document_id=document.id)
    assert refused.value.code == "empty_document"
    rows = await session.scalars(select(StockTransaction))
    assert list(rows) == []


async def test_a_posting_cannot_take_reserved_stock_out_of_storage(
    session: AsyncSession, site: Site
) -> None:
    # given 10 in storage, 8 of them reserved by a confirmed sales order
    from tests.support.sales import a_customer, an_order

    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    customer = await a_customer(session)
    await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=site.warehouse_id,
        lines=[(site.part_number, 8)],
        confirm=True,
    )
    document = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        issue_kind="scrap",
        reason="damaged",
        lines=[LineRequest(pcn=lot.pcn, qty=5, from_location_id=site.bin_ids[0])],
    )
    document_id = document.id
    # when the scrap would leave 5 on hand for 8 reserved
    with pytest.raises(ConflictError) as refused:
        await document_service.post_document(session, document_id=document_id)
    # then the sales guard refuses the whole posting
    assert refused.value.code == "reserved_stock"
    assert await balances(session, lot.id) == {site.bin_ids[0]: 10}
    # and a transfer inside storage of the same warehouse is no withdrawal
    inside = await document_service.create_document(
        session,
        type="transfer",
        warehouse_id=site.warehouse_id,
        lines=[
            LineRequest(
                pcn=lot.pcn, qty=5, from_location_id=site.bin_ids[0], to_location_id=site.bin_ids[1]
            )
        ],
    )
    await document_service.post_document(session, document_id=inside.id)
    assert await balances(session, lot.id) == {site.bin_ids[0]: 5, site.bin_ids[1]: 5}
