"""BOM exports whatever the names hold: non-Latin-1 file names (RFC 6266 / 8187) and text
with control characters, refused at the edge and neutralised in stored rows (issue 8.4)."""

from __future__ import annotations

import io
from urllib.parse import unquote

import httpx
import openpyxl
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom.models import BomLine
from kosh.catalog.models import Part
from kosh.core.download import ascii_fallback, content_disposition
from tests.bom.test_boms_api import a_bom
from tests.support.stock import a_part


def _filename_star(header: str) -> str:
    star = next(p.strip() for p in header.split(";") if p.strip().startswith("filename*="))
    charset, _, encoded = star.removeprefix("filename*=").partition("''")
    assert charset == "UTF-8"
    return unquote(encoded)


def test_content_disposition_ascii_name_is_plain() -> None:
    assert content_disposition("PB-100-revC.csv") == 'attachment; filename="PB-100-revC.csv"'


def test_content_disposition_non_latin1_name_has_fallback_and_utf8() -> None:
    header = content_disposition('Ж-100 "é";.csv')
    header.encode("latin-1")  # what Starlette does with every header
    assert 'filename="_-100 _e__.csv"' in header
    assert _filename_star(header) == 'Ж-100 "é";.csv'
    assert ascii_fallback("ЖЖЖ") == "___"
    assert ascii_fallback("") == "download"


async def test_export_names_in_any_script(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    # given: an assembly and revision no Latin-1 header can carry
    assembly = await a_part(session, "ЖК-100")
    res = await a_part(session, "RES-10K")
    bom_id = await a_bom(session, assembly, "Б2", [(res, 2, "R1 R2")])
    # when
    as_csv = await client.get(f"/api/v1/boms/{bom_id}/export.csv", headers=operator_headers)
    as_xlsx = await client.get(f"/api/v1/boms/{bom_id}/export.xlsx", headers=operator_headers)
    # then
    assert as_csv.status_code == 200, as_csv.text
    assert as_xlsx.status_code == 200, as_xlsx.text
    for answer, suffix in ((as_csv, "csv"), (as_xlsx, "xlsx")):
        header = answer.headers["content-disposition"]
        assert header.startswith("attachment; ")
        assert f'filename="__-100-rev_2.{suffix}"' in header
        assert _filename_star(header) == f"ЖК-100-revБ2.{suffix}"
    assert "RES-10K" in as_csv.text


async def test_designators_with_control_characters_are_refused(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    # given
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K")
    cap = await a_part(session, "CAP-1U")
    bom_id = await a_bom(session, assembly, "A", [(res, 2, "R1 R2")])
    [line_id] = await session.scalars(select(BomLine.id).where(BomLine.bom_id == bom_id))
    # when
    added = await client.post(
        f"/api/v1/boms/{bom_id}/lines",
        json={"version": 1, "part_number": "CAP-1U", "qty": 1, "refdes": "C1\u0019"},
        headers=operator_headers,
    )
    patched = await client.patch(
        f"/api/v1/boms/{bom_id}/lines/{line_id}",
        json={"version": 1, "refdes": "R1\x00 R2"},
        headers=operator_headers,
    )
    put = await client.put(
        f"/api/v1/boms/{bom_id}/lines",
        json={"version": 1, "lines": [{"part_number": "CAP-1U", "qty": 1, "refdes": "C1\x1b"}]},
        headers=operator_headers,
    )
    exported = await client.get(f"/api/v1/boms/{bom_id}/export.xlsx", headers=operator_headers)
    # then
    for answer in (added, patched, put):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert any(e["loc"][-1] == "refdes" for e in answer.json()["errors"]), answer.json()
    rows = list(await session.execute(select(BomLine.part_id, BomLine.refdes)))
    assert rows == [(res.id, "R1 R2")]  # nothing changed
    assert cap.id not in {part_id for part_id, _ in rows}
    assert exported.status_code == 200


async def test_xlsx_export_neutralises_control_characters_already_stored(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    # given: rows written before the edge refused control characters
    assembly = await a_part(session, "PB-100")
    res = await a_part(session, "RES-10K")
    bom_id = await a_bom(session, assembly, "A", [(res, 2, "R1\x19 R2")])
    part = await session.get(Part, res.id)
    assert part is not None
    part.description = "10k\x01 resistor\x0b"
    line = await session.scalar(select(BomLine).where(BomLine.bom_id == bom_id))
    assert line is not None
    line.notes = "=bad\x1fnote"
    await session.commit()
    # when
    answer = await client.get(f"/api/v1/boms/{bom_id}/export.xlsx", headers=operator_headers)
    # then
    assert answer.status_code == 200, answer.text
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    row = next(sheet.iter_rows(min_row=2, values_only=True))
    assert row[2] == "10k\ufffd resistor\ufffd"
    assert row[5] == "R1\ufffd R2"
    assert row[6] == "=bad\ufffdnote"
    assert sheet.cell(2, 7).data_type == "s"  # still text, not a formula
