"""Shop-floor use cases, the one module other features import
(`from kosh.shopfloor import service as shopfloor_service`).

Each `@transactional` function is one transaction; the rules of each live in its
module's docstrings:
- people: departments and employees (personal data in `employees` only);
- workcentres: calendars, work centres, machines, and `change_machine_status`, which
  joins the caller's transaction (a maintenance ticket sets a machine down from its own
  use case) and answers the operations it took off the plan;
- routings: routings and the job operations made from them;
- scheduling: finite-capacity scheduling forward or backward (409 over_capacity with
  the earliest feasible finish; a manager's audited override; a release schedules);
- holds: a job on hold frees its capacity and answers what to run instead;
- batch: many jobs in one transaction, each all or nothing;
- timelogs: start / pause / finish by badge, immutable time logs, corrections;
- reservations: a machine kept for a planned maintenance window (capacity drops on
  those days; joins the caller's transaction).
"""

from __future__ import annotations

from kosh.shopfloor import subscribers  # noqa: F401 - job event subscribers (docs/adr/0002)
from kosh.shopfloor.batch import BatchOutcome, schedule_jobs
from kosh.shopfloor.holds import HoldView, Suggestion, hold_job, resume_job, take_suggestion
from kosh.shopfloor.people import (
    ERASED_NAME,
    blank_personal_data,
    create_department,
    create_employee,
    erase_employee,
    find_operator,
    get_department_by_code_or_raise,
    get_employee_or_raise,
    personal_data,
    update_employee,
)
from kosh.shopfloor.reservations import release_machine, reserve_machine
from kosh.shopfloor.routings import (
    OperationSpec,
    copy_routing,
    create_routing,
    generate_operations,
    get_routing_or_raise,
    job_operations,
    make_job_operations,
)
from kosh.shopfloor.scheduling import (
    JobSchedule,
    plan_job,
    release_job_capacity,
    schedule_job,
    unschedule_job,
)
from kosh.shopfloor.timelogs import (
    correct_time_log,
    get_operation_or_raise,
    start_operation,
    stop_operation,
)
from kosh.shopfloor.workcentres import (
    CapacityChange,
    MachineSpec,
    add_machine,
    calendar_exceptions,
    change_machine_status,
    create_calendar,
    create_work_centre,
    get_calendar_by_code_or_raise,
    get_machine_by_asset_or_raise,
    get_machine_or_raise,
    get_work_centre_by_code_or_raise,
    set_calendar_day,
    set_efficiency,
    set_machine_status,
    update_calendar_hours,
)

__all__ = [
    "ERASED_NAME",
    "BatchOutcome",
    "CapacityChange",
    "HoldView",
    "JobSchedule",
    "MachineSpec",
    "OperationSpec",
    "Suggestion",
    "add_machine",
    "blank_personal_data",
    "calendar_exceptions",
    "change_machine_status",
    "copy_routing",
    "correct_time_log",
    "create_calendar",
    "create_department",
    "create_employee",
    "create_routing",
    "create_work_centre",
    "erase_employee",
    "find_operator",
    "generate_operations",
    "get_calendar_by_code_or_raise",
    "get_department_by_code_or_raise",
    "get_employee_or_raise",
    "get_machine_by_asset_or_raise",
    "get_machine_or_raise",
    "get_operation_or_raise",
    "get_routing_or_raise",
    "get_work_centre_by_code_or_raise",
    "hold_job",
    "job_operations",
    "make_job_operations",
    "personal_data",
    "plan_job",
    "release_job_capacity",
    "release_machine",
    "reserve_machine",
    "resume_job",
    "schedule_job",
    "schedule_jobs",
    "set_calendar_day",
    "set_efficiency",
    "set_machine_status",
    "start_operation",
    "stop_operation",
    "take_suggestion",
    "unschedule_job",
    "update_calendar_hours",
    "update_employee",
]
