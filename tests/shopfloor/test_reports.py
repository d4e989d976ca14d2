"""Shop-floor reports from the time logs: planned vs actual hours per job and work centre,
scrap rate per operation, throughput per day; pages with CSV and xlsx exports."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError, ValidationError
from kosh.shopfloor import capacity, reports
from kosh.shopfloor import service as shopfloor_service
from tests.shopfloor.support import a_floor, a_released_job, operation_ids
from tests.support.fixtures import MakeUser
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


async def a_finished_operation(session: AsyncSession) -> tuple[str, str]:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 10)
    smt_op, _ = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session, number="E-5", name="=cmd|calc", department_code=floor.department, badge="B-5"
    )
    await shopfloor_service.start_operation(session, operation_id=smt_op, badge="B-5")
    await shopfloor_service.stop_operation(
        session, operation_id=smt_op, badge="B-5", good_qty=9, scrap_qty=1, finish=True
    )
    return floor.smt, f"J-{job_id}"


async def test_reports_from_time_logs(session: AsyncSession) -> None:
    smt, _ = await a_finished_operation(session)
    jobs = await reports.report(session, "job_hours")
    assert len(jobs.rows) == 1
    assert jobs.rows[0][1:3] == [1, Decimal("0.67")]  # one operation, 40 min planned
    centres = await reports.report(session, "work_centre_hours")
    assert [row[0] for row in centres.rows] == [smt]
    scrap = await reports.report(session, "scrap")
    assert scrap.rows[0][4:] == [9, 1, Decimal("10.0")]
    throughput = await reports.report(session, "throughput")
    assert throughput.rows[0][:4] == [capacity.today().isoformat(), 1, 9, 1]  # + minutes
    empty = await reports.report(
        session, "scrap", capacity.today() - timedelta(60), capacity.today() - timedelta(40)
    )
    assert empty.rows == []
    with pytest.raises(NotFoundError):
        await reports.report(session, "nonsense")
    with pytest.raises(ValidationError):
        await reports.report(session, "scrap", capacity.today(), capacity.today() - timedelta(1))
    with pytest.raises(ValidationError):
        await reports.report(session, "scrap", capacity.today() - timedelta(400))
    assert reports.as_csv(scrap).startswith("\ufeffJob,Seq")
    assert reports._text("=1+1") == "'=1+1"
    assert reports._rate(0, 0) is None


async def test_report_pages_and_exports(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    from openpyxl import load_workbook

    await a_finished_operation(session)
    await login(client, await make_user("viewer"))
    index = await client.get("/shopfloor/reports", headers=HTML)
    assert index.status_code == 200
    for kind in reports.KINDS:
        page = await client.get(f"/shopfloor/reports/{kind}", headers=HTML)
        assert page.status_code == 200, kind
        assert 'data-testid="report"' in page.text
        assert inline_code(page.text) == []
    csv = await client.get("/shopfloor/reports/scrap?format=csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.headers["content-disposition"].startswith('attachment; filename="scrap-')
    assert "Place and reflow" in csv.text
    xlsx = await client.get("/shopfloor/reports/job_hours?format=xlsx")
    assert xlsx.status_code == 200
    assert xlsx.headers["content-disposition"].endswith('.xlsx"')
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert rows[0][0] == "Job"
    assert len(rows) == 2
    assert (await client.get("/shopfloor/reports/nonsense", headers=HTML)).status_code == 404
    bad = await client.get("/shopfloor/reports/scrap?format=pdf", headers=HTML)
    assert bad.status_code == 422
