"""Random JSON at every purchasing write endpoint (the fields it knows, values of any type,
NUL bytes, huge numbers): the answer is never a 500 and always problem+json when refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.purchasing.factories import Headers, World

pytestmark = pytest.mark.usefixtures("sessions")

FIELDS = [
    "code", "name", "currency", "supplier_code", "part_number", "sku", "pack_size", "prices",
    "min_qty", "unit_price", "warehouse_id", "lines", "qty", "packs", "supplier_sku",
    "expected_date", "line_id", "barcode", "location_id", "allow_over_receipt", "lot_code",
    "country", "version", "reason", "notes", "min_qty", "max_qty", "part_ids", "csv",
    "order_id", "date_code", "preferred", "min_order_qty", "lead_time_days", "active",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, 2, 2**31, 2**31 - 1, 10**9, 10**9 + 1, -1]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(["\x00", "1e30", "NaN", "2026-02-30", "EUR", "[)>\x1e06\x1dQ5", "DIGIKEY"]),
)
values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(FIELDS), children, max_size=4)
    ),
    max_leaves=8,
)
bodies = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)


@pytest.mark.slow
@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=bodies, target=st.integers(min_value=0, max_value=10))
async def test_random_bodies_never_give_a_500(
    client: httpx.AsyncClient,
    world: World,
    manager_headers: Headers,
    body: dict[str, Any],
    target: int,
) -> None:
    o = world.order_id
    method, path = [
        ("POST", "/api/v1/suppliers"),
        ("POST", "/api/v1/supplier-parts"),
        ("POST", "/api/v1/purchase-orders"),
        ("PATCH", f"/api/v1/purchase-orders/{o}"),
        ("POST", f"/api/v1/purchase-orders/{o}/lines"),
        ("POST", f"/api/v1/purchase-orders/{o}/receive"),
        ("POST", f"/api/v1/purchase-orders/{o}/close-short"),
        ("POST", "/api/v1/purchasing/decode"),
        ("PUT", "/api/v1/reorder-rules"),
        ("POST", "/api/v1/purchasing/suggestions/orders"),
        ("POST", "/api/v1/supplier-parts/import"),
    ][target]
    # json.dumps writes NaN / Infinity as bare words (not JSON): those must be 400s
    response = await client.request(
        method,
        path,
        content=json.dumps(body),
        headers={**manager_headers, "content-type": "application/json"},
    )
    assert response.status_code < 500, (path, body, response.text)
    if response.status_code >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
