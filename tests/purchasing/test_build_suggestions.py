"""Suggested purchases for assemblies: a part with an active BOM (with lines) is suggested
as a build, and acting on the suggestions plans a production job for it next to the draft
POs, in one step (all or none); what open jobs will build counts as coming."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.models import User
from kosh.bom.models import Bom, BomLine
from kosh.core.errors import RuleViolationError, ValidationError
from kosh.core.models import AuditEvent
from kosh.production.models import Job, JobLine
from kosh.purchasing import reorder
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.models import PurchaseOrder
from tests.purchasing.factories import buying
from tests.support.fixtures import LoggedIn, MakeUser
from tests.support.stock import a_part

Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]
TODAY = date(2026, 12, 1)


async def an_assembly(
    session: AsyncSession, *, status: str = "active", qty_per: int = 2, lines: bool = True
) -> tuple[int, str, int]:
    """An assembly part with a BOM of one component; answers (part id, number, BOM id)."""
    assembly = await a_part(session)
    component = await a_part(session)
    bom = Bom(assembly_part_id=assembly.id, revision="A", status=status, created_by="t")
    session.add(bom)
    await session.flush()
    if lines:
        session.add(BomLine(bom_id=bom.id, line_no=1, part_id=component.id, qty=qty_per))
    await session.commit()
    return assembly.id, assembly.number, bom.id


async def keep(session: AsyncSession, number: str, warehouse_id: int, low: int, high: int) -> None:
    await purchasing_service.set_reorder_rule(
        session, part_number=number, warehouse_id=warehouse_id, min_qty=low, max_qty=high
    )


async def count(session: AsyncSession, model: type[object]) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_an_assembly_is_suggested_as_a_build_and_planned_as_a_job(
    session: AsyncSession,
) -> None:
    # given: a bought part and an assembly, both below their minimum, none in stock
    b = await buying(session)
    warehouse_id = b.site.warehouse_id
    assembly_id, assembly_number, bom_id = await an_assembly(session)
    await keep(session, b.site.part_number, warehouse_id, 100, 200)
    await keep(session, assembly_number, warehouse_id, 10, 25)
    # when: the suggestions are computed
    found = {s.part_id: s for s in await reorder.suggestions(session, warehouse_id=warehouse_id)}
    # then: the assembly is a build of the shortfall from its BOM, with no supplier
    build = found[assembly_id]
    assert (build.action, build.bom_id, build.suggested_qty, build.in_production) == (
        "build",
        bom_id,
        25,
        0,
    )
    assert (build.supplier_part_id, build.supplier_code, build.packs) == (None, None, None)
    assert found[b.site.part_id].action == "purchase"
    # when: acted on
    made = await purchasing_service.order_suggestions(
        session, warehouse_id=warehouse_id, today=TODAY
    )
    # then: one draft PO for the bought part and one planned job for the assembly
    assert [o.status for o in made.orders] == ["draft"]
    [job] = made.jobs
    stored = await session.get(Job, job.id, populate_existing=True)
    assert stored is not None
    assert (stored.number, stored.status, stored.qty, stored.bom_id) == (
        "SUG-261201-001",
        "planned",
        25,
        bom_id,
    )
    assert (stored.assembly_part_id, stored.warehouse_id) == (assembly_id, warehouse_id)
    assert stored.notes == "Planned from reorder suggestions."
    lines = list(await session.scalars(select(JobLine).where(JobLine.job_id == job.id)))
    assert [(line.qty_per, line.required) for line in lines] == [(2, 50)]
    assert await session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "job.create")
    )
    # and: what the planned job will build counts as coming: no second build suggested
    again = {s.part_id: s for s in await reorder.suggestions(session, warehouse_id=warehouse_id)}
    assert assembly_id not in again
    # when: the minimum rises past what is coming, a second job gets the next number
    await keep(session, assembly_number, warehouse_id, 40, 40)
    [more] = [
        s
        for s in await reorder.suggestions(session, warehouse_id=warehouse_id)
        if s.part_id == assembly_id
    ]
    assert (more.in_production, more.projected, more.suggested_qty) == (25, 25, 15)
    second = await purchasing_service.order_suggestions(
        session, warehouse_id=warehouse_id, part_ids=[assembly_id], today=TODAY
    )
    assert (second.orders, [j.number for j in second.jobs]) == ([], ["SUG-261201-002"])


async def test_a_selection_without_the_build_plans_no_job(session: AsyncSession) -> None:
    b = await buying(session)
    _, assembly_number, _ = await an_assembly(session)
    await keep(session, b.site.part_number, b.site.warehouse_id, 100, 200)
    await keep(session, assembly_number, b.site.warehouse_id, 10, 10)
    made = await purchasing_service.order_suggestions(
        session, warehouse_id=b.site.warehouse_id, part_ids=[b.site.part_id]
    )
    assert (len(made.orders), made.jobs) == (1, [])
    assert await count(session, Job) == 0


@pytest.mark.parametrize(("status", "lines"), [("draft", True), ("active", False)])
async def test_without_an_active_bom_with_lines_it_stays_a_purchase(
    session: AsyncSession, status: str, lines: bool
) -> None:
    b = await buying(session)
    assembly_id, number, _ = await an_assembly(session, status=status, lines=lines)
    await keep(session, number, b.site.warehouse_id, 5, 5)
    [s] = [
        s
        for s in await reorder.suggestions(session, warehouse_id=b.site.warehouse_id)
        if s.part_id == assembly_id
    ]
    assert (s.action, s.bom_id) == ("purchase", None)
    made = await purchasing_service.order_suggestions(session, warehouse_id=b.site.warehouse_id)
    assert made.jobs == []  # no supplier either: left out


async def test_a_build_that_cannot_be_planned_refuses_the_whole_step(
    session: AsyncSession,
) -> None:
    # given: a bought part short, and an assembly whose job would need > 1e9 of a part
    b = await buying(session)
    _, number, _ = await an_assembly(session, qty_per=600_000_000)
    await keep(session, b.site.part_number, b.site.warehouse_id, 100, 200)
    await keep(session, number, b.site.warehouse_id, 2, 2)
    # when / then: refused, and neither the PO nor a job was made
    with pytest.raises(ValidationError):
        await purchasing_service.order_suggestions(session, warehouse_id=b.site.warehouse_id)
    assert (await count(session, PurchaseOrder), await count(session, Job)) == (0, 0)


@pytest.mark.usefixtures("sessions")
async def test_suggestions_api_and_page_show_builds_and_plan_jobs(
    client: httpx.AsyncClient,
    session: AsyncSession,
    make_user: MakeUser,
    login: Login,
    operator_headers: dict[str, str],
) -> None:
    # given
    b = await buying(session)
    assembly_id, number, bom_id = await an_assembly(session)
    await keep(session, number, b.site.warehouse_id, 3, 8)
    await login(client, await make_user("operator"))
    # when: read through the API
    listed = await client.get(
        "/api/v1/purchasing/suggestions", params={"warehouse_id": b.site.warehouse_id}
    )
    assert listed.status_code == 200
    [s] = listed.json()["items"]
    assert (s["part_id"], s["action"], s["bom_id"], s["suggested_qty"]) == (
        assembly_id,
        "build",
        bom_id,
        8,
    )
    # and: on the page, where the row says build and can be ticked
    page = await client.get(
        "/purchasing/suggestions",
        params={"warehouse_id": b.site.warehouse_id},
        headers={"accept": "text/html"},
    )
    assert page.status_code == 200
    assert '<tr data-action="build">' in page.text
    assert f'data-part-choice="{assembly_id}"' in page.text
    assert f'href="/boms/{bom_id}"' in page.text
    # when: acted on
    made = await client.post(
        "/api/v1/purchasing/suggestions/orders",
        json={"warehouse_id": b.site.warehouse_id, "part_ids": [assembly_id]},
        headers=operator_headers,
    )
    # then
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["orders"] == []
    [job] = body["jobs"]
    assert (job["assembly_part_id"], job["bom_id"], job["qty"], job["status"]) == (
        assembly_id,
        bom_id,
        8,
        "planned",
    )
    assert job["number"].startswith("SUG-")


# --- order multiple and lead time ------------------------------------------------------


async def test_order_multiple_rounds_and_lead_time_dates_the_suggestion(
    session: AsyncSession,
) -> None:
    # given: keep 100..250, in multiples of 300, seven days to arrive (the rule's)
    b = await buying(session)
    warehouse_id = b.site.warehouse_id
    await purchasing_service.set_reorder_rule(
        session,
        part_number=b.site.part_number,
        warehouse_id=warehouse_id,
        min_qty=100,
        max_qty=250,
        order_multiple=300,
        lead_time_days=7,
    )
    # when
    [s] = await reorder.suggestions(session, warehouse_id=warehouse_id, today=TODAY)
    # then: 250 needed, 300 suggested, expected on the 8th
    assert (s.suggested_qty, s.lead_time_days, s.expected_date) == (300, 7, date(2026, 12, 8))
    # and: the draft PO line is expected then
    made = await purchasing_service.order_suggestions(
        session, warehouse_id=warehouse_id, today=TODAY
    )
    [order] = made.orders
    assert [(line.qty, line.expected_date) for line in order.lines] == [(300, date(2026, 12, 8))]
    rule_events = await session.scalars(
        select(AuditEvent).where(AuditEvent.action == "reorder_rule.set")
    )
    assert [e.after["order_multiple"] for e in rule_events] == [300]


async def test_lead_time_falls_back_to_the_offer_then_the_supplier(session: AsyncSession) -> None:
    from kosh.purchasing.models import Supplier, SupplierPart

    # given: a rule without a lead time; the supplier takes 5 days
    b = await buying(session)
    warehouse_id = b.site.warehouse_id
    await keep(session, b.site.part_number, warehouse_id, 10, 10)
    supplier = await session.scalar(select(Supplier).where(Supplier.code == b.supplier_code))
    assert supplier is not None
    supplier.lead_time_days = 5
    await session.commit()
    [s] = await reorder.suggestions(session, warehouse_id=warehouse_id, today=TODAY)
    assert (s.lead_time_days, s.expected_date) == (5, date(2026, 12, 6))
    # when: the offer says 2 days, it wins over the supplier
    offer = await session.get(SupplierPart, b.supplier_part_id)
    assert offer is not None
    offer.lead_time_days = 2
    await session.commit()
    [s] = await reorder.suggestions(session, warehouse_id=warehouse_id, today=TODAY)
    assert (s.lead_time_days, s.expected_date) == (2, date(2026, 12, 3))


async def test_a_build_is_due_after_the_rules_lead_time(session: AsyncSession) -> None:
    b = await buying(session)
    _, number, _ = await an_assembly(session)
    await purchasing_service.set_reorder_rule(
        session,
        part_number=number,
        warehouse_id=b.site.warehouse_id,
        min_qty=4,
        max_qty=4,
        order_multiple=10,
        lead_time_days=14,
    )
    made = await purchasing_service.order_suggestions(
        session, warehouse_id=b.site.warehouse_id, today=TODAY
    )
    [job] = made.jobs
    assert (job.qty, job.due_date) == (10, date(2026, 12, 15))
    # and: without a lead time on the rule, a build has no due date
    await keep(session, number, b.site.warehouse_id, 30, 30)
    [s] = [
        s
        for s in await reorder.suggestions(session, warehouse_id=b.site.warehouse_id)
        if s.action == "build"
    ]
    assert (s.suggested_qty, s.lead_time_days, s.expected_date) == (20, None, None)


@pytest.mark.usefixtures("sessions")
async def test_reorder_rule_api_takes_multiple_and_lead_time(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    b = await buying(session)
    body = {
        "part_number": b.site.part_number,
        "warehouse_id": b.site.warehouse_id,
        "min_qty": 10,
        "max_qty": 20,
        "order_multiple": 50,
        "lead_time_days": 3,
    }
    put = await client.put("/api/v1/reorder-rules", json=body, headers=operator_headers)
    assert put.status_code == 200, put.text
    assert (put.json()["order_multiple"], put.json()["lead_time_days"]) == (50, 3)
    listed = await client.get(
        "/api/v1/purchasing/suggestions",
        params={"warehouse_id": b.site.warehouse_id},
        headers=operator_headers,
    )
    [s] = listed.json()["items"]
    assert (s["suggested_qty"], s["lead_time_days"]) == (50, 3)
    assert s["expected_date"] is not None
    for bad in ({"order_multiple": 0}, {"lead_time_days": -1}, {"order_multiple": "5"}):
        refused = await client.put(
            "/api/v1/reorder-rules", json={**body, **bad}, headers=operator_headers
        )
        assert refused.status_code == 422, bad


async def test_a_suggestion_too_large_for_one_line_refuses_the_step(
    session: AsyncSession,
) -> None:
    # given: keep up to 1e9, in multiples of 999,999,999: the suggestion is 1,999,999,998
    b = await buying(session)
    await purchasing_service.set_reorder_rule(
        session,
        part_number=b.site.part_number,
        warehouse_id=b.site.warehouse_id,
        min_qty=1_000_000_000,
        max_qty=1_000_000_000,
        order_multiple=999_999_999,
    )
    [s] = await reorder.suggestions(session, warehouse_id=b.site.warehouse_id)
    assert s.suggested_qty == 1_999_999_998
    # when / then: refused with a 422, nothing made
    with pytest.raises(RuleViolationError) as caught:
        await purchasing_service.order_suggestions(session, warehouse_id=b.site.warehouse_id)
    assert caught.value.code == "suggestion_too_large"
    assert await count(session, PurchaseOrder) == 0
