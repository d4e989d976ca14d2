"""The scanner's pick written whole by its one statement (PostgreSQL): the take, its audit
event and the request's idempotent answer, so that while the lot is locked nothing is left
but COMMIT (before, the app built its answer and sent one more statement first).

The answer is `POST /api/v1/stock/pick`'s JSON (`kosh.stock.schemas.PickResult`, rendered
as the API renders it: compact, non-ASCII as is) built in SQL from the take's row. The
idempotency middleware compares it with what the route really sent and rewrites the row
when they differ, so a mismatch costs the old round trip, never a wrong replay.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, Text, and_, bindparam, cast, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit, claims, events
from kosh.stock.floor_picks import Extension, FloorPick

HEADERS = [["content-type", "application/json"]]
_STATUS = 200
_ACTION = "stock.pick"


def extension(
    claim: claims.InTransactionClaim, *, qty: int, warehouse_id: int, reference: str
) -> Extension:
    """The floor pick's statement writing the pick's audit event and `claim`'s answer."""
    return Extension(
        extend=_extend,
        params={
            "answer_qty": qty,
            "answer_warehouse": warehouse_id,
            "answer_reference": reference,
            **claim.answer_params(_STATUS, HEADERS),
            **audit.inserted_params(action=_ACTION, entity_type="part"),
        },
    )


def alone(
    claim: claims.InTransactionClaim, *, qty: int, warehouse_id: int, reference: str
) -> Extension:
    """The floor pick's statement run on its own: it claims the key (`claims.unclaimed`)
    and, when no subscriber of what the pick notes would act, takes the stock, writes the
    audit event and inserts the key with its answer, and commits as it ends."""
    return Extension(
        extend=_extend_inserting,
        params={
            "answer_qty": qty,
            "answer_warehouse": warehouse_id,
            "answer_reference": reference,
            **claim.insert_params(_STATUS, HEADERS),
            **audit.inserted_params(action=_ACTION, entity_type="part"),
        },
        gate=_gate,
    )


def written(claim: claims.InTransactionClaim, done: FloorPick) -> None:
    """The statement of `extension` moved stock: its event and answer are written."""
    audit.counted(_ACTION)
    claim.expect(_answer(done))


def settled(session: AsyncSession, claim: claims.InTransactionClaim, done: FloorPick) -> None:
    """The statement of `alone` moved stock: it is committed with its event and answer."""
    audit.counted(_ACTION)
    claim.settle(session, _answer(done))


def _answer(done: FloorPick) -> claims.StoredAnswer:
    return claims.StoredAnswer(_STATUS, HEADERS, done.row.answer_json.encode())


def _gate(answers: Any) -> Any:
    return and_(claims.unclaimed(), events.quiet(answers), _QUEUED)


# The picks of one part queue for it in arrival order: a transaction-scoped advisory lock
# (two-int keys: a space apart from the idempotency keys' one-bigint locks) is granted in
# the order asked, where a contended lot's row lock goes to whichever waiter runs first.
PART_QUEUE = 0x4B50
_QUEUED = select(
    func.pg_advisory_xact_lock(
        literal_column(str(PART_QUEUE)), bindparam("lookup_known_part", type_=Integer())
    ).is_not(None)
).scalar_subquery()


def _extend(pick: Any) -> Any:
    """Built once per floor-pick statement variant (`fifo_sql.floor_pick_statement` keeps
    them): `pick` is that statement as a CTE; the answer goes into the claimed row."""
    return _extended(pick, claims.answer_cte)


def _extend_inserting(pick: Any) -> Any:
    """`_extend` for `alone`: the key is inserted with the answer."""
    return _extended(pick, claims.answer_insert_cte)


def _extended(pick: Any, answer_cte: Callable[[Any, Any], Any]) -> Any:
    qty = bindparam("answer_qty", type_=Integer())
    warehouse = bindparam("answer_warehouse", type_=Integer())
    reference = bindparam("answer_reference", type_=String())
    body = _json_text(
        ("part_id", pick.c.found_part_id),
        ("part_number", pick.c.found_part_number),
        ("qty", qty),
        ("warehouse_id", warehouse),
        ("to_location_id", pick.c.floor_id),
        ("to_location_code", pick.c.floor_code),
        ("reference", reference),
        (
            "lines",
            _Rendered(
                func.concat(
                    literal_column("'['"),
                    _json_text(
                        ("pcn", pick.c.pcn),
                        ("lot_id", pick.c.lot_id),
                        ("qty", qty),
                        ("from_location_id", pick.c.location_id),
                        ("from_location_code", pick.c.code),
                    ),
                    literal_column("']'"),
                )
            ),
        ),
    ).label("answer_json")
    after = func.jsonb_build_object(
        *_pairs(
            ("part_number", pick.c.found_part_number),
            ("qty", qty),
            ("warehouse_id", warehouse),
            ("reference", reference),
            (
                "lines",
                func.jsonb_build_array(
                    func.jsonb_build_object(
                        *_pairs(
                            ("pcn", pick.c.pcn),
                            ("qty", qty),
                            ("from_location_id", pick.c.location_id),
                        )
                    )
                ),
            ),
        )
    )
    picked = select(pick, body).cte("picked")
    moved = picked.c.ledger_id.is_not(None)  # else the caller's full path decides
    return (
        select(*picked.c)
        .add_cte(audit.inserted_by(cast(picked.c.found_part_id, String()), after, moved))
        .add_cte(answer_cte(picked.c.answer_json, moved))
    )


@dataclass(frozen=True)
class _Rendered:
    """A member value that is JSON text already."""

    text: Any


def _json_text(*members: tuple[str, Any]) -> Any:
    """A JSON object as text, members in order: numbers as they are, text through to_json
    (its escapes are the API's: quote, backslash, control characters)."""
    parts: list[Any] = []
    for n, (name, value) in enumerate(members):
        parts.append(literal_column(f"'{',' if n else '{'}\"{name}\":'"))
        if isinstance(value, _Rendered):
            parts.append(value.text)
        elif isinstance(value.type, Integer):
            parts.append(value)
        else:
            parts.append(func.to_json(cast(value, Text())))
    parts.append(literal_column("'}'"))
    return func.concat(*parts)


def _pairs(*members: tuple[str, Any]) -> list[Any]:
    pairs: list[Any] = []
    for name, value in members:
        pairs += [literal_column(f"'{name}'"), value]
    return pairs
