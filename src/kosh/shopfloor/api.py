"""JSON routes of the shop floor. Anyone logged in reads work centres, load and job
operations; managers keep departments, employees, calendars, work centres and routings
and correct time logs; operators schedule jobs, set machine states and log their time."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth.deps import CurrentPrincipal, Manager, Operator
from kosh.core.deps import SessionDep
from kosh.core.errors import NotFoundError, field_error
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId
from kosh.shopfloor import api_holds, health, people, queries, routings, timelogs, workcentres
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import WEEKDAYS, Employee, Machine, Routing, ShiftCalendar, WorkCentre
from kosh.shopfloor.schemas import (
    BatchOutcomeRead,
    BatchScheduleIn,
    BatchScheduleRead,
    CalendarCreate,
    CalendarDayIn,
    CalendarDayRead,
    CalendarHours,
    CalendarRead,
    CapacityChangeRead,
    CorrectionIn,
    DepartmentCreate,
    DepartmentRead,
    EfficiencyIn,
    EmployeeCreate,
    EmployeePage,
    EmployeeRead,
    EmployeeUpdate,
    JobOperations,
    LoadPeriodRead,
    LoadRead,
    MachineIn,
    MachineRead,
    MachineStatusIn,
    MachineStatusRead,
    OperationRead,
    OperatorIn,
    OverloadRead,
    RoutingCopy,
    RoutingCreate,
    RoutingOperationRead,
    RoutingRead,
    ScanIn,
    ScanRead,
    ScheduleIn,
    ScheduleRead,
    StopIn,
    TimeLogRead,
    UnscheduleRead,
    WorkCentreCreate,
    WorkCentreRead,
    to_minutes,
)

router = APIRouter(prefix="/api/v1", tags=["shop floor"])
health.register()

CodePath = Annotated[
    str, Path(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$")
]


# --- shaping ----------------------------------------------------------------------------


async def employee_read(session: AsyncSession, employee: Employee) -> EmployeeRead:
    return EmployeeRead(
        id=employee.id,
        number=employee.number,
        name=employee.name,
        department_id=employee.department_id,
        user_id=employee.user_id,
        has_badge=employee.badge_code is not None,
        active=employee.active,
        work_centre_ids=await people.skills(session, employee.id),
        version=employee.version,
    )


async def work_centre_read(session: AsyncSession, centre: WorkCentre) -> WorkCentreRead:
    calendar = await session.get(ShiftCalendar, centre.calendar_id)
    return WorkCentreRead(
        id=centre.id,
        code=centre.code,
        name=centre.name,
        department_id=centre.department_id,
        calendar_code=calendar.code if calendar else "",
        efficiency_pct=centre.efficiency_pct,
        machines=[
            MachineRead.model_validate(m) for m in await workcentres.machines_of(session, centre.id)
        ],
        version=centre.version,
    )


async def calendar_read(session: AsyncSession, code: str) -> CalendarRead:
    calendar = await shopfloor_service.get_calendar_by_code_or_raise(session, code, loc="code")
    return CalendarRead(
        id=calendar.id,
        code=calendar.code,
        name=calendar.name,
        hours={day: getattr(calendar, f"{day}_minutes") / 60 for day in WEEKDAYS},
        exceptions=[
            CalendarDayRead(day=row.day, hours=row.minutes / 60, reason=row.reason)
            for row in await workcentres.calendar_exceptions(session, calendar.id)
        ],
        version=calendar.version,
    )


async def routing_read(session: AsyncSession, routing: Routing) -> RoutingRead:
    return RoutingRead(
        id=routing.id,
        assembly_part_id=routing.assembly_part_id,
        bom_id=routing.bom_id,
        revision=routing.revision,
        active=routing.active,
        notes=routing.notes,
        version=routing.version,
        operations=[
            RoutingOperationRead(
                seq=op.seq,
                work_centre_id=op.work_centre_id,
                name=op.name,
                setup_minutes=op.setup_minutes,
                run_minutes_per_unit=op.run_minutes_per_unit,
                instructions=op.instructions,
            )
            for op in await routings.routing_operations(session, routing.id)
        ],
    )


def operation_read(view: queries.OperationView) -> OperationRead:
    op = view.op
    return OperationRead(
        id=op.id,
        barcode=view.barcode,
        job_id=op.job_id,
        seq=op.seq,
        work_centre=view.work_centre_code,
        name=op.name,
        status=op.status,
        setup_minutes=op.setup_minutes,
        run_minutes_per_unit=op.run_minutes_per_unit,
        planned_minutes=op.planned_minutes,
        actual_minutes=view.actual.minutes,
        good_qty=view.actual.good_qty,
        scrap_qty=view.actual.scrap_qty,
        operators_on=view.actual.open_intervals,
        bookings=[{"day": day, "minutes": minutes} for day, minutes in view.bookings],
        version=op.version,
    )


async def job_operations_read(session: AsyncSession, job_id: int) -> JobOperations:
    views = await queries.job_operations_view(session, job_id)
    return JobOperations(job_id=job_id, operations=[operation_read(v) for v in views])


async def _operation_read(session: AsyncSession, operation_id: int) -> OperationRead:
    op = await shopfloor_service.get_operation_or_raise(session, operation_id)
    views = await queries.job_operations_view(session, op.job_id)
    return next(operation_read(v) for v in views if v.op.id == operation_id)


# --- departments and employees ----------------------------------------------------------


@router.post("/departments", response_model=DepartmentRead, status_code=201)
async def create_department(
    body: DepartmentCreate, _: Manager, session: SessionDep
) -> DepartmentRead:
    department = await shopfloor_service.create_department(session, **body.model_dump())
    return DepartmentRead.model_validate(department)


@router.get("/departments", response_model=list[DepartmentRead])
async def list_departments(_: CurrentPrincipal, session: SessionDep) -> list[DepartmentRead]:
    return [DepartmentRead.model_validate(d) for d in await people.list_departments(session)]


@router.post("/employees", response_model=EmployeeRead, status_code=201)
async def create_employee(body: EmployeeCreate, _: Manager, session: SessionDep) -> EmployeeRead:
    employee = await shopfloor_service.create_employee(session, **body.model_dump())
    return await employee_read(session, employee)


@router.get("/employees", response_model=EmployeePage)
async def list_employees(
    request: Request, _: Manager, session: SessionDep, page: PageDep
) -> EmployeePage:
    rows, total = await people.list_employees(session, limit=page.limit, offset=page.offset)
    return EmployeePage(
        items=[await employee_read(session, e) for e in rows],
        total=total,
        next=next_url(request, page, total),
    )


@router.get("/employees/{employee_id}", response_model=EmployeeRead)
async def get_employee(employee_id: PathId, _: Manager, session: SessionDep) -> EmployeeRead:
    return await employee_read(session, await people.get_employee_or_raise(session, employee_id))


@router.patch("/employees/{employee_id}", response_model=EmployeeRead)
async def update_employee(
    employee_id: PathId, body: EmployeeUpdate, _: Manager, session: SessionDep
) -> EmployeeRead:
    changes = body.model_dump(exclude={"remove_badge", "badge"}, exclude_unset=True)
    if body.remove_badge:
        changes["badge"] = None
    elif body.badge is not None:
        changes["badge"] = body.badge
    employee = await shopfloor_service.update_employee(session, employee_id=employee_id, **changes)
    return await employee_read(session, employee)


# --- calendars, work centres, machines --------------------------------------------------


@router.post("/calendars", response_model=CalendarRead, status_code=201)
async def create_calendar(body: CalendarCreate, _: Manager, session: SessionDep) -> CalendarRead:
    await shopfloor_service.create_calendar(
        session,
        code=body.code,
        name=body.name,
        minutes={day: to_minutes(hours) for day, hours in body.hours.items()},
    )
    return await calendar_read(session, body.code)


@router.get("/calendars/{code}", response_model=CalendarRead)
async def get_calendar(code: CodePath, _: CurrentPrincipal, session: SessionDep) -> CalendarRead:
    return await calendar_read(session, code)


@router.put("/calendars/{code}/hours", response_model=CapacityChangeRead)
async def update_calendar_hours(
    code: CodePath, body: CalendarHours, _: Manager, session: SessionDep
) -> CapacityChangeRead:
    change = await shopfloor_service.update_calendar_hours(
        session,
        code=code,
        version=body.version,
        minutes={day: to_minutes(hours) for day, hours in body.hours.items()},
    )
    return CapacityChangeRead(displaced_operation_ids=change.displaced)


@router.put("/calendars/{code}/days", response_model=CapacityChangeRead)
async def set_calendar_day(
    code: CodePath, body: CalendarDayIn, _: Manager, session: SessionDep
) -> CapacityChangeRead:
    """A holiday (hours 0) or another exception for one date; hours null removes it."""
    change = await shopfloor_service.set_calendar_day(
        session,
        code=code,
        day=body.day,
        minutes=None if body.hours is None else to_minutes(body.hours),
        reason=body.reason,
    )
    return CapacityChangeRead(displaced_operation_ids=change.displaced)


@router.post("/work-centres", response_model=WorkCentreRead, status_code=201)
async def create_work_centre(
    body: WorkCentreCreate, _: Manager, session: SessionDep
) -> WorkCentreRead:
    centre = await shopfloor_service.create_work_centre(
        session,
        code=body.code,
        name=body.name,
        department_code=body.department_code,
        calendar_code=body.calendar_code,
        hours_per_day=None
        if body.hours_per_day is None
        else {day: to_minutes(hours) for day, hours in body.hours_per_day.items()},
        efficiency_pct=body.efficiency_pct,
        machines=[shopfloor_service.MachineSpec(**m.model_dump()) for m in body.machines],
    )
    return await work_centre_read(session, centre)


@router.get("/work-centres", response_model=list[WorkCentreRead])
async def list_work_centres(_: CurrentPrincipal, session: SessionDep) -> list[WorkCentreRead]:
    return [
        await work_centre_read(session, c) for c in await workcentres.list_work_centres(session)
    ]


@router.get("/work-centres/{code}", response_model=WorkCentreRead)
async def get_work_centre(
    code: CodePath, _: CurrentPrincipal, session: SessionDep
) -> WorkCentreRead:
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, code)
    return await work_centre_read(session, centre)


@router.put("/work-centres/{code}/efficiency", response_model=CapacityChangeRead)
async def set_efficiency(
    code: CodePath, body: EfficiencyIn, _: Manager, session: SessionDep
) -> CapacityChangeRead:
    change = await shopfloor_service.set_efficiency(
        session, code=code, version=body.version, efficiency_pct=body.efficiency_pct
    )
    return CapacityChangeRead(displaced_operation_ids=change.displaced)


@router.post("/work-centres/{code}/machines", response_model=MachineRead, status_code=201)
async def add_machine(
    code: CodePath, body: MachineIn, _: Manager, session: SessionDep
) -> MachineRead:
    machine = await shopfloor_service.add_machine(
        session, work_centre_code=code, spec=shopfloor_service.MachineSpec(**body.model_dump())
    )
    return MachineRead.model_validate(machine)


@router.post("/machines/{machine_id}/status", response_model=MachineStatusRead)
async def set_machine_status(
    machine_id: PathId, body: MachineStatusIn, _: Operator, session: SessionDep
) -> MachineStatusRead:
    """Running, idle, down or maintenance (down and maintenance need a reason). Answers
    the operations taken off the plan because they no longer fit."""
    change = await shopfloor_service.set_machine_status(
        session, machine_id=machine_id, status=body.status, reason=body.reason, version=body.version
    )
    machine: Machine = await shopfloor_service.get_machine_or_raise(session, machine_id)
    return MachineStatusRead(
        machine=MachineRead.model_validate(machine), displaced_operation_ids=change.displaced
    )


@router.get("/work-centres/{code}/load", response_model=LoadRead)
async def work_centre_load(
    code: CodePath,
    _: CurrentPrincipal,
    session: SessionDep,
    start: Annotated[date | None, Query(alias="from")] = None,
    end: Annotated[date | None, Query(alias="to")] = None,
) -> LoadRead:
    """Capacity and planned hours per day (default: 14 days from today; at most 366)."""
    centre = await shopfloor_service.get_work_centre_by_code_or_raise(session, code)
    first, last = queries.load_window(start, end)
    periods = await queries.load(session, centre, first, last)
    return LoadRead(
        work_centre=centre.code,
        periods=[
            LoadPeriodRead(
                start=p.start,
                capacity_minutes=p.capacity_minutes,
                planned_minutes=p.planned_minutes,
                capacity_hours=p.capacity_hours,
                planned_hours=p.planned_hours,
                utilisation=p.utilisation,
            )
            for p in periods
        ],
    )


# --- routings, job operations, scheduling -----------------------------------------------


@router.post("/routings", response_model=RoutingRead, status_code=201)
async def create_routing(body: RoutingCreate, _: Manager, session: SessionDep) -> RoutingRead:
    routing = await shopfloor_service.create_routing(
        session,
        assembly_part_number=body.assembly_part_number,
        revision=body.revision,
        bom_id=body.bom_id,
        notes=body.notes,
        operations=[shopfloor_service.OperationSpec(**op.model_dump()) for op in body.operations],
    )
    return await routing_read(session, routing)


@router.get("/routings/{routing_id}", response_model=RoutingRead)
async def get_routing(routing_id: PathId, _: CurrentPrincipal, session: SessionDep) -> RoutingRead:
    return await routing_read(
        session, await shopfloor_service.get_routing_or_raise(session, routing_id)
    )


@router.post("/routings/{routing_id}/copy", response_model=RoutingRead, status_code=201)
async def copy_routing(
    routing_id: PathId, body: RoutingCopy, _: Manager, session: SessionDep
) -> RoutingRead:
    copy = await shopfloor_service.copy_routing(
        session, routing_id=routing_id, revision=body.revision
    )
    return await routing_read(session, copy)


@router.get("/jobs/{job_id}/operations", response_model=JobOperations)
async def get_job_operations(
    job_id: PathId, _: CurrentPrincipal, session: SessionDep
) -> JobOperations:
    """The job's operations: planned vs actual minutes, quantities, bookings."""
    return await job_operations_read(session, job_id)


