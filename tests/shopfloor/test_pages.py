"""Shop-floor pages render for a logged-in user, with the load chart as SVG (no inline
script or style), the job's operations with their barcodes, and the scanner form."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import service as shopfloor_service
from tests.shopfloor.support import a_floor, a_released_job, future_day, operation_ids
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


async def test_pages_render_without_inline_code(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given a scheduled job and a machine down
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 300)
    day = future_day(1)
    await shopfloor_service.schedule_job(session, job_id=job_id, start=day)
    await shopfloor_service.set_machine_status(
        session, machine_id=floor.machine_ids[1], status="maintenance", reason="PM"
    )
    smt_op, _ = await operation_ids(session, job_id)
    await login(client, await make_user("operator"))

    pages = {
        "/shopfloor": f"{floor.smt}",
        f"/shopfloor/load?work_centre={floor.smt}": 'data-testid="load-chart"',
        f"/shopfloor/jobs/{job_id}": f"OP-{smt_op}",
        "/shopfloor/scan": 'data-api="/api/v1/shopfloor/scan"',
        f"/shopfloor/jobs/{job_id}/traveller": f'data-testid="qr-OP-{smt_op}"',
        f"/jobs/{job_id}": f'href="/shopfloor/jobs/{job_id}"',
    }
    for url, expected in pages.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        assert inline_code(response.text) == [], url

    load = (await client.get(f"/shopfloor/load?work_centre={floor.smt}", headers=HTML)).text
    # a planned bar of 330 minutes on `day` against 480 (one machine in maintenance)
    assert f"{day.isoformat()}: 5.5 h planned of 8.0 h" in load
    assert len(re.findall(r'<rect class="bar-capacity"', load)) == 14
    assert "machine-maintenance" in (await client.get("/shopfloor", headers=HTML)).text


async def test_unknown_job_page_is_404(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    await login(client, await make_user("viewer"))
    response = await client.get("/shopfloor/jobs/999999", headers=HTML)
    assert response.status_code == 404
    huge = await client.get("/shopfloor/load?from=99999-01-01", headers=HTML)
    assert huge.status_code == 422


def test_traveller_qr_code_draws_the_dark_modules_of_the_barcode() -> None:
    import segno

    from kosh.shopfloor.traveller import qr_code

    code = qr_code("OP-12345")
    expected = segno.make_qr("OP-12345", error="m")
    width = len(list(expected.matrix_iter(scale=1, border=0)))
    assert code.size == width + 4
    # the path draws exactly the dark modules of segno's matrix
    dark = sum(cell for row in expected.matrix_iter(scale=1, border=0) for cell in row)
    runs = [int(part.split("h")[1].split("v")[0]) for part in code.path.split("M")[1:]]
    assert sum(runs) == dark
