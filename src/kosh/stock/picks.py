"""The pick to the floor: a job's stock from storage onto its warehouse's MFG floor, oldest
lots first, as a request's use case (`pick`) or as a step of a caller's transaction
(`add_pick`, production's kitting). On PostgreSQL a scanner's pick (no PCN) is one
statement with its look-ups (`floor_picks.floor_pick`), and with its audit event and answer when
the request holds an Idempotency-Key (`pick_answer`); with a key, and nothing subscribed
to what it notes that would act, that statement is the whole request: it claims the key
and commits on its own (`pick_answer.alone`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog.models import Part
from kosh.core import audit, claims, events
from kosh.core.db import idempotent_transaction, is_disconnect, is_retryable
from kosh.core.errors import RuleViolationError, field_error
from kosh.stock import fifo, floor_picks, lookups, pick_answer
from kosh.stock.errors import require_text
from kosh.stock.lookups import get_lot_by_pcn_or_raise
from kosh.stock.metrics import PICKS
from kosh.stock.movements import MovedLine


@dataclass(frozen=True)
class Pick:
    part_id: int
    part_number: str
    warehouse_id: int
    to_location_id: int
    reference: str
    qty: int
    lines: list[MovedLine] = field(default_factory=list)
    to_location_code: str = ""


async def pick(
    session: AsyncSession,
    *,
    part_number: str,
    qty: int,
    warehouse_id: int,
    reference: str,
    pcn: str | None = None,
    allow_over_kit: bool = False,
) -> Pick:
    """Pick `qty` of a part for a job onto the warehouse's MFG floor, oldest lots first.

    Rules: the part (404) and warehouse (404) exist and the warehouse is active (422);
    the reference is required; with `pcn`, only that lot is used and it must be of the
    part (422 pcn_part_mismatch). Stock comes from the warehouse's active storage
    locations. Not enough is 409 insufficient_stock with `available`; nothing changes.
    Subscribers of `events.STOCK_PICKED` can refuse it: production answers 409 over_kit
    when the reference is a job that would get more than it needs, unless
    `allow_over_kit`.
    """
    claim = None if pcn else claims.unheld(session)
    if claim is not None:
        done = await _pick_alone(
            session,
            claim,
            part_number=part_number,
            qty=qty,
            warehouse_id=warehouse_id,
            reference=reference,
            allow_over_kit=allow_over_kit,
        )
        PICKS.labels(path="transaction" if done is None else "alone").inc()
        if done is not None:
            return done
    return await _pick_in_transaction(
        session,
        part_number=part_number,
        qty=qty,
        warehouse_id=warehouse_id,
        reference=reference,
        pcn=pcn,
        allow_over_kit=allow_over_kit,
    )


async def _pick_alone(
    session: AsyncSession,
    claim: claims.InTransactionClaim,
    *,
    part_number: str,
    qty: int,
    warehouse_id: int,
    reference: str,
    allow_over_kit: bool,
) -> Pick | None:
    """The scanner's pick as one statement that claims the key, takes the stock, writes
    its event and answer and commits; None when it did nothing (the key is someone's, a
    subscriber would act, the first lot is short, a look-up fails...): the use case's
    transaction then decides, as it always has."""
    reference = require_text(reference, "reference", "job reference")
    try:
        done = await floor_picks.floor_pick(
            session,
            part_number=part_number,
            warehouse_id=warehouse_id,
            qty=qty,
            reference=reference,
            also_noted=lambda part_id: {
                events.STOCK_PICKED: [(reference, part_id, allow_over_kit)]
            },
            extension=pick_answer.alone(
                claim, qty=qty, warehouse_id=warehouse_id, reference=reference
            ),
        )
    except DBAPIError as error:
        # A duplicate committed the key after this statement's snapshot (its insert hit
        # the unique index), a deadlock, or a dead connection: the statement left nothing
        # behind, or (dead while committing) all of it, and then the key answers for it.
        if not (isinstance(error, IntegrityError) or is_retryable(error)):
            if not is_disconnect(error):
                raise
            await session.rollback()
        return None
    if done is None:
        return None
    pick_answer.settled(session, claim, done)
    return Pick(
        part_id=done.part_id,
        part_number=done.part_number,
        warehouse_id=warehouse_id,
        to_location_id=done.floor_id,
        reference=reference,
        qty=qty,
        lines=[done.line],
        to_location_code=done.floor_code,
    )


@idempotent_transaction
async def _pick_in_transaction(
    session: AsyncSession,
    *,
    part_number: str,
    qty: int,
    warehouse_id: int,
    reference: str,
    pcn: str | None,
    allow_over_kit: bool,
) -> Pick:
    return await add_pick(
        session,
        part_number=part_number,
        qty=qty,
        warehouse_id=warehouse_id,
        reference=reference,
        pcn=pcn,
        allow_over_kit=allow_over_kit,
        answer_in_statement=True,
    )


async def add_pick(
    session: AsyncSession,
    *,
    part_number: str,
    qty: int,
    warehouse_id: int,
    reference: str,
    pcn: str | None = None,
    allow_over_kit: bool = False,
    answer_in_statement: bool = False,
) -> Pick:
    """`pick`'s rules as a primitive that joins the caller's transaction (never commits):
    production kits every line of a job in one transaction with it. With
    `answer_in_statement` (the pick request's own use case), the scanner's pick writes its
    audit event and the request's answer in its statement (`kosh.stock.pick_answer`)."""
    reference = require_text(reference, "reference", "job reference")
    claim = claims.answering(session) if answer_in_statement else None
    # the scanner's pick: look-ups and take in one statement (None: the full path decides)
    done = (
        None
        if pcn
        else await floor_picks.floor_pick(
            session,
            part_number=part_number,
            warehouse_id=warehouse_id,
            qty=qty,
            reference=reference,
            also_noted=lambda part_id: {
                events.STOCK_PICKED: [(reference, part_id, allow_over_kit)]
            },
            extension=None
            if claim is None
            else pick_answer.extension(
                claim, qty=qty, warehouse_id=warehouse_id, reference=reference
            ),
        )
    )
    if done is not None:
        part_id, number = done.part_id, done.part_number
        floor_id, floor_code, lines = done.floor_id, done.floor_code, [done.line]
    else:
        part, floor_id, floor_code, lines = await _pick_lines(
            session, part_number, qty, warehouse_id, reference, pcn
        )
        part_id, number = part.id, part.number
    events.note(session, events.STOCK_PICKED, [(reference, part_id, allow_over_kit)])
    if done is not None and claim is not None:
        pick_answer.written(claim, done)  # and its audit event
    else:
        await audit.record(
            session,
            action="stock.pick",
            entity_type="part",
            entity_id=part_id,
            after={
                "part_number": number,
                "qty": qty,
                "warehouse_id": warehouse_id,
                "reference": reference,
                "lines": [
                    {"pcn": line.pcn, "qty": line.qty, "from_location_id": line.from_location_id}
                    for line in lines
                ],
            },
        )
    return Pick(
        part_id=part_id,
        part_number=number,
        warehouse_id=warehouse_id,
        to_location_id=floor_id,
        reference=reference,
        qty=qty,
        lines=lines,
        to_location_code=floor_code,
    )


async def _pick_lines(
    session: AsyncSession,
    part_number: str,
    qty: int,
    warehouse_id: int,
    reference: str,
    pcn: str | None,
) -> tuple[Part, int, str, list[MovedLine]]:
    """`add_pick`'s full path: look-ups with their 404 and 422, the PCN's lot, FIFO take."""
    part, warehouse, floor = await lookups.part_warehouse_and_floor(
        session, part_number, warehouse_id
    )
    if not warehouse.active:
        raise RuleViolationError(
            f"Warehouse {warehouse.code} is inactive.",
            code="warehouse_inactive",
            errors=[field_error(["warehouse_id"], "is inactive")],
        )
    lot_id = None
    if pcn:
        lot = await get_lot_by_pcn_or_raise(session, pcn)
        if lot.part_id != part.id:
            raise RuleViolationError(
                f"PCN {lot.pcn} is not part {part.number}.",
                code="pcn_part_mismatch",
                errors=[field_error(["pcn"], f"is not a lot of {part.number}")],
            )
        lot_id = lot.id
    lines = await fifo.take_fifo(
        session,
        part_id=part.id,
        warehouse_id=warehouse.id,
        qty=qty,
        to_location_id=floor.id,
        kind="pick",
        reference=reference,
        lot_id=lot_id,
    )
    return part, floor.id, floor.code, lines
