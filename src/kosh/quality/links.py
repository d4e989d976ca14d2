"""What a ticket concerns: links named as on labels and documents (machine asset number,
PCN, part number, job, operation (`OP-123` as on a traveller), work centre code, sales
order, supplier code, customer), resolved
through the owning features' services into ids on the ticket (404 for what does not
exist). A link is a reference, never a write to the other feature."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.core.errors import NotFoundError, field_error
from kosh.production import service as job_service
from kosh.purchasing import service as purchasing_service
from kosh.quality.models import Ticket
from kosh.sales import service as sales_service
from kosh.shopfloor import queries as shopfloor_queries
from kosh.shopfloor import service as shopfloor_service
from kosh.stock import service as stock_service


@dataclass(frozen=True)
class Links:
    """What a ticket concerns, as the caller names it (codes and numbers, as on labels)."""

    machine_code: str | None = None
    pcn: str | None = None
    part_number: str | None = None
    job_id: int | None = None
    operation_code: str | None = None
    work_centre_code: str | None = None
    sales_order_id: int | None = None
    supplier_code: str | None = None
    customer_id: int | None = None


async def apply_links(session: AsyncSession, ticket: Ticket, links: Links) -> None:
    if links.machine_code:
        machine = await shopfloor_service.get_machine_by_asset_or_raise(
            session, links.machine_code, loc="links.machine_code"
        )
        ticket.machine_id = machine.id
        ticket.work_centre_id = machine.work_centre_id
    if links.work_centre_code:
        centre = await shopfloor_service.get_work_centre_by_code_or_raise(
            session, links.work_centre_code, loc="links.work_centre_code"
        )
        ticket.work_centre_id = centre.id
    if links.pcn:
        lot = await stock_service.get_lot_by_pcn_or_raise(session, links.pcn, loc="links.pcn")
        ticket.lot_id = lot.id
        ticket.part_id = lot.part_id
    if links.part_number:
        part = await part_service.get_part_by_number_or_raise(session, links.part_number)
        ticket.part_id = part.id
    if links.job_id is not None:
        ticket.job_id = (await job_service.get_job_or_raise(session, links.job_id)).id
    if links.operation_code:
        await _link_operation(session, ticket, links.operation_code)
    if links.sales_order_id is not None:
        order = await sales_service.get_order(session, links.sales_order_id)
        ticket.sales_order_id = order.id
        ticket.customer_id = order.customer_id
    if links.customer_id is not None:
        ticket.customer_id = (await sales_service.get_customer(session, links.customer_id)).id
    if links.supplier_code:
        supplier = await purchasing_service.get_supplier_by_code_or_raise(
            session, links.supplier_code
        )
        ticket.supplier_id = supplier.id


async def _link_operation(session: AsyncSession, ticket: Ticket, code: str) -> None:
    """An operation links its job and work centre too (unless the caller named them)."""
    operation_id = shopfloor_queries.parse_operation_code(code)
    try:
        if operation_id is None:
            raise NotFoundError(f"No operation {code}.")
        operation = await shopfloor_service.get_operation_or_raise(session, operation_id)
    except NotFoundError as exc:
        raise NotFoundError(
            f"No operation {code}.",
            code="operation_not_found",
            errors=[field_error(["links", "operation_code"], "no such operation")],
        ) from exc
    ticket.operation_id = operation.id
    if ticket.job_id is None:
        ticket.job_id = operation.job_id
    if ticket.work_centre_id is None:
        ticket.work_centre_id = operation.work_centre_id
