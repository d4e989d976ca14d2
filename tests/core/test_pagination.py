"""Paged lists: limit defaults to 50 and stops at 200, `next` links to the following page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.models import AuditEvent


@pytest.fixture
async def events(session: AsyncSession) -> int:
    count = 230
    session.add_all(
        AuditEvent(
            actor_type="system",
            actor_name="seed",
            action="seed.row",
            entity_type="row",
            entity_id=str(i),
        )
        for i in range(count)
    )
    await session.commit()
    return count


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


async def test_default_limit_is_50_with_next_link(
    client: httpx.AsyncClient, admin_headers: dict[str, str], events: int
) -> None:
    response = await client.get("/api/v1/audit?action=seed.row", headers=admin_headers)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "total", "next"}
    assert body["total"] == events
    assert len(body["items"]) == 50
    assert _query(body["next"]) == {"action": ["seed.row"], "limit": ["50"], "offset": ["50"]}


async def test_limit_200_is_allowed_and_pages_cover_everything(
    client: httpx.AsyncClient, admin_headers: dict[str, str], events: int
) -> None:
    first = (
        await client.get("/api/v1/audit?action=seed.row&limit=200", headers=admin_headers)
    ).json()
    assert len(first["items"]) == 200
    second = (await client.get(first["next"], headers=admin_headers)).json()
    assert len(second["items"]) == events - 200
    assert second["next"] is None
    ids = [e["id"] for e in first["items"] + second["items"]]
    assert len(set(ids)) == events


@pytest.mark.parametrize(
    "params", ["limit=201", "limit=0", "limit=-1", "limit=1e3", "offset=-1", "offset=x"]
)
async def test_out_of_range_paging_is_422(
    client: httpx.AsyncClient, admin_headers: dict[str, str], params: str
) -> None:
    response = await client.get(f"/api/v1/audit?{params}", headers=admin_headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", params.split("=")[0]]


async def test_past_the_end_is_empty_without_next(
    client: httpx.AsyncClient, admin_headers: dict[str, str], events: int
) -> None:
    body = (
        await client.get("/api/v1/audit?action=seed.row&offset=1000", headers=admin_headers)
    ).json()
    assert body == {"items": [], "total": events, "next": None}