@router.post("/jobs/{job_id}/operations", response_model=JobOperations, status_code=201)
async def generate_operations(job_id: PathId, _: Operator, session: SessionDep) -> JobOperations:
    """Create the operations from the routing now (release does it by itself)."""
    await shopfloor_service.generate_operations(session, job_id=job_id)
    return await job_operations_read(session, job_id)


@router.post("/jobs/{job_id}/schedule", response_model=ScheduleRead)
async def schedule_job(
    job_id: PathId, body: ScheduleIn, principal: Operator, session: SessionDep
) -> ScheduleRead:
    """Book the job's operations onto their work centres from `start`; 409 over_capacity
    (work centre, period, needed and free minutes, suggestion) when they do not fit by
    `finish_by` (default the due date), unless a manager confirms the overload or
    `propose_earliest` is asked."""
    plan = await shopfloor_service.schedule_job(
        session,
        job_id=job_id,
        start=body.start,
        finish_by=body.finish_by,
        direction=body.direction,
        confirm_over_capacity=body.confirm_over_capacity,
        may_confirm=principal.has_role("manager"),
        propose_earliest=body.propose_earliest,
    )
    ops = await job_operations_read(session, job_id)
    return ScheduleRead(
        **ops.model_dump(),
        start=plan.start,
        finish=plan.finish,
        direction=plan.direction,
        late=plan.late,
        overloads=[
            OverloadRead(work_centre_id=o.work_centre_id, day=o.day, minutes=o.minutes)
            for o in plan.overloads
        ],
    )


