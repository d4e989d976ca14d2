"""PCN (part control number) syntax and sequential generation with a configurable prefix."""

from __future__ import annotations

import re

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import get_settings
from kosh.stock.models import Lot, PcnSequence

PCN_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
_PCN = re.compile(PCN_PATTERN)
DIGITS = 6


def is_valid_pcn(text: str) -> bool:
    return bool(_PCN.match(text))


def pcn_prefix(session: AsyncSession) -> str:
    """The configured prefix: the app puts KOSH_PCN_PREFIX in the session's info; other
    callers (CLI, scripts) fall back to the process settings."""
    prefix = session.info.get("pcn_prefix")
    return str(prefix) if prefix else get_settings().pcn_prefix


async def _bump(session: AsyncSession, prefix: str, count: int = 1) -> int:
    """The last of the next `count` numbers for `prefix`. The counter row stays locked
    until the caller's transaction ends, so concurrent receipts get distinct numbers
    without gaps."""
    while True:
        value = await session.scalar(
            update(PcnSequence)
            .where(PcnSequence.prefix == prefix)
            .values(last_value=PcnSequence.last_value + count)
            .returning(PcnSequence.last_value)
            .execution_options(synchronize_session=False)
        )
        if value is not None:
            return int(value)
        try:
            # First PCN with this prefix; a savepoint lets a concurrent first insert win.
            async with session.begin_nested():
                session.add(PcnSequence(prefix=prefix, last_value=count))
                await session.flush()
            return count
        except IntegrityError:
            continue


async def next_pcn(session: AsyncSession, prefix: str | None = None) -> str:
    """A new PCN like PCN000042, skipping numbers someone already supplied by hand."""
    prefix = prefix or pcn_prefix(session)
    while True:
        candidate = f"{prefix}{await _bump(session, prefix):0{DIGITS}d}"
        if not await session.scalar(select(exists().where(Lot.pcn == candidate))):
            return candidate


async def next_pcns(session: AsyncSession, count: int, prefix: str | None = None) -> list[str]:
    """`count` new PCNs in one counter update (a bulk receipt), skipping numbers someone
    already supplied by hand, as `next_pcn` does one at a time."""
    prefix = prefix or pcn_prefix(session)
    answer: list[str] = []
    while len(answer) < count:
        wanted = count - len(answer)
        last = await _bump(session, prefix, wanted)
        candidates = [f"{prefix}{n:0{DIGITS}d}" for n in range(last - wanted + 1, last + 1)]
        taken: set[str] = set()
        for start in range(0, len(candidates), 500):
            taken.update(
                await session.scalars(
                    select(Lot.pcn).where(Lot.pcn.in_(candidates[start : start + 500]))
                )
            )
        answer += [c for c in candidates if c not in taken]
    return answer
