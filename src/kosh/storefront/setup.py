"""Connecting a shop: what to enter in WooCommerce (webhook URL from `KOSH_PUBLIC_URL`,
topics, API version), a connection test against the shop's REST API with the stored keys,
and the SKU map: search, CSV import, and the SKUs seen in orders that no part matches.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import queries as catalog_queries
from kosh.catalog import service as catalog_service
from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.db import transactional
from kosh.core.errors import ValidationError, field_error
from kosh.core.types import like_escape
from kosh.storefront import outbox, stockpush
from kosh.storefront.models import SkuMapping, StagedOrder, Store
from kosh.storefront.woocommerce import StoreApiError, _call

log = structlog.get_logger(__name__)

WEBHOOK_TOPICS = ("order.created", "order.updated", "order.deleted", "order.restored")
API_VERSION = "WP REST API Integration v3"
MAX_IMPORT_ROWS = 5000


def webhook_url(settings: Settings, *, store_code: str, request_base: str) -> str:
    """Where WooCommerce delivers: KOSH_PUBLIC_URL (what the shop can reach), else the
    address this page was asked on (fine on one box, wrong behind a proxy)."""
    base = (settings.public_url or request_base).rstrip("/")
    return f"{base}/api/v1/storefront/woocommerce/{store_code}/webhook"


# --- test connection --------------------------------------------------------------------


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ConnectionReport:
    store_code: str
    ok: bool = True
    checks: list[Check] = field(default_factory=list)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))
        self.ok = self.ok and ok


async def check_connection(
    settings: Settings, store: Store, *, client: httpx.AsyncClient | None = None
) -> ConnectionReport:
    """Call the shop's REST API with the stored keys and say what works: reading orders
    (the backfill), reading products (the stock push finds them by SKU). Changes nothing."""
    report = ConnectionReport(store.code)
    report.add(
        "webhook secret", bool(store.webhook_secret_enc), "set" if store.webhook_secret_enc else ""
    )
    try:
        credentials = outbox.credentials_of(settings, store)
    except outbox.MissingCredentialsError:
        report.add("REST API key", False, "no consumer key and secret stored: add them")
        return report
    report.add("REST API key", True, "stored")
    own = client is None
    http = client or httpx.AsyncClient(timeout=settings.storefront_http_timeout)
    try:
        for name, path in (
            ("read orders", "/wp-json/wc/v3/orders"),
            ("read products", "/wp-json/wc/v3/products"),
        ):
            try:
                response = await _call(http, credentials, "GET", path, params={"per_page": "1"})
            except StoreApiError as exc:
                hint = {401: "the key or secret is wrong", 403: "the key lacks permission"}.get(
                    exc.status or 0, ""
                )
                report.add(name, False, f"{exc}{'; ' + hint if hint else ''}"[:300])
                continue
            report.add(name, True, f"HTTP {response.status_code}")
    finally:
        if own:
            await http.aclose()
    log.info("store_connection_test", store=store.code, ok=report.ok)
    return report


# --- the SKU map ------------------------------------------------------------------------


@dataclass(frozen=True)
class UnmappedSku:
    sku: str
    orders: int  # staged versions in review that name it
    last_staged_id: int


async def unmapped_skus(
    session: AsyncSession, *, store_id: int, limit: int = 50
) -> list[UnmappedSku]:
    """SKUs of web orders waiting in review because no part matches them, most frequent
    first (the newest 1,000 rows in review are read)."""
    rows = await session.execute(
        select(StagedOrder.id, StagedOrder.reasons)
        .where(StagedOrder.store_id == store_id, StagedOrder.status == "review")
        .order_by(StagedOrder.id.desc())
        .limit(1000)
    )
    seen: dict[str, list[int]] = {}
    for staged_id, reasons in rows:
        for reason in reasons or []:
            if reason.get("code") == "unknown_sku" and isinstance(reason.get("sku"), str):
                seen.setdefault(reason["sku"], []).append(staged_id)
    found = [UnmappedSku(sku, len(ids), max(ids)) for sku, ids in seen.items()]
    return sorted(found, key=lambda u: (-u.orders, u.sku))[:limit]


@dataclass(frozen=True)
class MappedSku:
    id: int
    sku: str
    part_id: int
    part_number: str


async def search_sku_map(
    session: AsyncSession, *, store_id: int, q: str | None, limit: int = 50, offset: int = 0
) -> tuple[list[MappedSku], int]:
    """The store's mappings, by SKU; `q` finds a SKU containing it."""
    query = select(SkuMapping).where(SkuMapping.store_id == store_id)
    if q:
        query = query.where(SkuMapping.sku.ilike(f"%{like_escape(q.strip())}%", escape="\\"))
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    mappings = list(
        await session.scalars(query.order_by(SkuMapping.sku).limit(limit).offset(offset))
    )
    parts = await catalog_queries.parts_by_ids(session, [m.part_id for m in mappings])
    return [
        MappedSku(m.id, m.sku, m.part_id, parts[m.part_id].number if m.part_id in parts else "?")
        for m in mappings
    ], int(total or 0)


