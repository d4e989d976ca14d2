"""Random and hostile bodies against every mutating document route: a 4xx problem or a
success, never a 500 (what the schemathesis gate checks in CI, here with hypothesis)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = [pytest.mark.usefixtures("sessions"), pytest.mark.slow]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
    st.sampled_from(["\x00", "A\x00B", "PCN000001", "", " ", "Z-", "transfer", "stocktake"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "type", "warehouse_id", "lines", "notes", "issue_kind", "reason", "scope", "blind",
    "qty", "pcn", "part_number", "from_location_id", "to_location_id", "version",
    "location_id", "counted_qty", "line_ids", "zone", "location_ids",
]  # fmt: skip
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)
paths = st.sampled_from(
    [
        "/api/v1/documents",
        "/api/v1/documents/1/lines",
        "/api/v1/documents/1/post",
        "/api/v1/documents/1/cancel",
        "/api/v1/documents/1/reverse",
        "/api/v1/documents/1/counts",
        "/api/v1/documents/1/recounts",
        "/api/v1/documents/2147483648/post",
    ]
)


@pytest.fixture
async def drafts(client: httpx.AsyncClient, manager_headers: dict[str, str]) -> list[int]:
    """A draft transfer and a stocktake with one bin, so the routes meet real documents."""
    warehouse = (
        await client.post(
            "/api/v1/warehouses", json={"code": "FZ", "name": "Fuzz"}, headers=manager_headers
        )
    ).json()
    await client.post(
        "/api/v1/locations",
        json={"warehouse_id": warehouse["id"], "code": "F-1", "kind": "storage"},
        headers=manager_headers,
    )
    ids = []
    for body in ({"type": "transfer"}, {"type": "stocktake", "scope": {"zone": "F-"}}):
        created = await client.post(
            "/api/v1/documents",
            json={**body, "warehouse_id": warehouse["id"]},
            headers=manager_headers,
        )
        assert created.status_code == 201, created.text
        ids.append(int(created.json()["id"]))
    return ids


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=paths, body=bodies, which=st.integers(0, 1))
async def test_no_body_gives_a_500(
    client: httpx.AsyncClient,
    manager_headers: dict[str, str],
    drafts: list[int],
    path: str,
    body: dict[str, Any],
    which: int,
) -> None:
    path = path.replace("/documents/1/", f"/documents/{drafts[which]}/")
    response = await client.post(path, json=body, headers=manager_headers)
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_openapi_document_describes_the_routes(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/openapi.json")).json()
    for path in (
        "/api/v1/documents",
        "/api/v1/documents/{document_id}/post",
        "/api/v1/documents/{document_id}/counts",
        "/api/v1/documents/{document_id}/variance",
        "/api/v1/documents/imports",
    ):
        assert path in spec["paths"], path
