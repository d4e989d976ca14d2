"""The intake's group commit (intake.Stager): deliveries arriving together share one INSERT
and one commit, each learns whether it was new, a redelivery in the same batch is a
duplicate, and a row the database refuses fails only its own delivery."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.db import utcnow
from kosh.storefront import intake
from kosh.storefront import woocommerce as wc
from kosh.storefront.metrics import STAGED_BATCH_ROWS
from kosh.storefront.models import StagedOrder, Store
from tests.storefront import fakestore
from tests.storefront.conftest import Shop


def _flushes() -> float:
    [metric] = STAGED_BATCH_ROWS.collect()
    return next(s.value for s in metric.samples if s.name.endswith("_count"))


def _order(n: int) -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(
        fakestore.load("order_727_processing_guest_docs_create_response.json")
    )
    order["id"] = order["number"] = 500_000 + n
    return order


def _values(store_id: int, n: int) -> dict[str, Any]:
    order = _order(n)
    body = fakestore.wc_json(order)
    key = wc.delivery_key(order, topic="order.created", delivery_id=None, body=body)
    assert key is not None
    return intake._staged_values(
        store_id=store_id,
        key=key,
        body=body,
        headers={},
        source="webhook",
        topic="order.created",
        delivery_id=None,
        now=utcnow(),
    )


async def _store_id(sessions: async_sessionmaker[AsyncSession], code: str) -> int:
    async with sessions() as session:
        found = await session.scalar(select(Store.id).where(Store.code == code))
    assert found is not None
    return int(found)


async def _staged(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(StagedOrder)) or 0)


async def test_deliveries_arriving_together_share_one_commit(
    shop: Shop, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given a stager and 40 deliveries arriving at once, one of them twice
    store_id = await _store_id(sessions, shop.code)
    stager = intake.Stager(sessions)
    values = [_values(store_id, n) for n in range(40)]
    before = _flushes()

    # when they are staged concurrently
    ids = await asyncio.gather(*(stager.stage(v) for v in [*values, dict(values[7])]))

    # then every new one got its own id, the redelivery is a duplicate, all are stored, and
    # they took a few commits, not 41
    new, duplicate = ids[:40], ids[40]
    assert all(isinstance(i, int) for i in new)
    assert len(set(new)) == 40
    assert duplicate is None
    assert await _staged(sessions) == 40
    assert _flushes() - before <= 3


async def test_a_refused_row_fails_only_its_own_delivery(
    shop: Shop, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given deliveries arriving together, one of which the database refuses (its store does
    # not exist: a foreign key violation)
    store_id = await _store_id(sessions, shop.code)
    stager = intake.Stager(sessions)
    good = [_values(store_id, 100 + n) for n in range(10)]
    bad = _values(store_id + 10_000, 200)

    # when they are staged concurrently
    results = await asyncio.gather(
        *(stager.stage(v) for v in [*good[:5], bad, *good[5:]]), return_exceptions=True
    )

    # then the bad one failed, every good one is stored and answered with its id
    assert isinstance(results[5], Exception)
    assert all(isinstance(r, int) for r in results[:5] + results[6:])
    assert await _staged(sessions) == 10


async def test_webhooks_sent_together_are_each_stored_once(
    shop: Shop, client: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession]
) -> None:
    # given 30 signed deliveries of distinct orders and a redelivery of one of them
    deliveries = [fakestore.delivery(_order(300 + n), topic="order.created") for n in range(30)]
    deliveries.append(deliveries[3])

    # when WooCommerce sends them at once
    answers = await asyncio.gather(
        *(fakestore.send(client, shop.code, body, headers) for body, headers in deliveries)
    )

    # then each is acknowledged only stored, exactly once
    assert [a.status_code for a in answers] == [200] * 31
    assert sorted(a.json()["status"] for a in answers).count("duplicate") == 1
    assert await _staged(sessions) == 30


@pytest.mark.parametrize("rows", [0, 3])
async def test_stage_many_counts_the_new_rows(
    shop: Shop, sessions: async_sessionmaker[AsyncSession], rows: int
) -> None:
    # given a backfill page (empty, or three orders)
    store_id = await _store_id(sessions, shop.code)
    page = []
    for n in range(rows):
        order = _order(400 + n)
        body = fakestore.wc_json(order)
        key = wc.delivery_key(order, topic=None, delivery_id=None, body=body)
        assert key is not None
        page.append((key, body))

    # when it is staged twice
    async with sessions() as session:
        first = await intake.stage_many(
            session, store_id=store_id, deliveries=page, source="backfill"
        )
    async with sessions() as session:
        again = await intake.stage_many(
            session, store_id=store_id, deliveries=page, source="backfill"
        )

    # then the first time stores them all, the second nothing
    assert (first, again) == (rows, 0)
    assert await _staged(sessions) == rows
