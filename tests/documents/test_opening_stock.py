"""Opening-stock import: dry run first, all rows or none, per-row errors, hostile files get
the same clean 4xx as BOM imports and nothing is received."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bom import files

pytestmark = pytest.mark.usefixtures("sessions")

Headers = dict[str, str]
HEADER = ["Part Number", "Location", "Qty", "PCN", "Date code", "Supplier", "Received"]


@pytest.fixture
async def warehouse_id(client: httpx.AsyncClient, manager_headers: Headers) -> int:
    warehouse = (
        await client.post(
            "/api/v1/warehouses", json={"code": "NEW", "name": "New site"}, headers=manager_headers
        )
    ).json()
    for code in ("R-01", "R-02"):
        await client.post(
            "/api/v1/locations",
            json={"warehouse_id": warehouse["id"], "code": code, "kind": "storage"},
            headers=manager_headers,
        )
    for number in ("CAP-100N", "RES-1K"):
        await client.post(
            "/api/v1/parts", json={"number": number, "description": number}, headers=manager_headers
        )
    return int(warehouse["id"])


async def _upload(
    client: httpx.AsyncClient,
    headers: Headers,
    path: Path,
    warehouse_id: int,
    **form: Any,
) -> httpx.Response:
    data = {
        "warehouse_id": str(warehouse_id),
        **{k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in form.items()},
    }
    with path.open("rb") as handle:
        return await client.post(
            "/api/v1/documents/imports",
            files={"file": (path.name, handle.read())},
            data=data,
            headers=headers,
        )


async def _ledger_rows(client: httpx.AsyncClient, headers: Headers, pcn: str) -> int:
    response = await client.get(f"/api/v1/pcns/{pcn}/history", headers=headers)
    return int(response.json()["total"]) if response.status_code == 200 else 0


async def test_dry_run_then_commit_posts_one_receipt(
    client: httpx.AsyncClient, manager_headers: Headers, warehouse_id: int, tmp_path: Path
) -> None:
    path = files.xlsx(
        tmp_path / "opening.xlsx",
        [
            ["Opening stock, site NEW"],
            [],
            HEADER,
            ["CAP-100N", "R-01", 4000, "REEL-1", "2431", "Mouser", "2026-01-15"],
            ["RES-1K", "r-02", 250, None, None, None, None],
            ["NEW-PART", "R-02", 3, None, None, None, None],
        ],
        sheet="Stock",
    )
    # dry run: the unknown part is a row error unless parts are created
    dry = await _upload(client, manager_headers, path, warehouse_id)
    assert dry.status_code == 200, dry.text
    report = dry.json()
    assert report["dry_run"] is True
    assert report["header_row"] == 3
    assert (report["rows"], report["units"], report["error_count"]) == (2, 4250, 1)
    assert report["errors"][0]["row"] == 6
    assert await _ledger_rows(client, manager_headers, "REEL-1") == 0
    # commit with an error: nothing received
    refused = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
    assert refused.status_code == 422, refused.text
    assert refused.json()["code"] == "import_rejected"
    assert refused.json()["errors"][0]["loc"] == ["rows", 6, "part_number"]
    assert await _ledger_rows(client, manager_headers, "REEL-1") == 0
    # dry run creating parts, then commit
    dry = await _upload(client, manager_headers, path, warehouse_id, create_parts=True)
    assert dry.json()["parts_to_create"] == ["NEW-PART"]
    assert dry.json()["by_part"] == [
        {"part_number": "CAP-100N", "lots": 1, "units": 4000},
        {"part_number": "NEW-PART", "lots": 1, "units": 3},
        {"part_number": "RES-1K", "lots": 1, "units": 250},
    ]
    assert dry.json()["error_count"] == 0
    done = await _upload(
        client, manager_headers, path, warehouse_id, dry_run=False, create_parts=True
    )
    assert done.status_code == 201, done.text
    summary = done.json()["document"]
    assert summary["status"] == "posted"
    assert summary["lines"] == 3
    document = (
        await client.get(f"/api/v1/documents/{summary['id']}", headers=manager_headers)
    ).json()
    assert document["type"] == "receipt"
    assert document["number"] == summary["number"]
    assert document["lines"][0]["pcn"] == "REEL-1"
    assert len(document["lines"]) == 3
    assert len(document["movements"]) == 3
    pcn = await client.get("/api/v1/pcns/REEL-1", headers=manager_headers)
    assert pcn.json()["total_qty"] == 4000
    assert pcn.json()["supplier"] == "Mouser"
    assert pcn.json()["received_at"].startswith("2026-01-15")
    history = await client.get("/api/v1/pcns/REEL-1/history", headers=manager_headers)
    assert [e["reference"] for e in history.json()["items"]] == [document["number"]]
    # the same file again: every PCN exists now, nothing more is received
    again = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
    assert again.status_code == 422
    assert await _ledger_rows(client, manager_headers, "REEL-1") == 1


async def test_row_errors_are_listed_per_row(
    client: httpx.AsyncClient, manager_headers: Headers, warehouse_id: int, tmp_path: Path
) -> None:
    path = files.csv_file(
        tmp_path / "bad.csv",
        [
            ["part number", "bin", "quantity", "pcn", "received"],
            ["CAP-100N", "R-01", "1.5", "", ""],
            ["CAP-100N", "NOWHERE", "3", "", ""],
            ["CAP-100N", "R-01", "-2", "", ""],
            ["CAP-100N", "R-01", "9" * 20, "", ""],
            ["CAP-100N", "R-01", "2", "BAD PCN!", ""],
            ["CAP-100N", "R-01", "2", "DUP-1", ""],
            ["CAP-100N", "R-01", "2", "DUP-1", ""],
            ["", "R-01", "2", "", ""],
            ["CAP-100N", "R-01", "2", "", "yesterday"],
            ["X" * 300, "R-01", "2", "", ""],
            ["CAP-100N", "R-01", "7", "", ""],
        ],
    )
    response = await _upload(client, manager_headers, path, warehouse_id)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["rows"] == 2
    assert report["error_count"] == 9
    assert [e["row"] for e in report["errors"]] == [2, 3, 4, 5, 6, 8, 9, 10, 11]
    assert {e["column"] for e in report["errors"]} >= {"qty", "location", "pcn", "received_at"}


async def test_hostile_and_foreign_files_are_clean_4xx(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    warehouse_id: int,
    tmp_path: Path,
    data_dir: Path,
) -> None:
    binary = tmp_path / "program.xlsx"
    binary.write_bytes(b"\x7fELF" + bytes(range(256)) * 4)
    nul = tmp_path / "nul.csv"
    nul.write_bytes(b"part number,location,qty\nCAP-100N\x00,R-01,1\n")
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    cases = [
        (files.zip_bomb(tmp_path / "bomb.xlsx"), 422, "zip_bomb"),
        (files.encrypted_xlsx(tmp_path / "secret.xlsx", [HEADER]), 422, "encrypted_file"),
        (binary, 422, None),
        (empty, 422, "empty_file"),
        (data_dir / "bom" / "exaspim_mechanical_BOM.csv", 422, "location_column_missing"),
        (data_dir / "bom" / "glasgow_revC3_kicad_bom.csv", 422, "header_not_found"),
    ]
    for path, status, code in cases:
        response = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
        assert response.status_code == status, (path.name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        if code:
            assert response.json()["code"] == code, path.name
    # a NUL byte makes the file binary for the reader: refused as a whole
    nul_report = await _upload(client, manager_headers, nul, warehouse_id)
    assert nul_report.status_code == 422, nul_report.text
    assert nul_report.json()["code"] == "unsupported_file_type"
    good = files.csv_file(
        tmp_path / "good.csv", [["part number", "location", "qty"], ["RES-1K", "R-01", 1]]
    )
    unknown = await _upload(client, manager_headers, good, 999_999)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "warehouse_not_found"
    huge = await _upload(client, manager_headers, good, 10**12)
    assert huge.status_code == 422
    listed = await client.get("/api/v1/documents", headers=manager_headers)
    assert listed.json()["total"] == 0


async def test_operators_cannot_import(
    client: httpx.AsyncClient, operator_headers: Headers, warehouse_id: int, tmp_path: Path
) -> None:
    path = files.csv_file(tmp_path / "x.csv", [["part number", "location", "qty"]])
    response = await _upload(client, operator_headers, path, warehouse_id)
    assert response.status_code == 403


async def test_a_column_mapping_names_unknown_headers(
    client: httpx.AsyncClient, manager_headers: Headers, warehouse_id: int, tmp_path: Path
) -> None:
    path = files.csv_file(
        tmp_path / "de.csv",
        [["Artikel", "Lagerplatz", "Menge"], ["RES-1K", "R-02", "12"]],
        delimiter=";",
    )
    unknown = await _upload(client, manager_headers, path, warehouse_id)
    assert unknown.status_code == 422
    assert unknown.json()["code"] == "header_not_found"
    mapping = "part_number=Artikel, location=Lagerplatz, qty=Menge"
    mapped = await _upload(client, manager_headers, path, warehouse_id, mapping=mapping)
    assert mapped.status_code == 200, mapped.text
    assert (mapped.json()["rows"], mapped.json()["units"]) == (1, 12)
    bad = await _upload(client, manager_headers, path, warehouse_id, mapping="colour=Rot")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["loc"][-1] == "mapping"
