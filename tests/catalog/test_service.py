"""Part use cases: unique numbers, optimistic locking, lookups used by other features."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.catalog import service as part_service
from kosh.catalog.models import Part
from kosh.catalog.schemas import PartCreate, PartUpdate
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, NotFoundError
from kosh.core.models import AuditEvent
from tests.support.stock import a_part


async def test_create_part_stores_fields_and_audits(session: AsyncSession) -> None:
    # when
    part = await part_service.create_part(
        session,
        data=PartCreate(
            number="  RES-10K  ",
            description="Resistor 10k 0603",
            unit="pcs",
            mpn="RC0603FR-0710KL",
            unit_cost=Decimal("0.0021"),
            reorder_point=500,
        ),
    )
    # then
    stored = await session.scalar(select(Part).where(Part.id == part.id))
    assert stored is not None
    assert (stored.number, stored.version, stored.active) == ("RES-10K", 1, True)
    assert stored.unit_cost == Decimal("0.0021")
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "part.create"))
    assert event is not None
    assert event.entity_id == str(part.id)
    assert event.after is not None
    assert event.after["number"] == "RES-10K"


async def test_duplicate_number_is_a_conflict(session: AsyncSession) -> None:
    # given
    await a_part(session, "CAP-100N")
    # when / then
    with pytest.raises(ConflictError) as caught:
        await part_service.create_part(session, data=PartCreate(number="CAP-100N"))
    assert caught.value.code == "part_number_taken"
    assert await session.scalar(select(Part.id).where(Part.number == "CAP-100N")) is not None


async def test_add_parts_joins_the_callers_transaction(session: AsyncSession) -> None:
    # given a use case that adds parts and then fails
    @transactional
    async def import_then_fail(session: AsyncSession) -> None:
        await part_service.add_parts(session, [PartCreate(number="A-1"), PartCreate(number="A-2")])
        raise NotFoundError("something later failed")

    # when
    with pytest.raises(NotFoundError):
        await import_then_fail(session)
    # then nothing was added
    assert list(await session.scalars(select(Part))) == []


async def test_add_parts_refuses_a_number_twice_in_one_batch(session: AsyncSession) -> None:
    with pytest.raises(ConflictError):
        await part_service.add_parts(session, [PartCreate(number="X"), PartCreate(number="X")])


async def test_add_parts_refuses_an_existing_number(session: AsyncSession) -> None:
    await a_part(session, "OLD-1")
    with pytest.raises(ConflictError) as caught:
        await part_service.add_parts(
            session, [PartCreate(number="NEW-1"), PartCreate(number="OLD-1")]
        )
    assert caught.value.details["number"] == "OLD-1"


async def test_lookups_by_number(session: AsyncSession) -> None:
    # given
    first = await a_part(session, "LK-1")
    second = await a_part(session, "LK-2")
    # then
    assert await part_service.get_part_by_number(session, " LK-1 ") == first
    assert await part_service.get_part_by_number(session, "lk-1") == first  # any case (issue 16)
    found = await part_service.parts_by_numbers(session, ["LK-1", "LK-2", "NOPE", ""])
    assert found == {"LK-1": first, "LK-2": second}
    assert await part_service.parts_by_numbers(session, []) == {}
    with pytest.raises(NotFoundError):
        await part_service.get_part_or_raise(session, 999_999)


async def test_parts_by_numbers_handles_many_numbers(session: AsyncSession) -> None:
    # given more parts than one IN list chunk
    await part_service.add_parts(session, [PartCreate(number=f"M-{i:04d}") for i in range(1200)])
    await session.commit()
    # when
    found = await part_service.parts_by_numbers(session, [f"M-{i:04d}" for i in range(1300)])
    # then
    assert len(found) == 1200


async def test_update_bumps_version_and_audits(session: AsyncSession) -> None:
    # given
    part = await a_part(session, "UP-1")
    # when
    updated = await part_service.update_part(
        session, part.id, data=PartUpdate(version=1, description="New text", category="R")
    )
    # then
    assert (updated.version, updated.description, updated.category) == (2, "New text", "R")
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "part.update"))
    assert event is not None
    assert event.before is not None
    assert event.after is not None
    assert (event.before["description"], event.after["description"]) == ("Test part", "New text")


async def test_stale_version_is_a_conflict(session: AsyncSession) -> None:
    # given a part edited once already
    part = await a_part(session, "UP-2")
    await part_service.update_part(session, part.id, data=PartUpdate(version=1, unit="m"))
    # when an edit based on version 1 arrives
    with pytest.raises(ConflictError) as caught:
        await part_service.update_part(session, part.id, data=PartUpdate(version=1, unit="kg"))
    # then it is refused and the first edit stands
    assert caught.value.code == "stale_version"
    assert caught.value.details["current_version"] == 2
    await session.refresh(part)
    assert part.unit == "m"


async def test_renaming_to_a_taken_number_is_a_conflict(session: AsyncSession) -> None:
    await a_part(session, "TAKEN")
    part = await a_part(session, "FREE")
    with pytest.raises(ConflictError) as caught:
        await part_service.update_part(session, part.id, data=PartUpdate(version=1, number="TAKEN"))
    assert caught.value.code == "part_number_taken"


async def test_deactivate_and_no_op_update(session: AsyncSession) -> None:
    # given
    part = await a_part(session, "DE-1")
    # when nothing changes, the version stays
    same = await part_service.update_part(
        session, part.id, data=PartUpdate(version=1, description="Test part")
    )
    assert same.version == 1
    # when deactivated
    gone = await part_service.update_part(
        session, part.id, data=PartUpdate(version=1, active=False)
    )
    # then
    assert (gone.active, gone.version) == (False, 2)
    event = await session.scalar(select(AuditEvent).where(AuditEvent.action == "part.deactivate"))
    assert event is not None
