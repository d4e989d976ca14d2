"""A scanner's pick (no PCN) looks up its part, warehouse and floor in the statement that
takes the stock on PostgreSQL; every case that statement does not do (a number in another
case, an unknown part, an inactive warehouse, a first lot that does not hold the quantity)
falls back to the full path and answers as it always has, with nothing moved on a refusal."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.locations.models import Warehouse
from kosh.stock.models import StockTransaction
from tests.stock.test_fast_paths import counted
from tests.support.stock import Site, a_site, balances, stock_in

Headers = dict[str, str]


@pytest.fixture
async def site(session: AsyncSession) -> Site:
    return await a_site(session, bins=2)


def _pick(site: Site, qty: int, *, part_number: str | None = None) -> dict[str, Any]:
    return {
        "part_number": part_number or site.part_number,
        "qty": qty,
        "warehouse_id": site.warehouse_id,
        "reference": "JOB-FLOOR",
    }


async def _picks_in_ledger(session: AsyncSession) -> int:
    count = await session.scalar(
        select(func.count()).select_from(StockTransaction).where(StockTransaction.kind == "pick")
    )
    return int(count or 0)


async def test_a_scanner_pick_takes_from_the_oldest_lot_to_the_floor(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
) -> None:
    # given an old lot and a newer one
    old = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_in(session, site.part_number, site.bin_ids[1], 10)

    # when a scanner picks 4 (its pages send an Idempotency-Key)
    headers = {**operator_headers, "idempotency-key": "floor-pick"}
    with counted(app.state.engine) as seen:
        answer = await client.post("/api/v1/stock/pick", json=_pick(site, 4), headers=headers)

    # then 4 of the old lot are on the floor, in one transaction
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["part_id"], body["part_number"]) == (site.part_id, site.part_number)
    assert (body["to_location_id"], body["to_location_code"]) == (site.floor_id, "MFG")
    assert [(line["lot_id"], line["qty"], line["from_location_id"]) for line in body["lines"]] == [
        (old.id, 4, site.bin_ids[0])
    ]
    assert await balances(session, old.id) == {site.bin_ids[0]: 6, site.floor_id: 4}
    [pick] = seen.writing("stock_transactions")
    if session.get_bind().dialect.name == "postgresql":
        # the look-ups are part of the statement that moves the stock, none of their own:
        # the claim, the look-ups with the take, the subscribers' probes, the answer with
        # the audit row
        assert [s.split(" ")[0] for s in pick] == ["INSERT", "WITH", "SELECT", "WITH"]
        assert pick[1].startswith("WITH target AS")
        assert "INSERT INTO stock_transactions" in pick[1]
        assert pick[2].startswith("SELECT (EXISTS")


async def test_a_part_number_in_other_case_is_picked_as_the_part(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)

    answer = await client.post(
        "/api/v1/stock/pick",
        json=_pick(site, 2, part_number=f"  {site.part_number.lower()} "),
        headers=operator_headers,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json()["part_number"] == site.part_number
    assert await balances(session, lot.id) == {site.bin_ids[0]: 3, site.floor_id: 2}


async def test_an_unknown_part_is_404_and_moves_nothing(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    await stock_in(session, site.part_number, site.bin_ids[0], 5)

    answer = await client.post(
        "/api/v1/stock/pick",
        json=_pick(site, 1, part_number="NO-SUCH-PART"),
        headers=operator_headers,
    )

    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "part_not_found"
    assert await _picks_in_ledger(session) == 0


async def test_a_pick_into_an_inactive_warehouse_is_refused_and_moves_nothing(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    # given stock in a warehouse that was then made inactive
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 5)
    await session.execute(
        update(Warehouse).where(Warehouse.id == site.warehouse_id).values(active=False)
    )
    await session.commit()

    answer = await client.post("/api/v1/stock/pick", json=_pick(site, 1), headers=operator_headers)

    assert answer.status_code == 422
    assert answer.json()["code"] == "warehouse_inactive"
    assert await balances(session, lot.id) == {site.bin_ids[0]: 5}
    assert await _picks_in_ledger(session) == 0


async def test_a_pick_the_first_lot_cannot_cover_takes_the_next_lots_too(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    old = await stock_in(session, site.part_number, site.bin_ids[0], 2)
    new = await stock_in(session, site.part_number, site.bin_ids[1], 5)

    answer = await client.post("/api/v1/stock/pick", json=_pick(site, 4), headers=operator_headers)

    assert answer.status_code == 200, answer.text
    assert [(line["lot_id"], line["qty"]) for line in answer.json()["lines"]] == [
        (old.id, 2),
        (new.id, 2),
    ]
    assert await balances(session, old.id) == {site.bin_ids[0]: 0, site.floor_id: 2}
    assert await balances(session, new.id) == {site.bin_ids[1]: 3, site.floor_id: 2}


async def test_a_pick_of_more_than_there_is_is_409_and_moves_nothing(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 3)

    answer = await client.post("/api/v1/stock/pick", json=_pick(site, 4), headers=operator_headers)

    assert answer.status_code == 409
    assert answer.json()["code"] == "insufficient_stock"
    assert answer.json()["available"] == 3
    assert await balances(session, lot.id) == {site.bin_ids[0]: 3}
    assert await _picks_in_ledger(session) == 0
