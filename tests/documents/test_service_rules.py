"""Document rules the main use-case tests leave out, given / when / then: the refusals
of `create_document` (unknown type, inactive warehouse, unknown issue kind, a stocktake
with lines), `remove_line` of a line the draft does not have, and `update_document`
changing an issue's reason alone. Each refusal is asserted by its `code` and by what
the database holds afterwards (nothing written, nothing changed)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError, RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.documents import queries as document_queries
from kosh.documents import service as document_service
from kosh.documents.models import Document, DocumentLine, StocktakeLine
from kosh.documents.service import LineRequest
from kosh.locations.models import Warehouse
from tests.support.stock import Site, a_site, stock_in


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


async def _count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _audit_actions(session: AsyncSession, number: str) -> list[str]:
    rows = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.entity_id == number).order_by(AuditEvent.id)
    )
    return list(rows)


async def _nothing_written(session: AsyncSession) -> None:
    assert await _count(session, Document) == 0
    assert await _count(session, DocumentLine) == 0
    assert await _count(session, StocktakeLine) == 0
    actions = await session.scalars(
        select(AuditEvent.action).where(AuditEvent.action.like("document.%"))
    )
    assert list(actions) == []


# --- create_document refusals ---------------------------------------------------------


async def test_an_unknown_document_type_is_refused(session: AsyncSession, site: Site) -> None:
    # given a valid warehouse
    # when a document of a type KOSH does not know is opened
    with pytest.raises(ValidationError) as refused:
        await document_service.create_document(session, type="loan", warehouse_id=site.warehouse_id)
    # then it is refused on the `type` field and nothing is written
    assert refused.value.code == "validation_error"
    assert [error["loc"] for error in refused.value.errors] == [["type"]]
    await _nothing_written(session)


async def test_a_document_in_an_inactive_warehouse_is_refused(
    session: AsyncSession, site: Site
) -> None:
    # given a warehouse that has been deactivated
    await session.execute(
        update(Warehouse).where(Warehouse.id == site.warehouse_id).values(active=False)
    )
    await session.flush()
    # when a transfer is opened in it
    with pytest.raises(RuleViolationError) as refused:
        await document_service.create_document(
            session, type="transfer", warehouse_id=site.warehouse_id
        )
    # then it is refused as warehouse_inactive, naming the field, and nothing is written
    assert refused.value.code == "warehouse_inactive"
    assert [error["loc"] for error in refused.value.errors] == [["warehouse_id"]]
    await _nothing_written(session)


async def test_an_unknown_issue_kind_is_refused(session: AsyncSession, site: Site) -> None:
    # given stock to issue
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    # when an issue is opened with a kind other than consume or scrap
    with pytest.raises(ValidationError) as refused:
        await document_service.create_document(
            session,
            type="issue",
            warehouse_id=site.warehouse_id,
            issue_kind="borrow",
            reason="lent to the lab",
            lines=[LineRequest(pcn=lot.pcn, qty=1, from_location_id=site.bin_ids[0])],
        )
    # then it is refused on `issue_kind` and nothing is written
    assert refused.value.code == "validation_error"
    assert [error["loc"] for error in refused.value.errors] == [["issue_kind"]]
    await _nothing_written(session)


async def test_a_stocktake_with_lines_is_refused(session: AsyncSession, site: Site) -> None:
    # given stock in a bin
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    # when a stocktake is opened with a line, as if it were a transfer
    with pytest.raises(RuleViolationError) as refused:
        await document_service.create_document(
            session,
            type="stocktake",
            warehouse_id=site.warehouse_id,
            lines=[
                LineRequest(
                    pcn=lot.pcn,
                    qty=1,
                    from_location_id=site.bin_ids[0],
                    to_location_id=site.bin_ids[1],
                )
            ],
        )
    # then it is refused as lines_not_allowed: no draft, no snapshot, no audit event
    assert refused.value.code == "lines_not_allowed"
    assert [error["loc"] for error in refused.value.errors] == [["lines"]]
    await _nothing_written(session)


# --- remove_line ----------------------------------------------------------------------


async def test_removing_a_line_the_draft_does_not_have_is_refused(
    session: AsyncSession, site: Site
) -> None:
    # given a draft transfer with one line
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
    document_id, number = document.id, document.number
    # when line 2 is removed
    with pytest.raises(NotFoundError) as refused:
        await document_service.remove_line(session, document_id=document_id, line_no=2, version=1)
    # then it is refused as line_not_found and the draft is unchanged
    assert refused.value.code == "line_not_found"
    assert "line 2" in refused.value.message
    kept = await document_queries.load_document(session, document_id)
    assert kept.version == 1
    assert [(line.line_no, line.pcn, line.qty) for line in kept.lines] == [(1, lot.pcn, 4)]
    assert await _audit_actions(session, number) == ["document.create"]


# --- update_document ------------------------------------------------------------------


async def test_an_issues_reason_alone_is_changed_and_the_notes_are_kept(
    session: AsyncSession, site: Site
) -> None:
    # given a draft issue with notes and a reason
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        notes="bench 3",
        reason="water damage",
        lines=[LineRequest(pcn=lot.pcn, qty=2, from_location_id=site.bin_ids[0])],
    )
    document_id, number = document.id, document.number
    assert document.issue_kind == "consume"
    # when only the reason is changed (padded with spaces)
    updated = await document_service.update_document(
        session, document_id=document_id, version=1, reason="  dropped from the rack  "
    )
    # then the reason is stored trimmed, the notes are kept, the version moves on
    assert updated.reason == "dropped from the rack"
    assert updated.notes == "bench 3"
    assert updated.version == 2
    stored = await document_queries.load_document(session, document_id)
    assert (stored.reason, stored.notes, stored.version) == ("dropped from the rack", "bench 3", 2)
    event = await session.scalar(
        select(AuditEvent).where(
            AuditEvent.entity_id == number, AuditEvent.action == "document.update"
        )
    )
    assert event is not None
    assert event.before is not None
    assert event.after is not None
    assert event.before["reason"] == "water damage"
    assert event.after["reason"] == "dropped from the rack"


async def test_an_issues_reason_cannot_be_blanked(session: AsyncSession, site: Site) -> None:
    # given a draft issue with a reason
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    document = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        reason="water damage",
        lines=[LineRequest(pcn=lot.pcn, qty=2, from_location_id=site.bin_ids[0])],
    )
    document_id, number = document.id, document.number
    # when the reason is replaced by blanks
    with pytest.raises(ValidationError) as refused:
        await document_service.update_document(
            session, document_id=document_id, version=1, reason="   "
        )
    # then it is refused on `reason` and the draft keeps its reason and version
    assert refused.value.code == "validation_error"
    assert [error["loc"] for error in refused.value.errors] == [["reason"]]
    stored = await document_queries.load_document(session, document_id)
    assert (stored.reason, stored.version) == ("water damage", 1)
    assert await _audit_actions(session, number) == ["document.create"]
