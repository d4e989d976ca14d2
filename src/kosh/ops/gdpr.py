"""GDPR: export everything KOSH holds about a person, and erase it.

A person is a `customer` or a `user`. Each feature that holds personal data registers a
`Part` for the kinds it knows (`register`): its `export` returns its data and adds to the
subject the identifying values (`needles`: name, e-mail, phone, street) and related ids;
its `erase` anonymises its rows in the caller's transaction. Parts are exported in the order
registered, then, for an erasure, erased in that order, so the first part may refuse (open
orders) before anything changes. Built in: sales (customer record, order notes) and the
storefront (staged deliveries, outbox) for customers; auth (account, sessions, tokens) for
users. Another feature (e.g. the shop floor's employees) adds its own with
`gdpr.register("user", Part(...))` from its module, without changing this one.

After the parts, the platform's own records follow: the audit images of the person's
records are replaced by {"erased": true}, every other image, and actor names, have the
needles replaced by "[erased]"; idempotency answers that hold them are dropped. Stock, the
ledger, order numbers, lines and totals are untouched. The erasure is audited
(`gdpr.erase`: kind, id and counts, no personal data) and appended to
KOSH_BACKUP_DIR/gdpr/erasures.jsonl, so it can be applied again after restoring an older
backup (docs/runbook.md).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import Text, and_, cast, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import service as auth_service
from kosh.core import audit
from kosh.core.db import after_commit, transactional, utcnow
from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.core.types import like_escape
from kosh.ops.metrics import GDPR_REQUESTS
from kosh.ops.redaction import needles_of, redact, stored_forms
from kosh.sales import customers as sales_customers
from kosh.shopfloor import service as shopfloor_service
from kosh.storefront import privacy as storefront_privacy

log = structlog.get_logger(__name__)
KINDS = ("customer", "user", "employee")
ERASED_IMAGE = {"erased": True}
REDACTED_ACTOR = "[erased]"
_BATCH = 1000


@dataclass
class Subject:
    kind: str
    id: int
    needles: list[str] = field(default_factory=list)
    related: dict[str, list[int]] = field(default_factory=dict)
    erased_name: str | None = None

    def add(self, *values: object) -> None:
        self.needles = needles_of([*self.needles, *values])


@dataclass(frozen=True)
class Part:
    name: str
    export: Callable[[AsyncSession, Subject], Awaitable[Any]]
    erase: Callable[[AsyncSession, Subject], Awaitable[int]]


PARTS: dict[str, list[Part]] = {kind: [] for kind in KINDS}


def register(kind: str, part: Part) -> None:
    """Add a feature's part for `kind` (a new kind, e.g. "employee", is allowed)."""
    parts = PARTS.setdefault(kind, [])
    if all(p.name != part.name for p in parts):
        parts.append(part)


@dataclass(frozen=True)
class Erasure:
    kind: str
    id: int
    changed: dict[str, int]


# --- the built-in parts ---------------------------------------------------------------------


def _address_values(address: object) -> list[object]:
    if not isinstance(address, dict):
        return []
    name = " ".join(str(address.get(k) or "") for k in ("first_name", "last_name")).strip()
    # Not the company: other people's records name it too (it is cleared in the customer
    # record and the payloads all the same).
    keys = ("address_1", "address_2", "email", "phone")
    return [name, *(address.get(k) for k in keys)]


async def _export_sales(session: AsyncSession, subject: Subject) -> Any:
    data = await sales_customers.personal_data(session, subject.id)
    customer = data["customer"]
    if not data["erased"]:
        subject.add(
            customer["name"],
            customer["email"],
            customer["phone"],
            *_address_values(customer["billing_address"]),
            *_address_values(customer["shipping_address"]),
        )
    subject.related["sales_order"] = [order["id"] for order in data["orders"]]
    subject.erased_name = sales_customers.erased_name(subject.id)
    return data


async def _erase_sales(session: AsyncSession, subject: Subject) -> int:
    return await sales_customers.erase_personal_data(session, subject.id)


async def _export_web_orders(session: AsyncSession, subject: Subject) -> Any:
    return await storefront_privacy.personal_payloads(
        session, sales_order_ids=subject.related.get("sales_order", []), needles=subject.needles
    )


