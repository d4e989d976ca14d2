"""Quality pages render for a logged-in user without inline code, with a label on every
input, the dashboard's figures and its SVG chart, and the scan-raise API behind the
phone form."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.production import service as job_service
from kosh.quality import pages as quality_pages
from kosh.quality import service as quality_service
from tests.quality.support import a_lot, a_shop
from tests.shopfloor.support import a_floor, a_released_job, operation_ids
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


def unlabelled_inputs(html: str) -> list[str]:
    ids = re.findall(r'<(?:input|select|textarea)\b[^>]*\bid="([^"]+)"', html)
    labelled = set(re.findall(r'<label\b[^>]*\bfor="([^"]+)"', html))
    controls = re.findall(r"<(?:input|select|textarea)\b[^>]*>", html)
    no_id = [c for c in controls if ' id="' not in c and 'type="hidden"' not in c]
    return [i for i in ids if i not in labelled] + no_id


async def test_pages_render_with_labels_and_without_inline_code(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given an NCR with part of its PCN in quarantine and a machine-down ticket
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 10)
    ncr = await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Bent pins",
        cause="handling",
        links=quality_service.Links(pcn=pcn),
    )
    ncr_id = ncr.id
    await quality_service.contain(
        session, ticket_id=ncr_id, pcn=pcn, location_id=shop.quarantine_id, qty=4
    )
    await quality_service.create_plan(session, machine_code=shop.machine, every_run_hours=100)
    await quality_service.set_policy(
        session, kind="ncr", priority="normal", response_minutes=60, resolution_minutes=120
    )
    await login(client, await make_user("operator"))
    pages = {
        "/quality": 'data-testid="cause-chart"',
        "/quality/raise": 'data-api="/api/v1/tickets/scan"',
        "/quality/tickets?kind=ncr&category=open&priority=normal": f"/quality/tickets/{ncr_id}",
        f"/quality/tickets/{ncr_id}": 'data-testid="contain-form"',
    }
    for url, expected in pages.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        assert inline_code(response.text) == [], url
        assert unlabelled_inputs(response.text) == [], url
    dashboard = (await client.get("/quality", headers=HTML)).text
    # 4 units of a 2.50 part in quarantine, one open NCR caused by handling
    assert "10.00" in dashboard
    assert "handling: 1" in dashboard
    assert "run hours" in dashboard
    await quality_service.update_ticket(session, ticket_id=ncr_id, root_cause="worn gripper")
    detail = (await client.get(f"/quality/tickets/{ncr_id}", headers=HTML)).text
    assert 'data-testid="sla"' in detail
    assert 'data-testid="analysis-form"' in detail
    assert "worn gripper" in detail
    assert (await client.get("/quality/tickets/999", headers=HTML)).status_code == 404


async def test_raise_by_scanning_a_pcn_or_a_machine_label(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 3)
    by_pcn = await client.post(
        "/api/v1/tickets/scan",
        json={"code": pcn, "kind": "ncr", "title": "Dented"},
        headers=operator_headers,
    )
    assert by_pcn.status_code == 201, by_pcn.text
    assert by_pcn.json()["lot_id"] is not None
    by_machine = await client.post(
        "/api/v1/tickets/scan",
        json={"code": shop.machine, "kind": "maintenance", "title": "Noise", "machine_down": True},
        headers=operator_headers,
    )
    assert by_machine.status_code == 201
    assert by_machine.json()["machine_id"] == shop.machine_id
    unknown = await client.post(
        "/api/v1/tickets/scan",
        json={"code": "NOTHING-1", "kind": "ncr", "title": "x"},
        headers=operator_headers,
    )
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "label_not_found"


def test_cause_chart_scales_bars() -> None:
    bars, height = quality_pages.cause_chart([("supplier", 4), ("handling", 2)])
    assert [b.count for b in bars] == [4, 2]
    assert bars[0].width == 2 * bars[1].width
    assert height == 2 * (quality_pages.BAR_HEIGHT + quality_pages.BAR_GAP)
    assert quality_pages.cause_chart([]) == ([], quality_pages.BAR_HEIGHT)


async def test_a_machine_down_ticket_shows_on_the_load_chart(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    from kosh.shopfloor import capacity

    shop = await a_shop(session)
    await login(client, await make_user("viewer"))
    today = capacity.today().isoformat()
    url = f"/shopfloor/load?work_centre={shop.work_centre}"
    assert f"{today}: 0.0 h planned of 16.0 h" in (await client.get(url, headers=HTML)).text
    await quality_service.create_ticket(
        session,
        kind="maintenance",
        title="Motor",
        machine_down=True,
        links=quality_service.Links(machine_code=shop.machine),
    )
    assert f"{today}: 0.0 h planned of 8.0 h" in (await client.get(url, headers=HTML)).text


async def test_return_pages_render(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    from kosh.quality import returns as return_ops
    from kosh.sales import service as sales_service
    from tests.support.sales import a_customer, an_order

    shop = await a_shop(session)
    await a_lot(session, shop, 3)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 3)],
        confirm=True,
    )
    await sales_service.ship(session, order_id=order_id)
    rma = await quality_service.create_return(
        session,
        sales_order_id=order_id,
        lines=[return_ops.LineIn(shop.part_number, 2)],
        reason="wrong size",
    )
    rma_id, number = rma.id, rma.number
    await login(client, await make_user("operator"))
    for url, expected in {
        "/quality/returns": f"/quality/returns/{rma_id}",
        f"/quality/returns/{rma_id}": 'data-testid="receive-form"',
    }.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        assert inline_code(response.text) == [], url
        assert unlabelled_inputs(response.text) == [], url
    await quality_service.receive(session, return_id=rma_id, location_id=shop.quarantine_id)
    received = (await client.get(f"/quality/returns/{rma_id}", headers=HTML)).text
    assert 'data-testid="inspect-form"' in received
    pcns = await return_ops.pcns_of(
        session, await quality_service.get_return_or_raise(session, rma_id)
    )
    assert next(iter(pcns.values())) in received
    assert number in received


async def test_the_ticket_page_shows_the_linked_operation_and_its_job(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given an NCR raised against a job's second operation, and one without an operation
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 2)
    _, second = await operation_ids(session, job_id)
    linked = await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Test fails",
        links=quality_service.Links(operation_code=f"OP-{second}"),
    )
    plain = await quality_service.create_ticket(session, kind="ncr", title="No operation")
    job_number = (await job_service.get_job_or_raise(session, job_id)).number
    await login(client, await make_user("viewer"))

    page = await client.get(f"/quality/tickets/{linked.id}", headers=HTML)
    other = await client.get(f"/quality/tickets/{plain.id}", headers=HTML)

    # then the page names the operation as on the traveller and links its job
    assert page.status_code == 200
    assert 'data-testid="ticket-operation"' in page.text
    assert f'<a href="/shopfloor/jobs/{job_id}">OP-{second}</a>' in page.text
    assert (
        f'<a href="/jobs/{job_id}" data-testid="ticket-operation-job">{job_number}</a>' in page.text
    )
    assert not inline_code(page.text)
    assert other.status_code == 200
    assert 'data-testid="ticket-operation"' not in other.text
