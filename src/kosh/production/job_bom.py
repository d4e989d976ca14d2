"""Which BOM a new job is built from: the one named (by id or by the assembly's revision)
or the assembly's active one. A draft or obsolete BOM is refused with what to do instead."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom import service as bom_service
from kosh.bom.models import Bom
from kosh.core.errors import NotFoundError, RuleViolationError, field_error


async def choose_bom(
    session: AsyncSession,
    assembly_id: int,
    assembly_number: str,
    *,
    bom_id: int | None = None,
    bom_revision: str | None = None,
) -> Bom:
    """The BOM of `assembly_id` a job is planned from.

    Rules: `bom_id` names a BOM of this assembly (422 bom_assembly_mismatch); or
    `bom_revision` one of its revisions (404 bom_not_found); the BOM named is active
    (422 bom_draft: activate it first; 422 bom_obsolete); without either, the assembly's
    active BOM (422 no_active_bom, naming the drafts waiting to be activated)."""
    loc = "bom_id" if bom_id is not None else "bom_revision"
    if bom_id is not None:
        bom = await bom_service.get_bom_or_raise(session, bom_id)
        if bom.assembly_part_id != assembly_id:
            raise RuleViolationError(
                f"BOM {bom.id} is not a BOM of this assembly.",
                code="bom_assembly_mismatch",
                errors=[field_error(["bom_id"], "is for another assembly")],
            )
    elif bom_revision is not None:
        found = await session.scalar(
            select(Bom).where(Bom.assembly_part_id == assembly_id, Bom.revision == bom_revision)
        )
        if found is None:
            raise NotFoundError(
                f"{assembly_number} has no BOM revision {bom_revision}.",
                code="bom_not_found",
                errors=[field_error(["bom_revision"], "no such revision of this assembly")],
            )
        bom = found
    else:
        return await _active_bom(session, assembly_id, assembly_number)
    if bom.status == "obsolete":
        raise RuleViolationError(
            f"BOM revision {bom.revision} is obsolete.",
            code="bom_obsolete",
            errors=[field_error([loc], "is obsolete")],
        )
    if bom.status == "draft":
        raise RuleViolationError(
            f"BOM revision {bom.revision} of {assembly_number} is still a draft: open it "
            f"(/boms/{bom.id}), check its lines and activate it, then plan the job.",
            code="bom_draft",
            errors=[field_error([loc], "is a draft: activate it on its BOM page first")],
            details={"bom_id": bom.id, "bom_url": f"/boms/{bom.id}"},
        )
    return bom


async def _active_bom(session: AsyncSession, assembly_id: int, assembly_number: str) -> Bom:
    active = await session.scalar(
        select(Bom).where(Bom.assembly_part_id == assembly_id, Bom.status == "active")
    )
    if active is not None:
        return active
    drafts = list(
        await session.scalars(
            select(Bom)
            .where(Bom.assembly_part_id == assembly_id, Bom.status == "draft")
            .order_by(Bom.id)
        )
    )
    hint = (
        "; draft revision(s) "
        + ", ".join(f"{d.revision} (/boms/{d.id})" for d in drafts)
        + " can be activated on their BOM page"
        if drafts
        else "; import a BOM for it first"
    )
    raise RuleViolationError(
        f"{assembly_number} has no active BOM{hint}.",
        code="no_active_bom",
        errors=[field_error(["bom_revision"], "required: the assembly has no active BOM")],
        details={"draft_bom_ids": [d.id for d in drafts]},
    )