async def _erase_web_orders(session: AsyncSession, subject: Subject) -> int:
    return await storefront_privacy.redact_personal_data(
        session, sales_order_ids=subject.related.get("sales_order", []), needles=subject.needles
    )


async def _export_account(session: AsyncSession, subject: Subject) -> Any:
    data = await auth_service.personal_data(session, subject.id)
    user: dict[str, Any] = data["user"]  # type: ignore[assignment]
    if not str(user["username"]).startswith("erased-user-"):
        subject.add(user["username"], user["display_name"], user["email"])
    subject.erased_name = f"erased-user-{subject.id}"
    return data


async def _erase_account(session: AsyncSession, subject: Subject) -> int:
    return await auth_service.erase_personal_data(session, subject.id)


async def _export_employee(session: AsyncSession, subject: Subject) -> Any:
    """The employee row's personal fields; time logs refer to the employee by id only."""
    data = await shopfloor_service.personal_data(session, subject.id)
    if data["name"] != shopfloor_service.ERASED_NAME:
        subject.add(data["name"], data["badge_code"])
    subject.erased_name = shopfloor_service.ERASED_NAME
    return data


async def _erase_employee(session: AsyncSession, subject: Subject) -> int:
    await shopfloor_service.blank_personal_data(session, employee_id=subject.id)
    return 1


register("customer", Part("sales", _export_sales, _erase_sales))
register("customer", Part("web_orders", _export_web_orders, _erase_web_orders))
register("user", Part("account", _export_account, _erase_account))
register("employee", Part("shop_floor", _export_employee, _erase_employee))


# --- the platform's records -----------------------------------------------------------------


def _own_events(subject: Subject) -> Any:
    """Audit events about the person's records, or (a user) done by them."""
    own = [and_(AuditEvent.entity_type == subject.kind, AuditEvent.entity_id == str(subject.id))]
    for entity_type, ids in subject.related.items():
        if ids:
            own.append(
                and_(
                    AuditEvent.entity_type == entity_type,
                    AuditEvent.entity_id.in_([str(i) for i in ids]),
                )
            )
    if subject.kind == "user":
        own.append(
            and_(AuditEvent.actor_type.in_(("user", "token")), AuditEvent.actor_id == subject.id)
        )
    return or_(*own)


def _naming_events(subject: Subject) -> Any:
    """Audit events whose images or actor name contain a needle (a LIKE pre-filter)."""
    conditions = []
    for needle in subject.needles:
        for form in sorted(stored_forms(needle)):
            pattern = f"%{like_escape(form)}%"
            conditions += [
                cast(AuditEvent.before, Text).ilike(pattern, escape="\\"),
                cast(AuditEvent.after, Text).ilike(pattern, escape="\\"),
            ]
        conditions.append(AuditEvent.actor_name.ilike(f"%{like_escape(needle)}%", escape="\\"))
    return or_(*conditions) if conditions else None


def _event_view(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor_name": event.actor_name,
        "action": event.action,
        "entity_type": event.entity_type,
        "entity_id": event.entity_id,
        "before": event.before,
        "after": event.after,
        "ip": event.ip,
    }


async def _export_audit(session: AsyncSession, subject: Subject) -> list[dict[str, Any]]:
    rows = await session.scalars(
        select(AuditEvent).where(_own_events(subject)).order_by(AuditEvent.id).limit(10_000)
    )
    return [_event_view(e) for e in rows]


async def _erase_audit(session: AsyncSession, subject: Subject) -> int:
    changed = 0
    own = await session.scalars(select(AuditEvent).where(_own_events(subject)))
    for event in own:
        if subject.kind == "user" and event.actor_id == subject.id:
            event.actor_name = subject.erased_name or REDACTED_ACTOR
            event.ip = None
            event.before = redact(event.before, subject.needles)
            event.after = redact(event.after, subject.needles)
        if event.entity_type == subject.kind and event.entity_id == str(subject.id):
            event.before = None if event.before is None else dict(ERASED_IMAGE)
            event.after = None if event.after is None else dict(ERASED_IMAGE)
        else:
            event.before = redact(event.before, subject.needles)
            event.after = redact(event.after, subject.needles)
        changed += 1
    await session.flush()
    naming = _naming_events(subject)
    if naming is not None:
        after_id = 0
        while True:
            batch = list(
                await session.scalars(
                    select(AuditEvent)
                    .where(naming, AuditEvent.id > after_id)
                    .order_by(AuditEvent.id)
                    .limit(_BATCH)
                )
            )
            if not batch:
                break
            for event in batch:
                event.before = redact(event.before, subject.needles)
                event.after = redact(event.after, subject.needles)
                event.actor_name = redact(event.actor_name, subject.needles)[:100]
                changed += 1
            after_id = batch[-1].id
            await session.flush()
    return changed


