"""Postings racing each other and ordinary movements, on real commits (one session per task).

Marked `postgres` (row locks, READ COMMITTED); they also run on SQLite, where BEGIN
IMMEDIATE serialises the writers, and must hold there too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError
from kosh.documents import service as document_service
from kosh.documents.service import LineRequest
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from tests.support.stock import a_site, all_balances, balances, ledger, non_zero, replayed, stock_in

pytestmark = pytest.mark.postgres

Sessions = async_sessionmaker[AsyncSession]


async def _run_all(
    sessions: Sessions, jobs: list[Callable[[AsyncSession], Awaitable[Any]]]
) -> list[Any]:
    """Each job in its own session at once; a ConflictError is answered, anything else fails."""

    async def one(job: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
        async with sessions() as session:
            try:
                return await job(session)
            except ConflictError as refused:
                return refused

    return await asyncio.wait_for(asyncio.gather(*(one(job) for job in jobs)), timeout=60)


async def _clean(session: AsyncSession) -> None:
    current = await all_balances(session)
    assert min(current.values(), default=0) >= 0
    assert await replayed(session) == non_zero(current)
    report = await stock_verify.verify(session)
    assert report.ok, report.differences


async def test_two_posts_of_one_draft_post_once(sessions: Sessions) -> None:
    # given a draft moving 30 of a PCN of 100
    async with sessions() as session:
        site = await a_site(session)
        lot = await stock_in(session, site.part_number, site.bin_ids[0], 100)
        document = await document_service.create_document(
            session,
            type="transfer",
            warehouse_id=site.warehouse_id,
            lines=[
                LineRequest(
                    pcn=lot.pcn,
                    qty=30,
                    from_location_id=site.bin_ids[0],
                    to_location_id=site.bin_ids[1],
                )
            ],
        )
        document_id, number = document.id, document.number

    def poster(session: AsyncSession) -> Awaitable[Any]:
        return document_service.post_document(session, document_id=document_id)

    # when two managers post it at the same moment (several times over)
    outcomes = await _run_all(sessions, [poster, poster, poster, poster])

    # then exactly one posted; the others were told it is posted; 30 moved once
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(refused) == 3
    assert {r.code for r in refused} == {"invalid_status"}
    async with sessions() as session:
        assert await balances(session, lot.id) == {site.bin_ids[0]: 70, site.bin_ids[1]: 30}
        assert [e.reference for e in await ledger(session, lot.id)].count(number) == 1
        await _clean(session)


async def test_a_post_racing_picks_never_goes_negative(sessions: Sessions) -> None:
    # given rounds of: 10 units in a bin, an issue document for all 10, a pick of 10
    async with sessions() as session:
        site = await a_site(session, bins=1)
    for _round in range(6):
        async with sessions() as session:
            lot = await stock_in(session, site.part_number, site.bin_ids[0], 10)
            document = await document_service.create_document(
                session,
                type="issue",
                warehouse_id=site.warehouse_id,
                reason="race",
                lines=[LineRequest(pcn=lot.pcn, qty=10, from_location_id=site.bin_ids[0])],
            )
            document_id = document.id

        def post(session: AsyncSession, document_id: int = document_id) -> Awaitable[Any]:
            return document_service.post_document(session, document_id=document_id)

        def pick(session: AsyncSession) -> Awaitable[Any]:
            return stock_service.pick(
                session,
                part_number=site.part_number,
                qty=10,
                warehouse_id=site.warehouse_id,
                reference="JOB",
            )

        # when the posting and the pick run at once
        outcomes = await _run_all(sessions, [post, pick] if _round % 2 else [pick, post])

        # then exactly one of them took the 10; the other is a clean 409
        refused = [o for o in outcomes if isinstance(o, ConflictError)]
        assert len(refused) == 1, outcomes
        assert refused[0].code == "insufficient_stock"
        async with sessions() as session:
            assert (await balances(session, lot.id))[site.bin_ids[0]] == 0
    async with sessions() as session:
        await _clean(session)


async def test_many_documents_on_one_pcn_take_only_what_is_there(sessions: Sessions) -> None:
    # given 20 units and ten drafts moving 3 each, their lines in different orders
    async with sessions() as session:
        site = await a_site(session, bins=3)
        a = await stock_in(session, site.part_number, site.bin_ids[0], 20)
        b = await stock_in(session, site.part_number, site.bin_ids[0], 60)
        ids = []
        for n in range(10):
            lines = [
                LineRequest(
                    pcn=lot.pcn,
                    qty=3,
                    from_location_id=site.bin_ids[0],
                    to_location_id=site.bin_ids[1 + n % 2],
                )
                for lot in ((a, b) if n % 2 else (b, a))
            ]
            document = await document_service.create_document(
                session, type="transfer", warehouse_id=site.warehouse_id, lines=lines
            )
            ids.append(document.id)

    def poster(document_id: int) -> Callable[[AsyncSession], Awaitable[Any]]:
        def job(session: AsyncSession) -> Awaitable[Any]:
            return document_service.post_document(session, document_id=document_id)

        return job

    # when all are posted at once
    outcomes = await _run_all(sessions, [poster(i) for i in ids])

    # then 6 posted (20 // 3), 4 refused as a whole: b lost exactly 3 per posted document
    posted = [o for o in outcomes if not isinstance(o, ConflictError)]
    assert len(posted) == 6
    async with sessions() as session:
        assert (await balances(session, a.id))[site.bin_ids[0]] == 2
        assert (await balances(session, b.id))[site.bin_ids[0]] == 60 - 18
        await _clean(session)
