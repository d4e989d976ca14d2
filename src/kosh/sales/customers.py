"""Customers: one per e-mail address (case-insensitive), so web orders find theirs.

The functions here join the caller's transaction and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, bindparam, false, func, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import utcnow
from kosh.core.errors import ConflictError, NotFoundError, field_error
from kosh.core.types import like_escape
from kosh.sales.models import Customer

# Statements of the web-order path, built once: a reused statement object keeps its cache
# key, so each call skips building it and computing that key.
_TABLE = cast(Table, Customer.__table__)
_NEW_COLUMNS = (
    "name",
    "email",
    "email_key",
    "phone",
    "company",
    "billing_address",
    "shipping_address",
    "notes",
    "version",
    "created_at",
    "updated_at",
)
_BY_EMAIL_KEY = select(_TABLE.c.id).where(_TABLE.c.email_key == bindparam("key"))


def _add_unless_known(dialect: Any) -> Any:
    return (
        dialect.insert(_TABLE)
        .values({name: bindparam(name, type_=_TABLE.c[name].type) for name in _NEW_COLUMNS})
        .on_conflict_do_nothing(index_elements=["email_key"])
        .returning(_TABLE.c.id)
    )


_SQLITE_ADD = _add_unless_known(sqlite)
_PG_ADDED = _add_unless_known(postgresql).cte("added")
_PG_FIND_OR_ADD = select(_PG_ADDED.c.id, true().label("added")).union_all(
    select(_TABLE.c.id, false().label("added")).where(
        _TABLE.c.email_key == bindparam("email_key", type_=_TABLE.c.email_key.type)
    )
)


def email_key(email: str | None) -> str | None:
    cleaned = (email or "").strip().lower()
    return cleaned or None


def customer_snapshot(customer: Customer) -> dict[str, Any]:
    return {
        "name": customer.name,
        "email": customer.email,
        "phone": customer.phone,
        "company": customer.company,
    }


async def get_customer_or_raise(
    session: AsyncSession, customer_id: int, *, loc: str = "customer_id"
) -> Customer:
    customer = await session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(
            f"No customer with id {customer_id}.",
            code="customer_not_found",
            errors=[field_error([loc], "no such customer")],
        )
    return customer


async def add_customer(
    session: AsyncSession,
    *,
    name: str,
    email: str | None = None,
    phone: str | None = None,
    company: str | None = None,
    billing_address: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
    notes: str = "",
) -> Customer:
    """Insert a customer (audited). An e-mail already on file is 409 customer_email_taken."""
    key = email_key(email)
    if key is not None:
        taken = await session.scalar(select(Customer.id).where(Customer.email_key == key))
        if taken is not None:
            raise _email_taken(key, taken)
    customer = Customer(
        name=name.strip(),
        email=email.strip() if email else None,
        email_key=key,
        phone=phone or None,
        company=company or None,
        billing_address=billing_address,
        shipping_address=shipping_address,
        notes=notes,
    )
    try:
        async with session.begin_nested():
            session.add(customer)
            await session.flush()
    except IntegrityError as exc:
        raise _email_taken(key or "", None) from exc
    await audit.record(
        session,
        action="customer.create",
        entity_type="customer",
        entity_id=customer.id,
        after=customer_snapshot(customer),
    )
    return customer


def _email_taken(key: str, customer_id: int | None) -> ConflictError:
    return ConflictError(
        f"A customer with e-mail {key} exists already.",
        code="customer_email_taken",
        errors=[field_error(["email"], "already on file")],
        details={"customer_id": customer_id} if customer_id else {},
    )


@dataclass(frozen=True)
class FoundCustomer:
    """A customer found or added by e-mail; `added` is the audited view when this call
    inserted it and its audit event is still to be recorded (`audit_added`)."""

    id: int
    added: dict[str, Any] | None = None


async def audit_added(session: AsyncSession, found: FoundCustomer) -> None:
    """Record the creation of a customer that `find_or_insert_by_email` inserted."""
    if found.added is not None:
        await audit.record(
            session,
            action="customer.create",
            entity_type="customer",
            entity_id=found.id,
            after=found.added,
        )


async def find_or_insert_by_email(
    session: AsyncSession,
    *,
    name: str,
    email: str | None,
    phone: str | None = None,
    company: str | None = None,
    billing_address: dict[str, Any] | None = None,
    shipping_address: dict[str, Any] | None = None,
) -> FoundCustomer:
    """The customer with this e-mail, created when missing. Two workers creating the same
    customer at once both end up with the one row (INSERT .. ON CONFLICT DO NOTHING, then
    read what the other committed). A customer inserted here comes back with its audited
    view, and the caller records the event with `audit_added` in the same transaction, once
    it has written its own rows (a web order: the event then goes out with the order's
    events in one statement). Without an e-mail a new customer is added (and audited)."""
    key = email_key(email)
    if key is None:
        added = await add_customer(
            session,
            name=name,
            phone=phone,
            company=company,
            billing_address=billing_address,
            shipping_address=shipping_address,
        )
        return FoundCustomer(added.id)
    values = _new_values(
        key,
        name=name,
        email=email,
        phone=phone,
        company=company,
        billing_address=billing_address,
        shipping_address=shipping_address,
    )
    if session.get_bind().dialect.name == "postgresql":
        # One round trip whether the customer is new or known: the CTE inserts unless the
        # e-mail is on file, and the second branch reads the row that was there before the
        # statement began (a CTE's own insert is invisible to it, so at most one row comes
        # back). No row means another transaction inserted it while we waited: read it below.
        row = (await session.execute(_PG_FIND_OR_ADD, values)).first()
        if row is not None and not row.added:
            return FoundCustomer(int(row.id))
        new_id = row.id if row is not None else None
    else:
        known = await session.scalar(_BY_EMAIL_KEY, {"key": key[:254]})
        if known is not None:
            return FoundCustomer(int(known))
        new_id = await session.scalar(_SQLITE_ADD, values)
    if new_id is None:  # created meanwhile by a transaction we waited for
        other = await session.scalar(_BY_EMAIL_KEY, {"key": key[:254]})
        if other is None:  # pragma: no cover - the conflict means the row exists
            raise RuntimeError(f"customer {key} vanished after a conflicting insert")
        return FoundCustomer(int(other))
    return FoundCustomer(int(new_id), added=_audited(values))


def _new_values(
    key: str,
    *,
    name: str,
    email: str | None,
    phone: str | None,
    company: str | None,
    billing_address: dict[str, Any] | None,
    shipping_address: dict[str, Any] | None,
) -> dict[str, Any]:
    """The row of a new customer found by its e-mail `key`."""
    now = utcnow()
    return {
        "name": name.strip()[:200] or key,
        "email": (email or "").strip()[:254],
        "email_key": key[:254],
        "phone": (phone or None) and phone[:50],
        "company": (company or None) and company[:200],
        "billing_address": billing_address,
        "shipping_address": shipping_address,
        "notes": "",
        "version": 1,
        "created_at": now,
        "updated_at": now,
    }


def _audited(values: dict[str, Any]) -> dict[str, Any]:
    return {k: values[k] for k in ("name", "email", "phone", "company")}


@dataclass(frozen=True)
class WantedCustomer:
    """A customer to find or add by e-mail (`find_or_insert_many`)."""

    name: str
    email: str
    phone: str | None = None
    company: str | None = None
    billing_address: dict[str, Any] | None = None
    shipping_address: dict[str, Any] | None = None


async def find_or_insert_many(
    session: AsyncSession, wanted: Sequence[WantedCustomer]
) -> list[FoundCustomer]:
    """`find_or_insert_by_email` for several customers at once, in the order asked: one
    multi-row INSERT .. ON CONFLICT DO NOTHING for all of them, then one read of those
    already on file (or inserted meanwhile by a transaction we waited for). The same
    e-mail asked twice is one customer (the first one's details); each customer inserted
    here comes back once with its audited view (`audit_added`). Every one needs an
    e-mail (ValueError otherwise)."""
    keys = [email_key(w.email) for w in wanted]
    if any(key is None for key in keys):
        raise ValueError("find_or_insert_many needs an e-mail for every customer")
    rows: dict[str, dict[str, Any]] = {}
    for key, w in zip(keys, wanted, strict=True):
        assert key is not None  # noqa: S101 - checked above
        rows.setdefault(
            key[:254],
            _new_values(
                key,
                name=w.name,
                email=w.email,
                phone=w.phone,
                company=w.company,
                billing_address=w.billing_address,
                shipping_address=w.shipping_address,
            ),
        )
    if not rows:
        return []
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    added = dict(
        (
            await session.execute(
                dialect.insert(_TABLE)
                .values([rows[key] for key in sorted(rows)])
                .on_conflict_do_nothing(index_elements=["email_key"])
                .returning(_TABLE.c.email_key, _TABLE.c.id)
            )
        ).all()
    )
    ids = {key: int(i) for key, i in added.items()}
    known = sorted(key for key in rows if key not in ids)
    if known:
        found = await session.execute(_BY_EMAIL_KEYS, {"keys": known})
        ids.update({key: int(i) for key, i in found.all()})
    answer: list[FoundCustomer] = []
    reported: set[str] = set()
    for key in keys:
        assert key is not None  # noqa: S101 - checked above
        key = key[:254]
        fresh = key in added and key not in reported
        reported.add(key)
        answer.append(FoundCustomer(ids[key], added=_audited(rows[key]) if fresh else None))
    return answer


_BY_EMAIL_KEYS = select(_TABLE.c.email_key, _TABLE.c.id).where(
    _TABLE.c.email_key.in_(bindparam("keys", expanding=True))
)


async def list_customers(
    session: AsyncSession, *, q: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Customer], int]:
    """Customers by name; `q` matches the start of the name, company or e-mail."""
    query = select(Customer)
    if q:
        escaped = like_escape(q.strip())
        pattern = f"{escaped}%"
        query = query.where(
            or_(
                Customer.name.ilike(pattern, escape="\\"),
                Customer.company.ilike(pattern, escape="\\"),
                Customer.email_key.ilike(pattern, escape="\\"),
            )
        )
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(Customer.name, Customer.id).limit(limit).offset(offset)
    )
    return list(rows), int(total or 0)


# --- personal data (GDPR export and erasure, driven by kosh.ops.gdpr) -----------------------

OPEN_ORDER_STATUSES = ("draft", "confirmed", "partially_shipped", "on_hold")


def erased_name(customer_id: int) -> str:
    return f"Erased customer {customer_id}"


async def personal_data(session: AsyncSession, customer_id: int) -> dict[str, Any]:
    """Everything sales holds about a customer: the record and its orders with their lines.
    404 customer_not_found."""
    from sqlalchemy.orm import selectinload

    from kosh.sales.models import SalesOrder

    customer = await get_customer_or_raise(session, customer_id)
    orders = list(
        await session.scalars(
            select(SalesOrder)
            .where(SalesOrder.customer_id == customer_id)
            .options(selectinload(SalesOrder.lines))
            .order_by(SalesOrder.id)
        )
    )
    return {
        "customer": {
            "id": customer.id,
            **customer_snapshot(customer),
            "billing_address": customer.billing_address,
            "shipping_address": customer.shipping_address,
            "notes": customer.notes,
            "created_at": customer.created_at.isoformat(),
            "updated_at": customer.updated_at.isoformat(),
        },
        "erased": customer.name == erased_name(customer.id) and customer.email is None,
        "orders": [
            {
                "id": order.id,
                "number": order.number,
                "status": order.status,
                "currency": order.currency,
                "notes": order.notes,
                "external_store": order.external_store,
                "external_id": order.external_id,
                "created_at": order.created_at.isoformat(),
                "shipped_at": order.shipped_at.isoformat() if order.shipped_at else None,
                "lines": [
                    {
                        "line_no": line.line_no,
                        "part_id": line.part_id,
                        "description": line.description,
                        "qty": line.qty,
                        "unit_price": str(line.unit_price),
                        "qty_shipped": line.qty_shipped,
                    }
                    for line in order.lines
                ],
            }
            for order in orders
        ],
    }


async def erase_personal_data(session: AsyncSession, customer_id: int) -> int:
    """Anonymise a customer in the caller's transaction: name becomes "Erased customer N",
    e-mail, phone, company, addresses and notes are cleared, and the notes of its orders
    (where web orders keep the buyer's note) too; numbers, lines, prices, quantities and
    statuses stay, so totals and the ledger do not change. Returns the rows changed.

    404 customer_not_found; 409 customer_has_open_orders (details: the open orders) while
    an order is draft, confirmed, partially shipped or on hold: ship or cancel it first."""
    from sqlalchemy import update

    from kosh.sales.models import SalesOrder

    customer = await get_customer_or_raise(session, customer_id)
    open_orders = list(
        await session.execute(
            select(SalesOrder.id, SalesOrder.number, SalesOrder.status)
            .where(
                SalesOrder.customer_id == customer_id,
                SalesOrder.status.in_(OPEN_ORDER_STATUSES),
            )
            .order_by(SalesOrder.id)
        )
    )
    if open_orders:
        raise ConflictError(
            f"Customer {customer_id} has {len(open_orders)} open order(s); ship or cancel "
            "them before erasing the customer's personal data.",
            code="customer_has_open_orders",
            details={"orders": [{"id": i, "number": n, "status": s} for i, n, s in open_orders]},
        )
    customer.name = erased_name(customer.id)
    customer.email = None
    customer.email_key = None
    customer.phone = None
    customer.company = None
    customer.billing_address = None
    customer.shipping_address = None
    customer.notes = ""
    await session.flush()
    result = await session.execute(
        update(SalesOrder)
        .where(SalesOrder.customer_id == customer_id, SalesOrder.notes != "")
        .values(notes="")
        .execution_options(synchronize_session=False)
    )
    return 1 + int(getattr(result, "rowcount", 0) or 0)
