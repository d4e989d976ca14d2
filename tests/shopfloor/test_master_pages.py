"""Master-data pages (departments, employees, work centres with calendar and machines,
routings with copy and comparison) render without inline code, with a label on every
input; employees are for managers only."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import capacity
from kosh.shopfloor import service as shopfloor_service
from tests.shopfloor.support import a_floor
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


def unlabelled(html: str) -> list[str]:
    """Ids of inputs and selects (not hidden) that no <label for> names."""
    labels = set(re.findall(r'<label[^>]*for="([^"]+)"', html))
    fields = re.findall(r"<(?:input|select|textarea)\b([^>]*)>", html)
    missing = []
    for attrs in fields:
        if 'type="hidden"' in attrs:
            continue
        found = re.search(r'id="([^"]+)"', attrs)
        if not found or found.group(1) not in labels:
            missing.append(attrs)
    return missing


async def test_master_pages_render_with_labels(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    floor = await a_floor(session)
    await shopfloor_service.set_calendar_day(
        session, code=floor.calendar, day=capacity.today() + timedelta(3), minutes=0
    )
    copy = await shopfloor_service.copy_routing(session, routing_id=floor.routing_id, revision="B")
    await shopfloor_service.create_employee(
        session, number="E-3", name="Lin", department_code=floor.department
    )
    await login(client, await make_user("manager"))
    pages = {
        "/shopfloor/departments": 'data-testid="create-department"',
        "/shopfloor/employees": "Lin",
        "/shopfloor/work-centres": 'data-testid="create-work-centre"',
        f"/shopfloor/work-centres/{floor.smt}": 'data-testid="add-machine"',
        "/shopfloor/routings": 'data-testid="create-routing"',
        f"/shopfloor/routings/{floor.routing_id}": 'data-testid="copy"',
        f"/shopfloor/routings/{floor.routing_id}?compare={copy.id}": 'data-testid="comparison"',
        "/shopfloor": "/shopfloor/employees",
    }
    for url, expected in pages.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        assert inline_code(response.text) == [], url
        assert unlabelled(response.text) == [], url
        assert "<h1>" in response.text, url
    compared = await client.get(
        f"/shopfloor/routings/{floor.routing_id}?compare={copy.id}", headers=HTML
    )
    assert compared.text.count(">same<") == 2
    missing = await client.get("/shopfloor/routings/999999", headers=HTML)
    assert missing.status_code == 404


async def test_comparison_names_what_changed(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    floor = await a_floor(session)
    other = await shopfloor_service.create_routing(
        session,
        assembly_part_number=floor.assembly,
        revision="C",
        operations=[
            shopfloor_service.OperationSpec(
                seq=10,
                work_centre_code=floor.smt,
                name="Place and reflow",
                setup_minutes=45,
                run_minutes_per_unit=Decimal("1"),
            ),
            shopfloor_service.OperationSpec(seq=30, work_centre_code=floor.test, name="Pack"),
        ],
    )
    await login(client, await make_user("viewer"))
    page = await client.get(
        f"/shopfloor/routings/{floor.routing_id}?compare={other.id}", headers=HTML
    )
    assert "setup_minutes" in page.text
    assert "removed" in page.text
    assert "added" in page.text
    assert 'data-testid="copy"' not in page.text  # viewers do not edit
    employees = await client.get("/shopfloor/employees", headers=HTML)
    assert employees.status_code == 403
