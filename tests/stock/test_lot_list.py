"""The lot (PCN) list: lots with stock, oldest first, filtered by part, location, age and
date code, on the /pcns page."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

import httpx
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.core.db import utcnow
from kosh.stock import lot_list
from kosh.stock import service as stock_service
from kosh.stock.models import Lot
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_part, a_site, stock_in

Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]


async def a_stocked_site(session: AsyncSession) -> dict[str, str]:
    site = await a_site(session, bins=2)
    other = await a_part(session, "LL-OTHER")
    old = await stock_in(session, site.part_number, site.bin_ids[0], 10, pcn="LL-OLD")
    await session.execute(
        update(Lot).where(Lot.id == old.id).values(received_at=utcnow() - timedelta(days=400))
    )
    await session.commit()
    await stock_service.receive(
        session,
        part_number=site.part_number,
        qty=5,
        location_id=site.bin_ids[1],
        pcn="LL-NEW",
        date_code="2451",
    )
    await stock_in(session, other.number, site.bin_ids[1], 7, pcn="LL-X")
    empty = await stock_in(session, other.number, site.bin_ids[0], 1, pcn="LL-EMPTY")
    await stock_service.consume(
        session, pcn=empty.pcn, qty=1, location_id=site.bin_ids[0], reason="test"
    )
    return {"part": site.part_number}


async def pcns(session: AsyncSession, **filters: object) -> list[str]:
    rows, _ = await lot_list.lots(session, lot_list.LotFilters(**filters))  # type: ignore[arg-type]
    return [row.pcn for row in rows]


async def test_lots_with_stock_oldest_first_and_each_filter(session: AsyncSession) -> None:
    # given lots of two parts in two bins, one old, one with a date code, one used up
    site = await a_stocked_site(session)

    # then the list has the lots with stock, oldest first, and each filter narrows it
    assert await pcns(session) == ["LL-OLD", "LL-NEW", "LL-X"]
    assert await pcns(session, part=site["part"].lower()) == ["LL-OLD", "LL-NEW"]
    assert await pcns(session, location="bin-2") == ["LL-NEW", "LL-X"]
    assert await pcns(session, older_than_days=365) == ["LL-OLD"]
    assert await pcns(session, date_code="45") == ["LL-NEW"]
    assert await pcns(session, date_code="%") == []  # wildcards are literal
    rows, total = await lot_list.lots(session, lot_list.LotFilters(part="LL-OTHER"))
    assert total == 1
    assert rows[0].qty == 7
    assert rows[0].locations == ["BIN-2"]
    assert lot_list.LotFilters(date_code="x").active
    assert not lot_list.LotFilters().active


async def test_the_pcns_page_lists_and_filters_lots(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given lots, and a viewer
    await a_stocked_site(session)
    await login(client, await make_user("viewer"))

    # when the page is shown, and filtered by location
    everything = await client.get("/pcns", headers={"accept": "text/html"})
    filtered = await client.get("/pcns?location=BIN-2", headers={"accept": "text/html"})
    bad = await client.get("/pcns?older_than=abc", headers={"accept": "text/html"})

    # then the lots show, the filter narrows them, and a bad age is refused in words
    assert everything.status_code == 200
    assert "LL-OLD" in everything.text
    assert "LL-EMPTY" not in everything.text
    assert "3 lots with stock" in everything.text
    assert "LL-OLD" not in filtered.text
    assert "2 lots with stock matching the filters" in filtered.text
    assert bad.status_code == 422
    assert "Enter a whole number" in bad.text


async def test_the_location_list_says_what_each_location_holds(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given two lots in BIN-2 (12 units) and one in BIN-1 (10, the used-up lot not counted)
    await a_stocked_site(session)
    await login(client, await make_user("viewer"))

    # when the locations are listed
    html = (await client.get("/locations?q=BIN", headers={"accept": "text/html"})).text

    # then each row counts its lots (linked to the lot list) and units
    bin_two = next(row for row in html.split("<tr>") if ">BIN-2<" in row)
    assert '<a href="/pcns?location=BIN-2">2</a>' in bin_two
    assert '<td class="num">12</td>' in bin_two
    assert await lot_list.location_totals(session, []) == {}
