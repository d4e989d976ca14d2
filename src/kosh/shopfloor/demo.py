"""Shop-floor demo data for `kosh demo-data`: a production department on a two-shift
calendar, three work centres (SMT line, hand assembly, test) with their machines, and a
routing for each demo assembly, all through the shop-floor use cases.

A re-run changes nothing: made only when department PROD is new."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core.errors import NotFoundError
from kosh.shopfloor import service as shopfloor_service
from kosh.shopfloor.models import WEEKDAYS

DEPARTMENT = "PROD"
CALENDAR = "TWO-SHIFT"
CENTRES = (
    ("SMT", "SMT line", (("SMT-PNP-01", "Pick and place"), ("SMT-REFLOW-01", "Reflow oven"))),
    ("ASSY", "Hand assembly", (("ASSY-BENCH-01", "Soldering bench"),)),
    ("TEST", "Test and inspection", (("TEST-ICT-01", "In-circuit tester"),)),
)
PLANNED_MACHINE = "SMT-REFLOW-01"  # the quality demo's preventive maintenance plan
ROUTINGS = (
    ("ASM-CTRL-V3", "C", (("SMT", "Place and reflow", 30, "0.8"), ("TEST", "ICT", 10, "1.5"))),
    ("ASM-TIMER-V1", "A", (("ASSY", "Hand solder", 10, "4"), ("TEST", "Function test", 5, "1"))),
)


async def load_shopfloor_demo(session: AsyncSession) -> list[str]:
    """Answers the codes of the work centres made (none on a re-run)."""
    try:
        await shopfloor_service.get_department_by_code_or_raise(session, DEPARTMENT)
    except NotFoundError:
        pass
    else:
        return []
    await shopfloor_service.create_department(session, code=DEPARTMENT, name="Production")
    weekdays = {day: 16 * 60 if day not in ("sat", "sun") else 0 for day in WEEKDAYS}
    await shopfloor_service.create_calendar(
        session, code=CALENDAR, name="Two shifts, Monday to Friday", minutes=weekdays
    )
    made = []
    for code, name, machines in CENTRES:
        await shopfloor_service.create_work_centre(
            session,
            code=code,
            name=name,
            department_code=DEPARTMENT,
            calendar_code=CALENDAR,
            machines=[
                shopfloor_service.MachineSpec(asset_number=asset, model=model)
                for asset, model in machines
            ],
        )
        made.append(code)
    for assembly, revision, operations in ROUTINGS:
        try:
            await shopfloor_service.create_routing(
                session,
                assembly_part_number=assembly,
                revision=revision,
                operations=[
                    shopfloor_service.OperationSpec(
                        seq=10 * (n + 1),
                        work_centre_code=centre,
                        name=step,
                        setup_minutes=setup,
                        run_minutes_per_unit=Decimal(run),
                    )
                    for n, (centre, step, setup, run) in enumerate(operations)
                ],
            )
        except NotFoundError:  # the BOM demo did not make the assembly
            continue
    return made