@router.post("/schedule", response_model=BatchScheduleRead)
async def schedule_jobs(
    body: BatchScheduleIn, _: Operator, session: SessionDep
) -> BatchScheduleRead:
    """Schedule up to 2,000 jobs in the order given, all to finish by `finish_by`; each
    job is booked whole or reported (over_capacity, invalid_status, no_operations)."""
    outcomes = await shopfloor_service.schedule_jobs(
        session, job_ids=body.job_ids, start=body.start, finish_by=body.finish_by
    )
    items = [
        BatchOutcomeRead(
            job_id=o.job_id, scheduled=o.scheduled, finish=o.finish, code=o.code, detail=o.detail
        )
        for o in outcomes
    ]
    done = sum(o.scheduled for o in outcomes)
    return BatchScheduleRead(items=items, scheduled=done, refused=len(items) - done)


@router.post("/jobs/{job_id}/unschedule", response_model=UnscheduleRead)
async def unschedule_job(job_id: PathId, _: Operator, session: SessionDep) -> UnscheduleRead:
    freed = await shopfloor_service.unschedule_job(session, job_id=job_id)
    return UnscheduleRead(job_id=job_id, freed_minutes=freed)


# --- operator time ----------------------------------------------------------------------


@router.post("/operations/{operation_id}/start", response_model=TimeLogRead, status_code=201)
async def start_operation(
    operation_id: PathId, body: OperatorIn, _: Operator, session: SessionDep
) -> TimeLogRead:
    row = await shopfloor_service.start_operation(
        session, operation_id=operation_id, badge=body.badge, employee_number=body.employee_number
    )
    return TimeLogRead.model_validate(row)


