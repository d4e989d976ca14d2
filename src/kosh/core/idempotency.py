"""`Idempotency-Key` for every mutating request: a replay returns the first answer unchanged.

The key is claimed (inserted as `running`) before the request runs, so two concurrent
requests with one key cannot both execute; the first answer below 500 is stored and
replayed. Keys belong to the caller (bearer token, session or client IP) and expire.

Hot paths (`IN_TRANSACTION_PATHS`, the stock verbs) claim the key *inside the use case's own
transaction* instead: the `@idempotent_transaction` use case inserts the claim as its first
statement (on PostgreSQL under a transaction-scoped advisory lock, so a concurrent duplicate
is answered 409 at once instead of waiting on the unique index), leaves its transaction open,
and this middleware writes the answer into the same row and commits once (or only commits,
when the use case's own statement wrote exactly that answer: `kosh.core.claims`); the answer
is sent only after that commit. A replay finds the committed row and answers it; the use case
does not run. When the use case fails (a domain error: it rolled back, claim and all), the
answer is stored afterwards in a separate transaction, and if a concurrent duplicate got the
key in between, this request answers 409 in progress instead, so exactly one answer is ever
the key's answer. A use case may also settle the key itself (`claims`: one statement that
claims it, does the work, inserts the answer and commits on its own); the middleware then
only checks that answer against what the route sent.
"""

from __future__ import annotations

import functools
import hashlib
import random
import re
from datetime import timedelta

import structlog
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kosh.core import audit, direct
from kosh.core.claims import (
    ANSWER,
    STATE_KEY,
    IdempotencyHitError,
    InTransactionClaim,
    StoredAnswer,
)
from kosh.core.db import utcnow
from kosh.core.metrics import ANSWERS_WRITTEN_AHEAD, IDEMPOTENT_REPLAYS
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
# Paths whose use case claims the key in its own transaction (`@idempotent_transaction`);
# features register their hot POST paths (`claimed_in_use_case`) when their router loads.
IN_TRANSACTION_PATHS: list[re.Pattern[str]] = []


def claimed_in_use_case(*paths: str) -> None:
    """Register POST paths (regular expressions, matched whole) whose route calls exactly
    one `@idempotent_transaction` use case, which then claims the key itself."""
    for path in paths:
        pattern = re.compile(path)
        if pattern not in IN_TRANSACTION_PATHS:
            IN_TRANSACTION_PATHS.append(pattern)
    _claimed_in_use_case.cache_clear()


