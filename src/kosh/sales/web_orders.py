"""Web orders, the sales side: bring the KOSH order to a version of an order placed in a web
store. Joins the caller's transaction (the storefront worker's, which also marks its
staged row); never commits.

`apply_version` is the one entry point: the store adapter (kosh.storefront) has parsed the
store's payload into a `WebOrderVersion` (lines mapped to parts, what it could not read as
`problems`), and this module decides what that version means for the KOSH order:

- an older or equal version than the one applied is `ignored` (already_applied);
- `close` (cancelled, failed, trashed in the store) cancels the order, releasing what is
  reserved, unless it shipped (review: handle the return); `refund` does the same and also
  records which units were refunded, for the returns desk;
- `completed` is fine for a shipped order, review for one KOSH has not shipped;
- `await` / `confirm` / `hold` create the order (customer found or added by e-mail; in the
  first of the store's warehouses, by priority, that has every line) or
  replace its lines (never after shipping started), then reserve (`confirm`, `hold`) and
  put on hold (`hold`); a cancelled order comes back only when an undo left it reopenable;
- the order is stamped with the version's status and modification time.

Outcomes are `applied`, `review` (a person decides: every reason listed) or `ignored`.
`undo` cancels an applied web order (optionally reopenable for a re-apply).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.sales import customers as customer_ops
from kosh.sales import order_batch, reservations
from kosh.sales import orders as order_ops
from kosh.sales import refunds as refund_ops
from kosh.sales.models import SalesOrder
from kosh.sales.order_lines import NewLine
from kosh.sales.refunds import RefundedUnits

__all__ = [
    "NewLine",
    "RefundedUnits",
    "WebCustomer",
    "WebOrderOutcome",
    "WebOrderVersion",
    "apply_new",
    "apply_version",
    "undo",
]

Intent = Literal["await", "confirm", "hold", "completed", "close", "refund", "unhandled"]


@dataclass(frozen=True)
class WebCustomer:
    name: str
    email: str | None = None
    phone: str | None = None
    company: str | None = None
    billing: dict[str, Any] | None = None
    shipping: dict[str, Any] | None = None


@dataclass(frozen=True)
class WebOrderVersion:
    store: str
    external_id: str
    status: str  # the store's own word, stamped on the order
    intent: Intent
    modified_at: datetime
    warehouse_id: int
    # the warehouses the store draws on, in priority order (warehouse_id alone when empty)
    warehouse_ids: Sequence[int] = ()
    backorder: bool = False
    number: str = ""
    currency: str | None = None
    note: str = ""
    customer: WebCustomer | None = None
    lines: Sequence[NewLine] = ()
    # what the adapter could not read or map (each a reason dict): the version goes to review
    problems: Sequence[dict[str, Any]] = ()
    # for `refund`: the refunded units; empty means everything still open was refunded
    refunded: Sequence[RefundedUnits] = ()


@dataclass
class WebOrderOutcome:
    outcome: str  # applied, review, ignored
    order_id: int | None = None
    reasons: list[dict[str, Any]] = field(default_factory=list)


def _reason(code: str, message: str) -> dict[str, Any]:
    return {"code": code, "message": message}


def _done(outcome: str, order: SalesOrder | None, *reasons: dict[str, Any]) -> WebOrderOutcome:
    return WebOrderOutcome(outcome, order.id if order is not None else None, list(reasons))


async def apply_version(session: AsyncSession, version: WebOrderVersion) -> WebOrderOutcome:
    """Bring the KOSH order of this web order to `version` (see the module docstring).
    Rules refusing it (e.g. 409 insufficient_stock when backorders are off) raise, and the
    caller's transaction rolls back."""
    order = await order_ops.find_external(
        session, store=version.store, external_id=version.external_id, for_update=True
    )
    if (
        order is not None
        and not order.reopenable
        and order.external_modified_at is not None
        and order.external_modified_at >= version.modified_at
    ):
        return _done(
            "ignored", order, _reason("already_applied", "This version was applied before.")
        )
    if version.intent in ("close", "refund"):
        return await _close(session, version, order)
    if version.intent == "completed":
        return _completed(version, order)
    if version.intent == "unhandled":
        return _done(
            "ignored",
            None,
            _reason("status_not_handled", f"Status {version.status!r} is ignored."),
        )
    if version.problems:
        return WebOrderOutcome("review", order.id if order else None, list(version.problems))
    return await _bring_open(session, version, order)


