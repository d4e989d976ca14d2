"""BOM imports through the API: 202 + background work, previews, commits (all or nothing),
clean 4xx for every bad upload, crash and dead-process handling, temp files removed."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.bom import bomfile
from kosh.bom import service as bom_service
from kosh.bom.models import Bom, BomImport, BomLine
from kosh.bom.runner import get_runner, lifespan
from kosh.bom.upload import upload_dir
from kosh.catalog.models import Part
from kosh.core.config import Settings
from kosh.core.db import utcnow
from tests.bom import files
from tests.bom.conftest import Finished, Upload
from tests.support.stock import a_part

HEADER = ["Reference", "Qty", "Part Number", "Description"]


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_dry_run_of_a_real_file_gives_a_preview(
    upload: Upload, finished: Finished, data_dir: Path, session: AsyncSession
) -> None:
    # given the catalog knows one of the glasgow parts
    await a_part(session, "LMK107BJ475KAHT")

    # when the file is uploaded as a dry run
    response = await upload(data_dir / "bom" / "glasgow_revC3_kicad_bom.csv", dry_run=True)

    # then it is accepted for background work, and the preview is ready when it succeeds
    assert response.status_code == 202
    assert response.headers["location"] == f"/api/v1/boms/imports/{response.json()['id']}"
    body = await finished(response.json()["id"])
    assert body["status"] == "succeeded"
    assert body["rows_done"] == body["rows_total"] == 57
    assert body["lines_count"] == 52
    preview = body["preview"]
    assert preview["header_row"] == 1
    assert preview["mapping"]["part_number"] == "MPN"
    assert preview["counts"]["lines"] == 52
    unknown = [e for e in body["errors"] if e["message"].startswith("unknown part number")]
    assert len(unknown) == 51  # every line but the known part
    assert {"row", "column", "message", "severity"} <= set(body["errors"][0])
    assert preview["rows"][0]["status"] == "ok"  # row 2 is the known part
    assert await count(session, Bom) == 0


async def test_commit_creates_bom_and_missing_parts_in_one_go(
    upload: Upload, finished: Finished, data_dir: Path, session: AsyncSession
) -> None:
    response = await upload(
        data_dir / "bom" / "exaspim_mechanical_BOM.xlsx",
        assembly_part_number="EXASPIM",
        revision="A",
        create_missing_parts=True,
    )

    body = await finished(response.json()["id"])

    assert body["status"] == "succeeded", body
    bom = await session.get(Bom, body["bom_id"])
    assert bom is not None
    assert (bom.revision, bom.status, bom.source) == ("A", "draft", "exaspim_mechanical_BOM.xlsx")
    assert await count(session, BomLine) == 92
    assert await count(session, Part) == 93  # 92 lines + the assembly
    rails = await session.scalar(
        select(BomLine.qty)
        .join(Part, Part.id == BomLine.part_id)
        .where(Part.number == "rail_XT95-500")
    )
    assert rails == 4


async def test_commit_with_row_errors_imports_nothing(
    upload: Upload, finished: Finished, data_dir: Path, session: AsyncSession
) -> None:
    # openremise has two rows without a part number
    response = await upload(
        data_dir / "bom" / "openremise_s3main_bom_titleblock.xlsx",
        assembly_part_number="S3MAIN",
        revision="1",
        create_missing_parts=True,
    )

    body = await finished(response.json()["id"])

    assert body["status"] == "failed"
    assert "nothing was imported" in body["message"]
    assert [(e["row"], e["column"]) for e in body["errors"] if e["severity"] == "error"] == [
        (43, "*Mfg Part #"),
        (46, "*Mfg Part #"),
    ]
    assert await count(session, Bom) == 0
    assert await count(session, Part) == 0  # not even the parts it would have created


async def test_commit_with_known_parts_and_a_fixed_mapping(
    upload: Upload, finished: Finished, tmp_path: Path, session: AsyncSession
) -> None:
    assembly = await a_part(session, "PB-100")
    await a_part(session, "RES-10K")
    await a_part(session, "CAP-100N")
    path = files.csv_file(
        tmp_path / "bom.csv",
        [["Bauteil", "Menge", "Ref"], ["RES-10K", 2, "R1 R2"], ["CAP-100N", 1, "C1"]],
        delimiter=";",
    )

    guessed = await finished((await upload(path, dry_run=True)).json()["id"])
    fixed = await upload(
        path,
        assembly_part_number="PB-100",
        revision="C",
        mapping='{"part_number": "Bauteil", "qty": "B"}',
    )
    body = await finished(fixed.json()["id"])

    assert guessed["preview"]["mapping"]["part_number"] is None
    assert "no part-number column" in guessed["errors"][0]["message"]
    assert body["status"] == "succeeded", body
    lines = list(
        await session.execute(
            select(Part.number, BomLine.qty, BomLine.refdes)
            .join(Part, Part.id == BomLine.part_id)
            .order_by(BomLine.line_no)
        )
    )
    assert [tuple(line) for line in lines] == [("RES-10K", 2, "R1 R2"), ("CAP-100N", 1, "C1")]
    bom = await session.get(Bom, body["bom_id"])
    assert bom is not None
    assert bom.assembly_part_id == assembly.id


async def test_problem_report_downloads_as_csv(
    upload: Upload,
    finished: Finished,
    client: httpx.AsyncClient,
    data_dir: Path,
    operator_headers: dict[str, str],
) -> None:
    response = await upload(data_dir / "bom" / "low-cost-feeder_mechanical_bom.csv", dry_run=True)
    import_id = (await finished(response.json()["id"]))["id"]

    report = await client.get(
        f"/api/v1/boms/imports/{import_id}/errors.csv", headers=operator_headers
    )

    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(report.text.lstrip("\ufeff"))))
    assert rows[0] == ["Row", "Column", "Severity", "Problem"]
    assert any(
        row[:3] == ["12", "Quantity", "error"] and row[3].startswith("1.2 is not a whole")
        for row in rows
    )
    assert len(rows) == 1 + 27 + 1  # header, 27 unknown parts, the fraction


@pytest.mark.parametrize(
    ("content", "status", "code"),
    [
        (b"", 422, "empty_file"),
        (b"%PDF-1.4 not a bom", 422, "unsupported_file_type"),
        (b"PK\x03\x04" + b"\x00" * 200, 422, "corrupt_file"),
    ],
)
async def test_bad_files_are_refused_before_queueing(
    upload: Upload, session: AsyncSession, content: bytes, status: int, code: str
) -> None:
    response = await upload(content=content, dry_run=True)

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert await count(session, BomImport) == 0


async def test_encrypted_and_bomb_files_are_refused(upload: Upload, tmp_path: Path) -> None:
    encrypted = await upload(files.encrypted_xlsx(tmp_path / "e.xlsx", [HEADER]), dry_run=True)
    bomb = await upload(files.zip_bomb(tmp_path / "b.xlsx"), dry_run=True)

    assert encrypted.json()["code"] == "encrypted_file"
    assert bomb.json()["code"] == "zip_bomb"


async def test_missing_sheet_lists_the_sheets(upload: Upload, data_dir: Path) -> None:
    response = await upload(
        data_dir / "bom" / "muonpi_cdu-lite_bom_multisheet.xlsx", dry_run=True, sheet="BOM"
    )

    assert response.status_code == 422
    assert response.json()["code"] == "sheet_not_found"
    assert "cdu-lite final assembly" in response.json()["sheets"]


async def test_target_checks(upload: Upload, tmp_path: Path, session: AsyncSession) -> None:
    path = files.csv_file(tmp_path / "b.csv", [HEADER, ["R1", 1, "P-1", ""]])
    assembly = await a_part(session, "ASSY")
    session.add(Bom(assembly_part_id=assembly.id, revision="B", created_by="t"))
    await session.commit()

    without = await upload(path)
    unknown = await upload(path, assembly_part_number="NOPE", revision="A")
    taken = await upload(path, assembly_part_number="ASSY", revision="B")
    bad_mapping = await upload(path, dry_run=True, mapping='{"colour": "A"}')
    not_json = await upload(path, dry_run=True, mapping="qty=Menge")

    assert without.status_code == 422
    assert {e["loc"][-1] for e in without.json()["errors"]} == {
        "assembly_part_number",
        "revision",
    }
    assert (unknown.status_code, unknown.json()["code"]) == (404, "part_not_found")
    assert (taken.status_code, taken.json()["code"]) == (409, "revision_taken")
    assert bad_mapping.status_code == 422
    assert bad_mapping.json()["errors"][0]["loc"] == ["mapping"]
    assert not_json.status_code == 422


async def test_upload_over_the_bom_limit(
    settings: Settings, tmp_path: Path, operator_headers: dict[str, str]
) -> None:
    from tests.support.platform import app_client

    path = files.csv_file(tmp_path / "b.csv", [HEADER] + [["R1", 1, "P-1", ""]] * 200)
    async with app_client(settings, bom_max_upload_bytes=1000) as (_app, client):
        response = await client.post(
            "/api/v1/boms/imports",
            files={"file": ("b.csv", path.read_bytes())},
            data={"dry_run": "true"},
            headers=operator_headers,
        )

    assert response.status_code == 413
    assert list(upload_dir(settings).glob("*")) == []


async def test_viewer_cannot_import(
    upload: Upload,
    make_user,
    token_for,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    viewer = await make_user("viewer")
    headers = {"authorization": f"Bearer {await token_for(viewer)}"}
    path = files.csv_file(tmp_path / "b.csv", [HEADER, ["R1", 1, "P-1", ""]])

    response = await upload(path, dry_run=True, headers=headers)

    assert response.status_code == 403


async def test_temp_files_are_removed(
    upload: Upload, finished: Finished, tmp_path: Path, settings: Settings
) -> None:
    good = files.csv_file(tmp_path / "b.csv", [HEADER, ["R1", 1, "P-1", ""]])

    first = await upload(good, dry_run=True)
    await finished(first.json()["id"])
    await upload(content=b"%PDF-1.4", dry_run=True)

    assert list(upload_dir(settings).glob("*")) == []


async def test_a_crash_fails_the_import_and_cleans_up(
    upload: Upload,
    finished: Finished,
    tmp_path: Path,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("kosh.bom.runner.read_bom", explode)
    path = files.csv_file(tmp_path / "b.csv", [HEADER, ["R1", 1, "P-1", ""]])

    body = await finished((await upload(path, dry_run=True)).json()["id"])

    assert body["status"] == "failed"
    assert "error on our side" in body["message"]
    assert "disk on fire" not in body["message"]
    assert list(upload_dir(settings).glob("*")) == []


async def test_shutdown_fails_running_imports(
    app: FastAPI,
    upload: Upload,
    tmp_path: Path,
    session: AsyncSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    release = threading.Event()
    real = bomfile.read_bom

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr("kosh.bom.runner.read_bom", slow)
    path = files.csv_file(tmp_path / "b.csv", [HEADER, ["R1", 1, "P-1", ""]])
    import_id = (await upload(path, dry_run=True)).json()["id"]

    runner = get_runner(app)
    shutdown = runner.shutdown()
    release.set()
    await shutdown

    row = await session.get(BomImport, import_id)
    assert row is not None
    assert row.status == "failed"
    assert "shut down" in (row.message or "")


async def test_imports_of_a_dead_process_are_failed(
    app: FastAPI,
    client: httpx.AsyncClient,
    session: AsyncSession,
    operator_headers: dict[str, str],
) -> None:
    old = utcnow() - timedelta(minutes=10)
    rows = [
        BomImport(status=status, file_name="x.csv", options={}, created_by="t", heartbeat_at=when)
        for status, when in (("running", old), ("queued", old), ("running", utcnow()))
    ]
    session.add_all(rows)
    await session.commit()
    ids = [row.id for row in rows]

    read = await client.get(f"/api/v1/boms/imports/{ids[0]}", headers=operator_headers)
    async with lifespan(app):
        pass

    await session.rollback()
    states = [(await session.get(BomImport, i, populate_existing=True)).status for i in ids]  # type: ignore[union-attr]
    assert read.json()["status"] == "failed"
    assert read.json()["message"] == bom_service.ABANDONED_MESSAGE
    assert states == ["failed", "failed", "running"]


async def test_progress_is_reported_while_reading(
    upload: Upload,
    finished: Finished,
    tmp_path: Path,
    session: AsyncSession,
    client: httpx.AsyncClient,
    operator_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import threading

    halfway = threading.Event()
    resume = threading.Event()
    real = bomfile._read_rows

    def pausing(result, options, rows, problems, progress):  # type: ignore[no-untyped-def]
        def paused():  # type: ignore[no-untyped-def]
            for n, row in enumerate(rows):
                if n == 500:
                    halfway.set()
                    resume.wait(10)
                yield row

        return real(result, options, paused(), problems, progress)

    monkeypatch.setattr(bomfile, "_read_rows", pausing)
    path = files.csv_file(
        tmp_path / "b.csv", [HEADER] + [["R1", 1, f"P-{n}", ""] for n in range(1000)]
    )
    import_id = (await upload(path, dry_run=True)).json()["id"]

    import asyncio

    await asyncio.to_thread(halfway.wait, 10)
    await asyncio.sleep(1.2)  # two progress ticks
    during = (
        await client.get(f"/api/v1/boms/imports/{import_id}", headers=operator_headers)
    ).json()
    resume.set()
    after = await finished(import_id)

    assert during["status"] == "running"
    assert during["phase"] == "reading"
    assert during["rows_done"] == 500
    assert during["rows_total"] == 1001
    assert after["rows_done"] == after["rows_total"] == 1000


FUZZ = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ
@given(content=st.binary(max_size=2048) | st.text(max_size=600).map(str.encode))
async def test_any_upload_yields_a_preview_or_a_clean_4xx(
    upload: Upload, finished: Finished, content: bytes
) -> None:
    response = await upload(content=content, dry_run=True)

    assert response.status_code in (202, 413, 422), response.text
    if response.status_code == 202:
        body = await finished(response.json()["id"])
        assert body["status"] == "succeeded" or body["message"]
    else:
        assert response.headers["content-type"] == "application/problem+json"
