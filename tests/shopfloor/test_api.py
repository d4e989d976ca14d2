"""Shop-floor routes: the contract round trip, problem+json for refusals, and hostile input
(NUL bytes, huge numbers, unknown ids and codes, 25-hour days) answered 4xx, never 500,
with nothing half-applied."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import Department, Employee, TimeLog, WorkCentre
from tests.production.test_jobs import a_plant
from tests.shopfloor.support import a_floor, a_released_job, future_day, operation_ids

PROBLEM = "application/problem+json"


async def test_contract_round_trip(
    client: httpx.AsyncClient,
    session: AsyncSession,
    manager_headers: dict[str, str],
    admin_headers: dict[str, str],
) -> None:
    plant = await a_plant(session, cap_stock=1000)
    h = manager_headers
    made = await client.post("/api/v1/departments", json={"code": "SMT", "name": "SMT"}, headers=h)
    assert made.status_code == 201, made.text
    centre = await client.post(
        "/api/v1/work-centres",
        json={
            "code": "SMT-1",
            "name": "SMT line 1",
            "department_code": "SMT",
            "hours_per_day": {"mon": 8, "tue": 8, "wed": 8, "thu": 8, "fri": 8, "sat": 8, "sun": 8},
            "efficiency_pct": 50,
            "machines": [{"asset_number": "PNP-1", "status": "running"}],
        },
        headers=h,
    )
    assert centre.status_code == 201, centre.text
    assert centre.json()["calendar_code"] == "SMT-1"
    machine_id = centre.json()["machines"][0]["id"]
    employee = await client.post(
        "/api/v1/employees",
        json={"number": "E-7", "name": "Grace", "department_code": "SMT", "badge": "4711"},
        headers=h,
    )
    assert employee.status_code == 201, employee.text
    assert employee.json()["has_badge"] is True
    assert "4711" not in employee.text
    routing = await client.post(
        "/api/v1/routings",
        json={
            "assembly_part_number": plant.assembly,
            "operations": [
                {
                    "seq": 10,
                    "work_centre_code": "SMT-1",
                    "setup_minutes": 20,
                    "run_minutes_per_unit": "2.5",
                }
            ],
        },
        headers=h,
    )
    assert routing.status_code == 201, routing.text
    job = await client.post(
        "/api/v1/jobs",
        json={
            "number": "J-1",
            "assembly_part_number": plant.assembly,
            "qty": 40,
            "warehouse_id": plant.warehouse_id,
        },
        headers=h,
    )
    job_id = job.json()["id"]
    released = await client.post(f"/api/v1/jobs/{job_id}/release", headers=h)
    assert released.status_code == 200, released.text
    ops = await client.get(f"/api/v1/jobs/{job_id}/operations", headers=h)
    assert [(o["seq"], o["planned_minutes"]) for o in ops.json()["operations"]] == [(10, 120)]

    day = future_day()
    scheduled = await client.post(
        f"/api/v1/jobs/{job_id}/schedule", json={"start": day.isoformat()}, headers=h
    )
    assert scheduled.status_code == 200, scheduled.text
    load = await client.get(
        f"/api/v1/work-centres/SMT-1/load?from={day.isoformat()}&to={day.isoformat()}", headers=h
    )
    assert load.json()["periods"] == [
        {
            "start": day.isoformat(),
            "capacity_minutes": 240,
            "planned_minutes": 120,
            "capacity_hours": 4.0,
            "planned_hours": 2.0,
            "utilisation": 0.5,
        }
    ]
    # the scanner: start and finish by badge
    op = ops.json()["operations"][0]
    started = await client.post(
        "/api/v1/shopfloor/scan",
        json={"badge": "4711", "operation": op["barcode"], "action": "start"},
        headers=h,
    )
    assert started.status_code == 201, started.text
    assert started.json()["operation"]["status"] == "running"
    finished = await client.post(
        "/api/v1/shopfloor/scan",
        json={
            "badge": "4711",
            "operation": op["barcode"].lower(),
            "action": "finish",
            "good_qty": 39,
            "scrap_qty": 1,
        },
        headers=h,
    )
    assert finished.status_code == 201, finished.text
    assert finished.json()["operation"]["good_qty"] == 39
    assert finished.json()["operation"]["status"] == "done"
    # machine down through the API takes the booking off the plan
    down = await client.post(
        f"/api/v1/machines/{machine_id}/status",
        json={"status": "down", "reason": "broken"},
        headers=h,
    )
    assert down.status_code == 200, down.text
    assert down.json()["machine"]["status"] == "down"
    # health shows the shop floor section, without drift
    health = await client.get("/health/detailed", headers=admin_headers)
    assert health.json()["checks"]["shopfloor"]["capacity_drift"] == 0


async def test_over_capacity_is_a_409_problem_with_a_suggestion(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    day = future_day()
    big = await a_released_job(session, floor, 900)
    small = await a_released_job(session, floor, 100)
    body = {"start": day.isoformat(), "finish_by": day.isoformat()}
    ok = await client.post(f"/api/v1/jobs/{big}/schedule", json=body, headers=operator_headers)
    assert ok.status_code == 200, ok.text
    refused = await client.post(
        f"/api/v1/jobs/{small}/schedule", json=body, headers=operator_headers
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith(PROBLEM)
    problem = refused.json()
    assert problem["code"] == "over_capacity"
    assert problem["work_centre"] == floor.smt
    assert problem["free_minutes"] == 30
    assert problem["suggestion"] == {
        "start": day.isoformat(),
        "finish": (day + timedelta(1)).isoformat(),
    }


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/departments", {"code": "A\x00B", "name": "x"}),
        ("/api/v1/departments", {"code": "OK", "name": "nul\x00name"}),
        ("/api/v1/departments", {"code": "OK", "name": "x", "manager_user_id": 2**63}),
        ("/api/v1/employees", {"number": "E1", "name": "x", "department_code": "NOPE"}),
        (
            "/api/v1/employees",
            {"number": "E1", "name": "x", "department_code": "D", "badge": "\x00"},
        ),
        ("/api/v1/calendars", {"code": "C", "name": "x", "hours": {"mon": 25}}),
        ("/api/v1/calendars", {"code": "C", "name": "x", "hours": {"mon": "NaN"}}),
        ("/api/v1/calendars", {"code": "C", "name": "x", "hours": {"funday": 8}}),
        (
            "/api/v1/work-centres",
            {"code": "W", "name": "x", "department_code": "D", "hours_per_day": {"mon": -1}},
        ),
        (
            "/api/v1/work-centres",
            {"code": "W", "name": "x", "department_code": "D", "efficiency_pct": 10**30},
        ),
        (
            "/api/v1/routings",
            {
                "assembly_part_number": "NOPE",
                "operations": [{"seq": 1, "work_centre_code": "W", "run_minutes_per_unit": "1"}],
            },
        ),
        (
            "/api/v1/routings",
            {
                "assembly_part_number": "X",
                "operations": [
                    {"seq": 1, "work_centre_code": "W", "run_minutes_per_unit": "1e400"}
                ],
            },
        ),
        ("/api/v1/routings", {"assembly_part_number": "X", "operations": []}),
        ("/api/v1/jobs/999999/schedule", {"start": "2030-01-01"}),
        ("/api/v1/jobs/99999999999999/schedule", {"start": "2030-01-01"}),
        ("/api/v1/jobs/1/schedule", {"start": "not a date"}),
        ("/api/v1/jobs/1/schedule", {"start": "9999-12-31"}),
        ("/api/v1/operations/999999/start", {"badge": "x"}),
        ("/api/v1/operations/0/start", {"badge": "x"}),
        ("/api/v1/operations/1/finish", {"badge": "x", "good_qty": 10**12}),
        ("/api/v1/operations/1/pause", {"badge": "x", "good_qty": -1}),
        ("/api/v1/shopfloor/scan", {"badge": "x", "operation": "OP-\x00", "action": "start"}),
        (
            "/api/v1/shopfloor/scan",
            {"badge": "x", "operation": "OP-99999999999", "action": "start"},
        ),
        ("/api/v1/shopfloor/scan", {"badge": "x", "operation": "OP-1", "action": "explode"}),
        # superscript digits pass str.isdigit but not int()
        ("/api/v1/shopfloor/scan", {"badge": "x", "operation": "¹", "action": "finish"}),
        ("/api/v1/shopfloor/scan", {"badge": "x", "operation": "OP-²³", "action": "start"}),
        ("/api/v1/machines/999999/status", {"status": "down", "reason": "x"}),
        ("/api/v1/machines/1/status", {"status": "on fire"}),
        ("/api/v1/time-logs/999999/correct", {"reason": "x"}),
        ("/api/v1/routings/999999/copy", {"revision": "B"}),
        ("/api/v1/schedule", {"job_ids": [], "start": "2030-01-01", "finish_by": "2030-01-02"}),
        (
            "/api/v1/schedule",
            {"job_ids": list(range(1, 2002)), "start": "2030-01-01", "finish_by": "2030-01-02"},
        ),
        (
            "/api/v1/schedule",
            {"job_ids": [999999], "start": "2030-01-01", "finish_by": "2030-01-02"},
        ),
        ("/api/v1/schedule", {"job_ids": [1], "start": "2030-01-01", "finish_by": "2040-01-02"}),
        (
            "/api/v1/schedule",
            {"job_ids": [2**40], "start": "2030-01-01", "finish_by": "2030-01-02"},
        ),
    ],
)
async def test_hostile_input_is_a_4xx_problem_and_changes_nothing(
    client: httpx.AsyncClient,
    session: AsyncSession,
    manager_headers: dict[str, str],
    path: str,
    body: dict[str, object],
) -> None:
    response = await client.post(path, json=body, headers=manager_headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    await session.rollback()
    for table in (Department, Employee, WorkCentre, TimeLog):
        assert await session.scalar(select(func.count()).select_from(table)) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/work-centres/NOPE/load",
        "/api/v1/work-centres/%00/load",
        "/api/v1/work-centres/NOPE",
        "/api/v1/calendars/NOPE",
        "/api/v1/jobs/999999/operations",
        "/api/v1/routings/999999",
        "/api/v1/employees/2147483648",
        "/api/v1/operations/999999/time-logs",
    ],
)
async def test_unknown_things_are_404_or_422(
    client: httpx.AsyncClient, manager_headers: dict[str, str], path: str
) -> None:
    response = await client.get(path, headers=manager_headers)
    assert response.status_code in (404, 422), response.text
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_load_window_is_bounded(
    client: httpx.AsyncClient, session: AsyncSession, manager_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    far = await client.get(
        f"/api/v1/work-centres/{floor.smt}/load?from=2030-01-01&to=2099-01-01",
        headers=manager_headers,
    )
    assert far.status_code == 422
    backwards = await client.get(
        f"/api/v1/work-centres/{floor.smt}/load?from=2030-01-02&to=2030-01-01",
        headers=manager_headers,
    )
    assert backwards.status_code == 422
    huge = await client.get(
        f"/api/v1/work-centres/{floor.smt}/load?from=99999-01-01", headers=manager_headers
    )
    assert huge.status_code == 422
    last = await client.get(
        f"/api/v1/work-centres/{floor.smt}/load?from=9999-12-31", headers=manager_headers
    )
    assert last.status_code == 422


async def test_roles(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 5)
    (smt_op, _) = await operation_ids(session, job_id)
    refused = await client.post(
        "/api/v1/departments", json={"code": "X", "name": "x"}, headers=operator_headers
    )
    assert refused.status_code == 403
    employees = await client.get("/api/v1/employees", headers=operator_headers)
    assert employees.status_code == 403  # personal data: managers only
    anonymous = await client.post(f"/api/v1/operations/{smt_op}/start", json={"badge": "x"})
    assert anonymous.status_code == 401


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/api/v1/employees/999999", {"version": 1, "name": "x"}),
        ("PATCH", "/api/v1/employees/1", {"version": 0}),
        ("PATCH", "/api/v1/employees/1", {"version": 1, "badge": "a\x00"}),
        ("PUT", "/api/v1/calendars/NOPE/hours", {"version": 1, "hours": {"mon": 8}}),
        ("PUT", "/api/v1/calendars/C/hours", {"version": 1, "hours": {"mon": 24.01}}),
        ("PUT", "/api/v1/calendars/NOPE/days", {"day": "2030-01-01", "hours": 0}),
        ("PUT", "/api/v1/calendars/C/days", {"day": "2030-02-30", "hours": 0}),
        ("PUT", "/api/v1/work-centres/NOPE/efficiency", {"version": 1, "efficiency_pct": 90}),
        ("PUT", "/api/v1/work-centres/W/efficiency", {"version": 1, "efficiency_pct": 0}),
        ("POST", "/api/v1/work-centres/NOPE/machines", {"asset_number": "A"}),
        ("POST", "/api/v1/work-centres/W/machines", {"asset_number": "A", "status": "gone"}),
    ],
)
async def test_hostile_updates_are_4xx(
    client: httpx.AsyncClient,
    manager_headers: dict[str, str],
    method: str,
    path: str,
    body: dict[str, object],
) -> None:
    response = await client.request(method, path, json=body, headers=manager_headers)
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_stale_versions_are_409(
    client: httpx.AsyncClient, session: AsyncSession, manager_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    ok = await client.put(
        f"/api/v1/work-centres/{floor.smt}/efficiency",
        json={"version": 1, "efficiency_pct": 90},
        headers=manager_headers,
    )
    assert ok.status_code == 200, ok.text
    stale = await client.put(
        f"/api/v1/work-centres/{floor.smt}/efficiency",
        json={"version": 1, "efficiency_pct": 80},
        headers=manager_headers,
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "stale_version"
    calendar = await client.put(
        f"/api/v1/calendars/{floor.calendar}/hours",
        json={"version": 7, "hours": {"mon": 4}},
        headers=manager_headers,
    )
    assert calendar.status_code == 409


async def test_a_replayed_scan_changes_nothing(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    floor = await a_floor(session)
    job_id = await a_released_job(session, floor, 5)
    smt_op, _ = await operation_ids(session, job_id)
    await shopfloor_service.create_employee(
        session, number="E-1", name="E", department_code=floor.department, badge="B-1"
    )
    body = {"badge": "B-1", "operation": f"OP-{smt_op}", "action": "start"}
    headers = {**operator_headers, "idempotency-key": "scan-1"}
    first = await client.post("/api/v1/shopfloor/scan", json=body, headers=headers)
    again = await client.post("/api/v1/shopfloor/scan", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers.get("idempotent-replayed") == "true"
    assert again.json() == first.json()
    await session.rollback()
    assert await session.scalar(select(func.count()).select_from(TimeLog)) == 1
