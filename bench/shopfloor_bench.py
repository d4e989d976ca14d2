"""Scheduling benchmark: 1,000 jobs x 5 operations over 20 work centres and 90 days.

    .venv/bin/python bench/shopfloor_bench.py                       # SQLite in a temp dir
    .venv/bin/python bench/shopfloor_bench.py --database-url postgresql+asyncpg://...
    .venv/bin/python bench/shopfloor_bench.py --jobs 200 --mode batch

Builds (untimed) 20 work centres on one calendar (8 h every day, two machines each), ten
assemblies with five-step routings over random work centres, and the jobs with their
operations. Then times scheduling every job forward from tomorrow with a 90-day finish
bound, one transaction per job through `schedule_job` as the API does (`--mode single`),
and all of them as one batch through `schedule_jobs` (`--mode batch`; `both` runs the
batch after the singles, so it reschedules). Checks that the load rows match the bookings
and no day is over capacity. A PostgreSQL database given must be empty; it keeps the data.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from kosh.bom.models import Bom, BomLine
from kosh.catalog import service as part_service
from kosh.catalog.schemas import PartCreate
from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory
from kosh.core.errors import ConflictError
from kosh.core.migrate import upgrade
from kosh.locations import service as location_service
from kosh.production import service as job_service
from kosh.shopfloor import capacity
from kosh.shopfloor import service as shopfloor_service

WORK_CENTRES = 20
ASSEMBLIES = 10
STEPS = 5
DAYS = 90


async def build(sessions, jobs: int, rng: random.Random) -> list[int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        warehouse = await location_service.create_warehouse(session, code="BW", name="Bench")
        warehouse_id = warehouse.id
        await shopfloor_service.create_department(session, code="PROD", name="Production")
        await shopfloor_service.create_calendar(
            session,
            code="SHIFT",
            name="8 h every day",
            minutes=dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat", "sun"), 480),
        )
        for n in range(WORK_CENTRES):
            await shopfloor_service.create_work_centre(
                session,
                code=f"WC{n:02d}",
                name=f"Work centre {n}",
                department_code="PROD",
                calendar_code="SHIFT",
                machines=[
                    shopfloor_service.MachineSpec(asset_number=f"A{n:02d}-{m}", status="running")
                    for m in range(2)
                ],
            )
        component = await part_service.create_part(
            session, data=PartCreate(number="BENCH-PART", description="component")
        )
        component_id = component.id
        for a in range(ASSEMBLIES):
            assembly = await part_service.create_part(
                session, data=PartCreate(number=f"ASSY-{a}", description="assembly")
            )
            bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="b")
            session.add(bom)
            await session.flush()
            session.add(BomLine(bom_id=bom.id, line_no=1, part_id=component_id, qty=1, refdes=""))
            await session.commit()
            await shopfloor_service.create_routing(
                session,
                assembly_part_number=f"ASSY-{a}",
                revision="A",
                operations=[
                    shopfloor_service.OperationSpec(
                        seq=10 * (s + 1),
                        work_centre_code=f"WC{rng.randrange(WORK_CENTRES):02d}",
                        setup_minutes=rng.randint(10, 45),
                        run_minutes_per_unit=Decimal(rng.choice(["0.5", "1", "1.5", "2"])),
                    )
                    for s in range(STEPS)
                ],
            )
        ids = []
        for j in range(jobs):
            job = await job_service.create_job(
                session,
                number=f"BJ-{j:05d}",
                assembly_part_number=f"ASSY-{rng.randrange(ASSEMBLIES)}",
                qty=rng.randint(5, 40),
                warehouse_id=warehouse_id,
            )
            ids.append(job.id)
            await shopfloor_service.generate_operations(session, job_id=job.id)
        return ids


async def main(database_url: str | None, jobs: int, mode: str = "both") -> None:
    rng = random.Random(2026)
    with tempfile.TemporaryDirectory() as tmp:
        url = database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
        engine = create_engine(settings)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        began = time.perf_counter()
        job_ids = await build(sessions, jobs, rng)
        print(f"setup: {jobs} jobs x {STEPS} operations in {time.perf_counter() - began:.1f} s")
        start = capacity.today() + timedelta(days=1)
        finish_by = start + timedelta(days=DAYS - 1)
        each: list[float] = []
        refused = 0
        began = time.perf_counter()
        for job_id in job_ids if mode != "batch" else []:
            t0 = time.perf_counter()
            async with sessions() as session:  # one session per job, as per request
                try:
                    await shopfloor_service.schedule_job(
                        session, job_id=job_id, start=start, finish_by=finish_by
                    )
                except ConflictError:
                    refused += 1
            each.append((time.perf_counter() - t0) * 1000)
        total = time.perf_counter() - began
        async with sessions() as session:
            drift = await capacity.drift(session)
        if each:
            print(
                f"one by one: scheduled {jobs - refused} of {jobs} jobs ({refused} refused "
                f"over_capacity) on {engine.dialect.name} in {total:.2f} s: "
                f"p50 {statistics.median(each):.1f} ms, "
                f"p95 {sorted(each)[int(len(each) * 0.95) - 1]:.1f} ms per job; drift {len(drift)}"
            )
        if mode == "single":
            await engine.dispose()
            return
        # the same jobs (again) as one batch (it replaces their bookings)
        began = time.perf_counter()
        async with sessions() as session:
            outcomes = await shopfloor_service.schedule_jobs(
                session, job_ids=job_ids, start=start, finish_by=finish_by
            )
        total = time.perf_counter() - began
        async with sessions() as session:
            drift = await capacity.drift(session)
        done = sum(o.scheduled for o in outcomes)
        print(
            f"one batch: scheduled {done} of {jobs} jobs on {engine.dialect.name} in "
            f"{total:.2f} s; drift {len(drift)}"
        )
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--mode", choices=("both", "single", "batch"), default="both")
    args = parser.parse_args()
    asyncio.run(main(args.database_url, args.jobs, args.mode))
