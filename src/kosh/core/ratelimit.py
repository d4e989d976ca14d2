"""Rate limits with the `limits` library: in memory on one box, in Redis across nodes."""

from __future__ import annotations

import functools
import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string
from starlette.types import ASGIApp, Receive, Scope, Send

from kosh.core.config import Settings
from kosh.core.errors import RateLimitedError
from kosh.core.metrics import RATE_LIMITED
from kosh.core.middleware import send_problem

log = structlog.get_logger(__name__)

# the configured limits are a handful of strings, parsed on every request otherwise
_parse = functools.lru_cache(maxsize=64)(parse)


class RateLimiter:
    """Counts hits per (scope, identity). A broken Redis fails open, loudly, never closed."""

    def __init__(self, storage_uri: str, **options: float | str | bool) -> None:
        self.storage: Storage = storage_from_string(storage_uri, **options)  # type: ignore[assignment]
        self.strategy = SlidingWindowCounterRateLimiter(self.storage)

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimiter:
        if settings.redis_url:
            # redis-py (a declared dependency) rather than limits' default coredis; short
            # timeouts so a dead Redis costs a request one second, not a hang.
            return cls(
                "async+" + settings.redis_url,
                implementation="redispy",
                key_prefix="kosh",
                socket_timeout=1.0,
                socket_connect_timeout=1.0,
            )
        return cls("async+memory://")

    async def hit(self, limit: str, scope: str, identity: str) -> float | None:
        """Count one hit; return seconds to wait when the limit is exceeded, else None."""
        item = _parse(limit)
        try:
            if await self.strategy.hit(item, scope, identity):
                return None
            return await self._retry_after(item, scope, identity)
        except Exception as exc:  # a limiter outage must not take the site down
            _unavailable(scope, exc)
            return None

    async def exceeded(self, limit: str, scope: str, identity: str) -> float | None:
        """Seconds to wait if the limit is already used up, without counting a hit."""
        item = _parse(limit)
        try:
            if await self.strategy.test(item, scope, identity):
                return None
            return await self._retry_after(item, scope, identity)
        except Exception as exc:
            _unavailable(scope, exc)
            return None

    async def clear(self, limit: str, scope: str, identity: str) -> None:
        try:
            await self.strategy.clear(_parse(limit), scope, identity)
        except Exception as exc:
            _unavailable(scope, exc)

    async def _retry_after(self, item: RateLimitItem, scope: str, identity: str) -> float:
        stats = await self.strategy.get_window_stats(item, scope, identity)
        return max(1.0, stats.reset_time - time.time())

    async def check_or_raise(self, limit: str, scope: str, identity: str) -> None:
        wait = await self.hit(limit, scope, identity)
        if wait is not None:
            raise too_many(scope, wait)


def _unavailable(scope: str, exc: Exception) -> None:
    # One line per refused check, not a traceback: a dead Redis would flood the log.
    log.warning("rate_limiter_unavailable", scope=scope, error=f"{type(exc).__name__}: {exc}")


def too_many(scope: str, wait: float) -> RateLimitedError:
    RATE_LIMITED.labels(scope=scope).inc()
    seconds = math.ceil(wait)
    return RateLimitedError(
        f"Too many requests; try again in {seconds} s.",
        headers={"Retry-After": str(seconds)},
        details={"retry_after": seconds},
    )


class ClientRateLimitMiddleware:
    """Per-client-IP limit on every request except health probes and static files."""

    # Webhooks come in bursts from one store address; they have their own per-store limit
    # (KOSH_STOREFRONT_WEBHOOK_RATE_LIMIT) and must not be refused by the per-IP one.
    _EXEMPT = ("/health", "/static/", "/metrics", "/api/v1/storefront/woocommerce/")

    def __init__(self, app: ASGIApp, limiter: RateLimiter, limit: str) -> None:
        self.app = app
        self.limiter = limiter
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self._EXEMPT):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        wait = await self.limiter.hit(self.limit, "ip", client[0] if client else "unknown")
        if wait is not None:
            error = too_many("ip", wait)
            await send_problem(send, 429, error.title, error.message, error.code, error.headers)
            return
        await self.app(scope, receive, send)
