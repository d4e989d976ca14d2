"""`kosh verify`: replay the ledger and compare it with the balances.

The rule it proves: for every (lot, location), the sum of ledger quantities moved in
minus those moved out equals the stored balance. One GROUP BY over the ledger and the
balances (a single statement, so it reads one consistent snapshot while stock keeps
moving) handles millions of ledger rows. The outcome is stored in `verify_runs` and
shown by /health/detailed as the section `stock_ledger` (drift must be 0).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.db import transactional, utcnow
from kosh.ops.health import DETAILED_SECTIONS, Check
from kosh.stock.models import StockBalance, StockTransaction, VerifyRun

MAX_DIFFERENCES_KEPT = 100


@dataclass(frozen=True)
class Drift:
    lot_id: int
    location_id: int
    ledger_qty: int
    balance_qty: int


@dataclass(frozen=True)
class VerifyReport:
    started_at: datetime
    finished_at: datetime
    ledger_rows: int
    balance_rows: int
    drift_count: int
    differences: list[Drift] = field(default_factory=list)
    duration_ms: int = 0

    @property
    def ok(self) -> bool:
        return self.drift_count == 0


async def replay_differences(session: AsyncSession, *, limit: int | None = None) -> list[Drift]:
    """Every (lot, location) whose ledger replay differs from its balance."""
    st = StockTransaction
    moves_in = select(
        st.lot_id.label("lot_id"),
        st.to_location_id.label("location_id"),
        st.qty.label("ledger"),
        literal(0).label("stored"),
    ).where(st.to_location_id.is_not(None))
    moves_out = select(st.lot_id, st.from_location_id, -st.qty, literal(0)).where(
        st.from_location_id.is_not(None)
    )
    stored = select(StockBalance.lot_id, StockBalance.location_id, literal(0), StockBalance.qty)
    everything = union_all(moves_in, moves_out, stored).subquery()
    ledger_qty = func.sum(everything.c.ledger)
    balance_qty = func.sum(everything.c.stored)
    query = (
        select(everything.c.lot_id, everything.c.location_id, ledger_qty, balance_qty)
        .group_by(everything.c.lot_id, everything.c.location_id)
        .having(ledger_qty != balance_qty)
        .order_by(everything.c.lot_id, everything.c.location_id)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = await session.execute(query)
    return [
        Drift(lot_id=lot, location_id=loc, ledger_qty=int(ledger), balance_qty=int(stored))
        for lot, loc, ledger, stored in rows
    ]


async def verify(session: AsyncSession) -> VerifyReport:
    """Replay the ledger, compare, store the outcome (its own short write transaction)
    and return it. The comparison runs outside the write transaction, so receipts and
    picks go on meanwhile."""
    started = utcnow()
    clock = time.perf_counter()
    drift = await replay_differences(session)
    ledger_rows = int(await session.scalar(select(func.count()).select_from(StockTransaction)) or 0)
    balance_rows = int(await session.scalar(select(func.count()).select_from(StockBalance)) or 0)
    await session.rollback()  # end the read transaction before the write one begins
    report = VerifyReport(
        started_at=started,
        finished_at=utcnow(),
        ledger_rows=ledger_rows,
        balance_rows=balance_rows,
        drift_count=len(drift),
        differences=drift[:MAX_DIFFERENCES_KEPT],
        duration_ms=round((time.perf_counter() - clock) * 1000),
    )
    await _store(session, report=report)
    return report


@transactional
async def _store(session: AsyncSession, *, report: VerifyReport) -> VerifyRun:
    run = VerifyRun(
        started_at=report.started_at,
        finished_at=report.finished_at,
        ok=report.ok,
        ledger_rows=report.ledger_rows,
        balance_rows=report.balance_rows,
        drift_count=report.drift_count,
        differences=[
            {
                "lot_id": d.lot_id,
                "location_id": d.location_id,
                "ledger_qty": d.ledger_qty,
                "balance_qty": d.balance_qty,
            }
            for d in report.differences
        ],
        duration_ms=report.duration_ms,
    )
    session.add(run)
    return run


async def last_run(session: AsyncSession) -> VerifyRun | None:
    result = await session.scalar(select(VerifyRun).order_by(VerifyRun.id.desc()).limit(1))
    return result


async def health_section(session: AsyncSession) -> Check:
    """/health/detailed `stock_ledger`: the last verify's drift (must be 0). Before the
    first run it reports `last_run: null` without failing the health."""
    run = await last_run(session)
    if run is None:
        return Check(True, {"last_run": None, "drift": None})
    return Check(
        run.ok,
        {
            "last_run": run.finished_at.isoformat(),
            "age_seconds": round((utcnow() - run.finished_at).total_seconds()),
            "drift": run.drift_count,
            "ledger_rows": run.ledger_rows,
            "balance_rows": run.balance_rows,
        },
    )


DETAILED_SECTIONS["stock_ledger"] = health_section
