"""Every page of the app, with real data behind it, for the site-wide browser gates.

`page_routes(app)` lists the app's GET page routes from the router itself (pages are the
routes outside the OpenAPI schema, minus static files, health and API docs), so a page a
feature adds later is picked up without touching this file. `seed_site` loads the demo site
through `kosh demo-data` (whatever the features add to it comes along) and a few records of
the features the demo does not cover yet, so routes with ids have real ids to open.
`Crawl` then finds a real URL for each route with ids by following the links of the pages
it has opened: the list pages link their records, the records link their sub-pages.
"""

from __future__ import annotations

import re
import subprocess
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom, BomLine
from kosh.catalog import queries as part_queries
from kosh.documents import service as document_service
from kosh.locations import service as location_service
from kosh.production import service as job_service
from kosh.purchasing import service as purchasing_service
from kosh.purchasing.schemas import (
    OrderLineIn,
    PriceBreak,
    SupplierCreate,
    SupplierPartCreate,
)
from kosh.sales import service as sales_service
from tests.support.live_server import kosh_command, server_env

# Not pages: files, machine endpoints, and routes that answer something other than HTML.
NOT_PAGES = (
    "/static",
    "/health",
    "/metrics",
    "/api/v1",
    "/api/openapi",
    "/api/docs/assets",
    "/favicon",
    # redirects to and from the OpenID provider, not pages (404 while SSO is not configured;
    # the sign-in pages they lead to are checked in tests/auth/test_browser_sso.py)
    "/auth/oidc/",
)
# Links, and GET forms as submitted with their preset values (the BOM compare form).
LINKS = """() => [
    ...[...document.querySelectorAll("a[href]")]
        .filter((a) => a.origin === location.origin)
        .map((a) => a.pathname + a.search),
    ...[...document.querySelectorAll("form[method=get][action]")]
        .map((f) => new URL(f.action).pathname + "?" + new URLSearchParams(new FormData(f))),
]"""
PARAM = re.compile(r"\{([^}:]+)(?::([^}]+))?\}")


@dataclass(frozen=True)
class PageRoute:
    path: str  # as declared, e.g. /parts/{part_id}
    pattern: re.Pattern[str]
    needs_query: bool = False  # a required query parameter (e.g. /boms/compare?a=..&b=..)

    @property
    def has_params(self) -> bool:
        return "{" in self.path or self.needs_query


def _pattern(path: str) -> re.Pattern[str]:
    regex, at = "", 0
    for match in PARAM.finditer(path):
        regex += re.escape(path[at : match.start()])
        regex += ".+" if match.group(2) == "path" else "[^/]+"
        at = match.end()
    return re.compile("^" + regex + re.escape(path[at:]) + "$")


def page_routes(routers: Sequence[APIRouter]) -> list[PageRoute]:
    """The GET routes outside the OpenAPI schema of the app's routers (kosh.app
    FEATURE_ROUTERS), but files and machine endpoints."""
    routes = []
    for route in (r for router in routers for r in router.routes):
        if not isinstance(route, APIRoute) or "GET" not in route.methods:
            continue
        if route.include_in_schema or route.path.startswith(NOT_PAGES):
            continue
        needs_query = any(p.field_info.is_required() for p in route.dependant.query_params)
        routes.append(PageRoute(route.path, _pattern(route.path), needs_query))
    return sorted(routes, key=lambda r: r.path)


def load_demo_data(database_url: str, workdir: Path) -> None:
    """`kosh demo-data` against the test database, as a person would run it."""
    completed = subprocess.run(  # noqa: S603 - our own command line
        [*kosh_command(), "demo-data"],
        cwd=workdir,
        env=server_env(database_url, workdir / "data"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr


async def seed_site(session: AsyncSession) -> None:
    """A record of each feature the demo site has no data for yet (sales, purchasing, BOMs
    and jobs, documents), on the demo warehouse and parts."""
    warehouses, _ = await location_service.list_warehouses(session, active=True)
    warehouse = warehouses[0]
    parts, _ = await part_queries.search_parts(session, q=None, active=True, limit=3, offset=0)
    assembly, first, second = (p.number for p in parts)
    assembly_id, first_id, second_id = (p.id for p in parts)
    customer = await sales_service.create_customer(
        session, name="Demo Customer", email="buyer@example.com"
    )
    await sales_service.create_order(
        session,
        customer_id=customer.id,
        warehouse_id=warehouse.id,
        lines=[sales_service.LineRequest(part_number=first, qty=2, unit_price=Decimal("1.50"))],
        confirm=False,
        backorder=False,
    )
    await purchasing_service.create_supplier(
        session, data=SupplierCreate(code="DEMO-SUP", name="Demo Supplier")
    )
    await purchasing_service.create_supplier_part(
        session,
        data=SupplierPartCreate(
            supplier_code="DEMO-SUP",
            part_number=second,
            sku="DEMO-SKU-1",
            prices=[PriceBreak(min_qty=1, unit_price=Decimal("0.10"))],
        ),
    )
    await purchasing_service.create_order(
        session, supplier_code="DEMO-SUP", warehouse_id=warehouse.id
    )
    placed = await purchasing_service.create_order(
        session,
        supplier_code="DEMO-SUP",
        warehouse_id=warehouse.id,
        lines=[OrderLineIn(supplier_sku="DEMO-SKU-1", qty=10)],
    )
    await purchasing_service.place(session, order_id=placed.id)
    for revision, status in (("A", "active"), ("B", "draft")):  # two: the compare page
        bom = Bom(assembly_part_id=assembly_id, revision=revision, status=status, created_by="t")
        session.add(bom)
        await session.flush()
        session.add_all(
            [
                BomLine(bom_id=bom.id, line_no=1, part_id=first_id, qty=2, refdes="R1 R2"),
                BomLine(bom_id=bom.id, line_no=2, part_id=second_id, qty=1, refdes="C1"),
            ]
        )
    await session.commit()
    await job_service.create_job(
        session, number="J-DEMO-1", assembly_part_number=assembly, qty=3, warehouse_id=warehouse.id
    )
    await document_service.create_document(session, type="transfer", warehouse_id=warehouse.id)
    await document_service.create_document(session, type="stocktake", warehouse_id=warehouse.id)


@dataclass
class Crawl:
    """Which page routes have a real URL yet, filled from the links of opened pages."""

    routes: list[PageRoute]
    found: dict[str, str] = field(default_factory=dict)  # route path -> URL
    queue: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        for route in self.routes:
            if not route.has_params:
                self._take(route, route.path)

    def _take(self, route: PageRoute, url: str) -> None:
        self.found[route.path] = url
        self.queue.append(url)

    def offer(self, hrefs: list[str]) -> None:
        """Same-origin links as path?query."""
        static = {r.path for r in self.routes if "{" not in r.path}
        for href in hrefs:
            parts = urlsplit(href)
            for route in self.routes:
                if "{" in route.path and parts.path in static:
                    continue  # /boms/import is not the BOM with id "import"
                if route.path in self.found or (route.needs_query and not parts.query):
                    continue
                if route.pattern.match(parts.path):
                    self._take(route, href)

    def missing(self) -> list[str]:
        return [r.path for r in self.routes if r.path not in self.found]
