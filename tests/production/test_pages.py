"""BOM, job and alert pages: they render for the roles that may see them, with the forms
and scripts their behaviour needs, and no inline script or style."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import service as alert_service
from kosh.production import service as job_service
from tests.production.test_jobs import a_job, a_plant
from tests.support.fixtures import MakeUser
from tests.support.stock import a_part

Login = Callable[..., Awaitable[Any]]

HTML = {"accept": "text/html"}


def no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html
    assert "<style" not in html


async def test_pages_render(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    await a_part(session, "LOW-1", reorder_point=5)
    await alert_service.evaluate_alerts(session)
    manager = await make_user("manager")
    await login(client, manager)

    pages = {
        "/boms": "Import a BOM",
        "/boms/import": "js/bom-import.js",
        f"/boms/{plant.bom_id}": "rev C",
        "/jobs": "Plan a job",
        f"/jobs/{job_id}": "js/job-release.js",
        "/alerts": "LOW-1 is below its reorder point",
        "/": "Critical alerts",
    }
    for url, expected in pages.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        no_inline_code(response.text)

    detail = (await client.get(f"/jobs/{job_id}", headers=HTML)).text
    assert 'data-testid="confirm-release"' in detail  # managers may confirm over-planning
    assert 'data-part="CAP-100N" ' not in detail
    assert '<tr class="row-error" data-part="CAP-100N">' in detail


async def test_operator_sees_no_manager_forms(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    await job_service.release_job(session, job_id=job_id, confirm=True, may_confirm=True)
    operator = await make_user("operator")
    await login(client, operator)

    alerts = (await client.get("/alerts", headers=HTML)).text
    job = (await client.get(f"/jobs/{job_id}", headers=HTML)).text

    assert "Job J-1: CAP-100N short by 15" in alerts
    assert "ack-button" not in alerts
    assert 'data-testid="start-job"' in job
    assert "Cancel job" not in job


async def test_compare_page(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    plant = await a_plant(session)
    viewer = await make_user("viewer")
    await login(client, viewer)
    copy = await client.post(
        f"/api/v1/boms/{plant.bom_id}/copy",
        json={"revision": "D"},
        headers={"x-csrf-token": "x"},
    )
    assert copy.status_code == 403  # a viewer (here also without the CSRF token) is refused

    response = await client.get(
        f"/boms/compare?base={plant.bom_id}&other={plant.bom_id}", headers=HTML
    )

    assert response.status_code == 200
    assert "0 added, 0 removed, 0 changed, 2 unchanged" in response.text


async def test_plan_from_a_bom_and_kit_from_the_job_page(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    plant = await a_plant(session, cap_stock=10)
    job_id = await a_job(session, plant, "J-1", 25)
    await login(client, await make_user("operator"))

    bom_page = (await client.get(f"/boms/{plant.bom_id}", headers=HTML)).text
    form = (await client.get(f"/jobs?bom={plant.bom_id}", headers=HTML)).text
    job_page = (await client.get(f"/jobs/{job_id}", headers=HTML)).text
    not_a_number = await client.get("/jobs/abc", headers=HTML)
    unknown_bom = await client.get("/jobs?bom=999999", headers=HTML)

    assert f'href="/jobs?bom={plant.bom_id}#plan" data-testid="plan-job"' in bom_page
    assert 'id="assembly_part_number" name="assembly_part_number" type="search"' in form
    assert 'value="PB-100"' in form
    assert 'id="bom_revision" name="bom_revision"' in form
    assert 'value="C"' in form
    assert '<option value="PB-100" label="rev C · 2 lines">' in form
    assert 'data-testid="kit-all"' in job_page
    assert 'data-testid="kit-line-1"' in job_page
    assert 'data-offer-on="over_kit"' in job_page
    assert not_a_number.status_code == 404
    assert unknown_bom.status_code == 404
    no_inline_code(job_page)
    no_inline_code(form)
