"""`kosh demo-data`: the small demo site for every feature, each part loaded by its own
feature's demo module through that feature's use cases (no rows written into another
feature's tables): stock (warehouse, bins, parts, PCNs, movements, quality tickets),
purchasing, BOMs (imported from a spreadsheet and activated), production jobs (kitted by
picks), sales (customers, orders, a shipment with tracking), the shop floor (work centres,
machines, routings), quality (a return, a maintenance plan), a web store (SKU map, orders
applied and one in review) and the alerts they raise.

Running it again adds nothing: each part checks for its own records first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts import service as alert_service
from kosh.bom import demo as bom_demo
from kosh.core.actor import set_actor
from kosh.core.config import Settings
from kosh.locations import service as location_service
from kosh.production import demo as production_demo
from kosh.purchasing import demo as purchasing_demo
from kosh.quality import demo as quality_demo
from kosh.sales import demo as sales_demo
from kosh.shopfloor import demo as shopfloor_demo
from kosh.stock import demo as stock_demo
from kosh.storefront import demo as storefront_demo


async def _demo_warehouse(session: AsyncSession) -> int | None:
    warehouses, _ = await location_service.list_warehouses(session, active=True, limit=200)
    return next((w.id for w in warehouses if w.code == stock_demo.DEMO_WAREHOUSE), None)


async def load_demo(
    sessions: async_sessionmaker[AsyncSession], settings: Settings, *, seed: int = 7
) -> stock_demo.DemoResult:
    """Load (or complete) the demo site; the message says what each feature added."""
    async with sessions() as session:
        session.info["pcn_prefix"] = settings.pcn_prefix
        session.info["alert_due_soon_days"] = settings.alert_due_soon_days
        site = await stock_demo.load_demo_site(session, seed=seed)
        site = await purchasing_demo.with_purchasing(session, site)
        set_actor(stock_demo.DEMO_ACTOR)
        warehouse_id = await _demo_warehouse(session)
        if warehouse_id is None:
            return site
        boms = await bom_demo.load_bom_demo(session, sessions, settings)
        jobs = await production_demo.load_production_demo(session, warehouse_id=warehouse_id)
        orders = await sales_demo.load_sales_demo(session, warehouse_id=warehouse_id)
        # after the jobs: a routing present at release would book their capacity too
        centres = await shopfloor_demo.load_shopfloor_demo(session)
        returns, plans = await quality_demo.load_returns_and_plans(
            session,
            shipped_order_id=await sales_demo.shipped_demo_order(session),
            machine_code=shopfloor_demo.PLANNED_MACHINE,
        )
        web = await storefront_demo.load_storefront_demo(
            session, settings=settings, warehouse_id=warehouse_id
        )
        active = await alert_service.evaluate_alerts(session)
    added = bool(boms or jobs or orders or centres or returns or plans or web)
    return stock_demo.DemoResult(
        site.created or added,
        f"{site.message} BOMs: {len(boms)} added, jobs: {len(jobs)} added, "
        f"sales orders: {len(orders)} added, work centres: {len(centres)} added, "
        f"returns: {returns}, maintenance plans: {plans}, web orders: {web} staged; "
        f"{active} alerts open.",
    )
