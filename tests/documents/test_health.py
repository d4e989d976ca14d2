"""The documents section of /health/detailed."""

from __future__ import annotations

import httpx
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.documents import service as document_service
from kosh.documents.models import DocumentMovement
from kosh.documents.service import LineRequest
from tests.support.stock import a_site, stock_in


async def test_documents_section_reports_drafts_and_postings_without_ledger_rows(
    client: httpx.AsyncClient, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    # given a posted issue and an open draft
    site = await a_site(session, bins=1)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    posted = await document_service.create_document(
        session,
        type="issue",
        warehouse_id=site.warehouse_id,
        reason="test",
        lines=[LineRequest(pcn=lot.pcn, qty=1, from_location_id=site.bin_ids[0])],
    )
    await document_service.post_document(session, document_id=posted.id)
    await document_service.create_document(session, type="transfer", warehouse_id=site.warehouse_id)

    # then the section is healthy and counts the draft
    body = (await client.get("/health/detailed", headers=admin_headers)).json()
    section = body["checks"]["documents"]
    assert section["ok"] is True
    assert section["drafts"] == 1
    assert section["posted_without_ledger_rows"] == 0
    assert section["oldest_draft_age_hours"] is not None

    # when a posted document loses its recorded movements (corruption), it is reported
    await session.execute(delete(DocumentMovement))
    await session.commit()
    body = (await client.get("/health/detailed", headers=admin_headers)).json()
    assert body["checks"]["documents"]["ok"] is False
    assert body["checks"]["documents"]["posted_without_ledger_rows"] == 1
