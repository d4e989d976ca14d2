"""Saved views of the ticket list: per user, named, replaced by saving the same name,
shared with everyone when asked, deleted only by their owner; only known filters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError, ValidationError
from kosh.quality import service as quality_service
from tests.support.fixtures import MakeUser


async def test_views_are_per_user_unless_shared(session: AsyncSession, make_user: MakeUser) -> None:
    # given two users
    alice_id = (await make_user("operator")).id
    bob_id = (await make_user("operator")).id
    # when alice saves two views, one shared
    mine = await quality_service.save_view(
        session, user_id=alice_id, name="Open NCRs", filters={"kind": "ncr", "category": "open"}
    )
    mine_id, mine_filters = mine.id, mine.filters
    await quality_service.save_view(
        session,
        user_id=alice_id,
        name="Critical",
        filters={"priority": "critical", "kind": None},
        shared=True,
    )
    # then she sees both, bob only the shared one
    assert [v.name for v in await quality_service.views_for(session, alice_id)] == [
        "Critical",
        "Open NCRs",
    ]
    assert [v.name for v in await quality_service.views_for(session, bob_id)] == ["Critical"]
    assert mine_filters == "category=open&kind=ncr"
    # when bob saves a view of the same name it is his own
    await quality_service.save_view(session, user_id=bob_id, name="Critical", filters={})
    names = [(v.name, v.user_id) for v in await quality_service.views_for(session, bob_id)]
    assert names == [("Critical", bob_id), ("Critical", alice_id)]
    # when alice saves under an existing name, it replaces that view
    again = await quality_service.save_view(
        session, user_id=alice_id, name="Open NCRs", filters={"kind": "maintenance"}
    )
    assert again.id == mine_id
    assert again.filters == "kind=maintenance"
    # bob cannot delete alice's shared view; alice can
    shared_id = next(v.id for v in await quality_service.views_for(session, bob_id) if v.shared)
    with pytest.raises(NotFoundError) as refused:
        await quality_service.delete_view(session, user_id=bob_id, view_id=shared_id)
    assert refused.value.code == "view_not_found"
    await quality_service.delete_view(session, user_id=alice_id, view_id=shared_id)
    assert [v.name for v in await quality_service.views_for(session, bob_id)] == ["Critical"]
    with pytest.raises(NotFoundError):
        await quality_service.delete_view(session, user_id=alice_id, view_id=shared_id)


async def test_views_keep_only_known_filters(session: AsyncSession, make_user: MakeUser) -> None:
    user = await make_user("viewer")
    for name, filters in (
        ("x", {"kind": "rocket"}),
        ("x", {"colour": "red"}),
        ("", {}),
        (" ", {}),
        ("n" * 81, {}),
    ):
        with pytest.raises(ValidationError):
            await quality_service.save_view(session, user_id=user.id, name=name, filters=filters)
    assert await quality_service.views_for(session, user.id) == []


async def test_views_over_the_api_and_on_the_list(
    client: httpx.AsyncClient,
    make_user: MakeUser,
    token_for: Callable[..., Awaitable[str]],
) -> None:
    owner, other = await make_user("operator"), await make_user("viewer")
    mine = {"authorization": f"Bearer {await token_for(owner)}"}
    theirs = {"authorization": f"Bearer {await token_for(other)}"}
    saved = await client.post(
        "/api/v1/ticket-views",
        json={"name": "My NCRs", "filters": {"kind": "ncr", "priority": "high"}, "shared": True},
        headers=mine,
    )
    assert saved.status_code == 201, saved.text
    view = saved.json()
    assert view["href"] == "/quality/tickets?kind=ncr&priority=high"
    assert view["mine"] is True
    listed = await client.get("/api/v1/ticket-views", headers=theirs)
    assert [(v["name"], v["mine"]) for v in listed.json()] == [("My NCRs", False)]
    bad = await client.post(
        "/api/v1/ticket-views",
        json={"name": "x", "filters": {"kind": "rocket"}},
        headers=mine,
    )
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")
    refused = await client.delete(f"/api/v1/ticket-views/{view['id']}", headers=theirs)
    assert refused.status_code == 404
    gone = await client.delete(f"/api/v1/ticket-views/{view['id']}", headers=mine)
    assert gone.status_code == 204
    assert (await client.get("/api/v1/ticket-views", headers=mine)).json() == []