def _parse_csv(text: str) -> list[tuple[int, str, str]]:
    """(row number, SKU, part number) of `sku,part_number` lines; a header is skipped."""
    found: list[tuple[int, str, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [cell.strip() for cell in row]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() == "sku":
            continue
        found.append((number, cells[0] if cells else "", cells[1] if len(cells) > 1 else ""))
    return found


@transactional
async def import_sku_map(session: AsyncSession, *, store: Store, text: str) -> dict[str, int]:
    """Map many SKUs at once from CSV (`sku,part_number` per line, header optional). All or
    nothing: any bad row (empty or too long SKU, unknown or inactive part, a SKU twice) is
    422 with one error per row and nothing changes. Mapped parts are pushed again."""
    rows = _parse_csv(text)
    errors: list[dict[str, Any]] = []
    if len(rows) > MAX_IMPORT_ROWS:
        errors.append(field_error(["csv"], f"at most {MAX_IMPORT_ROWS} rows"))
    if not rows:
        errors.append(field_error(["csv"], "no rows: one `sku,part_number` per line"))
    parts = await catalog_service.parts_by_numbers(session, [r[2] for r in rows[:MAX_IMPORT_ROWS]])
    wanted: dict[str, int] = {}
    for number, sku, part_number in rows[:MAX_IMPORT_ROWS]:
        part = parts.get(part_number)
        problem = (
            "SKU is empty"
            if not sku
            else "SKU longer than 100 characters"
            if len(sku) > 100
            else f"SKU {sku!r} appears twice"
            if sku in wanted
            else f"no part {part_number!r}"
            if part is None
            else f"part {part_number} is inactive"
            if not part.active
            else None
        )
        if problem or part is None:
            errors.append(field_error(["csv", number], problem or "no part"))
            continue
        wanted[sku] = part.id
    if errors:
        raise ValidationError("Some rows cannot be mapped; nothing was changed.", errors=errors)
    existing = {
        m.sku: m
        for m in await session.scalars(
            select(SkuMapping).where(
                SkuMapping.store_id == store.id, SkuMapping.sku.in_(list(wanted))
            )
        )
    }
    replaced = 0
    for sku, part_id in wanted.items():
        mapping = existing.get(sku)
        if mapping is None:
            session.add(SkuMapping(store_id=store.id, sku=sku, part_id=part_id))
        elif mapping.part_id != part_id:
            mapping.part_id = part_id
            replaced += 1
    await session.flush()
    await audit.record(
        session,
        action="storefront.sku_map_import",
        entity_type="storefront_store",
        entity_id=store.id,
        after={"rows": len(wanted), "replaced": replaced},
    )
    if store.stock_push and store.active:
        await stockpush.queue_for_store(session, store_id=store.id, part_ids=list(wanted.values()))
    return {"mapped": len(wanted), "replaced": replaced}
