"""`kosh demo-data` for every feature: BOMs imported and active, jobs in each state (kitted
through picks), customers and orders (one shipped with tracking), alerts; a second run adds
nothing; the ledger replays; and every main page renders with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts.models import Alert
from kosh.bom.models import Bom, BomLine
from kosh.core.config import Settings
from kosh.ops import demo
from kosh.production.models import Job
from kosh.quality.models import MaintenancePlan, Return
from kosh.sales.models import Customer, SalesOrder, Shipment
from kosh.shopfloor.models import Machine, Routing, WorkCentre
from kosh.stock import verify as stock_verify
from kosh.stock.models import StockTransaction
from kosh.storefront.models import SkuMapping, StagedOrder
from tests.support.fixtures import MakeUser

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}
MAIN_PAGES = (
    "/",
    "/parts",
    "/pcns",
    "/locations",
    "/warehouses",
    "/boms",
    "/jobs",
    "/sales-orders",
    "/customers",
    "/alerts",
    "/alerts?status=",
    "/purchase-orders",
    "/suppliers",
    "/documents",
    "/storefront",
    "/storefront/review",
    "/storefront/stores/DEMO-SHOP",
    "/storefront/stores/DEMO-SHOP/sku-map",
    "/quality",
    "/quality/returns",
    "/shopfloor",
)


async def counts(session: AsyncSession) -> dict[str, int]:
    session.expire_all()
    found = {}
    for name, model in (
        ("boms", Bom),
        ("bom_lines", BomLine),
        ("jobs", Job),
        ("customers", Customer),
        ("orders", SalesOrder),
        ("shipments", Shipment),
        ("ledger", StockTransaction),
        ("alerts", Alert),
        ("work_centres", WorkCentre),
        ("machines", Machine),
        ("routings", Routing),
        ("returns", Return),
        ("plans", MaintenancePlan),
        ("staged", StagedOrder),
        ("sku_map", SkuMapping),
    ):
        found[name] = int(await session.scalar(select(func.count()).select_from(model)) or 0)
    found["web_orders"] = int(
        await session.scalar(
            select(func.count())
            .select_from(SalesOrder)
            .where(SalesOrder.external_store.is_not(None))
        )
        or 0
    )
    return found


async def test_demo_covers_every_feature_twice_without_doubling(
    sessions: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    settings: Settings,
    client: httpx.AsyncClient,
    make_user: MakeUser,
    login: Login,
) -> None:
    # when the demo is loaded
    first = await demo.load_demo(sessions, settings)

    # then each feature has its records, made through its use cases
    assert first.created
    made = await counts(session)
    assert made["boms"] == 3
    assert made["bom_lines"] == 13 + 6 + 7
    revisions = dict((await session.execute(select(Bom.revision, Bom.status))).all())
    assert revisions == {"C": "active", "A": "obsolete", "B": "active"}
    statuses = dict((await session.execute(select(Job.number, Job.status))).all())
    assert statuses == {
        "J-DEMO-1001": "planned",
        "J-DEMO-1002": "released",
        "J-DEMO-1003": "in_progress",
        "J-DEMO-1004": "complete",
        "J-DEMO-1005": "cancelled",
        "J-DEMO-1006": "released",
    }
    kitted = await session.scalar(
        select(func.count())
        .select_from(StockTransaction)
        .where(StockTransaction.kind == "pick", StockTransaction.reference == "J-DEMO-1002")
    )
    assert kitted
    assert made["customers"] >= 3
    assert made["orders"] == 3 + 3  # the sales desk's and the web store's
    assert {"draft", "confirmed", "shipped"} <= set(
        await session.scalars(select(SalesOrder.status))
    )
    tracking = await session.scalar(select(Shipment.tracking_number))
    assert tracking == "JJD0001234567"
    assert (made["work_centres"], made["machines"], made["routings"]) == (3, 4, 2)
    assert (made["returns"], made["plans"]) == (1, 1)
    web = dict((await session.execute(select(StagedOrder.external_id, StagedOrder.status))).all())
    assert web == {"5001": "applied", "5002": "applied", "5003": "applied", "5004": "review"}
    assert made["web_orders"] == 3
    shortages = await session.scalar(
        select(func.count()).select_from(Alert).where(Alert.kind == "job_shortage")
    )
    assert shortages  # the job released short
    assert await stock_verify.replay_differences(session) == []

    # when it runs again, nothing is added
    again = await demo.load_demo(sessions, settings)
    assert not again.created
    assert await counts(session) == made

    # and every main page renders with it
    await login(client, await make_user("admin"))
    for url in MAIN_PAGES:
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
