"""Saved views: a filter set a user keeps on the ticket list under a name, to reuse with one
tap. Each user has their own; a view marked `shared` is offered to everyone, but only its
owner replaces or deletes it. A view holds only filters the list knows (kind, state,
priority), each a known value, so a saved link never carries anything else."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode

from sqlalchemy import or_, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import NotFoundError, ValidationError, field_error
from kosh.quality.models import PRIORITIES, STATUS_CATEGORIES, TICKET_KINDS, SavedView

TICKET_FILTERS: dict[str, tuple[str, ...]] = {
    "kind": TICKET_KINDS,
    "category": STATUS_CATEGORIES,
    "priority": PRIORITIES,
}
MAX_NAME = 80


def check_filters(filters: Mapping[str, str | None]) -> dict[str, str]:
    """The filters a view keeps (blank ones dropped); 422 for an unknown filter or value."""
    kept: dict[str, str] = {}
    for key, value in filters.items():
        if key not in TICKET_FILTERS:
            raise ValidationError(
                f"Unknown filter {key}.",
                code="unknown_filter",
                errors=[field_error(["filters", key], "kind, category or priority")],
            )
        if not value:
            continue
        if value not in TICKET_FILTERS[key]:
            raise ValidationError(
                f"Unknown {key} {value}.",
                errors=[field_error(["filters", key], ", ".join(TICKET_FILTERS[key]))],
            )
        kept[key] = value
    return kept


@transactional
async def save_view(
    session: AsyncSession,
    *,
    user_id: int,
    name: str,
    filters: Mapping[str, str | None],
    shared: bool = False,
) -> SavedView:
    """Save the ticket list's filters under a name for this user; saving again under the
    same name replaces that view. Rules: a name of 1 to 80 characters (422); only known
    filters and values (422 unknown_filter). Audited."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValidationError(
            "A view needs a name of 1 to 80 characters.",
            errors=[field_error(["name"], "1 to 80 characters")],
        )
    query = urlencode(sorted(check_filters(filters).items()))
    existing = await session.scalar(
        select(SavedView).where(
            SavedView.user_id == user_id,
            SavedView.list_name == "tickets",
            SavedView.name == name,
        )
    )
    before = None if existing is None else {"filters": existing.filters, "shared": existing.shared}
    # an upsert, so two saves of one name at once end as one view (the last one wins)
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = dialect.insert(SavedView).values(
        user_id=user_id,
        list_name="tickets",
        name=name,
        filters=query,
        shared=shared,
        created_at=utcnow(),
    )
    view_id = await session.scalar(
        statement.on_conflict_do_update(
            index_elements=["user_id", "list_name", "name"],
            set_={"filters": query, "shared": shared},
        ).returning(SavedView.id)
    )
    view = await session.get_one(SavedView, view_id, populate_existing=True)
    await audit.record(
        session,
        action="quality.view.save",
        entity_type="saved_view",
        entity_id=view.id,
        before=before,
        after={"name": name, "filters": query, "shared": shared},
    )
    return view


async def views_for(session: AsyncSession, user_id: int) -> list[SavedView]:
    """The user's own views, then the views others share, each by name."""
    rows = await session.scalars(
        select(SavedView)
        .where(
            SavedView.list_name == "tickets",
            or_(SavedView.user_id == user_id, SavedView.shared.is_(True)),
        )
        .order_by(SavedView.user_id != user_id, SavedView.name, SavedView.id)
    )
    return list(rows)


@transactional
async def delete_view(session: AsyncSession, *, user_id: int, view_id: int) -> None:
    """Delete one of the user's own views (404 view_not_found for another's, shared or
    not: only the owner removes a view). Audited."""
    view = await session.get(SavedView, view_id)
    if view is None or view.user_id != user_id:
        raise NotFoundError(f"No view {view_id} of yours.", code="view_not_found")
    before = {"name": view.name, "filters": view.filters, "shared": view.shared}
    await session.delete(view)
    await session.flush()
    await audit.record(
        session,
        action="quality.view.delete",
        entity_type="saved_view",
        entity_id=view_id,
        before=before,
    )
