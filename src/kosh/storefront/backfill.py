"""Backfill: page through the store's REST API for orders modified since a time and stage
them exactly like webhooks (same unique key), so orders whose webhook never arrived are
caught and those already staged are skipped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.errors import RuleViolationError
from kosh.storefront import intake, secrets
from kosh.storefront import service as storefront_service
from kosh.storefront import woocommerce as wc

MAX_PAGES = 10_000


@dataclass
class BackfillResult:
    store: str
    pages: int = 0
    seen: int = 0
    staged: int = 0


async def sync_store(
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    http: httpx.AsyncClient,
    *,
    store_code: str,
    since: datetime,
    per_page: int = 100,
) -> BackfillResult:
    """Stage every order of the store modified after `since`. Raises wc.StoreApiError when
    the store cannot be read (nothing already staged is lost; run it again)."""
    async with sessions() as session:
        store = await storefront_service.get_store_by_code_or_raise(session, store_code)
        key = secrets.resolve(settings, store.code, "consumer_key", store.consumer_key_enc)
        secret = secrets.resolve(settings, store.code, "consumer_secret", store.consumer_secret_enc)
        store_id, base_url = store.id, store.base_url
    if not key or not secret:
        raise RuleViolationError(
            f"Store {store_code} has no REST API key and secret; add them first.",
            code="store_credentials_missing",
        )
    credentials = wc.Credentials(base_url=base_url, consumer_key=key, consumer_secret=secret)
    result = BackfillResult(store=store_code)
    page = 1
    while page <= MAX_PAGES:
        orders, pages = await wc.list_orders(
            http, credentials, modified_after=since, page=page, per_page=per_page
        )
        result.pages = page
        deliveries = []
        for order, body in orders:
            found = wc.delivery_key(order, topic=None, delivery_id=None, body=body)
            if found is not None:
                deliveries.append((found, body))
        result.seen += len(orders)
        if deliveries:
            async with sessions() as session:
                result.staged += await intake.stage_many(
                    session, store_id=store_id, deliveries=deliveries, source="backfill"
                )
        if page >= pages or not orders:
            break
        page += 1
    return result