async def _drop_idempotent_answers(session: AsyncSession, subject: Subject) -> int:
    """Stored answers of recent requests (kept KOSH_IDEMPOTENCY_TTL_HOURS) that name the
    person: dropped (a replay then runs the request again, which is safe after erasure)."""
    dropped = 0
    lowered = [n.lower().encode() for n in subject.needles]
    escaped = [json.dumps(n)[1:-1].lower().encode() for n in subject.needles]
    rows = await session.scalars(
        select(IdempotencyKey).where(IdempotencyKey.response_body.is_not(None))
    )
    for row in rows:
        body = (row.response_body or b"").lower()
        if any(n in body for n in (*lowered, *escaped)):
            await session.delete(row)
            dropped += 1
    await session.flush()
    return dropped


# --- the use cases ----------------------------------------------------------------------------


def _check_kind(kind: str) -> None:
    if kind not in PARTS:
        raise ValueError(f"unknown kind of person {kind!r}")


async def _collect(session: AsyncSession, subject: Subject) -> dict[str, Any]:
    return {part.name: await part.export(session, subject) for part in PARTS[subject.kind]}


@transactional
async def export(session: AsyncSession, *, kind: str, subject_id: int) -> dict[str, Any]:
    """Everything KOSH holds about a customer or user, as one JSON-safe document; the
    export itself is audited (`gdpr.export`, without the data). 404 when unknown."""
    _check_kind(kind)
    subject = Subject(kind=kind, id=subject_id)
    data = await _collect(session, subject)
    data["audit_events"] = await _export_audit(session, subject)
    await audit.record(session, action="gdpr.export", entity_type=kind, entity_id=subject_id)
    GDPR_REQUESTS.labels("export").inc()
    log.info("gdpr_export", kind=kind, subject_id=subject_id)
    return {
        "format": 1,
        "kind": kind,
        "id": subject_id,
        "exported_at": utcnow().isoformat(),
        "data": data,
    }


@transactional
async def erase(
    session: AsyncSession, *, kind: str, subject_id: int, log_dir: Path | None = None
) -> Erasure:
    """Anonymise a customer or user everywhere (see the module docstring), in one
    transaction: refused with nothing changed when a part refuses (409
    customer_has_open_orders with the orders, 409 last_admin) or the person is unknown (404)."""
    _check_kind(kind)
    subject = Subject(kind=kind, id=subject_id)
    await _collect(session, subject)  # needles and related ids, before anything changes
    changed: dict[str, int] = {}
    for part in PARTS[kind]:
        changed[part.name] = await part.erase(session, subject)
    changed["audit_events"] = await _erase_audit(session, subject)
    changed["idempotency_keys"] = await _drop_idempotent_answers(session, subject)
    await audit.record(
        session,
        action="gdpr.erase",
        entity_type=kind,
        entity_id=subject_id,
        after={"changed": changed},
    )
    GDPR_REQUESTS.labels("erase").inc()
    if log_dir is not None:
        after_commit(session, lambda: _append_erasure_log(log_dir, kind, subject_id))
    log.info("gdpr_erase", kind=kind, subject_id=subject_id, **changed)
    return Erasure(kind=kind, id=subject_id, changed=changed)


async def _append_erasure_log(directory: Path, kind: str, subject_id: int) -> None:
    import asyncio

    def write() -> None:
        directory.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": utcnow().isoformat(), "kind": kind, "id": subject_id})
        with (directory / "erasures.jsonl").open("a", encoding="utf-8") as out:
            out.write(line + "\n")

    await asyncio.to_thread(write)
