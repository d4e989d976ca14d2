"""Returns proposed by refunds in a web store.

When a web store refunds units that had shipped, sales notes SALES_REFUNDED with the
refunded lines (kosh.sales.web_refunds, kosh.sales.refunds). `propose_for_refunds`, its
subscriber (wired in kosh.wiring), drafts one RMA per order and refund, status `proposed`,
reason naming the refund, outcome `refund`, one line per refunded order line with the
shipped units. It runs inside the transaction that recorded the refund, so a refund
recorded once is proposed once. A proposed RMA counts nowhere (not against shipped minus
returned) until the returns desk confirms it (`confirm_proposed`: then the usual rules
apply, 409 over_return when a clerk's return took the units meanwhile) or dismisses it
(`dismiss_proposed`, which deletes the draft).

Sales data is read through kosh.sales.service only.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ConflictError
from kosh.quality import metrics, tickets
from kosh.quality.models import Return, ReturnLine
from kosh.quality.returns import _lock_order_returns, _lock_return, lines_of, returned_by_line
from kosh.sales import service as sales_service

log = structlog.get_logger(__name__)

PROPOSER = "web store refund"


async def propose_for_refunds(session: AsyncSession, refunded_line_ids: list[Any]) -> None:
    """Subscriber of SALES_REFUNDED: a proposed RMA per (order, refund) for the shipped
    units of the refunded lines. Joins the caller's transaction."""
    refunded = await sales_service.refunded_lines_by_ids(session, refunded_line_ids)
    groups: dict[tuple[int, str | None], list[tuple[int, int, int]]] = defaultdict(list)
    for row in refunded:
        if row.qty_shipped > 0:
            groups[(row.order_id, row.external_refund_id)].append(
                (row.order_line_id, row.part_id, row.qty_shipped)
            )
    for (order_id, refund_id), lines in sorted(
        groups.items(), key=lambda g: (g[0][0], str(g[0][1]))
    ):
        reason = (
            f"Refunded in the web store (refund {refund_id})"
            if refund_id
            else "Refunded in full in the web store"
        )
        rma = Return(
            number=await tickets.next_number(session, "rma"),
            sales_order_id=order_id,
            reason=reason,
            outcome="refund",
            status="proposed",
            created_by=PROPOSER,
        )
        session.add(rma)
        await session.flush()
        session.add_all(
            ReturnLine(return_id=rma.id, sales_order_line_id=line_id, part_id=part_id, qty=qty)
            for line_id, part_id, qty in lines
        )
        await session.flush()
        await audit.record(
            session,
            action="quality.return.propose",
            entity_type="return",
            entity_id=rma.number,
            after={
                "sales_order_id": order_id,
                "refund": refund_id,
                "lines": [{"line_id": a, "part_id": b, "qty": c} for a, b, c in lines],
            },
        )
        metrics.WEB_RETURNS.labels(action="proposed").inc()
        log.info("return_proposed", rma=rma.number, sales_order_id=order_id, refund=refund_id)


@transactional
async def confirm_proposed(session: AsyncSession, *, return_id: int) -> Return:
    """The returns desk confirms a proposed RMA: it becomes `authorised` and is received as
    usual. Rules: the return exists (404 return_not_found) and is proposed (409
    invalid_status); per line never more than shipped minus already returned (409
    over_return with `returnable`, under the order's guard row, as `create_return`)."""
    rma = await _lock_return(session, return_id, "proposed")
    await _lock_order_returns(session, rma.sales_order_id)
    order = await sales_service.get_order(session, rma.sales_order_id)
    shipped = {line.id: line.qty_shipped for line in order.lines}
    returned = await returned_by_line(session, rma.sales_order_id)
    for index, line in enumerate(await lines_of(session, rma.id)):
        returnable = shipped.get(line.sales_order_line_id, 0) - returned.get(
            line.sales_order_line_id, 0
        )
        if line.qty > returnable:
            raise ConflictError(
                f"Only {max(0, returnable)} of line {line.sales_order_line_id} can still be "
                "returned (shipped minus returned).",
                code="over_return",
                details={"index": index, "returnable": max(0, returnable), "requested": line.qty},
            )
    rma.status = "authorised"
    rma.version += 1
    await session.flush()
    await audit.record(
        session,
        action="quality.return.confirm",
        entity_type="return",
        entity_id=rma.number,
        before={"status": "proposed"},
        after={"status": "authorised"},
    )
    metrics.WEB_RETURNS.labels(action="confirmed").inc()
    return rma


@transactional
async def dismiss_proposed(session: AsyncSession, *, return_id: int) -> None:
    """The returns desk drops a proposed RMA (nothing is coming back): the draft is deleted,
    audited. 404 return_not_found; 409 invalid_status unless it is proposed."""
    rma = await _lock_return(session, return_id, "proposed")
    number = rma.number
    await session.execute(delete(ReturnLine).where(ReturnLine.return_id == rma.id))
    await session.delete(rma)
    await session.flush()
    await audit.record(
        session,
        action="quality.return.dismiss",
        entity_type="return",
        entity_id=number,
        before={"status": "proposed"},
    )
    metrics.WEB_RETURNS.labels(action="dismissed").inc()


async def count_proposed(session: AsyncSession) -> int:
    return int(
        await session.scalar(
            select(func.count()).select_from(Return).where(Return.status == "proposed")
        )
        or 0
    )
