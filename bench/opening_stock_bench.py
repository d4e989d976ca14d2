"""Opening-stock import benchmark: time and peak memory to read, dry-run and commit a CSV of
1k, 10k and 100k rows (part, location, qty, PCN) as one posted receipt document.

Every size runs in its own process (its peak RSS is its own) against a fresh PostgreSQL
database (default, dropped afterwards) or SQLite with --sqlite. The catalog (1,000 parts)
and the warehouse (500 bins) are prepared first and not timed. After the commit the child
checks `kosh verify` (no drift) and that the ledger holds one receive row per file row.

    .venv/bin/python bench/opening_stock_bench.py                 # PostgreSQL at 127.0.0.1
    .venv/bin/python bench/opening_stock_bench.py --sqlite --sizes 1000 10000
    KOSH_BENCH_PROFILE=/tmp/p.txt .venv/bin/python bench/opening_stock_bench.py --sizes 100000
        # the commit profiled with pyinstrument (pip install pyinstrument), text in /tmp/p.txt

The figures depend on the machine's load (print `uptime` with them): on a shared 2-core
box the PostgreSQL checkpoints other work triggers slow COPY down several-fold.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

PG_SERVER = os.environ.get("KOSH_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
PARTS = 1_000
BINS = 500


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_file(directory: Path, size: int) -> Path:
    path = directory / f"opening-{size}.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Part Number", "Location", "Qty", "PCN", "Supplier"])
        for n in range(size):
            writer.writerow(
                [f"P{n % PARTS:05d}", f"BIN-{n % BINS:04d}", 1 + n % 500, f"OS{size}-{n:07d}", "X"]
            )
    return path


async def prepare(url: str) -> int:
    from sqlalchemy import insert

    from kosh.catalog.models import Part
    from kosh.core.config import Settings
    from kosh.core.db import create_engine, create_session_factory, utcnow
    from kosh.core.migrate import upgrade
    from kosh.locations import service as location_service
    from kosh.locations.models import Location

    engine = create_engine(Settings(_env_file=None, database_url=url))  # type: ignore[call-arg]
    await upgrade(engine)
    async with create_session_factory(engine)() as session:
        warehouse = await location_service.create_warehouse(session, code="NEW", name="New")
        warehouse_id = warehouse.id
    now = utcnow()
    async with engine.begin() as conn:
        await conn.execute(
            insert(Part),
            [
                {
                    "number": f"P{n:05d}",
                    "description": "bench",
                    "unit": "pcs",
                    "reorder_point": 0,
                    "active": True,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(PARTS)
            ],
        )
        await conn.execute(
            insert(Location),
            [
                {
                    "warehouse_id": warehouse_id,
                    "code": f"BIN-{n:04d}",
                    "kind": "storage",
                    "description": "",
                    "active": True,
                    "created_at": now,
                }
                for n in range(BINS)
            ],
        )
    await engine.dispose()
    return int(warehouse_id)


def child(path: Path, url: str, warehouse_id: int) -> dict[str, float]:
    from sqlalchemy import func, select

    from kosh.bom import service as bom_service
    from kosh.core.config import Settings
    from kosh.core.db import create_engine, create_session_factory
    from kosh.documents import opening
    from kosh.documents.opening_file import read_opening_file
    from kosh.stock import verify as stock_verify
    from kosh.stock.models import StockTransaction

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=url,
        bom_max_upload_bytes=200 << 20,
        max_upload_bytes=200 << 20,
        db_statement_timeout_ms=600_000,
    )

    async def run() -> dict[str, float]:
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        limits = bom_service.file_limits(settings)
        started = time.perf_counter()
        parsed = await asyncio.to_thread(
            read_opening_file, path, limits=limits, max_rows=settings.bom_max_rows
        )
        read_s = time.perf_counter() - started
        async with sessions() as session:
            started = time.perf_counter()
            dry = await opening.import_opening_stock(
                session, parsed=parsed, file_name=path.name, warehouse_id=warehouse_id
            )
            dry_s = time.perf_counter() - started
            if dry.error_count:
                raise SystemExit(f"row errors: {dry.errors[:3]}")
            parsed = read_opening_file(path, limits=limits, max_rows=settings.bom_max_rows)
            profiler = None
            if os.environ.get("KOSH_BENCH_PROFILE"):
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="enabled")
                profiler.start()
            started = time.perf_counter()
            done = await opening.import_opening_stock(
                session,
                parsed=parsed,
                file_name=path.name,
                warehouse_id=warehouse_id,
                dry_run=False,
            )
            commit_s = time.perf_counter() - started
            if profiler is not None:
                profiler.stop()
                report_text = profiler.output_text()
                await asyncio.to_thread(
                    Path(os.environ["KOSH_BENCH_PROFILE"]).write_text, report_text
                )
            assert done.document is not None
            rows = await session.scalar(
                select(func.count()).where(StockTransaction.reference == done.document.number)
            )
            report = await stock_verify.verify(session)
        await engine.dispose()
        if rows != dry.rows or not report.ok:
            raise SystemExit(f"check failed: {rows} ledger rows, verify ok={report.ok}")
        return {
            "rows": float(dry.rows),
            "read_s": read_s,
            "dry_s": dry_s,
            "commit_s": commit_s,
            "peak_mb": peak_rss_mb(),
        }

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], int(args.child[2]))))
        return
    workdir = Path(tempfile.mkdtemp(prefix="kosh-opening-bench-"))
    database = None
    plain = PG_SERVER.replace("postgresql+asyncpg://", "postgresql://")
    try:
        if args.sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        else:
            import asyncpg

            database = f"kosh_bench_{uuid.uuid4().hex[:8]}"

            async def create() -> None:
                conn = await asyncpg.connect(plain)
                await conn.execute(f'CREATE DATABASE "{database}"')
                await conn.close()

            asyncio.run(create())
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + database
        warehouse_id = asyncio.run(prepare(url))
        print(f"{'rows':>8} | {'read s':>7} {'dry run s':>9} {'commit s':>9} | {'peak MB':>8}")
        for size in args.sizes:
            path = make_file(workdir, size)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(path), url, str(warehouse_id)],
                check=True,
                capture_output=True,
                text=True,
                env={**os.environ, "KOSH_LOG_LEVEL": "WARNING"},
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            print(
                f"{int(result['rows']):>8,} | {result['read_s']:>7.2f} {result['dry_s']:>9.2f} "
                f"{result['commit_s']:>9.2f} | {result['peak_mb']:>8.0f}"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if database:
            import asyncpg

            async def drop() -> None:
                conn = await asyncpg.connect(plain)
                await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
                await conn.close()

            asyncio.run(drop())


if __name__ == "__main__":
    main()
