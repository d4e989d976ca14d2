"""The application factory: settings, database, middleware, routers, error pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from kosh import __version__, wiring  # noqa: F401 - event subscribers (docs/adr/0002)
from kosh.alerts import api as alerts_api
from kosh.alerts import notify as alert_notify
from kosh.alerts import pages as alerts_pages
from kosh.auth import api as auth_api
from kosh.auth import oidc_pages as auth_oidc_pages
from kosh.auth import pages as auth_pages
from kosh.auth import token_pages as auth_token_pages
from kosh.auth import twofactor_pages as auth_twofactor_pages
from kosh.bom import api as bom_api
from kosh.bom import pages as bom_pages
from kosh.bom import runner as bom_runner
from kosh.catalog import api as catalog_api
from kosh.catalog import pages as catalog_pages
from kosh.core.config import Settings, get_settings
from kosh.core.db import create_engine, create_session_factory
from kosh.core.error_tracking import init_error_tracking
from kosh.core.errors import install_error_handlers
from kosh.core.idempotency import IdempotencyMiddleware
from kosh.core.middleware import RequestContextMiddleware, RequestShapeMiddleware
from kosh.core.migrate import upgrade
from kosh.core.openapi import install_problem_responses
from kosh.core.ratelimit import ClientRateLimitMiddleware, RateLimiter
from kosh.documents import api as documents_api
from kosh.documents import import_runner as opening_import_runner
from kosh.documents import pages as documents_pages
from kosh.locations import api as locations_api
from kosh.locations import pages as locations_pages
from kosh.ops import api as ops_api
from kosh.ops import pages as ops_pages
from kosh.production import api as production_api
from kosh.production import pages as production_pages
from kosh.purchasing import alerting as purchasing_alerting
from kosh.purchasing import api as purchasing_api
from kosh.purchasing import pages as purchasing_pages
from kosh.quality import api as quality_api
from kosh.quality import pages as quality_pages
from kosh.sales import api as sales_api
from kosh.sales import pages as sales_pages
from kosh.shopfloor import api as shopfloor_api
from kosh.shopfloor import pages as shopfloor_pages
from kosh.stock import api as stock_api
from kosh.stock import label_api as stock_label_api
from kosh.stock import pages as stock_pages
from kosh.storefront import alerting as storefront_alerting
from kosh.storefront import api as storefront_api
from kosh.storefront import pages as storefront_pages
from kosh.web import api_docs as web_api_docs
from kosh.web import pages as web_pages
from kosh.web import static_files
from kosh.web.templating import Pages

UPLOAD_PATHS: tuple[str, ...] = (
    "/api/v1/boms/imports",
    "/api/v1/documents/imports",
    "/api/v1/ticket-attachments/",  # ticket photos (kosh.quality)
    "/quality/attachments/",
)
FEATURE_ROUTERS = [
    auth_api.router,
    ops_api.router,
    catalog_api.router,
    locations_api.router,
    stock_api.router,
    stock_label_api.router,
    sales_api.router,
    storefront_api.router,
    bom_api.router,
    production_api.router,
    alerts_api.router,
    documents_api.router,
    auth_pages.router,
    ops_pages.router,
    stock_pages.router,
    catalog_pages.router,
    locations_pages.router,
    sales_pages.router,
    storefront_pages.router,
    bom_pages.router,
    production_pages.router,
    alerts_pages.router,
    documents_pages.router,
    purchasing_api.router,
    purchasing_pages.router,
    web_pages.router,
    static_files.router,
    shopfloor_api.router,
    shopfloor_pages.router,
    web_api_docs.router,
    auth_twofactor_pages.router,
    auth_oidc_pages.router,
    quality_api.router,
    quality_pages.router,
    auth_token_pages.router,
]
# Per-feature startup/shutdown (entered in order after migrations, left in reverse order).
FEATURE_LIFESPANS: list[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = [
    bom_runner.lifespan,
    alert_notify.lifespan,
    storefront_alerting.lifespan,
    purchasing_alerting.lifespan,
    opening_import_runner.lifespan,
]


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    init_error_tracking(settings)
    engine = create_engine(settings)
    sessions = create_session_factory(engine)
    sessions.configure(
        info={
            "retry_attempts": settings.db_retry_attempts,
            "pcn_prefix": settings.pcn_prefix,
            "alert_due_soon_days": settings.alert_due_soon_days,
        }
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await upgrade(engine)
        async with AsyncExitStack() as stack:
            for feature_lifespan in FEATURE_LIFESPANS:
                await stack.enter_async_context(feature_lifespan(app))
            yield
        await engine.dispose()

    app = FastAPI(
        title="KOSH",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url="/api/openapi.json",
        lifespan=lifespan,
        debug=False,  # tracebacks never reach a client, whatever KOSH_DEBUG says
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = sessions
    app.state.limiter = RateLimiter.from_settings(settings)
    app.state.pages = Pages(settings)

    for router in FEATURE_ROUTERS:
        app.include_router(router)

    install_error_handlers(app, app.state.pages.error_page)
    install_problem_responses(app)

    # Added innermost first: the request context wraps everything else.
    app.add_middleware(
        IdempotencyMiddleware,
        sessions=sessions,
        ttl=timedelta(hours=settings.idempotency_ttl_hours),
    )
    app.add_middleware(
        ClientRateLimitMiddleware, limiter=app.state.limiter, limit=settings.rate_limit
    )
    app.add_middleware(RequestShapeMiddleware, settings=settings, upload_paths=UPLOAD_PATHS)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_credentials=True,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=[
                "authorization",
                "content-type",
                "idempotency-key",
                "x-csrf-token",
                "x-request-id",
            ],
            expose_headers=["x-request-id", "idempotent-replayed", "retry-after"],
        )
    app.add_middleware(
        RequestContextMiddleware, settings=settings, render_page=app.state.pages.error_page
    )
    return app


__all__ = ["create_app"]
