"""Bulk bin creation (A-01-01 ... C-03-04 from a range pattern: preview, then all or
nothing, duplicates refused by name, 5,000 a request), the bin label sheet (a QR code of
each bin code with a 4-module quiet zone) and the location list's contents column."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx
import pytest
import segno
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.errors import ConflictError, ValidationError
from kosh.core.models import AuditEvent
from kosh.core.qr import QUIET_ZONE
from kosh.locations import bins
from kosh.locations.models import Location
from tests.support.stock import a_location, a_part, a_warehouse, stock_in

pytestmark = pytest.mark.usefixtures("sessions")

Headers = dict[str, str]
BULK = "/api/v1/locations/bulk"
HTML = {"accept": "text/html"}


def body(warehouse_id: int, **changes: Any) -> dict[str, Any]:
    base = {
        "warehouse_id": warehouse_id,
        "aisle_from": "A",
        "aisle_to": "C",
        "rack_from": 1,
        "rack_to": 3,
        "level_from": 1,
        "level_to": 4,
    }
    return {**base, **changes}


async def codes_in(session: AsyncSession, warehouse_id: int) -> list[str]:
    await session.rollback()  # end the read snapshot: the requests committed meanwhile
    rows = await session.scalars(
        select(Location.code)
        .where(Location.warehouse_id == warehouse_id, Location.kind != "mfg_floor")
        .order_by(Location.code)
    )
    return list(rows)


def test_a_range_expands_aisle_by_aisle_zero_padded() -> None:
    pattern = bins.BinRange("a", "c", 1, 3, 1, 4)

    codes = pattern.codes()

    assert pattern.count == len(codes) == 36
    assert codes[:5] == ["A-01-01", "A-01-02", "A-01-03", "A-01-04", "A-02-01"]
    assert codes[-1] == "C-03-04"
    assert bins.BinRange("B", "B", 9, 10, 0, 0, digits=3, separator="").codes() == [
        "B009000",
        "B010000",
    ]


async def test_preview_counts_and_changes_nothing_then_create_makes_them_all(
    client: httpx.AsyncClient, manager_headers: Headers, session: AsyncSession
) -> None:
    # given a warehouse with no bins
    main = await a_warehouse(session, "MAIN")

    # when the range is previewed
    preview = await client.post(f"{BULK}/preview", json=body(main.id), headers=manager_headers)

    # then it says 36 bins A-01-01 ... C-03-04 and nothing exists yet
    assert preview.status_code == 200, preview.text
    assert preview.json() | {"sample": None} == {
        "count": 36,
        "first": "A-01-01",
        "last": "C-03-04",
        "sample": None,
        "taken": [],
        "taken_count": 0,
    }
    assert await codes_in(session, main.id) == []

    # when it is created
    created = await client.post(BULK, json=body(main.id, kind="receiving"), headers=manager_headers)

    # then all 36 exist, of the kind asked, with one audit event for the batch
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["count"], answer["first"], answer["last"]) == (36, "A-01-01", "C-03-04")
    assert await codes_in(session, main.id) == answer["codes"]
    kinds = set(await session.scalars(select(Location.kind).where(Location.code.like("A-%"))))
    assert kinds == {"receiving"}
    event = await session.scalar(
        select(AuditEvent).where(AuditEvent.action == "location.bulk_create")
    )
    assert event is not None
    assert event.after["count"] == 36


async def test_duplicates_refuse_the_whole_range_and_are_listed(
    client: httpx.AsyncClient, manager_headers: Headers, session: AsyncSession
) -> None:
    # given bins B-02-03 and (in lower case) c-01-01 exist already
    main = await a_warehouse(session, "MAIN")
    await a_location(session, main, code="B-02-03")
    await a_location(session, main, code="c-01-01")

    # when the range A..C x 1..3 x 1..4 is previewed and created
    preview = await client.post(f"{BULK}/preview", json=body(main.id), headers=manager_headers)
    created = await client.post(BULK, json=body(main.id), headers=manager_headers)

    # then both name the two codes, the create is 409 and not one bin was added
    assert preview.json()["taken"] == ["B-02-03", "C-01-01"]
    assert created.status_code == 409
    problem = created.json()
    assert problem["code"] == "location_codes_taken"
    assert "B-02-03, C-01-01" in problem["detail"]
    assert "Nothing was created" in problem["detail"]
    assert (problem["taken"], problem["taken_count"]) == (["B-02-03", "C-01-01"], 2)
    assert await codes_in(session, main.id) == ["B-02-03", "c-01-01"]


async def test_limits_and_bad_ranges_are_422_without_writing(
    client: httpx.AsyncClient, manager_headers: Headers, session: AsyncSession
) -> None:
    main = await a_warehouse(session, "MAIN")
    # 26 x 20 x 10 = 5,200 bins: over the limit
    too_many = await client.post(
        BULK, json=body(main.id, aisle_to="Z", rack_to=20, level_to=10), headers=manager_headers
    )
    assert too_many.status_code == 422
    assert too_many.json()["code"] == "too_many_bins"
    backwards = await client.post(
        BULK, json=body(main.id, aisle_from="D", rack_to=0), headers=manager_headers
    )
    assert backwards.status_code == 422
    fields = {tuple(e["loc"])[-1] for e in backwards.json()["errors"]}
    assert fields == {"aisle_to", "rack_to"}
    for bad in ({"aisle_from": "AA"}, {"aisle_to": "1"}, {"rack_to": -1}, {"digits": 9}):
        response = await client.post(BULK, json=body(main.id, **bad), headers=manager_headers)
        assert response.status_code == 422, bad
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (
        "Enter one letter, A to Z."
        in (await client.post(BULK, json=body(main.id, aisle_to="1"), headers=manager_headers)).text
    )
    missing = await client.post(BULK, json=body(999_999), headers=manager_headers)
    assert missing.status_code == 404
    assert await codes_in(session, main.id) == []


async def test_exactly_five_thousand_bins_in_one_request(
    client: httpx.AsyncClient, manager_headers: Headers, session: AsyncSession
) -> None:
    main = await a_warehouse(session, "MAIN")
    # 25 aisles x 20 racks x 10 levels = 5,000
    response = await client.post(
        BULK, json=body(main.id, aisle_to="Y", rack_to=20, level_to=10), headers=manager_headers
    )
    assert response.status_code == 201, response.text
    await session.rollback()
    count = await session.scalar(
        select(func.count()).select_from(Location).where(Location.warehouse_id == main.id)
    )
    assert count == 5001  # and the MFG floor


async def test_an_inactive_warehouse_and_an_operator_are_refused(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    operator_headers: Headers,
    session: AsyncSession,
) -> None:
    main = await a_warehouse(session, "MAIN")
    assert (
        await client.post(BULK, json=body(main.id), headers=operator_headers)
    ).status_code == 403
    main.active = False
    await session.commit()
    refused = await client.post(BULK, json=body(main.id), headers=manager_headers)
    assert refused.status_code == 422
    assert refused.json()["code"] == "warehouse_inactive"


async def test_bin_range_page_previews_and_lists_duplicates(
    client: httpx.AsyncClient, manager_headers: Headers, session: AsyncSession
) -> None:
    main = await a_warehouse(session, "MAIN")
    await a_location(session, main, code="A-01-02")
    headers = {**manager_headers, **HTML}

    empty = await client.get("/locations/bins", headers=headers)
    query = {k: str(v) for k, v in body(main.id).items()}
    preview = await client.get("/locations/bins", params=query, headers=headers)
    too_many = await client.get(
        "/locations/bins", params={**query, "aisle_to": "Z", "rack_to": "99"}, headers=headers
    )

    assert empty.status_code == 200
    assert 'data-testid="bin-preview"' not in empty.text
    assert "36 bins, A-01-01 … C-03-04" in preview.text
    assert "1 of these exist already: A-01-02" in preview.text
    assert 'data-testid="bin-create-form"' not in preview.text
    assert "at most 5,000 per request" in too_many.text


async def test_label_sheet_of_a_range_draws_each_code_as_a_qr_code(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given bins A-01-01 ... A-01-04 and B-01-01
    main = await a_warehouse(session, "MAIN")
    made = [await a_location(session, main, code=f"A-01-0{i}") for i in range(1, 5)]
    await a_location(session, main, code="B-01-01")
    headers = {**operator_headers, **HTML}

    # when the labels of a-01-02 .. A-01-04 (any case) and of two ticked bins are asked
    sheet = await client.get(
        "/locations/labels",
        params={"warehouse_id": main.id, "first": "a-01-02", "last": "A-01-04"},
        headers=headers,
    )
    ticked = await client.get(
        "/locations/labels", params=[("id", made[0].id), ("id", made[3].id)], headers=headers
    )

    # then each label carries its code in print and as a QR symbol of that code
    assert sheet.status_code == 200
    assert re.findall(r'<p class="bin-code">([^<]+)</p>', sheet.text) == [
        "A-01-02",
        "A-01-03",
        "A-01-04",
    ]
    assert re.findall(r'<p class="bin-code">([^<]+)</p>', ticked.text) == ["A-01-01", "A-01-04"]
    qr = re.search(
        r'<svg class="bin-qr"[^>]*viewBox="0 0 ([\d.]+) [\d.]+".*?d="([^"]+)"', sheet.text
    )
    assert qr is not None
    size, path = float(qr.group(1)), qr.group(2)
    runs = [tuple(map(float, r)) for r in re.findall(r"M([\d.]+) ([\d.]+)h([\d.]+)", path)]
    symbol = segno.make_qr("A-01-02", error="m")
    modules = symbol.symbol_size(border=0)[0]
    module = size / (modules + 2 * QUIET_ZONE)
    assert min(x for x, _, _ in runs) == pytest.approx(QUIET_ZONE * module, abs=1e-3)
    assert min(y for _, y, _ in runs) == pytest.approx(QUIET_ZONE * module, abs=1e-3)
    assert max(x + w for x, _, w in runs) == pytest.approx(size - QUIET_ZONE * module, abs=1e-3)
    assert "bin-labels.css" in sheet.text


async def test_label_sheet_without_a_choice_explains_and_bad_ids_are_refused(
    client: httpx.AsyncClient, operator_headers: Headers
) -> None:
    headers = {**operator_headers, **HTML}
    empty = await client.get("/locations/labels", headers=headers)
    bad = await client.get("/locations/labels", params={"id": "x"}, headers=headers)

    assert empty.status_code == 200
    assert "Choose a warehouse and a range of codes" in empty.text
    assert 400 <= bad.status_code < 500


async def test_location_list_shows_what_each_bin_holds(
    client: httpx.AsyncClient, operator_headers: Headers, session: AsyncSession
) -> None:
    # given a bin holding two parts and an empty bin
    main = await a_warehouse(session, "MAIN")
    full = await a_location(session, main, code="H-1")
    await a_location(session, main, code="H-2")
    resistor, capacitor = await a_part(session, "R-100"), await a_part(session, "C-200")
    await stock_in(session, resistor.number, full.id, 40)
    await stock_in(session, resistor.number, full.id, 2)
    await stock_in(session, capacitor.number, full.id, 1500)

    page = await client.get("/locations", params={"q": "H-"}, headers={**operator_headers, **HTML})

    holds = re.findall(r'<td data-testid="holds">(.*?)</td>', page.text)
    assert holds[0] == "C-200 \u00d7 1,500, R-100 \u00d7 42"  # multiplication signs
    assert "empty" in holds[1]
    assert 'form="label-pick"' in page.text


def test_a_range_checked_without_the_api_schema_names_each_bad_field() -> None:
    with pytest.raises(ValidationError) as caught:
        bins.check_range(bins.BinRange("1", "AB", 1, 1, 5, 4))
    assert caught.value.code == "bin_range_invalid"
    assert [e["loc"][-1] for e in caught.value.errors] == ["aisle_from", "aisle_to", "level_to"]


async def test_overlapping_ranges_at_once_create_one_and_refuse_the_other_whole(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given a warehouse; two requests for overlapping ranges arrive at the same moment
    async with sessions() as session:
        warehouse_id = (await a_warehouse(session, "MAIN")).id
    ranges = [bins.BinRange("A", "B", 1, 10, 1, 10), bins.BinRange("B", "C", 1, 10, 1, 10)]

    async def create(pattern: bins.BinRange) -> list[str] | ConflictError:
        async with sessions() as session:
            try:
                return await bins.create_bins(session, warehouse_id=warehouse_id, pattern=pattern)
            except ConflictError as refused:
                return refused

    outcomes = await asyncio.gather(*(create(pattern) for pattern in ranges))

    # then exactly one range exists in full and the other got 409 naming the overlap
    made = [o for o in outcomes if isinstance(o, list)]
    refused = [o for o in outcomes if isinstance(o, ConflictError)]
    assert len(made) == 1
    assert len(refused) == 1
    assert refused[0].code == "location_codes_taken"
    assert refused[0].details["taken_count"] >= 1
    assert all(code.startswith("B-") for code in refused[0].details["taken"])
    async with sessions() as session:
        assert await codes_in(session, warehouse_id) == made[0]
