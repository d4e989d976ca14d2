"""`Idempotency-Key` for every mutating request: a replay returns the first answer unchanged.

The key is claimed (inserted as `running`) before the request runs, so two concurrent
requests with one key cannot both execute; the first answer below 500 is stored and
replayed. Keys belong to the caller (bearer token, session or client IP) and expire.
"""

from __future__ import annotations

import hashlib
import random
import re
from datetime import timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kosh.core.db import utcnow
from kosh.core.metrics import IDEMPOTENT_REPLAYS
from kosh.core.middleware import header, send_problem
from kosh.core.models import IdempotencyKey

log = structlog.get_logger(__name__)

_MUTATING = {"POST", "PUT", "PATCH", "DELETE"}
_VALID_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")
_NOT_REPLAYED = {b"x-request-id", b"date", b"server", b"content-length", b"set-cookie"}
# Refused before the use case ran (no or stale credentials or CSRF token, rate limit): the
# caller fixes that and retries with the same key, which must then run, not replay the refusal.
_NOT_STORED = {401, 403, 429}
REPLAY_HEADER = b"idempotent-replayed"


def caller_scope(scope: Scope) -> str:
    """Who owns a key: the bearer token, else the session cookie, else the client IP."""
    auth = header(scope, b"authorization")
    if auth:
        basis = "auth:" + auth
    else:
        cookie = header(scope, b"cookie") or ""
        session = next(
            (
                part.split("=", 1)[1]
                for part in (p.strip() for p in cookie.split(";"))
                if part.startswith("kosh_session=")
            ),
            None,
        )
        client = scope.get("client")
        basis = f"session:{session}" if session else f"ip:{client[0] if client else '-'}"
    return hashlib.sha256(basis.encode()).hexdigest()


class IdempotencyMiddleware:
    def __init__(
        self, app: ASGIApp, sessions: async_sessionmaker[AsyncSession], ttl: timedelta
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.ttl = ttl

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        if key is None or scope["method"] not in _MUTATING:
            await self.app(scope, receive, send)
            return
        if not _VALID_KEY.match(key):
            await send_problem(
                send,
                400,
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 200 printable ASCII characters.",
                "invalid_idempotency_key",
            )
            return

        body = await _read_body(receive)
        fingerprint = hashlib.sha256(
            b"\0".join(
                [
                    scope["method"].encode(),
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    body,
                ]
            )
        ).hexdigest()
        owner = caller_scope(scope)

        existing = await self._claim(owner, key, fingerprint)
        if existing is not None:
            await self._answer_existing(existing, fingerprint, send)
            return

        status: int | None = None
        headers: list[tuple[bytes, bytes]] = []
        chunks = bytearray()
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if body_sent:
                # later calls wait for the disconnect, as the real receive would (a streaming
                # response listens for it; answering with the body again would spin)
                return await receive()
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def capture_send(message: Message) -> None:
            nonlocal status, headers
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                chunks.extend(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, replay_receive, capture_send)
        except BaseException:
            await self._release(owner, key)
            raise
        if status is not None and status < 500 and status not in _NOT_STORED:
            await self._store(owner, key, status, headers, bytes(chunks))
        else:
            await self._release(owner, key)

    async def _claim(self, owner: str, key: str, fingerprint: str) -> IdempotencyKey | None:
        """Insert the key as running; return the existing row if someone had it first."""
        now = utcnow()
        async with self.sessions() as session:
            if random.random() < 0.01:  # noqa: S311 - opportunistic cleanup, not security
                await session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
            session.add(
                IdempotencyKey(
                    scope=owner,
                    key=key,
                    request_hash=fingerprint,
                    state="running",
                    created_at=now,
                    expires_at=now + self.ttl,
                )
            )
            try:
                await session.commit()
                return None
            except IntegrityError:
                await session.rollback()
            row = await session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.scope == owner, IdempotencyKey.key == key
                )
            )
            if row is not None and row.expires_at < now:
                await session.delete(row)
                await session.commit()
                return await self._claim(owner, key, fingerprint)
            return row

    async def _answer_existing(self, row: IdempotencyKey, fingerprint: str, send: Send) -> None:
        if row.request_hash != fingerprint:
            await send_problem(
                send,
                422,
                "Idempotency-Key reused",
                "This Idempotency-Key was used with a different request; use a new key.",
                "idempotency_key_reused",
            )
            return
        if row.state != "done" or row.response_status is None:
            await send_problem(
                send,
                409,
                "Request in progress",
                "A request with this Idempotency-Key is still running; retry shortly.",
                "idempotency_in_progress",
                {"Retry-After": "1"},
            )
            return
        IDEMPOTENT_REPLAYS.inc()
        body = row.response_body or b""
        headers = [
            (k.encode("latin-1"), v.encode("latin-1")) for k, v in row.response_headers or []
        ]
        headers += [(REPLAY_HEADER, b"true"), (b"content-length", str(len(body)).encode())]
        await send(
            {"type": "http.response.start", "status": row.response_status, "headers": headers}
        )
        await send({"type": "http.response.body", "body": body})

    async def _store(
        self, owner: str, key: str, status: int, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> None:
        kept = [
            [k.decode("latin-1"), v.decode("latin-1")]
            for k, v in headers
            if k.lower() not in _NOT_REPLAYED
        ]
        async with self.sessions() as session:
            await session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.scope == owner, IdempotencyKey.key == key)
                .values(
                    state="done", response_status=status, response_headers=kept, response_body=body
                )
            )
            await session.commit()

    async def _release(self, owner: str, key: str) -> None:
        """Forget a key whose request failed on our side, so the caller can retry it."""
        try:
            async with self.sessions() as session:
                await session.execute(
                    delete(IdempotencyKey).where(
                        IdempotencyKey.scope == owner, IdempotencyKey.key == key
                    )
                )
                await session.commit()
        except Exception:
            log.exception("idempotency_release_failed")


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