def _completed(version: WebOrderVersion, order: SalesOrder | None) -> WebOrderOutcome:
    if order is not None and order.status == "shipped":
        _stamp(order, version)
        return _done("applied", order)
    if order is None:
        return _done(
            "ignored",
            None,
            _reason("completed_before_kosh", "Completed in the store before KOSH had the order."),
        )
    return _done(
        "review",
        order,
        _reason(
            "completed_not_shipped",
            f"Completed in the store, but {order.number} is {order.status} in KOSH: ship or "
            "cancel it there.",
        ),
    )


async def _close(
    session: AsyncSession, version: WebOrderVersion, order: SalesOrder | None
) -> WebOrderOutcome:
    """The store cancelled, refunded, failed or trashed the order."""
    status = version.status
    if order is None:
        return _done(
            "ignored",
            None,
            _reason("closed_before_kosh", f"{status} before KOSH had the order."),
        )
    if version.intent == "refund":
        await refund_ops.record(
            session, order, refunded=version.refunded, modified_at=version.modified_at
        )
    if order.status == "cancelled":
        _stamp(order, version)
        return _done("applied", order)
    if order.status == "shipped":
        if version.intent == "refund":
            _stamp(order, version)
            return _done(
                "applied",
                order,
                _reason("refunded_after_shipping", "Refunded lines listed for the returns desk."),
            )
        return _done(
            "review",
            order,
            _reason(
                "closed_after_shipping",
                f"{status} in the store after {order.number} shipped: handle the return.",
            ),
        )
    await order_ops.cancel_order(
        session, order, reason=f"{status} in the store", notify_store=False
    )
    _stamp(order, version)
    return _done("applied", order)


async def _bring_open(
    session: AsyncSession, version: WebOrderVersion, order: SalesOrder | None
) -> WebOrderOutcome:
    if order is not None and order.status == "cancelled":
        if not order.reopenable:
            return _done(
                "review",
                order,
                _reason(
                    "cancelled_in_kosh",
                    f"{order.number} is cancelled in KOSH but {version.status} in the store.",
                ),
            )
        await order_ops.reopen_order(session, order)

    notes: list[dict[str, Any]] = []
    confirm = version.intent in ("confirm", "hold")
    if order is None:
        order, created = await _create(session, version, confirm=confirm)
        if created is not None:
            notes += _backorder_notes(created)
            confirm = False  # confirmed as it was created
    elif _lines_differ(order, version.lines):
        if (
            any(line.qty_shipped or line.qty_cancelled for line in order.lines)
            or order.status == "shipped"
        ):
            return _done(
                "review",
                order,
                _reason(
                    "changed_after_shipping",
                    f"The store changed the lines of {order.number} after KOSH started "
                    "shipping it.",
                ),
            )
        await order_ops.replace_lines(session, order, await _relined(session, version, order))

    if order.status == "shipped":
        _stamp(order, version)
        return _done("applied", order)
    if confirm and (
        order.status in ("draft", "on_hold") or any(line.qty_short for line in order.lines)
    ):
        outcome = await order_ops.confirm_order(session, order, allow_short=version.backorder)
        notes += _backorder_notes(outcome)
    if version.intent == "hold" and order.status != "on_hold":
        await order_ops.hold_order(session, order, reason="on hold in the store")
    _stamp(order, version)
    return _done("applied", order, *notes)


def _backorder_notes(outcome: order_ops.ReserveOutcome) -> list[dict[str, Any]]:
    return [
        _reason(
            "backorder",
            f"Part {s.part_id}: {s.requested - s.available} of {s.requested} not in "
            "stock; reserved what there is.",
        )
        for s in outcome.shortages
    ]


def _stamp(order: SalesOrder, version: WebOrderVersion) -> None:
    """Remember which version of the web order the KOSH order reflects."""
    if order.external_status != version.status[:20]:
        order.external_status = version.status[:20]
    if order.external_modified_at != version.modified_at:
        order.external_modified_at = version.modified_at


def _lines_differ(order: SalesOrder, lines: Sequence[NewLine]) -> bool:
    """Whether the store's lines differ from the order's; the lines a split line became
    (one per warehouse, same store line id) count as the one line."""

    def shape(lines: Sequence[NewLine] | Sequence[Any]) -> list[tuple[Any, ...]]:
        summed: dict[tuple[Any, ...], int] = defaultdict(int)
        for li in lines:
            key = (
                li.external_line_id or "",
                li.part_id,
                Decimal(li.unit_price).quantize(Decimal("0.0001")),
            )
            summed[key] += li.qty
        return sorted((*key, qty) for key, qty in summed.items())

    return shape(order.lines) != shape(lines)


