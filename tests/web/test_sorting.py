"""Whole-list sorting: the sort in the URL orders the whole list (not only the page shown),
the headings link to the other order with the filters kept and say which order is shown,
and an unknown sort falls back to the page's default."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom, BomLine
from kosh.production import service as job_service
from kosh.web.sorting import parse_sort
from tests.support.fixtures import MakeUser
from tests.support.sales import a_customer, an_order
from tests.support.stock import a_location, a_part, a_warehouse, stock_in

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


def test_parse_sort_and_links() -> None:
    sort = parse_sort(
        "-qty", keys=("number", "qty"), default="number", params={"q": "R", "x": None}
    )
    assert (sort.key, sort.descending, sort.is_default) == ("qty", True, False)
    assert sort.aria("qty") == "descending"
    assert sort.aria("number") is None
    assert sort.href("qty") == "?q=R&sort=qty"  # descending goes back to ascending
    assert sort.href("number") == "?q=R&sort=number"
    assert sort.query() == {"sort": "-qty"}
    ascending = parse_sort("qty", keys=("number", "qty"), default="number", params={})
    assert ascending.href("qty") == "?sort=-qty"
    for bad in (None, "", "nope", "-", "--qty"):
        fallback = parse_sort(bad, keys=("number", "qty"), default="-number", params={})
        assert (fallback.key, fallback.descending, fallback.query()) == ("number", True, {})
    with pytest.raises(ValueError, match="default sort"):
        parse_sort(None, keys=("a",), default="b", params={})


def column(html: str, pattern: str) -> list[str]:
    return re.findall(pattern, html)


async def test_parts_sort_over_the_whole_list_and_keep_the_search(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given 55 parts (more than one page of 50) whose descriptions run against their numbers
    for n in range(55):
        await a_part(session, f"SRT-{n:03d}", description=f"Desc {99 - n:03d}")
    await a_part(session, "OTHER-1", description="Desc 000")
    await login(client, await make_user("viewer"))

    # when sorted by number descending, and by description
    page = (await client.get("/parts?q=SRT-&sort=-number", headers=HTML)).text
    by_description = (await client.get("/parts?q=SRT-&sort=description", headers=HTML)).text

    # then the first page starts at the end of the whole list, the filter kept
    numbers = column(page, r'<a href="/parts/\d+">(SRT-\d+)</a>')
    assert numbers[:2] == ["SRT-054", "SRT-053"]
    assert len(numbers) == 50
    assert re.search(
        r'<th scope="col" aria-sort="descending"><a class="sort" href="\?q=SRT-&amp;'
        r'sort=number" data-testid="sort-number">Number</a></th>',
        page,
    )
    assert 'name="sort" value="-number"' in page  # the search form keeps the order
    assert "sort=-number&amp;offset=50" in page  # and so does the pager
    assert column(by_description, r'<a href="/parts/\d+">(SRT-\d+)</a>')[0] == "SRT-054"
    # an unknown sort is the default order, not an error
    fallback = await client.get("/parts?q=SRT-&sort=price", headers=HTML)
    assert fallback.status_code == 200
    assert column(fallback.text, r'<a href="/parts/\d+">(SRT-\d+)</a>')[0] == "SRT-000"


async def test_jobs_orders_lots_and_alerts_sort_by_their_columns(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    bin_ = await a_location(session, warehouse_id)
    bin_id = bin_.id
    assembly = await a_part(session, "SRT-ASM")
    part = await a_part(session, "SRT-RES")
    bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=part.id, qty=1, refdes="R1"))
    await session.commit()
    for number, qty in (("J-2", 5), ("J-1", 50), ("J-3", 1)):
        await job_service.create_job(
            session,
            number=number,
            assembly_part_number="SRT-ASM",
            qty=qty,
            warehouse_id=warehouse_id,
        )
    for name in ("Zeta", "Alpha", "Mid"):
        customer = await a_customer(session, name=name)
        await an_order(
            session, customer_id=customer.id, warehouse_id=warehouse_id, lines=[("SRT-RES", 1)]
        )
    for qty in (7, 70, 3):
        await stock_in(session, "SRT-RES", bin_id, qty)
    await login(client, await make_user("viewer"))

    jobs = (await client.get("/jobs?sort=-qty", headers=HTML)).text
    assert column(jobs, r'<a href="/jobs/\d+">(J-\d)</a>') == ["J-1", "J-2", "J-3"]
    assert 'aria-sort="descending"' in jobs
    orders = (await client.get("/sales-orders?sort=customer", headers=HTML)).text
    customers = r'<td data-label="Customer">(Alpha|Mid|Zeta)</td>'
    assert column(orders, customers) == ["Alpha", "Mid", "Zeta"]
    lots = (await client.get("/pcns?part=SRT-RES&sort=-qty", headers=HTML)).text
    assert column(lots, r'<td class="num" data-value="(\d+)">') == ["70", "7", "3"]
    assert 'href="?part=SRT-RES&amp;sort=qty"' in lots
    alerts = await client.get("/alerts?sort=-kind&status=", headers=HTML)
    assert alerts.status_code == 200
    assert 'aria-current="true">Kind' in alerts.text
