"""BOMs through the API: list, detail, status, line edits with versions, copy, compare,
CSV and xlsx export."""

from __future__ import annotations

import io
from typing import Any

import httpx
import openpyxl
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import Bom, BomLine
from kosh.catalog.models import Part
from tests.support.stock import a_part


async def a_bom(
    session: AsyncSession,
    assembly: Part,
    revision: str,
    lines: list[tuple[Part, int, str]],
    status: str = "draft",
) -> int:
    bom = Bom(assembly_part_id=assembly.id, revision=revision, status=status, created_by="t")
    session.add(bom)
    await session.flush()
    for number, (part, qty, refdes) in enumerate(lines, start=1):
        session.add(BomLine(bom_id=bom.id, line_no=number, part_id=part.id, qty=qty, refdes=refdes))
    await session.commit()
    return bom.id


async def test_list_detail_and_activation(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K", description="Resistor")
    old = await a_bom(session, assembly, "B", [(res, 2, "R1 R2")], status="active")
    new = await a_bom(session, assembly, "C", [(res, 4, "R1 R2 R3 R4")])

    listed = await client.get("/api/v1/boms?q=PB-1", headers=operator_headers)
    detail = await client.get(f"/api/v1/boms/{new}", headers=operator_headers)
    activated = await client.patch(
        f"/api/v1/boms/{new}", json={"version": 1, "status": "active"}, headers=operator_headers
    )
    stale = await client.patch(
        f"/api/v1/boms/{new}", json={"version": 1, "notes": "late"}, headers=operator_headers
    )
    back = await client.patch(
        f"/api/v1/boms/{new}", json={"version": 2, "status": "draft"}, headers=operator_headers
    )

    assert listed.json()["total"] == 2
    assert {item["revision"] for item in listed.json()["items"]} == {"B", "C"}
    line = detail.json()["lines"][0]
    assert (line["part_number"], line["qty"], line["refdes"], line["description"]) == (
        "RES-10K",
        4,
        "R1 R2 R3 R4",
        "Resistor",
    )
    assert activated.status_code == 200
    assert activated.json()["status"] == "active"
    assert activated.json()["version"] == 2
    previous = await session.get(Bom, old, populate_existing=True)
    assert previous is not None
    assert previous.status == "obsolete"
    assert (stale.status_code, stale.json()["code"]) == (409, "stale_version")
    assert stale.json()["current_version"] == 2
    assert (back.status_code, back.json()["code"]) == (422, "invalid_transition")


async def test_line_edits_on_a_draft(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K")
    cap = await a_part(session, "CAP-100N")
    bom_id = await a_bom(session, assembly, "A", [(res, 2, "R1 R2")])
    url = f"/api/v1/boms/{bom_id}"

    added = await client.post(
        f"{url}/lines",
        json={"version": 1, "part_number": "CAP-100N", "qty": 3, "refdes": "C1,C2, C3"},
        headers=operator_headers,
    )
    line_id = added.json()["lines"][1]["id"]
    patched = await client.patch(
        f"{url}/lines/{line_id}", json={"version": 2, "qty": 2}, headers=operator_headers
    )
    again = await client.post(
        f"{url}/lines",
        json={"version": 3, "part_number": "CAP-100N", "qty": 1},
        headers=operator_headers,
    )
    itself = await client.put(
        f"{url}/lines",
        json={"version": 3, "lines": [{"part_number": "PB-100", "qty": 1}]},
        headers=operator_headers,
    )
    fraction = await client.post(
        f"{url}/lines",
        json={"version": 3, "part_number": "RES-10K", "qty": 0.5},
        headers=operator_headers,
    )
    deleted = await client.request(
        "DELETE", f"{url}/lines/{line_id}", json={"version": 3}, headers=operator_headers
    )
    put = await client.put(
        f"{url}/lines",
        json={"version": 4, "lines": [{"part_number": "CAP-100N", "qty": 7, "refdes": "C9"}]},
        headers=operator_headers,
    )

    assert added.status_code == 201
    assert added.json()["lines"][1]["refdes"] == "C1 C2 C3"
    assert patched.json()["lines"][1]["qty"] == 2
    assert (again.status_code, again.json()["code"]) == (422, "line_exists")
    assert itself.status_code == 422
    assert fraction.status_code == 422
    assert [line["part_number"] for line in deleted.json()["lines"]] == ["RES-10K"]
    assert put.status_code == 200
    assert [(li["part_number"], li["qty"]) for li in put.json()["lines"]] == [("CAP-100N", 7)]
    assert put.json()["version"] == 5
    del cap


async def test_active_bom_lines_are_not_editable_but_copyable(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K")
    bom_id = await a_bom(session, assembly, "B", [(res, 2, "R1 R2")], status="active")

    edit = await client.put(
        f"/api/v1/boms/{bom_id}/lines",
        json={"version": 1, "lines": [{"part_number": "RES-10K", "qty": 3}]},
        headers=operator_headers,
    )
    copy = await client.post(
        f"/api/v1/boms/{bom_id}/copy", json={"revision": "C"}, headers=operator_headers
    )
    taken = await client.post(
        f"/api/v1/boms/{bom_id}/copy", json={"revision": "C"}, headers=operator_headers
    )

    assert (edit.status_code, edit.json()["code"]) == (422, "bom_not_draft")
    assert copy.status_code == 201
    assert (copy.json()["revision"], copy.json()["status"], copy.json()["line_count"]) == (
        "C",
        "draft",
        1,
    )
    assert (taken.status_code, taken.json()["code"]) == (409, "revision_taken")


async def test_compare_two_revisions(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "PB-100")
    res, cap, led, ic = [await a_part(session, n) for n in ("RES", "CAP", "LED", "IC")]
    base = await a_bom(session, assembly, "B", [(res, 2, "R1 R2"), (cap, 1, "C1"), (led, 1, "D1")])
    other = await a_bom(
        session, assembly, "C", [(res, 2, "R2 R1"), (cap, 2, "C1 C2"), (ic, 1, "U1")]
    )

    response = await client.get(
        f"/api/v1/boms/compare?base={base}&other={other}", headers=operator_headers
    )

    body: dict[str, Any] = response.json()
    assert [c["part_number"] for c in body["added"]] == ["IC"]
    assert [c["part_number"] for c in body["removed"]] == ["LED"]
    assert [(c["part_number"], c["qty_from"], c["qty_to"]) for c in body["changed"]] == [
        ("CAP", 1, 2)
    ]
    assert body["unchanged"] == 1  # designator order does not matter


async def test_exports(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K", description='=HYPERLINK("x")')
    bom_id = await a_bom(session, assembly, "C", [(res, 2, "R1 R2")])

    as_csv = await client.get(f"/api/v1/boms/{bom_id}/export.csv", headers=operator_headers)
    as_xlsx = await client.get(f"/api/v1/boms/{bom_id}/export.xlsx", headers=operator_headers)

    assert as_csv.status_code == 200
    assert 'filename="PB-100-revC.csv"' in as_csv.headers["content-disposition"]
    assert as_csv.text.lstrip("\ufeff").splitlines()[1] == (
        '1,RES-10K,"\'=HYPERLINK(""x"")",2,pcs,R1 R2,'  # a formula is neutralised
    )
    sheet = openpyxl.load_workbook(io.BytesIO(as_xlsx.content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][:4] == ("Line", "Part Number", "Description", "Qty")
    assert rows[1][:4] == (1, "RES-10K", '=HYPERLINK("x")', 2)
    assert sheet.cell(2, 3).data_type == "s"  # text, not a formula