async def _create(
    session: AsyncSession, version: WebOrderVersion, *, confirm: bool
) -> tuple[SalesOrder, order_ops.ReserveOutcome | None]:
    """The KOSH order of a new web order: a draft, or with `confirm` confirmed as it is
    inserted (its reservation outcome returned)."""
    customer = _customer_of(version)
    # A new customer's audit event waits until the order is written: it then goes out with
    # the order's own events in one statement (same transaction, same content).
    found = await customer_ops.find_or_insert_by_email(
        session,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        company=customer.company,
        billing_address=customer.billing,
        shipping_address=customer.shipping,
    )
    warehouse_id, lines = await _placement(session, version)
    details = _order_details(version, customer_id=found.id, warehouse_id=warehouse_id, lines=lines)
    outcome: order_ops.ReserveOutcome | None = None
    if confirm:
        order, outcome = await order_ops.add_confirmed_order(
            session, allow_short=version.backorder, **details
        )
    else:
        order = await order_ops.add_order(session, **details)
    await customer_ops.audit_added(session, found)
    return order, outcome


def _customer_of(version: WebOrderVersion) -> WebCustomer:
    return version.customer or WebCustomer(name=f"{version.store} customer")


def _order_details(
    version: WebOrderVersion, *, customer_id: int, warehouse_id: int, lines: Sequence[NewLine]
) -> dict[str, Any]:
    """What the KOSH order of a new web order is made of (`orders.add_order`'s arguments)."""
    return {
        "customer_id": customer_id,
        "warehouse_id": warehouse_id,
        "lines": lines,
        "number": f"{version.store}-{version.number or version.external_id}"[:64],
        "currency": version.currency,
        "notes": version.note,
        "backorder": version.backorder,
        "external": order_ops.ExternalRef(
            store=version.store,
            order_id=version.external_id,
            status=version.status,
            modified_at=version.modified_at,
        ),
    }


# --- many new orders at once ------------------------------------------------------------


def _batchable(version: WebOrderVersion) -> bool:
    """A version `apply_new` takes: it confirms a new order (paid), drawn on one warehouse,
    with lines all mapped and a customer known by e-mail; anything else needs the rules
    of `apply_version` that a batch does not repeat (backorders, splits, review, ...)."""
    return (
        version.intent == "confirm"
        and not version.problems
        and bool(version.lines)
        and len(set(version.warehouse_ids) | {version.warehouse_id}) == 1
        and customer_ops.email_key(_customer_of(version).email) is not None
    )


async def apply_new(
    session: AsyncSession, versions: Sequence[WebOrderVersion]
) -> list[WebOrderOutcome | None]:
    """`apply_version` for many new web orders at once, in few statements: the versions
    that confirm an order KOSH does not have yet, in one warehouse, customer known by
    e-mail, every line mapped and in stock in full, become confirmed, reserved orders
    (`order_batch.add_confirmed`: the same rules, rows and audit events as one by one).
    Every other version gets None: the caller applies it with `apply_version`, which
    decides (backorder, split, review, ...). Raises `order_batch.BatchRefusedError` when
    the stock moved under the batch's locks, and the caller's transaction rolls back."""
    answer: list[WebOrderOutcome | None] = [None] * len(versions)
    chosen = [index for index, version in enumerate(versions) if _batchable(version)]
    known = await order_batch.known_external(
        session, [(versions[i].store, versions[i].external_id) for i in chosen]
    )
    chosen = [i for i in chosen if (versions[i].store, versions[i].external_id) not in known]
    by_warehouse: dict[int, list[int]] = defaultdict(list)
    for index in chosen:
        by_warehouse[versions[index].warehouse_id].append(index)
    fits: list[int] = []
    for warehouse_id, indexes in sorted(by_warehouse.items()):
        needs = [_needs(versions[i].lines) for i in indexes]
        found = await order_batch.fitting(session, warehouse_id=warehouse_id, needs=needs)
        fits += [i for i, ok in zip(indexes, found, strict=True) if ok]
    if not fits:
        return answer
    fits.sort()
    # Customers first, as one order does before it locks its reservation rows.
    wanted = []
    for index in fits:
        customer = _customer_of(versions[index])
        wanted.append(
            customer_ops.WantedCustomer(
                name=customer.name,
                email=customer.email or "",
                phone=customer.phone,
                company=customer.company,
                billing_address=customer.billing,
                shipping_address=customer.shipping,
            )
        )
    customers = await customer_ops.find_or_insert_many(session, wanted)
    made: dict[int, list[tuple[int, SalesOrder]]] = defaultdict(list)
    for index, customer_found in zip(fits, customers, strict=True):
        version = versions[index]
        details = _order_details(
            version,
            customer_id=customer_found.id,
            warehouse_id=version.warehouse_id,
            lines=version.lines,
        )
        made[version.warehouse_id].append((index, order_ops.new_order(**details)))
    for warehouse_id, pairs in sorted(made.items()):  # warehouses in id order, as one order
        await order_batch.add_confirmed(
            session, warehouse_id=warehouse_id, orders=[order for _, order in pairs]
        )
        for index, order in pairs:
            answer[index] = _done("applied", order)
    for customer_found in customers:
        await customer_ops.audit_added(session, customer_found)
    return answer


