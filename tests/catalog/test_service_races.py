"""The catalog's race guards: what a concurrent writer can slip between KOSH's look-up and
its write (a part number taken meanwhile) is still a clean 409 that writes nothing. The window
is opened by hiding the look-up's answer, as a second node's insert would."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate, PartUpdate
from kosh.core.errors import ConflictError
from tests.support.stock import a_part


async def _nothing_found(*_: object, **__: object) -> dict[str, Part]:
    return {}


async def _no_part(*_: object, **__: object) -> None:
    return None


async def test_a_number_created_meanwhile_refuses_the_new_part(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given R-1 exists, but the look-up ran before it was committed elsewhere
    await a_part(session, "R-1")
    monkeypatch.setattr(part_service, "parts_by_numbers", _nothing_found)
    # when R-1 is created again, then the unique index refuses it as a clean 409
    with pytest.raises(ConflictError) as caught:
        await part_service.create_part(
            session, data=PartCreate(number="R-1", description="again", unit="pcs")
        )
    assert caught.value.code == "part_number_taken"
    assert await session.scalar(select(func.count()).select_from(Part)) == 1


async def test_a_number_taken_meanwhile_refuses_the_rename(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await a_part(session, "R-1")
    second = await a_part(session, "R-2")
    monkeypatch.setattr(part_service, "get_part_by_number", _no_part)
    with pytest.raises(ConflictError) as caught:
        await part_service.update_part(
            session, second.id, data=PartUpdate(version=second.version, number="R-1")
        )
    assert caught.value.code == "part_number_taken"
    numbers = set(await session.scalars(select(Part.number)))
    assert numbers == {"R-1", "R-2"}
