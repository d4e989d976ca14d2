"""The in-transaction claim of an `Idempotency-Key` (`kosh.core.idempotency`'s hot paths).

The use case inserts the claim as its transaction's first statement and the idempotency
middleware writes the answer into the same row before it commits. A use case whose answer
follows from its own statement can write it there instead (`answering`, `answer_cte`,
`InTransactionClaim.expect`): the scanner's pick stores its answer with the take, so
nothing but COMMIT is left while its lot is locked. The middleware compares what it really
sends with that answer and rewrites the row when they differ, so the stored answer is
always the one the caller got.

A use case whose one statement is the whole request can even claim the key in it and
commit on its own, with no transaction (`unheld`, `unclaimed`, `answer_insert_cte`,
`InTransactionClaim.settle`): the scanner's pick of a part its process knows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Boolean,
    Integer,
    LargeBinary,
    String,
    Table,
    bindparam,
    func,
    literal,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, direct
from kosh.core.db import CLAIM_INFO, AfterCommit, UTCDateTime, utcnow
from kosh.core.models import IdempotencyKey

# Request state key under which the claim travels to the request's session.
STATE_KEY = "kosh_idempotency"
# session.info key of the claim its transaction holds, for the use case (`answering`)
_HELD = "kosh_idempotency_held"


class IdempotencyHitError(Exception):
    """The key was claimed before (`row`) or is held by a request in flight (`row` None):
    the use case must not run; the middleware answers from the row (or 409)."""

    def __init__(self, row: IdempotencyKey | None) -> None:
        super().__init__("idempotency key taken")
        self.row = row


@dataclass(frozen=True)
class StoredAnswer:
    """An answer as the key's row keeps it (headers without the per-response ones)."""

    status: int
    headers: list[list[str]]
    body: bytes


@dataclass
class InTransactionClaim:
    """A key to claim inside the request's use-case transaction, and that transaction
    once the use case has succeeded (left open for the answer to be stored in it)."""

    owner: str
    key: str
    fingerprint: str
    ttl: timedelta
    session: AsyncSession | None = None
    row_id: int | None = None
    after_commit: list[AfterCommit] = field(default_factory=list)
    audit_rows: list[dict[str, Any]] = field(default_factory=list)
    # the answer the use case's own statement wrote into the row (`expect`)
    written: StoredAnswer | None = None
    # that statement ran on its own and committed the key with its answer (`settle`)
    committed: bool = False

    async def acquire(self, session: AsyncSession) -> None:
        """Insert the claim as the transaction's first write; IdempotencyHitError when the
        key is taken (committed answer, or in flight in another transaction)."""
        self.written = None
        for _ in range(2):
            now = utcnow()
            statement, params = _claim_statement(session, self, now)
            row_id = await direct.scalar(session, statement, params)
            if row_id is not None:
                self.row_id = int(row_id)
                if session.get_bind().dialect.name == "postgresql":
                    audit.defer(session)  # written with the answer (`_commit_with_answer`)
                    session.info[_HELD] = (session.sync_session.get_transaction(), self)
                return
            row = await session.scalar(
                select(IdempotencyKey).where(
                    IdempotencyKey.scope == self.owner, IdempotencyKey.key == self.key
                )
            )
            if row is None or row.expires_at >= now:
                if row is not None:
                    session.expunge(row)  # keep its loaded answer through the rollback
                raise IdempotencyHitError(row)
            await session.delete(row)  # expired: the key may be used again
            await session.flush()
        raise IdempotencyHitError(None)

    def hold(self, session: AsyncSession, callbacks: list[AfterCommit]) -> None:
        self.session = session
        self.after_commit = callbacks
        self.audit_rows = audit.take_deferred(session)
        session.info.pop(_HELD, None)

    def answer_params(self, status: int, headers: list[list[str]]) -> dict[str, Any]:
        """The bound values of `answer_cte` for this claim's row."""
        return {"answer_row": self.row_id, "answer_status": status, "answer_headers": headers}

    def expect(self, answer: StoredAnswer) -> None:
        """The use case's statement wrote `answer` into the row (`answer_cte`)."""
        self.written = answer

    def settle(self, session: AsyncSession, answer: StoredAnswer) -> None:
        """A statement run on its own inserted the key with `answer` and committed
        (`unclaimed`, `answer_insert_cte`): nothing is left for the middleware to commit,
        nor for a use case of `session` to claim."""
        self.written = answer
        self.committed = True
        session.info.pop(CLAIM_INFO, None)

    def insert_params(self, status: int, headers: list[list[str]]) -> dict[str, Any]:
        """The bound values of `unclaimed` and `answer_insert_cte` (PostgreSQL)."""
        now = utcnow()
        return {
            **_claim_params(self, now),
            "claim_lock": lock_key(self.owner, self.key),
            "answer_status": status,
            "answer_headers": headers,
        }


def unheld(session: AsyncSession) -> InTransactionClaim | None:
    """The request's key not yet claimed by any transaction (PostgreSQL), for a use case
    whose one statement can claim it and commit on its own (`unclaimed`)."""
    claim = session.info.get(CLAIM_INFO)
    if not isinstance(claim, InTransactionClaim):
        return None
    return claim if session.get_bind().dialect.name == "postgresql" else None