@functools.lru_cache(maxsize=4096)  # every mutating request with a key asks
def _claimed_in_use_case(path: str) -> bool:
    return any(pattern.fullmatch(path) for pattern in IN_TRANSACTION_PATHS)


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
        if _claimed_in_use_case(scope["path"]):
            await self._in_transaction(scope, body, send, owner, key, fingerprint)
            return

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

    async def _in_transaction(
        self, scope: Scope, body: bytes, send: Send, owner: str, key: str, fingerprint: str
    ) -> None:
        """Run a hot-path request whose use case claims the key in its own transaction; the
        answer is buffered, stored in that transaction, committed, and only then sent."""
        claim = InTransactionClaim(owner=owner, key=key, fingerprint=fingerprint, ttl=self.ttl)
        scope.setdefault("state", {})[STATE_KEY] = claim
        start: Message | None = None
        chunks = bytearray()
        body_sent = False

        async def replay_receive() -> Message:
            nonlocal body_sent
            if body_sent:
                return {"type": "http.disconnect"}
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def buffer_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.extend(message.get("body", b""))

        try:
            await self.app(scope, replay_receive, buffer_send)
        except IdempotencyHitError as hit:
            await _discard(claim)
            if hit.row is None:
                await _in_progress(send)
            else:
                await self._answer_existing(hit.row, fingerprint, send)
            return
        except BaseException:
            await _discard(claim)
            raise
        status = int(start["status"]) if start is not None else 500
        headers = list(start.get("headers", [])) if start is not None else []
        storable = start is not None and status < 500 and status not in _NOT_STORED
        if claim.committed:
            await self._keep_settled(claim, status, headers, bytes(chunks), storable=storable)
        elif claim.session is not None:
            if not storable:
                await _discard(claim)
            else:
                await self._commit_with_answer(claim, status, headers, bytes(chunks))
        elif storable:
            # The use case did not run to the end (a domain error rolled it back, or the
            # request was refused before it): store the answer now, unless a concurrent
            # duplicate took the key in the meantime; then that one's answer is the answer.
            existing = await self._claim(owner, key, fingerprint)
            if existing is not None:
                await self._answer_existing(existing, fingerprint, send)
                return
            await self._store(owner, key, status, headers, bytes(chunks))
        if start is not None:
            await send(start)
        await send({"type": "http.response.body", "body": bytes(chunks)})

    async def _commit_with_answer(
        self,
        claim: InTransactionClaim,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
    ) -> None:
        session = claim.session
        if session is None:  # pragma: no cover - only called with a held transaction
            raise RuntimeError("no transaction holds the claim")
        try:
            kept = _kept(headers)
            if claim.written == StoredAnswer(status, kept, body):
                ANSWERS_WRITTEN_AHEAD.labels(outcome="kept").inc()
                await audit.write(session, claim.audit_rows)
            else:
                if claim.written is not None:
                    # the use case's SQL no longer renders what its route sends
                    ANSWERS_WRITTEN_AHEAD.labels(outcome="rewritten").inc()
                    log.warning("idempotent_answer_rewritten", status=status)
                answer = claim.answer_params(status, kept) | {"answer_body": body}
                if claim.audit_rows:  # the use case's events, in the same statement
                    statement, rows = audit.written_with(ANSWER, claim.audit_rows)
                    await direct.rows(session, statement, {**answer, **rows})
                else:
                    await direct.rows(session, ANSWER, answer)
            await session.commit()
        except BaseException:
            await _discard(claim)
            raise
        claim.session = None
        await session.close()
        for callback in claim.after_commit:
            try:
                await callback()
            except Exception:
                log.exception("after_commit_failed", use_case="idempotent_request")
        await self._clean_now_and_then()

    async def _keep_settled(
        self,
        claim: InTransactionClaim,
        status: int,
        headers: list[tuple[bytes, bytes]],
        body: bytes,
        *,
        storable: bool,
    ) -> None:
        """The use case's own statement committed the key with its answer: a replay must
        answer what the route really sent, so a different answer is stored over it. An
        answer that cannot be stored (the route failed after the commit) leaves the
        statement's: the use case did happen, and a retry must not run it again."""
        kept = _kept(headers)
        if claim.written == StoredAnswer(status, kept, body):
            ANSWERS_WRITTEN_AHEAD.labels(outcome="kept").inc()
        else:
            ANSWERS_WRITTEN_AHEAD.labels(outcome="rewritten").inc()
            log.warning("idempotent_answer_rewritten", status=status, stored=storable)
            if storable:
                await self._store(claim.owner, claim.key, status, headers, body)
        await self._clean_now_and_then()

    async def _clean_now_and_then(self) -> None:
        if random.random() < 0.01:  # noqa: S311 - opportunistic cleanup, not security
            async with self.sessions() as cleanup:
                await cleanup.execute(
                    delete(IdempotencyKey).where(IdempotencyKey.expires_at < utcnow())
                )
                await cleanup.commit()

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
            await _in_progress(send)
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
        kept = _kept(headers)
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


def _kept(headers: list[tuple[bytes, bytes]]) -> list[list[str]]:
    return [
        [k.decode("latin-1"), v.decode("latin-1")]
        for k, v in headers
        if k.lower() not in _NOT_REPLAYED
    ]


async def _discard(claim: InTransactionClaim) -> None:
    """Roll back a use-case transaction left open for its answer (nothing is stored)."""
    session, claim.session = claim.session, None
    if session is not None:
        try:
            await session.rollback()
        finally:
            await session.close()


async def _in_progress(send: Send) -> None:
    await send_problem(
        send,
        409,
        "Request in progress",
        "A request with this Idempotency-Key is still running; retry shortly.",
        "idempotency_in_progress",
        {"Retry-After": "1"},
    )


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
