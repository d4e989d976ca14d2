"""The ticket engine: numbers per kind, workflows as data (and their safe rules), links,
comments, edits, audit, and maintenance tickets that set a machine down and back."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import ConflictError, NotFoundError, ValidationError
from kosh.core.models import AuditEvent
from kosh.quality import service as quality_service
from kosh.quality import tickets as ticket_ops
from kosh.quality.workflows import StatusSpec, validate
from kosh.sales import service as sales_service
from kosh.shopfloor import capacity
from kosh.shopfloor import queries as shopfloor_queries
from kosh.shopfloor import service as shopfloor_service
from tests.quality.support import Shop, a_lot, a_shop
from tests.shopfloor.support import a_floor, a_released_job, operation_ids
from tests.support.sales import a_customer, an_order


async def _capacity_today(session: AsyncSession, shop: Shop) -> int:
    await session.rollback()
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, shop.work_centre)
    day = capacity.today()
    [period] = await shopfloor_queries.load(session, centre, day, day)
    return period.capacity_minutes


async def _machine_status(session: AsyncSession, machine_id: int) -> str:
    await session.rollback()
    return (await shopfloor_service.get_machine_or_raise(session, machine_id)).status


async def test_numbers_are_per_kind_and_links_resolve(session: AsyncSession) -> None:
    # given a shop with a lot, a customer order and a supplier-less part
    shop = await a_shop(session)
    pcn = await a_lot(session, shop, 10)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 1)],
    )
    # when tickets of several kinds are raised
    first = await quality_service.create_ticket(session, kind="ncr", title="Bad solder")
    second = await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Scratched",
        priority="high",
        links=quality_service.Links(pcn=pcn, work_centre_code=shop.work_centre),
        cause="handling",
    )
    third = await quality_service.create_ticket(
        session,
        kind="replacement",
        title="Dead on arrival",
        links=quality_service.Links(
            sales_order_id=order_id, part_number=shop.part_number, customer_id=customer.id
        ),
        assignee_department_code=shop.department,
    )
    maint = await quality_service.create_ticket(
        session,
        kind="maintenance",
        title="Oil",
        links=quality_service.Links(machine_code=shop.machine),
    )
    # then each kind counts on its own and the links point at the rows named
    assert [first.number, second.number, third.number, maint.number] == [
        "NCR-000001",
        "NCR-000002",
        "REP-000001",
        "MNT-000001",
    ]
    assert second.lot_id is not None
    assert second.part_id == shop.part_id
    assert second.work_centre_id == shop.work_centre_id
    assert third.sales_order_id == order_id
    assert third.customer_id == customer.id
    assert third.assignee_department_id is not None
    assert maint.machine_id == shop.machine_id
    assert maint.work_centre_id == shop.work_centre_id
    assert first.status == "open"
    assert first.category == "open"
    # and opening is audited
    actions = list(await session.scalars(select(AuditEvent.action)))
    assert actions.count("quality.ticket.open") == 4


@pytest.mark.parametrize(
    ("fields", "error", "code"),
    [
        ({"kind": "audit", "title": "x"}, ValidationError, "validation_error"),
        ({"kind": "ncr", "title": "x", "priority": "urgent"}, ValidationError, "validation_error"),
        ({"kind": "ncr", "title": "  "}, ValidationError, "validation_error"),
        (
            {"kind": "ncr", "title": "x", "machine_down": True},
            ValidationError,
            "machine_down_not_maintenance",
        ),
        (
            {"kind": "maintenance", "title": "x", "machine_down": True},
            ValidationError,
            "machine_required",
        ),
        (
            {"kind": "ncr", "title": "x", "links": quality_service.Links(pcn="NOPE")},
            NotFoundError,
            "pcn_not_found",
        ),
        (
            {"kind": "ncr", "title": "x", "links": quality_service.Links(machine_code="NOPE")},
            NotFoundError,
            "machine_not_found",
        ),
        (
            {"kind": "ncr", "title": "x", "links": quality_service.Links(supplier_code="NOPE")},
            NotFoundError,
            "supplier_not_found",
        ),
        (
            {"kind": "ncr", "title": "x", "links": quality_service.Links(job_id=999)},
            NotFoundError,
            "job_not_found",
        ),
        ({"kind": "ncr", "title": "x", "assignee_user_id": 999}, NotFoundError, "user_not_found"),
    ],
)
async def test_bad_tickets_are_refused_and_nothing_is_stored(
    session: AsyncSession, fields: dict[str, object], error: type[Exception], code: str
) -> None:
    with pytest.raises(error) as caught:
        await quality_service.create_ticket(session, **fields)  # type: ignore[arg-type]
    assert getattr(caught.value, "code", None) == code
    rows, total = await quality_service.list_tickets(session)
    assert (rows, total) == ([], 0)


async def test_workflow_transitions_are_enforced_and_history_is_kept(session: AsyncSession) -> None:
    # given an open NCR
    ticket = await quality_service.create_ticket(session, kind="ncr", title="Crack")
    ticket_id = ticket.id
    # when it moves along its workflow
    moved = await quality_service.transition(session, ticket_id=ticket_id, to="in_progress")
    assert moved.responded_at is not None
    assert moved.version == 2
    # then a move the workflow lacks is 409 naming what is allowed
    with pytest.raises(ConflictError) as caught:
        await quality_service.transition(session, ticket_id=ticket_id, to="closed")
    assert caught.value.code == "transition_not_allowed"
    assert set(caught.value.details["allowed"]) == {"waiting", "resolved"}
    # and a stale version is 409
    with pytest.raises(ConflictError) as stale:
        await quality_service.transition(session, ticket_id=ticket_id, to="waiting", version=1)
    assert stale.value.code == "stale_version"
    done = await quality_service.transition(
        session, ticket_id=ticket_id, to="resolved", note="fixed"
    )
    assert done.category == "done"
    assert done.resolved_at is not None
    reopened = await quality_service.transition(session, ticket_id=ticket_id, to="in_progress")
    assert reopened.category == "open"
    assert reopened.resolved_at is None
    await quality_service.comment(session, ticket_id=ticket_id, body="  checked again ")
    history = await ticket_ops.events_of(session, ticket_id)
    assert [(e.kind, e.to_status) for e in history] == [
        ("status", "open"),
        ("status", "in_progress"),
        ("status", "resolved"),
        ("status", "in_progress"),
        ("comment", None),
    ]
    assert history[-1].body == "checked again"
    with pytest.raises(ValidationError):
        await quality_service.comment(session, ticket_id=ticket_id, body="  ")
    with pytest.raises(NotFoundError):
        await quality_service.transition(session, ticket_id=9999, to="waiting")
    with pytest.raises(NotFoundError):
        await quality_service.get_ticket_or_raise(session, 9999)


async def test_update_edits_fields_and_checks_them(session: AsyncSession, make_user) -> None:  # type: ignore[no-untyped-def]
    user = await make_user("operator")
    ticket = await quality_service.create_ticket(session, kind="ncr", title="Crack")
    updated = await quality_service.update_ticket(
        session,
        ticket_id=ticket.id,
        title="Cracked housing",
        priority="critical",
        cause="supplier",
        root_cause="moulding",
        corrective_action="new tool",
        assignee_user_id=user.id,
        description="seen at test",
    )
    assert (updated.title, updated.priority, updated.cause) == (
        "Cracked housing",
        "critical",
        "supplier",
    )
    assert updated.root_cause == "moulding"
    assert updated.assignee_user_id == user.id
    number, ticket_id = updated.number, updated.id
    with pytest.raises(ValidationError):
        await quality_service.update_ticket(session, ticket_id=ticket_id, title=" ")
    with pytest.raises(ValidationError):
        await quality_service.update_ticket(session, ticket_id=ticket_id, priority="p0")
    found = await quality_service.get_ticket_by_number(session, number)
    assert found is not None
    assert found.id == ticket_id
    rows, total = await quality_service.list_tickets(
        session, kind="ncr", status="open", category="open", priority="critical"
    )
    assert total == 1
    assert rows[0].id == ticket_id
    assert ticket_ops.numbers(rows) == [number]


async def test_machine_down_lowers_capacity_until_resolved(session: AsyncSession) -> None:
    # given a work centre with two available machines: 960 minutes today
    shop = await a_shop(session)
    assert await _capacity_today(session, shop) == 960
    # when a corrective ticket opens with machine down
    ticket = await quality_service.create_ticket(
        session,
        kind="maintenance",
        title="Hydraulic leak",
        links=quality_service.Links(machine_code=shop.machine),
        machine_down=True,
    )
    ticket_id = ticket.id
    # then the machine is down and the capacity dropped at once
    assert await _machine_status(session, shop.machine_id) == "down"
    assert await _capacity_today(session, shop) == 480
    # when it is resolved the machine is back as it was (running)
    await quality_service.transition(session, ticket_id=ticket_id, to="resolved")
    assert await _machine_status(session, shop.machine_id) == "running"
    assert await _capacity_today(session, shop) == 960
    # and reopening sets it down again
    await quality_service.transition(session, ticket_id=ticket_id, to="in_progress")
    assert await _machine_status(session, shop.machine_id) == "down"
    await quality_service.transition(session, ticket_id=ticket_id, to="resolved")
    assert await _machine_status(session, shop.machine_id) == "running"


async def test_admin_replaces_a_workflow_within_safe_rules(session: AsyncSession) -> None:
    # given a ticket in "open"
    await quality_service.create_ticket(session, kind="replacement", title="Swap unit")
    # when the admin replaces the workflow with a shorter one keeping "open"
    flow = await quality_service.set_workflow(
        session,
        kind="replacement",
        statuses=[
            StatusSpec("open", "open"),
            StatusSpec("shipped", "waiting"),
            StatusSpec("done", "done"),
        ],
        initial="open",
        transitions=[("open", "shipped"), ("shipped", "done"), ("done", "open")],
    )
    # then it is in force
    assert flow.initial == "open"
    assert flow.targets("open") == ["shipped"]
    assert (await quality_service.get_workflow(session, "replacement")).category_of(
        "shipped"
    ) == "waiting"
    ticket = await quality_service.create_ticket(session, kind="replacement", title="Another")
    moved = await quality_service.transition(session, ticket_id=ticket.id, to="shipped")
    assert moved.category == "waiting"
    # and removing a status tickets are in is 409
    with pytest.raises(ConflictError) as caught:
        await quality_service.set_workflow(
            session,
            kind="replacement",
            statuses=[StatusSpec("new", "open"), StatusSpec("done", "done")],
            initial="new",
            transitions=[("new", "done")],
        )
    assert caught.value.code == "status_in_use"
    with pytest.raises(ValidationError):
        await quality_service.get_workflow(session, "bogus")


@pytest.mark.parametrize(
    ("statuses", "initial", "transitions", "problem"),
    [
        ([("a", "open"), ("a", "done")], "a", [], "twice"),
        ([("a", "open"), ("b", "finished")], "a", [("a", "b")], "category"),
        ([("a", "open"), ("b", "done")], "c", [("a", "b")], "not listed"),
        ([("a", "open"), ("b", "done")], "b", [("b", "a")], "cannot be a done"),
        ([("a", "open"), ("b", "open")], "a", [("a", "b")], "at least one done"),
        ([("a", "open"), ("b", "done")], "a", [("a", "x")], "not between"),
        (
            [("a", "open"), ("b", "done"), ("c", "open")],
            "a",
            [("a", "b"), ("c", "b")],
            "Unreachable",
        ),
        (
            [("a", "open"), ("b", "done"), ("c", "open")],
            "a",
            [("a", "b"), ("a", "c")],
            "Cannot reach",
        ),
    ],
)
def test_unsafe_workflows_are_refused(
    statuses: list[tuple[str, str]], initial: str, transitions: list[tuple[str, str]], problem: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        validate([StatusSpec(*s) for s in statuses], initial, transitions)
    assert caught.value.code == "workflow_invalid"
    assert problem in str(caught.value)


async def test_workflow_without_stored_statuses_is_the_default(session: AsyncSession) -> None:
    from sqlalchemy import delete

    from kosh.quality.models import WorkflowStatus

    await session.execute(delete(WorkflowStatus).where(WorkflowStatus.kind == "ncr"))
    flow = await quality_service.get_workflow(session, "ncr")
    assert flow.initial == "open"
    assert "resolved" in flow.targets("open")
    await session.rollback()


def test_workflow_category_of_unknown_status_raises() -> None:
    from kosh.quality.workflows import Workflow

    flow = Workflow(
        kind="ncr", statuses=[StatusSpec("open", "open")], initial="open", transitions=[]
    )
    with pytest.raises(KeyError):
        flow.category_of("gone")


async def test_replacement_links_keep_sales_service_reads(session: AsyncSession) -> None:
    shop = await a_shop(session)
    customer = await a_customer(session)
    order_id = await an_order(
        session,
        customer_id=customer.id,
        warehouse_id=shop.warehouse_id,
        lines=[(shop.part_number, 2)],
    )
    ticket = await quality_service.create_ticket(
        session, kind="replacement", title="x", links=quality_service.Links(sales_order_id=order_id)
    )
    order = await sales_service.get_order(session, order_id)
    assert ticket.customer_id == order.customer_id
    assert timedelta(0) <= ticket.updated_at - ticket.opened_at < timedelta(minutes=1)


async def test_a_machine_stays_down_while_another_down_ticket_is_open(
    session: AsyncSession,
) -> None:
    shop = await a_shop(session)
    links = quality_service.Links(machine_code=shop.machine)
    first = await quality_service.create_ticket(
        session, kind="maintenance", title="Leak", links=links, machine_down=True
    )
    second = await quality_service.create_ticket(
        session, kind="maintenance", title="Sensor", links=links, machine_down=True
    )
    first_id, second_id = first.id, second.id
    await quality_service.transition(session, ticket_id=first_id, to="resolved")
    assert await _machine_status(session, shop.machine_id) == "down"
    await quality_service.transition(session, ticket_id=second_id, to="resolved")
    assert await _machine_status(session, shop.machine_id) == "running"


async def test_a_ticket_links_a_shop_floor_operation(session: AsyncSession) -> None:
    # given a released job with its operations
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 5)
    first, _ = await operation_ids(session, job_id)
    # when an NCR is raised against the first operation, as printed on the traveller
    ticket = await quality_service.create_ticket(
        session,
        kind="ncr",
        title="Solder bridges",
        links=quality_service.Links(operation_code=f"op-{first}"),
    )
    # then it links the operation, its job and its work centre
    assert (ticket.operation_id, ticket.job_id, ticket.work_centre_id) == (
        first,
        job_id,
        floor.smt_id,
    )
    # and an operation that does not exist, or is no operation code, is a 404
    for code in ("OP-999999", "solder"):
        with pytest.raises(NotFoundError) as caught:
            await quality_service.create_ticket(
                session, kind="ncr", title="x", links=quality_service.Links(operation_code=code)
            )
        assert caught.value.code == "operation_not_found"


async def test_an_operation_link_over_the_api(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 2)
    _, second = await operation_ids(session, job_id)
    created = await client.post(
        "/api/v1/tickets",
        json={"kind": "ncr", "title": "Test fails", "links": {"operation_code": f"OP-{second}"}},
        headers=operator_headers,
    )
    assert created.status_code == 201, created.text
    assert (created.json()["operation_id"], created.json()["work_centre_id"]) == (
        second,
        floor.test_id,
    )
    missing = await client.post(
        "/api/v1/tickets",
        json={"kind": "ncr", "title": "x", "links": {"operation_code": "OP-999999"}},
        headers=operator_headers,
    )
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["loc"][-1] == "operation_code"
