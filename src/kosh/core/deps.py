"""Request-scoped dependencies: settings, a database session, the rate limiter."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.claims import STATE_KEY, InTransactionClaim
from kosh.core.config import Settings
from kosh.core.db import CLAIM_INFO
from kosh.core.ratelimit import RateLimiter


async def get_settings_dep(request: Request) -> Settings:
    # async: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per request
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request, never shared between tasks; closed (rolled back) at the end.

    On a path whose use case claims the Idempotency-Key in its own transaction, the claim
    rides along in `session.info`; when the use case succeeded its transaction is still
    open, and the idempotency middleware (not this dependency) commits and closes it."""
    claim: InTransactionClaim | None = request.scope.get("state", {}).get(STATE_KEY)
    session: AsyncSession = request.app.state.sessions()
    if claim is not None:
        session.info[CLAIM_INFO] = claim
    try:
        yield session
    finally:
        if claim is None or claim.session is not session:
            await session.close()


async def get_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.limiter
    return limiter


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[AsyncSession, Depends(get_session)]
LimiterDep = Annotated[RateLimiter, Depends(get_limiter)]