async def _stop(
    operation_id: int, body: StopIn, session: AsyncSession, *, finish: bool
) -> TimeLogRead:
    row = await shopfloor_service.stop_operation(
        session,
        operation_id=operation_id,
        badge=body.badge,
        employee_number=body.employee_number,
        good_qty=body.good_qty,
        scrap_qty=body.scrap_qty,
        finish=finish,
        reason=body.reason,
    )
    return TimeLogRead.model_validate(row)


@router.post("/operations/{operation_id}/pause", response_model=TimeLogRead, status_code=201)
async def pause_operation(
    operation_id: PathId, body: StopIn, _: Operator, session: SessionDep
) -> TimeLogRead:
    return await _stop(operation_id, body, session, finish=False)


@router.post("/operations/{operation_id}/finish", response_model=TimeLogRead, status_code=201)
async def finish_operation(
    operation_id: PathId, body: StopIn, _: Operator, session: SessionDep
) -> TimeLogRead:
    return await _stop(operation_id, body, session, finish=True)


@router.post("/shopfloor/scan", response_model=ScanRead, status_code=201)
async def scan(body: ScanIn, _: Operator, session: SessionDep) -> ScanRead:
    """The scanner page's one call: badge + operation barcode (OP-123) + action."""
    operation_id = queries.parse_operation_code(body.operation)
    if operation_id is None:
        raise NotFoundError(
            "That is not an operation barcode (OP-123).",
            code="operation_not_found",
            errors=[field_error(["operation"], "not an operation barcode")],
        )
    if body.action == "start":
        row = await shopfloor_service.start_operation(
            session,
            operation_id=operation_id,
            badge=body.badge,
            employee_number=body.employee_number,
        )
        read = TimeLogRead.model_validate(row)
    else:
        read = await _stop(operation_id, body, session, finish=body.action == "finish")
    operation = await _operation_read(session, operation_id)
    verb = {"start": "Started", "pause": "Paused", "finish": "Finished"}[body.action]
    return ScanRead(
        message=f"{verb} {operation.barcode} ({operation.name}).",
        time_log=read,
        operation=operation,
    )


@router.get("/operations/{operation_id}/time-logs", response_model=list[TimeLogRead])
async def list_time_logs(
    operation_id: PathId, _: Manager, session: SessionDep
) -> list[TimeLogRead]:
    await shopfloor_service.get_operation_or_raise(session, operation_id)
    return [TimeLogRead.model_validate(r) for r in await timelogs.time_logs(session, operation_id)]


@router.post("/time-logs/{log_id}/correct", response_model=list[TimeLogRead], status_code=201)
async def correct_time_log(
    log_id: PathId, body: CorrectionIn, _: Manager, session: SessionDep
) -> list[TimeLogRead]:
    """A reversal of the row and, unless all becomes zero, a manual row with the values."""
    rows = await shopfloor_service.correct_time_log(session, log_id=log_id, **body.model_dump())
    return [TimeLogRead.model_validate(r) for r in rows]


# the shop floor's other route modules, under the same prefix (app.py lists this router)
router.include_router(api_holds.router)
