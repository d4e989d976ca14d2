"""The manager dashboard (utilisation this week as SVG, late and at-risk jobs, who runs
what, held jobs), the operator dashboard (my queue, running, my time today) and the hold
page render from real data without inline code."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.production import service as job_service
from kosh.shopfloor import capacity, dashboards
from kosh.shopfloor import service as shopfloor_service
from tests.shopfloor.support import a_floor, a_released_job, operation_ids
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


async def test_dashboards_show_utilisation_risks_work_in_progress_and_holds(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    floor = await a_floor(session)
    today = capacity.today()
    request = job_service.CapacityRequest(start=today)
    booked = await a_released_job(session, floor, 300, capacity_request=request)
    late = await a_released_job(session, floor, 10, due=today - timedelta(1))
    risky = await a_released_job(session, floor, 10, due=today + timedelta(1))
    held = await a_released_job(session, floor, 200, capacity_request=request)
    await shopfloor_service.hold_job(session, job_id=held, reason="customer change")
    user = await make_user("operator")
    await shopfloor_service.create_employee(
        session,
        number="E-1",
        name="Ada Operator",
        department_code=floor.department,
        badge="B-1",
        user_id=user.id,
    )
    smt_op, _ = await operation_ids(session, booked)
    await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-1")

    # the figures
    rows = {r.code: r for r in await dashboards.utilisation(session)}
    assert rows[floor.smt].planned_minutes == 330
    assert rows[floor.smt].pct is not None
    risks = {r.job_id: r.late for r in await dashboards.jobs_at_risk(session)}
    assert risks == {late: True, risky: False}
    running = await dashboards.running(session)
    assert [(r.operation_id, r.employee) for r in running] == [(smt_op, "Ada Operator")]
    board = await dashboards.operator_board(session, user.id)
    assert [r.operation_id for r in board.running] == [smt_op]
    assert board.queue  # the other operations, in schedule order
    assert board.minutes_today >= 0
    nobody = await dashboards.operator_board(session, 999_999)
    assert nobody.employee is None

    # the pages
    await login(client, user)
    pages = {
        "/shopfloor/dashboard": 'data-testid="utilisation-chart"',
        "/shopfloor/my": 'data-testid="minutes-today"',
        f"/shopfloor/jobs/{held}/hold": 'data-testid="suggestions"',
        f"/shopfloor/jobs/{late}/hold": 'data-testid="hold"',
    }
    for url, expected in pages.items():
        response = await client.get(url, headers=HTML)
        assert response.status_code == 200, url
        assert expected in response.text, url
        assert inline_code(response.text) == [], url
    dashboard = (await client.get("/shopfloor/dashboard", headers=HTML)).text
    assert "Ada Operator" not in dashboard  # personal data: the number for non-managers
    assert "E-1" in dashboard
    await login(client, await make_user("manager"))
    dashboard = (await client.get("/shopfloor/dashboard", headers=HTML)).text
    assert "Ada Operator" in dashboard
    assert "customer change" in dashboard
    assert 'data-testid="dashboard-take-' in dashboard  # the held job's suggestions
    assert "late" in dashboard
    assert "at risk" in dashboard
    viewer = await make_user("viewer")
    await login(client, viewer)
    mine = await client.get("/shopfloor/my", headers=HTML)
    assert "not linked to an employee" in mine.text
