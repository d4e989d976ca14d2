"""Invariant 8 at the web shop: units an NCR moves to quarantine leave the stock level the
worker pushes to the shop, and come back when the disposition is "use as is"."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from kosh.quality import service as quality_service
from kosh.storefront import service as storefront_service
from tests.storefront import fakestore
from tests.storefront.conftest import (  # noqa: F401 - the storefront's fixtures, reused
    Shop,
    _fake_store_server,
    drain,
    fake_store,
    shop,
    worker_settings,
)
from tests.support.stock import a_location, stock_in


async def test_quarantined_units_are_not_pushed_to_the_shop(
    shop: Shop,  # noqa: F811 - the fixture
    session: AsyncSession,
    drain: Any,  # noqa: F811
    fake_store: fakestore.FakeStore,  # noqa: F811
    settings: Settings,
) -> None:
    # given a shop selling Bar3 with stock pushed, KOSH holding 100 + 20 in storage
    fake_store.add_product("Bar3", stock=5)
    store = await storefront_service.get_store_by_code_or_raise(session, shop.code)
    await storefront_service.update_store(
        session, settings=settings, code=shop.code, version=store.version, stock_push=True
    )
    lot = await stock_in(session, "Bar3", shop.bin_id, 20)
    await drain()
    assert fake_store.stock_of("Bar3") == 120
    # when an NCR quarantines 15 of the new lot
    quarantine = await a_location(session, shop.warehouse_id, kind="quarantine")
    quarantine_id = quarantine.id
    ticket = await quality_service.create_ticket(session, kind="ncr", title="Suspect batch")
    ticket_id = ticket.id
    await quality_service.contain(
        session, ticket_id=ticket_id, pcn=lot.pcn, location_id=quarantine_id, qty=15
    )
    await drain()
    # then the shop sells only what is usable
    assert fake_store.stock_of("Bar3") == 105
    # and "use as is" puts them back on sale
    await quality_service.disposition(
        session,
        ticket_id=ticket_id,
        action="use_as_is",
        pcn=lot.pcn,
        qty=15,
        location_id=shop.bin_id,
    )
    await drain()
    assert fake_store.stock_of("Bar3") == 120
