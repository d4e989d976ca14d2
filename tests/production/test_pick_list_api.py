"""The pick list over HTTP on a site with KOSH_KIT_SCAN_CONFIRM on: the list, a scan of
the expected PCN (replayed with its Idempotency-Key: picked once), a wrong PCN answered
409 naming the expected one, an override with a reason, "kit all" refused blind, and the
pages (job page offers the list instead of the blind kit all)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.config import Settings
from tests.production.test_kitting import PROBLEM, audited, picks_for
from tests.production.test_pages import HTML, no_inline_code
from tests.production.test_pick_list import _part_id, lots_and_job
from tests.support.fixtures import MakeUser

Login = Callable[..., Awaitable[Any]]


@pytest.fixture
def settings(base_settings: Settings) -> Settings:
    return base_settings.model_copy(update={"kit_scan_confirm": True})


async def test_scan_api_picks_refuses_and_audits(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    lots = await lots_and_job(session)
    base = f"/api/v1/jobs/{lots.job_id}"

    listed = await client.get(f"{base}/pick-list", headers=operator_headers)
    blind = await client.post(f"{base}/kit", headers=operator_headers)
    wrong = await client.post(
        f"{base}/lines/{lots.res_line}/scan", json={"scanned": lots.cap}, headers=operator_headers
    )
    younger = await client.post(
        f"{base}/lines/{lots.res_line}/scan",
        json={"scanned": lots.new_res},
        headers=operator_headers,
    )
    override = await client.post(
        f"{base}/lines/{lots.res_line}/scan",
        json={"scanned": lots.new_res, "reason": "label of the next lot faces out"},
        headers=operator_headers,
    )
    keyed = {**operator_headers, "idempotency-key": "scan-cap-1"}
    right = await client.post(
        f"{base}/lines/{lots.cap_line}/scan", json={"scanned": lots.cap.lower()}, headers=keyed
    )
    replay = await client.post(
        f"{base}/lines/{lots.cap_line}/scan", json={"scanned": lots.cap.lower()}, headers=keyed
    )
    empty = await client.post(
        f"{base}/lines/{lots.cap_line}/scan", json={"scanned": "  "}, headers=operator_headers
    )
    extra = await client.post(
        f"{base}/lines/{lots.cap_line}/scan",
        json={"scanned": lots.cap, "qty": 5},
        headers=operator_headers,
    )

    assert listed.status_code == 200
    body = listed.json()
    assert body["scan_confirm"] is True
    assert [(ln["part_number"], ln["outstanding"], ln["short"]) for ln in body["lines"]] == [
        ("RES-10K", 60, 0),
        ("CAP-100N", 30, 20),
    ]
    assert body["lines"][0]["suggestions"][0] == {
        "pcn": lots.old_res,
        "location_code": "BIN-1",
        "qty": 40,
    }
    assert (blind.status_code, blind.json()["code"]) == (409, "scan_confirm_required")
    assert blind.json()["pick_list"] == f"/jobs/{lots.job_id}/pick-list"
    assert (wrong.status_code, wrong.headers["content-type"]) == (409, PROBLEM)
    assert wrong.json()["code"] == "wrong_pcn"
    assert wrong.json()["expected_pcn"] == lots.old_res
    assert f"scan PCN {lots.old_res} from BIN-1" in wrong.json()["detail"]
    assert (younger.status_code, younger.json()["code"]) == (409, "not_fifo")
    assert override.status_code == 200
    assert (override.json()["pcn"], override.json()["qty"]) == (lots.new_res, 60)
    assert override.json()["overridden"] is True
    assert override.json()["line"]["outstanding"] == 0
    assert override.json()["message"] == (
        f"Line 1: picked 60 of RES-10K from PCN {lots.new_res} (BIN-2). Line done."
    )
    assert right.status_code == 200
    assert (right.json()["pcn"], right.json()["qty"]) == (lots.cap, 10)
    assert right.json()["line"]["outstanding"] == 20
    assert replay.json() == right.json()
    await session.rollback()  # a fresh snapshot: the requests committed in their own sessions
    picked = await picks_for(session, "J-1")
    assert picked[await _part_id(session, "RES-10K")] == 60
    assert picked[await _part_id(session, "CAP-100N")] == 10  # once, despite the replay
    [event] = await audited(session, "job.fifo_override")
    assert event.after["reason"] == "label of the next lot faces out"
    assert empty.status_code == 422
    assert extra.status_code == 422


async def test_job_page_sends_kit_all_through_the_pick_list(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    lots = await lots_and_job(session)
    operator = await make_user("operator")
    await login(client, operator)

    detail = await client.get(f"/jobs/{lots.job_id}", headers=HTML)
    listed = await client.get(f"/jobs/{lots.job_id}/pick-list", headers=HTML)
    missing = await client.get("/jobs/999999/pick-list", headers=HTML)

    assert detail.status_code == 200
    assert f'href="/jobs/{lots.job_id}/pick-list" data-testid="kit-all"' in detail.text
    assert f'data-api="/api/v1/jobs/{lots.job_id}/kit"' not in detail.text
    assert listed.status_code == 200
    no_inline_code(listed.text)
    assert "js/pick-list.js" in listed.text
    assert f"<code>{lots.old_res}</code></td><td>BIN-1</td>" in listed.text
    assert 'data-testid="pick-scan-1"' in listed.text
    assert "(20 not in storage)" in listed.text
    assert missing.status_code == 404
