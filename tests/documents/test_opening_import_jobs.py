"""Opening-stock imports of large files run in the background: 202 and a status URL with
progress (rows done / total), the report or problem at the end; a failure half-way
receives nothing; a dead process's import is failed as stale."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.documents import import_runner, imports
from kosh.documents.models import Document, OpeningImport
from kosh.stock import bulk
from kosh.stock import verify as stock_verify
from kosh.stock.models import Lot, StockTransaction
from tests.bom import files
from tests.documents.test_opening_stock import _upload, warehouse_id

pytestmark = pytest.mark.usefixtures("sessions")
__all__ = ["warehouse_id"]  # the fixture, shared

Headers = dict[str, str]
ROWS = [["Part Number", "Location", "Qty", "PCN"]] + [
    ["CAP-100N" if n % 2 else "RES-1K", "R-01" if n % 3 else "R-02", n + 1, f"BG-{n}"]
    for n in range(5)
]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    # every file is "large": the background path
    return base_settings.model_copy(update={"opening_import_inline_bytes": 0})


async def _finished(client: httpx.AsyncClient, app: FastAPI, headers: Headers, url: str) -> Any:
    await import_runner.get_runner(app).wait_idle()
    response = await client.get(url, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _counts(sessions: async_sessionmaker[AsyncSession]) -> tuple[int, int, int]:
    async with sessions() as session:
        lots = await session.scalar(select(func.count()).select_from(Lot))
        rows = await session.scalar(select(func.count()).select_from(StockTransaction))
        documents = await session.scalar(select(func.count()).select_from(Document))
    return int(lots or 0), int(rows or 0), int(documents or 0)


async def test_a_large_file_is_imported_in_the_background_with_progress(
    client: httpx.AsyncClient,
    app: FastAPI,
    manager_headers: Headers,
    warehouse_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given a file of five rows received two at a time, and a record of the progress
    monkeypatch.setattr(bulk, "_BULK_CHUNK", 2)
    heard: list[tuple[str, int, int | None]] = []
    original = import_runner.OpeningImportRunner._progress

    async def spy(self: Any, import_id: int, phase: str, done: int, total: Any, **kw: Any) -> None:
        heard.append((phase, done, total))
        await original(self, import_id, phase, done, total, **kw)

    monkeypatch.setattr(import_runner.OpeningImportRunner, "_progress", spy)
    path = files.csv_file(tmp_path / "big.csv", ROWS)
    # when the dry run, then the commit, are uploaded
    dry = await _upload(client, manager_headers, path, warehouse_id)
    assert dry.status_code == 202, dry.text
    assert dry.json()["status"] == "queued"
    checked = await _finished(client, app, manager_headers, dry.headers["location"])
    assert checked["status"] == "succeeded"
    assert checked["report"]["rows"] == 5
    assert checked["report"]["document"] is None
    assert await _counts(sessions) == (0, 0, 0)
    accepted = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
    assert accepted.status_code == 202, accepted.text
    state = await _finished(client, app, manager_headers, accepted.json()["url"])
    # then every row was received as one posted receipt, progress went up to the total
    assert state["status"] == "succeeded", state
    assert (state["rows_done"], state["rows_total"], state["phase"]) == (5, 5, "done")
    assert state["report"]["document"]["status"] == "posted"
    assert state["document_id"] == state["report"]["document"]["id"]
    assert [(p, d) for p, d, _ in heard if p == "receiving"] == [
        ("receiving", 0),
        ("receiving", 2),
        ("receiving", 4),
        ("receiving", 5),
    ]
    assert await _counts(sessions) == (5, 5, 1)
    async with sessions() as session:
        assert (await stock_verify.verify(session)).ok


async def test_a_failure_half_way_receives_nothing(
    client: httpx.AsyncClient,
    app: FastAPI,
    manager_headers: Headers,
    warehouse_id: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given a receipt that breaks after its first chunk was written
    monkeypatch.setattr(bulk, "_BULK_CHUNK", 2)
    original = import_runner.OpeningImportRunner._progress

    async def breaks(
        self: Any, import_id: int, phase: str, done: int, total: Any, **kw: Any
    ) -> None:
        if phase == "receiving" and done >= 2:
            raise RuntimeError("disk on fire")
        await original(self, import_id, phase, done, total, **kw)

    monkeypatch.setattr(import_runner.OpeningImportRunner, "_progress", breaks)
    path = files.csv_file(tmp_path / "big.csv", ROWS)
    # when
    accepted = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
    state = await _finished(client, app, manager_headers, accepted.json()["url"])
    # then the import failed and nothing at all was received
    assert state["status"] == "failed"
    assert "nothing was received" in state["message"]
    assert state["report"] is None
    assert await _counts(sessions) == (0, 0, 0)
    async with sessions() as session:
        assert (await stock_verify.verify(session)).ok


async def test_a_refused_background_import_keeps_the_problem(
    client: httpx.AsyncClient,
    app: FastAPI,
    manager_headers: Headers,
    warehouse_id: int,
    tmp_path: Path,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given a file with an unknown location on row 3
    rows = [*ROWS[:2], ["RES-1K", "NOWHERE", 1, "BG-X"], *ROWS[2:]]
    path = files.csv_file(tmp_path / "bad.csv", rows)
    # when it is committed
    accepted = await _upload(client, manager_headers, path, warehouse_id, dry_run=False)
    state = await _finished(client, app, manager_headers, accepted.json()["url"])
    # then it failed with the 422 the inline import answers; nothing was received
    assert state["status"] == "failed"
    assert state["problem"]["code"] == "import_rejected"
    assert state["problem"]["status"] == 422
    assert state["problem"]["errors"][0]["loc"] == ["rows", 3, "location"]
    assert await _counts(sessions) == (0, 0, 0)
    # and a hostile file is refused at once, before any import is queued
    bomb = await _upload(
        client, manager_headers, files.zip_bomb(tmp_path / "bomb.xlsx"), warehouse_id
    )
    assert bomb.status_code == 422
    assert bomb.json()["code"] == "zip_bomb"
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(OpeningImport)) == 1


async def test_status_rules_unknown_forbidden_and_stale(
    client: httpx.AsyncClient,
    manager_headers: Headers,
    operator_headers: Headers,
    warehouse_id: int,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    # given an import left running by a process that died long ago
    async with sessions() as session:
        row = await imports.queue_import(
            session, warehouse_id=warehouse_id, file_name="x.csv", dry_run=False, options={}
        )
        assert await imports.mark_running(session, import_id=row.id)
        assert not await imports.mark_running(session, import_id=row.id)
        await session.execute(
            update(OpeningImport).values(heartbeat_at=utcnow() - timedelta(hours=1))
        )
        await session.commit()
    # when its status is read, then it is failed as stale
    url = f"/api/v1/documents/imports/{row.id}"
    state = (await client.get(url, headers=manager_headers)).json()
    assert state["status"] == "failed"
    assert state["message"] == imports.STALE_MESSAGE
    async with sessions() as session:
        assert await imports.fail_abandoned(session, older_than=timedelta(seconds=1)) == 0
    # and unknown imports are 404, operators 403
    missing = await client.get("/api/v1/documents/imports/999999", headers=manager_headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "import_not_found"
    assert (await client.get(url, headers=operator_headers)).status_code == 403