def _needs(lines: Sequence[NewLine]) -> dict[int, int]:
    needs: dict[int, int] = defaultdict(int)
    for line in lines:
        needs[line.part_id] += line.qty
    return dict(needs)


async def _placement(session: AsyncSession, version: WebOrderVersion) -> tuple[int, list[NewLine]]:
    """The order's warehouse and its lines, by the store's warehouses in priority order:
    the first that has every line available in full takes the order. When none has, each
    line goes to the first that has all of it, and a line no single warehouse can cover
    draws on several in priority order (split into one line per warehouse, same store
    line id); what none has stays with the first (reserved short, or backordered)."""
    candidates = list(dict.fromkeys(version.warehouse_ids)) or [version.warehouse_id]
    first = candidates[0]
    if len(candidates) == 1:
        return first, list(version.lines)
    needs: dict[int, int] = defaultdict(int)
    for line in version.lines:
        needs[line.part_id] += line.qty
    free: dict[int, dict[int, int]] = {}
    for warehouse_id in candidates:
        free[warehouse_id] = await reservations.available(
            session, part_ids=needs, warehouse_id=warehouse_id
        )
        if all(free[warehouse_id].get(p, 0) >= qty for p, qty in needs.items()):
            return warehouse_id, list(version.lines)
    placed: list[NewLine] = []
    for line in version.lines:
        whole = next((w for w in candidates if free[w].get(line.part_id, 0) >= line.qty), None)
        if whole is not None:
            free[whole][line.part_id] -= line.qty
            placed.append(_in_warehouse(line, whole, line.qty, first))
            continue
        left = line.qty
        shares: dict[int, int] = {}
        for warehouse_id in candidates:
            take = min(left, max(0, free[warehouse_id].get(line.part_id, 0)))
            if take:
                shares[warehouse_id] = take
                free[warehouse_id][line.part_id] -= take
                left -= take
        if left:
            shares[first] = shares.get(first, 0) + left
        placed += [_in_warehouse(line, w, qty, first) for w, qty in shares.items()]
    return first, placed


async def _relined(
    session: AsyncSession, version: WebOrderVersion, order: SalesOrder
) -> list[NewLine]:
    """The store's new lines placed as for a new order, on the order's own warehouse."""
    chosen, lines = await _placement(session, version)
    placed = []
    for line in lines:
        warehouse_id = line.warehouse_id or chosen
        placed.append(
            replace(line, warehouse_id=None if warehouse_id == order.warehouse_id else warehouse_id)
        )
    return placed


def _in_warehouse(line: NewLine, warehouse_id: int, qty: int, first: int) -> NewLine:
    return replace(line, qty=qty, warehouse_id=None if warehouse_id == first else warehouse_id)


async def undo(
    session: AsyncSession,
    *,
    order_id: int,
    reason: str,
    notify_store: bool = False,
    reopenable: bool = False,
) -> SalesOrder:
    """Undo an applied web order: cancel it, releasing its reservations (409 when it
    shipped). With `reopenable` the next `apply_version` reopens it and applies the web
    order again (its applied version is forgotten)."""
    order = await order_ops.load_order(session, order_id, for_update=True)
    if order.status != "cancelled":
        await order_ops.cancel_order(
            session, order, reason=reason, notify_store=notify_store, reopenable=reopenable
        )
    elif reopenable:
        order.reopenable = True
    if reopenable:
        order.external_modified_at = None
    return order
