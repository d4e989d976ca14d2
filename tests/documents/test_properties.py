"""Hypothesis: documents of random lines, mixed with ordinary stock movements.

For every example: a posting either applies every line or changes nothing; posting then
reversing leaves every balance as it was; no balance is ever negative; the ledger replays to
the balances and `kosh verify` finds no drift.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import DomainError
from kosh.documents import service as document_service
from kosh.documents.service import LineRequest
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from tests.support.stock import LotRef, Site, a_site, all_balances, non_zero, replayed, stock_in

pytestmark = pytest.mark.slow  # twenty examples of real postings: a few seconds


@dataclass
class Room:
    site: Site
    lots: list[LotRef]


@pytest.fixture
async def room(session: AsyncSession) -> Room:
    site = await a_site(session, bins=3)
    lots = [
        await stock_in(session, site.part_number, site.bin_ids[n % 3], qty)
        for n, qty in enumerate((80, 50, 100, 40))
    ]
    return Room(site=site, lots=lots)


line_strategy = st.tuples(
    st.integers(0, 3),  # lot
    st.integers(1, 12),  # qty
    st.integers(0, 2),  # from bin
    st.integers(1, 2),  # to bin offset (never the source)
    st.booleans(),  # by PCN or by part (FIFO at the source)
)
movement_strategy = st.tuples(
    st.sampled_from(["pick", "transfer", "receive"]), st.integers(0, 3), st.integers(1, 20)
)


async def _ordinary(session: AsyncSession, room: Room, kind: str, lot: int, qty: int) -> None:
    site = room.site
    try:
        if kind == "pick":
            await stock_service.pick(
                session,
                part_number=site.part_number,
                qty=qty,
                warehouse_id=site.warehouse_id,
                reference="JOB",
            )
        elif kind == "transfer":
            await stock_service.transfer(
                session,
                pcn=room.lots[lot].pcn,
                qty=qty,
                from_location_id=site.bin_ids[lot % 3],
                to_location_id=site.bin_ids[(lot + 1) % 3],
            )
        else:
            await stock_service.receive(
                session, part_number=site.part_number, qty=qty, location_id=site.bin_ids[lot % 3]
            )
    except DomainError:
        pass  # refused movements change nothing; the invariants below still hold


async def _post(session: AsyncSession, document_id: int) -> int:
    """Post; answer 200 or the refusal's status."""
    try:
        await document_service.post_document(session, document_id=document_id)
    except DomainError as refused:
        return refused.status
    return 200


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    kind=st.sampled_from(["transfer", "issue", "receipt"]),
    lines=st.lists(line_strategy, min_size=1, max_size=6),
    before=st.lists(movement_strategy, max_size=3),
)
async def test_posting_then_reversing_restores_every_balance(
    session: AsyncSession,
    room: Room,
    kind: str,
    lines: list[tuple[int, int, int, int, bool]],
    before: list[tuple[str, int, int]],
) -> None:
    site = room.site
    for movement in before:
        await _ordinary(session, room, *movement)
    requests = []
    for lot, qty, source, offset, by_pcn in lines:
        if kind == "receipt":
            requests.append(
                LineRequest(
                    part_number=site.part_number, qty=qty, to_location_id=site.bin_ids[source]
                )
            )
            continue
        if by_pcn:
            source = lot % 3  # where the lot was received (ordinary transfers may move it)
        requests.append(
            LineRequest(
                pcn=room.lots[lot].pcn if by_pcn else None,
                part_number=None if by_pcn else site.part_number,
                qty=qty,
                from_location_id=site.bin_ids[source],
                to_location_id=site.bin_ids[(source + offset) % 3] if kind == "transfer" else None,
            )
        )
    document = await document_service.create_document(
        session,
        type=kind,
        warehouse_id=site.warehouse_id,
        lines=requests,
        reason="property" if kind == "issue" else None,
    )
    document_id = document.id
    start = non_zero(await all_balances(session))

    status = await _post(session, document_id)
    if status != 200:
        # all or none: a refused posting changed nothing
        event(f"refused {status}")
        assert status in (409, 422)
        assert non_zero(await all_balances(session)) == start
    else:
        event(f"posted {kind}")
        await document_service.reverse_document(session, document_id=document_id)
        assert non_zero(await all_balances(session)) == start

    balances = await all_balances(session)
    assert min(balances.values(), default=0) >= 0
    assert await replayed(session) == non_zero(balances)
    report = await stock_verify.verify(session)
    assert report.ok, report.differences
    assert report.drift_count == 0
