"""Departments and employees.

Employees are personal data. Their name, badge code and user link are stored in the
`employees` table and nowhere else: audit events about an employee carry its id and
number and the *names* of the fields that changed, never the values of `name` or
`badge_code`; time logs refer to the employee id. A GDPR export reads one row, an erase
blanks one row (see docs/runbook.md, "Shop floor").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.auth import service as auth_service
from kosh.core import audit
from kosh.core.db import transactional, utcnow
from kosh.core.errors import ConflictError, RuleViolationError, ValidationError, field_error
from kosh.shopfloor.errors import not_found
from kosh.shopfloor.models import Department, Employee, EmployeeWorkCentre, TimeLog, WorkCentre

# Fields of `employees` holding personal data: audited by name only.
PERSONAL_FIELDS = ("name", "badge_code", "user_id")


# --- lookups ----------------------------------------------------------------------------


async def get_department_by_code_or_raise(
    session: AsyncSession, code: str, *, loc: str = "department_code"
) -> Department:
    department = await session.scalar(select(Department).where(Department.code == code))
    if department is None:
        raise not_found("department", code, code="department_not_found", loc=loc)
    return department


async def get_employee_or_raise(session: AsyncSession, employee_id: int) -> Employee:
    employee = await session.get(Employee, employee_id)
    if employee is None:
        raise not_found("employee with id", employee_id, code="employee_not_found")
    return employee


async def find_operator(
    session: AsyncSession, *, badge: str | None = None, employee_number: str | None = None
) -> Employee:
    """The active employee with this badge code or number.

    404 employee_not_found for an unknown badge or number (the badge is not echoed back);
    422 employee_inactive; 422 validation_error when neither is given."""
    if badge:
        employee = await session.scalar(select(Employee).where(Employee.badge_code == badge))
        loc, key = "badge", "with this badge"
    elif employee_number:
        employee = await session.scalar(select(Employee).where(Employee.number == employee_number))
        loc, key = "employee_number", employee_number
    else:
        raise ValidationError(
            "Scan a badge or give an employee number.",
            errors=[field_error(["badge"], "badge or employee_number required")],
        )
    if employee is None:
        raise not_found("employee", key, code="employee_not_found", loc=loc)
    if not employee.active:
        raise RuleViolationError(
            f"Employee {employee.number} is inactive.",
            code="employee_inactive",
            errors=[field_error([loc], "is inactive")],
        )
    return employee


async def skills(session: AsyncSession, employee_id: int) -> list[int]:
    """Work-centre ids the employee may run (empty: any)."""
    rows = await session.scalars(
        select(EmployeeWorkCentre.work_centre_id)
        .where(EmployeeWorkCentre.employee_id == employee_id)
        .order_by(EmployeeWorkCentre.work_centre_id)
    )
    return list(rows)


async def list_departments(session: AsyncSession) -> list[Department]:
    return list(await session.scalars(select(Department).order_by(Department.code)))


async def list_employees(
    session: AsyncSession, *, department_id: int | None = None, limit: int = 50, offset: int = 0
) -> tuple[list[Employee], int]:
    query = select(Employee)
    if department_id is not None:
        query = query.where(Employee.department_id == department_id)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(query.order_by(Employee.number).limit(limit).offset(offset))
    return list(rows), int(total or 0)


def employee_audit(employee: Employee, changed: Sequence[str] = ()) -> dict[str, Any]:
    """What an audit event may hold about an employee: no personal values."""
    return {
        "number": employee.number,
        "department_id": employee.department_id,
        "active": employee.active,
        "has_badge": employee.badge_code is not None,
        "changed": sorted(changed),
    }


# --- use cases --------------------------------------------------------------------------


@transactional
async def create_department(
    session: AsyncSession, *, code: str, name: str, manager_user_id: int | None = None
) -> Department:
    """A new department. Rules: the code is new (409 department_code_taken); the manager,
    when given, is a KOSH user (404 user_not_found)."""
    if manager_user_id is not None:
        await auth_service.get_user_or_raise(session, manager_user_id)
    taken = await session.scalar(select(Department.id).where(Department.code == code))
    if taken is not None:
        raise _taken("department", "code", code)
    department = Department(code=code, name=name, manager_user_id=manager_user_id, version=1)
    session.add(department)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise _taken("department", "code", code) from exc
    await audit.record(
        session,
        action="department.create",
        entity_type="department",
        entity_id=department.id,
        after={"code": code, "name": name, "manager_user_id": manager_user_id},
    )
    return department


def _taken(what: str, field: str, value: str) -> ConflictError:
    return ConflictError(
        f"A {what} with this {field.replace('_', ' ')} exists already.",
        code=f"{what}_{field}_taken",
        errors=[field_error([field], "exists already")],
        details={field: value} if field != "badge" else None,
    )


async def _work_centre_ids(session: AsyncSession, codes: Sequence[str]) -> list[int]:
    wanted = sorted(set(codes))
    if not wanted:
        return []
    found = dict(
        (
            await session.execute(
                select(WorkCentre.code, WorkCentre.id).where(WorkCentre.code.in_(wanted))
            )
        ).all()
    )
    missing = [code for code in wanted if code not in found]
    if missing:
        raise not_found(
            "work centre", ", ".join(missing), code="work_centre_not_found", loc="work_centres"
        )
    return sorted(found.values())


async def _check_badge_free(session: AsyncSession, badge: str, employee_id: int | None) -> None:
    holder = await session.scalar(select(Employee.id).where(Employee.badge_code == badge))
    if holder is not None and holder != employee_id:
        raise _taken("employee", "badge", badge)


@transactional
async def create_employee(
    session: AsyncSession,
    *,
    number: str,
    name: str,
    department_code: str,
    badge: str | None = None,
    user_id: int | None = None,
    work_centres: Sequence[str] = (),
) -> Employee:
    """A new employee. Rules: the number is new (409 employee_number_taken); the badge is
    not anyone else's (409 employee_badge_taken, the badge is not echoed); the department
    (404 department_not_found), the user (404) and the work centres (404
    work_centre_not_found) exist; a user is linked to one employee at most (409)."""
    department = await get_department_by_code_or_raise(session, department_code)
    if user_id is not None:
        await auth_service.get_user_or_raise(session, user_id)
        if await session.scalar(select(Employee.id).where(Employee.user_id == user_id)):
            raise _taken("employee", "user_id", str(user_id))
    if await session.scalar(select(Employee.id).where(Employee.number == number)):
        raise _taken("employee", "number", number)
    if badge:
        await _check_badge_free(session, badge, None)
    centre_ids = await _work_centre_ids(session, work_centres)
    employee = Employee(
        number=number,
        name=name,
        department_id=department.id,
        badge_code=badge or None,
        user_id=user_id,
        active=True,
        version=1,
    )
    session.add(employee)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise ConflictError(
            "An employee with this number, badge or user exists already.",
            code="employee_taken",
        ) from exc
    session.add_all(
        EmployeeWorkCentre(employee_id=employee.id, work_centre_id=wc) for wc in centre_ids
    )
    await session.flush()
    await audit.record(
        session,
        action="employee.create",
        entity_type="employee",
        entity_id=employee.id,
        after={**employee_audit(employee, PERSONAL_FIELDS), "work_centre_ids": centre_ids},
    )
    return employee


_UNSET: Any = object()


@transactional
async def update_employee(
    session: AsyncSession,
    *,
    employee_id: int,
    version: int,
    name: str | None = None,
    department_code: str | None = None,
    badge: str | None = _UNSET,
    active: bool | None = None,
    work_centres: Sequence[str] | None = None,
) -> Employee:
    """Change an employee. Rules: `version` is the current one (409 stale_version); the
    department and work centres exist (404); a new badge is free (409
    employee_badge_taken); `badge=None` removes the badge. The audit event names the
    changed fields only."""
    employee = await get_employee_or_raise(session, employee_id)
    if employee.version != version:
        raise ConflictError(
            "The employee was changed meanwhile; reload and try again.",
            code="stale_version",
            details={"version": employee.version},
        )
    changed: list[str] = []
    if name is not None and name != employee.name:
        employee.name = name
        changed.append("name")
    if department_code is not None:
        department = await get_department_by_code_or_raise(session, department_code)
        if department.id != employee.department_id:
            employee.department_id = department.id
            changed.append("department_id")
    if badge is not _UNSET and (badge or None) != employee.badge_code:
        if badge:
            await _check_badge_free(session, badge, employee.id)
        employee.badge_code = badge or None
        changed.append("badge_code")
    if active is not None and active != employee.active:
        employee.active = active
        changed.append("active")
    if work_centres is not None:
        centre_ids = await _work_centre_ids(session, work_centres)
        if centre_ids != await skills(session, employee.id):
            await session.execute(
                delete(EmployeeWorkCentre).where(EmployeeWorkCentre.employee_id == employee.id)
            )
            session.add_all(
                EmployeeWorkCentre(employee_id=employee.id, work_centre_id=wc) for wc in centre_ids
            )
            changed.append("work_centres")
    if changed:
        employee.version += 1
        employee.updated_at = utcnow()
        try:
            await session.flush()
        except IntegrityError as exc:
            raise ConflictError("That badge is taken.", code="employee_badge_taken") from exc
        await audit.record(
            session,
            action="employee.update",
            entity_type="employee",
            entity_id=employee.id,
            after=employee_audit(employee, changed),
        )
    return employee


# --- personal data: what a GDPR export or erase works with --------------------------------


async def personal_data(session: AsyncSession, employee_id: int) -> dict[str, Any]:
    """Everything KOSH holds about an employee as a person (404 employee_not_found): the
    personal fields of their row, and the ids of their time logs (which hold no personal
    values themselves)."""
    employee = await get_employee_or_raise(session, employee_id)
    logs = list(
        await session.scalars(
            select(TimeLog.id).where(TimeLog.employee_id == employee.id).order_by(TimeLog.id)
        )
    )
    return {
        "employee_id": employee.id,
        "number": employee.number,
        **{field: getattr(employee, field) for field in PERSONAL_FIELDS},
        "work_centre_ids": await skills(session, employee.id),
        "time_log_ids": logs,
    }


ERASED_NAME = "(erased)"


@transactional
async def erase_employee(session: AsyncSession, *, employee_id: int) -> Employee:
    """Blank an employee's personal data: name, badge and user link; the employee becomes
    inactive. Time logs stay (by employee id) for the production history. Audited by field
    names only. 404 employee_not_found."""
    return await blank_personal_data(session, employee_id=employee_id)


async def blank_personal_data(session: AsyncSession, *, employee_id: int) -> Employee:
    """`erase_employee` inside the caller's transaction (the GDPR erasure's); never commits."""
    employee = await get_employee_or_raise(session, employee_id)
    employee.name = ERASED_NAME
    employee.badge_code = None
    employee.user_id = None
    employee.active = False
    employee.version += 1
    employee.updated_at = utcnow()
    await session.flush()
    await audit.record(
        session,
        action="employee.erase",
        entity_type="employee",
        entity_id=employee.id,
        after=employee_audit(employee, PERSONAL_FIELDS),
    )
    return employee
