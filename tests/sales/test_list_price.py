"""List price apart from cost: the sales default is the list price (never the cost), and the
migration gives existing parts list_price = unit_cost, so nothing changes for them."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.core.db import create_engine
from kosh.core.errors import ValidationError
from kosh.core.migrate import upgrade
from kosh.sales import service as sales_service
from tests.support.platform import scratch_database_url
from tests.support.stock import a_part, a_site

__all__ = ["scratch_database_url"]  # the fixture, used below


async def test_a_part_with_only_a_cost_has_no_default_price(session: AsyncSession) -> None:
    # given a part with a cost and no list price
    site = await a_site(session)
    costed = await a_part(session, unit_cost=Decimal("4.00"))
    customer = await sales_service.create_customer(session, name="Ada")
    # when a line leaves the price out, then it is refused: the cost is no sales price
    with pytest.raises(ValidationError) as caught:
        await sales_service.create_order(
            session,
            customer_id=customer.id,
            warehouse_id=site.warehouse_id,
            lines=[sales_service.LineRequest(part_number=costed.number, qty=1)],
        )
    assert caught.value.errors[0]["loc"] == ["lines", 0, "unit_price"]


async def test_parts_api_carries_list_price_and_cost(
    client: httpx.AsyncClient, admin_headers: dict[str, str]
) -> None:
    made = await client.post(
        "/api/v1/parts",
        json={"number": "LP-1", "unit_cost": "2.00", "list_price": "5.50"},
        headers=admin_headers,
    )
    assert made.status_code == 201, made.text
    part = made.json()
    assert (Decimal(part["unit_cost"]), Decimal(part["list_price"])) == (
        Decimal("2.00"),
        Decimal("5.50"),
    )
    changed = await client.patch(
        f"/api/v1/parts/{part['id']}",
        json={"version": part["version"], "list_price": "6.00"},
        headers=admin_headers,
    )
    assert changed.status_code == 200, changed.text
    assert Decimal(changed.json()["list_price"]) == Decimal("6.00")
    assert Decimal(changed.json()["unit_cost"]) == Decimal("2.00")
    negative = await client.patch(
        f"/api/v1/parts/{part['id']}",
        json={"version": changed.json()["version"], "list_price": "-1"},
        headers=admin_headers,
    )
    assert negative.status_code == 422


async def test_migration_sets_list_price_from_unit_cost(
    settings: Settings, scratch_database_url: str
) -> None:
    engine = create_engine(settings, url=scratch_database_url)
    try:
        # given parts from before list prices, one with a cost and one without
        await upgrade(engine, "0013")
        async with engine.begin() as conn:
            for number, cost in (("OLD-1", "7.2500"), ("OLD-2", None)):
                await conn.execute(
                    text(
                        "INSERT INTO parts (number, description, unit, reorder_point, unit_cost,"
                        " active, version, created_at, updated_at) VALUES (:n, '', 'pcs', 0,"
                        " :c, :a, 1, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
                    ),
                    {"n": number, "c": cost, "a": True},
                )
        # when migrated
        await upgrade(engine)
        # then the cost became the list price where there was one
        async with engine.connect() as conn:
            rows = dict((await conn.execute(text("SELECT number, list_price FROM parts"))).all())
        assert rows["OLD-1"] is not None
        assert Decimal(str(rows["OLD-1"])) == Decimal("7.25")
        assert rows["OLD-2"] is None
    finally:
        await engine.dispose()
