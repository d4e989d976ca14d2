"""The WooCommerce adapter's half of applying a web order: a staged payload becomes the
sales feature's `WebOrderVersion` (kosh.sales.web_orders), with the store's status read as an
intent and every line's SKU mapped to a part. What it cannot read or map (unknown SKU,
inactive part, a price far from the list price, a broken payload) goes along as `problems`,
so the sales side sends the version to review. Reads only; writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import queries as catalog_queries
from kosh.catalog import service as catalog_service
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.sales import web_orders
from kosh.storefront import woocommerce as wc
from kosh.storefront.models import SkuMapping

# Built once (run per applied order): a reused statement keeps its cache key.
_SKU_MAP = select(SkuMapping.sku, SkuMapping.part_id).where(
    SkuMapping.store_id == bindparam("store_id"),
    SkuMapping.sku.in_(bindparam("skus", expanding=True)),
)

INTENTS: dict[str, web_orders.Intent] = {
    "pending": "await",
    "processing": "confirm",
    "on-hold": "hold",
    "completed": "completed",
    "refunded": "refund",
}


@dataclass(frozen=True)
class StoreRef:
    """What applying needs of a store, as plain values: a cached ORM object would be
    expired by the next rollback and then need IO to read."""

    id: int
    code: str
    warehouse_id: int
    warehouse_ids: tuple[int, ...] = ()


def intent_of(status: str, *, topic: str | None) -> web_orders.Intent:
    if status in wc.CLOSED_STATUSES or topic == "order.deleted":
        return "refund" if status == "refunded" else "close"
    return INTENTS.get(status, "unhandled")


@dataclass(frozen=True)
class Staged:
    """What a staged row says of one version of a web order."""

    external_id: str
    payload: dict[str, Any]
    status: str
    topic: str | None
    modified_at: datetime


async def build(
    session: AsyncSession,
    *,
    store: StoreRef,
    external_id: str,
    payload: dict[str, Any],
    status: str,
    topic: str | None,
    modified_at: datetime,
    settings: Settings,
) -> web_orders.WebOrderVersion:
    """The version the staged payload describes (lines parsed and mapped only when the
    order is open in the store: closing needs none)."""
    [version] = await build_many(
        session,
        store=store,
        staged=[Staged(external_id, payload, status, topic, modified_at)],
        settings=settings,
    )
    return version


async def build_many(
    session: AsyncSession, *, store: StoreRef, staged: Sequence[Staged], settings: Settings
) -> list[web_orders.WebOrderVersion]:
    """`build` for several staged versions of one store: their SKUs are looked up together
    (three reads for all of them), each version is mapped by the same rules."""
    parsed = [_parse(store, item, settings) for item in staged]
    keys = sorted({line.key for _, web, _ in parsed if web is not None for line in web.lines})
    mapped = await _parts_for(session, store, keys)
    versions = []
    for base, web, reasons in parsed:
        if web is None:
            versions.append(base)
            continue
        lines, line_reasons = _map(web, mapped, settings)
        versions.append(
            replace(
                base,
                number=web.number,
                currency=web.currency,
                note=web.note,
                customer=web_orders.WebCustomer(
                    name=web.customer_name,
                    email=web.email,
                    phone=web.phone,
                    company=web.company,
                    billing=web.billing,
                    shipping=web.shipping,
                ),
                lines=lines,
                problems=[r.as_dict() for r in [*reasons, *line_reasons]],
            )
        )
    return versions


def _parse(
    store: StoreRef, item: Staged, settings: Settings
) -> tuple[web_orders.WebOrderVersion, wc.WebOrder | None, list[wc.Reason]]:
    """The version without its lines, and the parsed order when its lines are to be mapped
    (an open order that parses: a broken one carries its problems already)."""
    intent = intent_of(item.status, topic=item.topic)
    base = web_orders.WebOrderVersion(
        store=store.code,
        external_id=item.external_id,
        status=item.status or ("trash" if intent == "close" else ""),
        intent=intent,
        modified_at=item.modified_at,
        warehouse_id=store.warehouse_id,
        warehouse_ids=store.warehouse_ids or (store.warehouse_id,),
        backorder=settings.storefront_backorders,
    )
    if intent not in ("await", "confirm", "hold"):
        return base, None, []
    web, reasons = wc.parse_order(
        item.payload,
        now=utcnow(),
        currencies=frozenset(c.upper() for c in settings.storefront_currencies) or None,
    )
    if web is None:
        problems = [r.as_dict() for r in reasons] or [
            {"code": "not_an_order", "message": "The payload is not an order."}
        ]
        return replace(base, problems=problems), None, []
    return base, web, list(reasons)


async def _parts_for(session: AsyncSession, store: StoreRef, keys: list[str]) -> dict[str, Any]:
    """Every SKU key's part: the store's SKU mapping (which wins), else the part numbered
    like the SKU. Unknown or inactive parts and prices outside the tolerance are reasons
    (`_map`)."""
    mapped: dict[str, Any] = {}
    if keys:
        mapping = dict(
            (await session.execute(_SKU_MAP, {"store_id": store.id, "skus": keys})).all()
        )
        direct = await catalog_service.parts_by_numbers(session, keys)
        by_id = await catalog_queries.parts_by_ids(session, list(mapping.values()))
        mapped = {**direct}
        mapped.update({sku: by_id[pid] for sku, pid in mapping.items() if pid in by_id})
    return mapped


def _map(
    web: wc.WebOrder, mapped: dict[str, Any], settings: Settings
) -> tuple[list[web_orders.NewLine], list[wc.Reason]]:
    reasons: list[wc.Reason] = []
    lines: list[web_orders.NewLine] = []
    for line in web.lines:
        part = mapped.get(line.key)
        if part is None:
            hint = " (no SKU in the store: map this key)" if ":" in line.key else ""
            reasons.append(
                wc.Reason(
                    "unknown_sku",
                    f"Line {line.index}: SKU {line.key!r} matches no part{hint}.",
                    line.index,
                    line.key,
                )
            )
            continue
        if not part.active:
            reasons.append(
                wc.Reason(
                    "inactive_part",
                    f"Line {line.index}: part {part.number} is inactive.",
                    line.index,
                    line.key,
                )
            )
            continue
        price_problem = wc.price_reason(line, part.list_price, settings.storefront_price_tolerance)
        if price_problem is not None:
            reasons.append(price_problem)
        lines.append(
            web_orders.NewLine(
                part_id=part.id,
                qty=line.qty,
                unit_price=max(line.unit_price, Decimal(0)),
                description=line.name,
                external_line_id=line.external_line_id,
            )
        )
    return lines, reasons
