"""Export file names outside Latin-1 (found by the fuzzing gate): an ASCII fallback plus the
UTF-8 name (RFC 6266 / 5987), never a 500."""

from __future__ import annotations

from urllib.parse import quote

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.bom.test_boms_api import a_bom
from tests.support.stock import a_part


async def test_csv_export_of_a_cyrillic_assembly_has_a_utf8_file_name(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    assembly = await a_part(session, "ПЛАТА-1")
    part = await a_part(session, "R-1")
    bom_id = await a_bom(session, assembly, "Ж", [(part, 1, "R1")])

    response = await client.get(f"/api/v1/boms/{bom_id}/export.csv", headers=operator_headers)

    assert response.status_code == 200, response.text
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="')
    assert disposition.split('"')[1].isascii()
    assert f"filename*=UTF-8''{quote('ПЛАТА-1-revЖ.csv')}" in disposition