def answering(session: AsyncSession) -> InTransactionClaim | None:
    """The claim this transaction holds when its use case may write the answer in its own
    statement (PostgreSQL, a key claimed by this very transaction); None otherwise."""
    held = session.info.get(_HELD)
    if held is None or held[0] is not session.sync_session.get_transaction():
        return None
    claim: InTransactionClaim = held[1]
    return claim


def answer_cte(body: Any, when: Any) -> Any:
    """A data-modifying CTE writing the answer into the claim's row (bound values of
    `InTransactionClaim.answer_params`): `body` a text expression of the statement's other
    CTEs, written only `when` (a boolean expression of them) holds."""
    return _answer_update(func.convert_to(body, literal_column("'UTF8'")), when).cte(
        "answer_written"
    )


def unclaimed() -> Any:
    """PostgreSQL, for a statement that runs on its own and inserts the key with its
    answer (`answer_insert_cte`): true when no one has the key, neither committed nor in
    flight (its advisory lock, which this statement then holds until it ends). A
    duplicate committed after the statement's snapshot fails its insert on the unique
    index instead, and the statement with it."""
    return _UNCLAIMED


def answer_insert_cte(body: Any, when: Any) -> Any:
    """A data-modifying CTE inserting the key done, with its answer (`body` as in
    `answer_cte`), only `when` holds; values bound by `InTransactionClaim.insert_params`.
    A plain insert: a key someone else inserted meanwhile fails the whole statement."""
    columns = ["scope", "key", "request_hash", "state", "created_at", "expires_at"]
    columns += ["response_status", "response_headers", "response_body"]
    source = select(
        *_CLAIM_VALUES,
        bindparam("answer_status", type_=Integer()),
        bindparam("answer_headers", type_=_KEYS.c.response_headers.type),
        func.convert_to(body, literal_column("'UTF8'")),
    ).where(when)
    return postgresql.insert(_KEYS).from_select(columns, source).cte("answer_inserted")


# the table, not the mapped class: with bound values an ORM insert would be a bulk insert
_KEYS = cast(Table, IdempotencyKey.__table__)


def _claim_statement_for(dialect: str) -> Any:
    """Built once per dialect (a reused statement skips construction and cache-key
    generation on every request); the values are bound per claim."""
    columns = ["scope", "key", "request_hash", "state", "created_at", "expires_at"]
    values = [*_CLAIM_VALUES[:3], literal("running", String()), *_CLAIM_VALUES[4:]]
    if dialect == "postgresql":
        # Not holding the lock means the key is in flight elsewhere: answer 409 at once
        # rather than queue on the unique index until that transaction ends.
        source = select(*values).where(_KEY_LOCK)
        statement: Any = postgresql.insert(_KEYS).from_select(columns, source)
    else:  # SQLite: BEGIN IMMEDIATE serialises writers; a duplicate waits, then replays
        statement = sqlite.insert(_KEYS).from_select(columns, select(*values))
    return statement.on_conflict_do_nothing(index_elements=["scope", "key"]).returning(_KEYS.c.id)


# The key's row as a statement inserts it: `done` when the statement answers it too
# (`answer_insert_cte`); the claim statement puts `running` in its place.
_CLAIM_VALUES: list[Any] = [
    bindparam("claim_scope", type_=String()),
    bindparam("claim_key", type_=String()),
    bindparam("claim_hash", type_=String()),
    literal("done", String()),
    bindparam("claim_now", type_=UTCDateTime()),
    bindparam("claim_expires", type_=UTCDateTime()),
]
_KEY_LOCK = func.pg_try_advisory_xact_lock(
    bindparam("claim_lock", type_=BigInteger()), type_=Boolean()
)
_CLAIM = {dialect: _claim_statement_for(dialect) for dialect in ("postgresql", "sqlite")}
_UNCLAIMED = select(
    _KEY_LOCK
    & ~select(_KEYS.c.id)
    .where(_KEYS.c.scope == _CLAIM_VALUES[0], _KEYS.c.key == _CLAIM_VALUES[1])
    .exists()
).scalar_subquery()


def _answer_update(body: Any, *conditions: Any) -> Any:
    return (
        update(_KEYS)
        .where(_KEYS.c.id == bindparam("answer_row", type_=Integer()), *conditions)
        .values(
            state="done",
            response_status=bindparam("answer_status", type_=Integer()),
            response_headers=bindparam("answer_headers", type_=_KEYS.c.response_headers.type),
            response_body=body,
        )
    )


# the answer the middleware writes (`answer_params` and `answer_body`)
ANSWER = _answer_update(bindparam("answer_body", type_=LargeBinary()))


def _claim_statement(
    session: AsyncSession, claim: InTransactionClaim, now: datetime
) -> tuple[Any, dict[str, Any]]:
    params = _claim_params(claim, now)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        params["claim_lock"] = lock_key(claim.owner, claim.key)
    return _CLAIM[dialect], params


def _claim_params(claim: InTransactionClaim, now: datetime) -> dict[str, Any]:
    return {
        "claim_scope": claim.owner,
        "claim_key": claim.key,
        "claim_hash": claim.fingerprint,
        "claim_now": now,
        "claim_expires": now + claim.ttl,
    }


def lock_key(owner: str, key: str) -> int:
    """The transaction-scoped advisory lock of `owner`'s key (64 bits of its hash)."""
    return int.from_bytes(
        hashlib.sha256(f"{owner}\0{key}".encode()).digest()[:8], "big", signed=True
    )
