"""Backfill: orders whose webhook never came are paged in from the store's REST API into
the same staging path (and never staged twice)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.storefront import backfill
from kosh.storefront.woocommerce import StoreApiError
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows, web_orders


async def test_backfill_pages_and_stages_once(
    client: httpx.AsyncClient,
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    fake_store: fakestore.FakeStore,
    drain: Any,
) -> None:
    # given: the store has 6 orders; the webhook of 727 did arrive, the others did not
    fake_store.orders.extend(fakestore.load("orders_list_4_orders.json"))
    fake_store.orders.append(fakestore.load("order_727_processing_guest_docs_create_response.json"))
    fake_store.orders.append(fakestore.load("order_211_processing_guest_prices_incl_tax.json"))
    body, headers = fakestore.delivery(fake_store.orders[4], topic="order.created")
    await fakestore.send(client, shop.code, body, headers)
    since = datetime(2018, 1, 1, tzinfo=UTC)
    # when: paging 2 at a time
    async with httpx.AsyncClient(timeout=2) as http:
        result = await backfill.sync_store(
            sessions, settings, http, store_code=shop.code, since=since, per_page=2
        )
        # then: 727 (2017) is older than `since`; 5 orders on 3 pages, 5 new (727 was not
        # listed), and a second run stages nothing
        assert (result.seen, result.pages, result.staged) == (5, 3, 5)
        again = await backfill.sync_store(
            sessions, settings, http, store_code=shop.code, since=since, per_page=2
        )
    assert again.staged == 0
    rows = await staged_rows(session)
    assert sorted(r.external_id or "" for r in rows) == ["211", "560", "727", "960", "961", "963"]
    assert {r.source for r in rows} == {"webhook", "backfill"}
    # every request was signed (OAuth 1.0a over plain HTTP)
    assert {r.auth for r in fake_store.received} == {"oauth"}
    await drain()
    assert "211" in {o.external_id for o in await web_orders(session)}


async def test_backfill_reports_a_store_that_is_down(
    shop: Shop,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    fake_store: fakestore.FakeStore,
) -> None:
    fake_store.fail(502)
    async with httpx.AsyncClient(timeout=2) as http:
        with pytest.raises(StoreApiError) as caught:
            await backfill.sync_store(
                sessions,
                settings,
                http,
                store_code=shop.code,
                since=datetime(2018, 1, 1, tzinfo=UTC),
            )
    assert caught.value.status == 502


async def test_cli_sync_and_worker_once(
    shop: Shop,
    session: AsyncSession,
    settings: Settings,
    fake_store: fakestore.FakeStore,
) -> None:
    from tests.support.platform import run_cli

    fake_store.orders.append(fakestore.load("order_211_processing_guest_prices_incl_tax.json"))
    env = {
        "KOSH_DATABASE_URL": settings.effective_database_url,
        "KOSH_DATA_DIR": str(settings.data_dir),
        "KOSH_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KOSH_LOG_LEVEL": "WARNING",
    }
    synced = await run_cli(["storefront", "sync", "--since", "2020-01-01"], env)
    assert synced.exit_code == 0, synced.output
    assert "SHOP: 1 orders on 1 page(s), 1 newly staged" in synced.output
    bad = await run_cli(["storefront", "sync", "--since", "yesterday"], env)
    assert bad.exit_code == 1
    drained = await run_cli(["worker", "--once"], env)
    assert drained.exit_code == 0, drained.output
    assert "applied=1" in drained.output
    assert [o.external_id for o in await web_orders(session)] == ["211"]
