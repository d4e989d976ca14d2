"""Helpers for the BOM API tests: upload a file, wait for the background import."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from kosh.bom.runner import get_runner

Upload = Callable[..., Awaitable[httpx.Response]]
Finished = Callable[[int], Awaitable[dict[str, Any]]]


@pytest.fixture
def upload(client: httpx.AsyncClient, operator_headers: dict[str, str]) -> Upload:
    async def post(
        path: Path | None = None,
        *,
        content: bytes | None = None,
        name: str | None = None,
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> httpx.Response:
        data = {
            key: (value if isinstance(value, str) else str(value).lower())
            for key, value in fields.items()
            if value is not None
        }
        body = content if content is not None else path.read_bytes()  # type: ignore[union-attr]  # noqa: ASYNC240 - small test files
        return await client.post(
            "/api/v1/boms/imports",
            files={"file": (name or (path.name if path else "upload.xlsx"), body)},
            data=data,
            headers=headers or operator_headers,
        )

    return post


@pytest.fixture
def finished(app: FastAPI, client: httpx.AsyncClient, operator_headers: dict[str, str]) -> Finished:
    async def wait(import_id: int) -> dict[str, Any]:
        await get_runner(app).wait_idle()
        response = await client.get(f"/api/v1/boms/imports/{import_id}", headers=operator_headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        assert body["status"] in ("succeeded", "failed"), body
        return body

    return wait
