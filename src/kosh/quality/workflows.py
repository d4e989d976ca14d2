"""Ticket workflows as data: the statuses of each kind (with the category the engine acts
on: `open`, `waiting`, `done`) and the allowed transitions. The migration seeds the
defaults below; an admin may replace a kind's workflow within safe rules:

- exactly one initial status, and it is not a `done` one;
- at least one `done` status;
- every status is reachable from the initial one and can reach a `done` one (no dead ends,
  no orphans), and every transition joins two declared statuses;
- a status that tickets are in now cannot be removed (409 status_in_use).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional
from kosh.core.errors import ConflictError, ValidationError, field_error
from kosh.quality.models import (
    STATUS_CATEGORIES,
    TICKET_KINDS,
    Ticket,
    WorkflowStatus,
    WorkflowTransition,
)

# (status, category); the first is the initial one. Reopen: resolved/closed -> in_progress.
DEFAULT_STATUSES: tuple[tuple[str, str], ...] = (
    ("open", "open"),
    ("in_progress", "open"),
    ("waiting", "waiting"),
    ("resolved", "done"),
    ("closed", "done"),
)
DEFAULT_TRANSITIONS: tuple[tuple[str, str], ...] = (
    ("open", "in_progress"),
    ("open", "waiting"),
    ("open", "resolved"),
    ("in_progress", "waiting"),
    ("in_progress", "resolved"),
    ("waiting", "in_progress"),
    ("waiting", "resolved"),
    ("resolved", "closed"),
    ("resolved", "in_progress"),
    ("closed", "in_progress"),
)


@dataclass(frozen=True)
class StatusSpec:
    status: str
    category: str


@dataclass(frozen=True)
class Workflow:
    kind: str
    statuses: list[StatusSpec]
    initial: str
    transitions: list[tuple[str, str]]

    def category_of(self, status: str) -> str:
        for spec in self.statuses:
            if spec.status == status:
                return spec.category
        raise KeyError(status)

    def targets(self, status: str) -> list[str]:
        return [to for frm, to in self.transitions if frm == status]


def check_kind(kind: str, loc: str = "kind") -> str:
    if kind not in TICKET_KINDS:
        raise ValidationError(
            f"Unknown ticket kind {kind}.",
            errors=[field_error([loc], f"one of {', '.join(TICKET_KINDS)}")],
        )
    return kind


async def get_workflow(session: AsyncSession, kind: str) -> Workflow:
    """The workflow of a kind (422 for an unknown kind)."""
    check_kind(kind)
    statuses = list(
        await session.scalars(
            select(WorkflowStatus)
            .where(WorkflowStatus.kind == kind)
            .order_by(WorkflowStatus.position, WorkflowStatus.status)
        )
    )
    if not statuses:  # none stored (an emptied table): the defaults the migration seeds
        return Workflow(
            kind=kind,
            statuses=[StatusSpec(s, c) for s, c in DEFAULT_STATUSES],
            initial=DEFAULT_STATUSES[0][0],
            transitions=list(DEFAULT_TRANSITIONS),
        )
    rows = await session.execute(
        select(WorkflowTransition.from_status, WorkflowTransition.to_status)
        .where(WorkflowTransition.kind == kind)
        .order_by(WorkflowTransition.from_status, WorkflowTransition.to_status)
    )
    initial = next((s.status for s in statuses if s.initial), statuses[0].status)
    return Workflow(
        kind=kind,
        statuses=[StatusSpec(s.status, s.category) for s in statuses],
        initial=initial,
        transitions=[(frm, to) for frm, to in rows],
    )


def _reachable(start: Sequence[str], edges: dict[str, set[str]]) -> set[str]:
    seen = set(start)
    todo = list(start)
    while todo:
        for nxt in edges.get(todo.pop(), set()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def validate(
    statuses: Sequence[StatusSpec], initial: str, transitions: Sequence[tuple[str, str]]
) -> None:
    """The safe rules of the module docstring (422 workflow_invalid naming the problem)."""

    def bad(message: str, loc: list[str | int]) -> ValidationError:
        return ValidationError(message, code="workflow_invalid", errors=[field_error(loc, message)])

    names = [s.status for s in statuses]
    if len(set(names)) != len(names):
        raise bad("A status is listed twice.", ["statuses"])
    for index, spec in enumerate(statuses):
        if spec.category not in STATUS_CATEGORIES:
            raise bad(f"Unknown category {spec.category}.", ["statuses", index, "category"])
    category = {s.status: s.category for s in statuses}
    if initial not in category:
        raise bad("The initial status is not listed.", ["initial"])
    if category[initial] == "done":
        raise bad("The initial status cannot be a done status.", ["initial"])
    done = [s for s, c in category.items() if c == "done"]
    if not done:
        raise bad("A workflow needs at least one done status.", ["statuses"])
    forward: dict[str, set[str]] = {}
    backward: dict[str, set[str]] = {}
    for index, (frm, to) in enumerate(transitions):
        if frm not in category or to not in category or frm == to:
            raise bad(
                f"Transition {frm} -> {to} is not between two statuses.", ["transitions", index]
            )
        forward.setdefault(frm, set()).add(to)
        backward.setdefault(to, set()).add(frm)
    unreachable = sorted(set(names) - _reachable([initial], forward))
    if unreachable:
        raise bad(f"Unreachable from {initial}: {', '.join(unreachable)}.", ["transitions"])
    dead = sorted(set(names) - _reachable(done, backward))
    if dead:
        raise bad(f"Cannot reach a done status: {', '.join(dead)}.", ["transitions"])


@transactional
async def set_workflow(
    session: AsyncSession,
    *,
    kind: str,
    statuses: Sequence[StatusSpec],
    initial: str,
    transitions: Sequence[tuple[str, str]],
) -> Workflow:
    """Replace a kind's workflow (admin). Rules: the module docstring's (422
    workflow_invalid); a status tickets are in now stays (409 status_in_use). Audited."""
    check_kind(kind)
    validate(statuses, initial, transitions)
    before = await get_workflow(session, kind)
    kept = {s.status for s in statuses}
    in_use = list(
        await session.execute(
            select(Ticket.status, func.count())
            .where(Ticket.kind == kind, Ticket.status.not_in(sorted(kept)))
            .group_by(Ticket.status)
        )
    )
    if in_use:
        raise ConflictError(
            f"Tickets are in status {in_use[0][0]}; it cannot be removed.",
            code="status_in_use",
            details={"statuses": {status: int(count) for status, count in in_use}},
        )
    await session.execute(delete(WorkflowTransition).where(WorkflowTransition.kind == kind))
    await session.execute(delete(WorkflowStatus).where(WorkflowStatus.kind == kind))
    for position, spec in enumerate(statuses):
        session.add(
            WorkflowStatus(
                kind=kind,
                status=spec.status,
                category=spec.category,
                position=position,
                initial=spec.status == initial,
            )
        )
    for frm, to in sorted(set(transitions)):
        session.add(WorkflowTransition(kind=kind, from_status=frm, to_status=to))
    await session.flush()
    after = await get_workflow(session, kind)
    await audit.record(
        session,
        action="quality.workflow.set",
        entity_type="workflow",
        entity_id=kind,
        before=_snapshot(before),
        after=_snapshot(after),
    )
    return after


def _snapshot(workflow: Workflow) -> dict[str, object]:
    return {
        "initial": workflow.initial,
        "statuses": [[s.status, s.category] for s in workflow.statuses],
        "transitions": [list(t) for t in workflow.transitions],
    }
