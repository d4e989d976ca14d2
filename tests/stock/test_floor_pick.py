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

from kosh.alerts.models import Alert
from kosh.catalog.models import Part
from kosh.locations.models import Warehouse
from kosh.stock.models import StockTransaction
from tests.stock.test_fast_paths import counted
from tests.support.stock import Site, a_part, a_site, balances, stock_in

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
    # given an old lot and a newer one, and a first pick of the part by this process
    old = await stock_in(session, site.part_number, site.bin_ids[0], 10)
    await stock_in(session, site.part_number, site.bin_ids[1], 10)
    first = await client.post("/api/v1/stock/pick", json=_pick(site, 1), headers=operator_headers)
    assert first.status_code == 200, first.text

    # when a scanner picks 4 (its pages send an Idempotency-Key)
    headers = {**operator_headers, "idempotency-key": "floor-pick"}
    with counted(app.state.engine) as seen:
        answer = await client.post("/api/v1/stock/pick", json=_pick(site, 4), headers=headers)

    # then 4 of the old lot are on the floor, in one statement
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["part_id"], body["part_number"]) == (site.part_id, site.part_number)
    assert (body["to_location_id"], body["to_location_code"]) == (site.floor_id, "MFG")
    assert [(line["lot_id"], line["qty"], line["from_location_id"]) for line in body["lines"]] == [
        (old.id, 4, site.bin_ids[0])
    ]
    assert await balances(session, old.id) == {site.bin_ids[0]: 5, site.floor_id: 5}
    if session.get_bind().dialect.name != "postgresql":
        assert len(seen.writing("stock_transactions")) == 1
    else:
        # the look-ups and the subscribers' probes are part of the statement that moves
        # the stock, none of their own: (the token's read,) the take with the key, the
        # audit row and the answer (tests/stock/test_pick_answer.py), which committed on
        # its own (no transaction: tests/stock/test_pick_alone.py)
        assert seen.writing("stock_transactions") == []
        [pick] = seen.writing_uncommitted("stock_transactions")
        own = [s for s in pick if "FROM api_tokens" not in s]
        assert [s.split(" ")[0] for s in own] == ["WITH"]
        assert "INSERT INTO stock_transactions" in own[0]
        assert "probes_ahead" in own[0]


async def _low_stock_alerts(session: AsyncSession, part_id: int) -> list[str]:
    await session.rollback()  # a fresh snapshot: SQLite's would show the state before the pick
    states = await session.scalars(
        select(Alert.state).where(Alert.part_id == part_id, Alert.kind == "low_stock")
    )
    return list(states)


async def test_a_pick_whose_probes_answered_in_its_statement_still_raises_the_alert(
    app: Any,
    client: httpx.AsyncClient,
    operator_headers: Headers,
    session: AsyncSession,
    site: Site,
) -> None:
    # given 30 in stock of a part with reorder point 10, picked once already
    await stock_in(session, site.part_number, site.bin_ids[0], 30)
    await session.execute(update(Part).where(Part.id == site.part_id).values(reorder_point=10))
    await session.commit()
    first = await client.post("/api/v1/stock/pick", json=_pick(site, 5), headers=operator_headers)
    assert first.status_code == 200, first.text
    assert await _low_stock_alerts(session, site.part_id) == []

    # when the next pick leaves 9
    with counted(app.state.engine) as seen:
        answer = await client.post(
            "/api/v1/stock/pick", json=_pick(site, 16), headers=operator_headers
        )

    # then the alert is raised in the pick's transaction
    assert answer.status_code == 200, answer.text
    assert await _low_stock_alerts(session, site.part_id) == ["open"]
    [pick] = seen.writing("stock_transactions")
    if session.get_bind().dialect.name == "postgresql":
        # the alerts' probe answered True in the take; no statement asked it again
        [take] = [s for s in pick if "INSERT INTO stock_transactions" in s]
        assert "probes_ahead" in take
        assert not [s for s in pick if "AS probe_0" in s]


async def test_a_renumbered_part_is_asked_about_as_the_part_the_pick_found(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession, site: Site
) -> None:
    # given a part this process has picked, then renumbered, and its number given to
    # another part at its reorder point
    await stock_in(session, site.part_number, site.bin_ids[0], 5)
    first = await client.post("/api/v1/stock/pick", json=_pick(site, 1), headers=operator_headers)
    assert first.status_code == 200, first.text
    other = await a_part(session)
    await stock_in(session, other.number, site.bin_ids[1], 12)
    number = site.part_number
    await session.execute(update(Part).where(Part.id == site.part_id).values(number="RETIRED-1"))
    await session.execute(
        update(Part).where(Part.id == other.id).values(number=number, reorder_point=10)
    )
    await session.commit()

    # when a scanner picks that number again
    answer = await client.post("/api/v1/stock/pick", json=_pick(site, 3), headers=operator_headers)

    # then it took the other part, and that part's alert was raised (the answers the
    # statement gave about the part it expected were not used)
    assert answer.status_code == 200, answer.text
    assert answer.json()["part_id"] == other.id
    assert await _low_stock_alerts(session, other.id) == ["open"]
    assert await _low_stock_alerts(session, site.part_id) == []


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
