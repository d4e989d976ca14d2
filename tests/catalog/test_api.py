"""Part routes: status codes, problem+json shapes, search, paging, export, roles."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

pytestmark = pytest.mark.usefixtures("sessions")


@pytest.fixture
async def viewer_headers(make_user, token_for) -> dict[str, str]:  # type: ignore[no-untyped-def]
    viewer = await make_user("viewer")
    return {"authorization": f"Bearer {await token_for(viewer)}"}


async def _create(client: httpx.AsyncClient, headers: dict[str, str], **body: object) -> int:
    response = await client.post("/api/v1/parts", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def test_create_and_read(client: httpx.AsyncClient, operator_headers) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        "/api/v1/parts",
        json={"number": "R-1", "description": "Resistor", "unit": "pcs", "unit_cost": "0.0125"},
        headers=operator_headers,
    )
    assert response.status_code == 201
    body = response.json()
    assert body["id"] > 0
    assert body["version"] == 1
    assert body["unit_cost"] == "0.0125"
    fetched = await client.get(f"/api/v1/parts/{body['id']}", headers=operator_headers)
    assert fetched.status_code == 200
    assert fetched.json()["number"] == "R-1"


async def test_duplicate_number_is_409_problem(client: httpx.AsyncClient, operator_headers) -> None:  # type: ignore[no-untyped-def]
    await _create(client, operator_headers, number="DUP", description="a", unit="pcs")
    response = await client.post(
        "/api/v1/parts",
        json={"number": "DUP", "description": "b", "unit": "pcs"},
        headers=operator_headers,
    )
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "part_number_taken"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"description": "no number"}, "number"),
        ({"number": ""}, "number"),
        ({"number": "   "}, "number"),
        ({"number": "x" * 65}, "number"),
        ({"number": "A\x07B"}, "number"),
        ({"number": "OK", "unit": ""}, "unit"),
        ({"number": "OK", "reorder_point": "12abc"}, "reorder_point"),
        ({"number": "OK", "reorder_point": -1}, "reorder_point"),
        ({"number": "OK", "reorder_point": 1.5}, "reorder_point"),
        ({"number": "OK", "unit_cost": "-1"}, "unit_cost"),
        ({"number": "OK", "unit_cost": "abc"}, "unit_cost"),
        ({"number": "OK", "unit_cost": "1.23456"}, "unit_cost"),
        ({"number": "OK", "colour": "red"}, "colour"),
    ],
)
async def test_create_validation(client: httpx.AsyncClient, operator_headers, body, field) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/parts", json=body, headers=operator_headers)
    assert response.status_code == 422
    assert field in [e["loc"][-1] for e in response.json()["errors"]]


async def test_viewer_reads_but_cannot_write(client: httpx.AsyncClient, viewer_headers) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/parts", json={"number": "V"}, headers=viewer_headers)
    assert response.status_code == 403
    assert (await client.get("/api/v1/parts", headers=viewer_headers)).status_code == 200
    assert (await client.get("/api/v1/parts")).status_code == 401


async def test_search_by_number_prefix_description_and_mpn(
    client: httpx.AsyncClient, operator_headers
) -> None:  # type: ignore[no-untyped-def]
    await _create(client, operator_headers, number="RES-10K", description="Resistor 10k")
    await _create(client, operator_headers, number="RES-1K", description="Resistor 1k")
    await _create(
        client, operator_headers, number="CAP-1U", description="Ceramic cap", mpn="GRM188R61A105"
    )
    await _create(client, operator_headers, number="XRES", description="Other 50%_off")

    async def numbers(**params: str) -> list[str]:
        response = await client.get("/api/v1/parts", params=params, headers=operator_headers)
        assert response.status_code == 200
        return [p["number"] for p in response.json()["items"]]

    assert await numbers(q="res-") == ["RES-10K", "RES-1K"]  # prefix, not XRES
    assert await numbers(q="resistor 1") == ["RES-10K", "RES-1K"]
    assert await numbers(q="grm188") == ["CAP-1U"]
    assert await numbers(q="%_") == ["XRES"]  # wildcards are literal text
    assert await numbers(q="nothing-like-this") == []


async def test_active_filter_paging_and_deactivate(
    client: httpx.AsyncClient, operator_headers
) -> None:  # type: ignore[no-untyped-def]
    ids = [await _create(client, operator_headers, number=f"PG-{i}") for i in range(3)]
    response = await client.patch(
        f"/api/v1/parts/{ids[0]}", json={"version": 1, "active": False}, headers=operator_headers
    )
    assert response.status_code == 200
    assert response.json()["active"] is False
    assert response.json()["version"] == 2

    active = await client.get("/api/v1/parts", params={"active": "true"}, headers=operator_headers)
    assert [p["number"] for p in active.json()["items"]] == ["PG-1", "PG-2"]
    page = await client.get("/api/v1/parts", params={"limit": 2}, headers=operator_headers)
    assert page.json()["total"] == 3
    assert len(page.json()["items"]) == 2
    assert "offset=2" in page.json()["next"]


async def test_patch_stale_version_is_409(client: httpx.AsyncClient, operator_headers) -> None:  # type: ignore[no-untyped-def]
    part_id = await _create(client, operator_headers, number="ST-1")
    first = await client.patch(
        f"/api/v1/parts/{part_id}",
        json={"version": 1, "description": "a"},
        headers=operator_headers,
    )
    assert first.status_code == 200
    stale = await client.patch(
        f"/api/v1/parts/{part_id}",
        json={"version": 1, "description": "b"},
        headers=operator_headers,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    assert stale.json()["current_version"] == 2


@pytest.mark.parametrize(
    "body",
    [
        {"description": "no version"},
        {"version": 1, "number": None},
        {"version": 1, "active": "no"},
        {"version": "1"},
    ],
)
async def test_patch_validation(client: httpx.AsyncClient, operator_headers, body) -> None:  # type: ignore[no-untyped-def]
    part_id = await _create(client, operator_headers, number="PV-1")
    response = await client.patch(f"/api/v1/parts/{part_id}", json=body, headers=operator_headers)
    assert response.status_code == 422


async def test_unknown_part_is_404(client: httpx.AsyncClient, operator_headers) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/parts/424242", headers=operator_headers)
    assert response.status_code == 404
    assert response.json()["code"] == "part_not_found"
    patch = await client.patch(
        "/api/v1/parts/424242", json={"version": 1}, headers=operator_headers
    )
    assert patch.status_code == 404


async def test_export_csv(client: httpx.AsyncClient, operator_headers) -> None:  # type: ignore[no-untyped-def]
    await _create(client, operator_headers, number="EX-1", description="=HYPERLINK(evil)")
    await _create(client, operator_headers, number="EX-2", description='with "quotes", commas')
    response = await client.get("/api/v1/parts/export.csv", headers=operator_headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["number"] for r in rows] == ["EX-1", "EX-2"]
    assert rows[0]["description"] == "'=HYPERLINK(evil)"  # no formula injection
    assert rows[1]["description"] == 'with "quotes", commas'
    filtered = await client.get(
        "/api/v1/parts/export.csv", params={"q": "EX-2"}, headers=operator_headers
    )
    assert len(list(csv.DictReader(io.StringIO(filtered.text)))) == 1


async def test_create_replay_with_idempotency_key(
    client: httpx.AsyncClient, operator_headers
) -> None:  # type: ignore[no-untyped-def]
    headers = {**operator_headers, "idempotency-key": "part-create-1"}
    first = await client.post("/api/v1/parts", json={"number": "IDEM"}, headers=headers)
    again = await client.post("/api/v1/parts", json={"number": "IDEM"}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    listing = await client.get("/api/v1/parts", params={"q": "IDEM"}, headers=operator_headers)
    assert listing.json()["total"] == 1


async def test_search_counts_up_to_the_cap(
    client: httpx.AsyncClient, operator_headers, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    from kosh.catalog import api as part_api
    from kosh.catalog import queries as part_queries
    from kosh.core import pagination

    for name in (part_api, part_queries, pagination):
        monkeypatch.setattr(name, "COUNT_CAP", 3)
    for i in range(5):
        await _create(client, operator_headers, number=f"CAPPED-{i}")
    first = (
        await client.get(
            "/api/v1/parts", params={"q": "capped", "limit": 2}, headers=operator_headers
        )
    ).json()
    assert (first["total"], first["total_capped"]) == (3, True)
    # which 3 of the 5 matches are found first is the database's choice (the trigram scan's
    # order, which follows where the rows landed on disk); the page is those, by number
    numbers = [p["number"] for p in first["items"]]
    assert len(numbers) == 2
    assert numbers == sorted(numbers)
    assert set(numbers) <= {f"CAPPED-{i}" for i in range(5)}
    assert first["next"] is not None
    rest = (
        await client.get(
            "/api/v1/parts",
            params={"q": "capped", "limit": 2, "offset": 2},
            headers=operator_headers,
        )
    ).json()
    [last] = [p["number"] for p in rest["items"]]
    assert last not in numbers
    assert last > numbers[-1]
    assert (rest["total"], rest["next"]) == (3, None)
    exact = (
        await client.get("/api/v1/parts", params={"q": "CAPPED-4"}, headers=operator_headers)
    ).json()
    assert (exact["total"], exact["total_capped"], exact["next"]) == (1, False, None)
    beyond = (
        await client.get(
            "/api/v1/parts", params={"q": "capped", "offset": 10}, headers=operator_headers
        )
    ).json()
    assert (beyond["items"], beyond["total"]) == ([], 3)
