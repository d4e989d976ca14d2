"""BOM import benchmark: time and peak memory to import 1k, 10k and 100k-row BOMs (xlsx
and csv), each validated and committed as one BOM, with the same files read by openpyxl
(xlsx) or the stdlib csv module (csv, which openpyxl cannot read) as the baseline.

Every measurement runs in its own process so its peak RSS is its own. The database is a
fresh PostgreSQL database (default, dropped afterwards) or SQLite with --sqlite; the
catalog is filled with the 100k part numbers first (not timed), so the import measures
reading, validating, resolving parts and inserting the lines.

    .venv/bin/python bench/bom_bench.py                 # PostgreSQL at 127.0.0.1:5432
    .venv/bin/python bench/bom_bench.py --sqlite
    .venv/bin/python bench/bom_bench.py --sizes 1000 10000
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

HEADER = ["Reference", "Qty", "Part Number", "Description", "Footprint", "Manufacturer"]
PG_SERVER = os.environ.get("KOSH_BENCH_PG", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")


def rows(count: int):  # type: ignore[no-untyped-def]
    """A grouped BOM: each line a distinct part, 1-4 designators matching its quantity."""
    yield HEADER
    for n in range(count):
        qty = 1 + n % 4
        first = 4 * n + 1
        refs = " ".join(f"R{first + k}" for k in range(qty))
        yield [refs, qty, f"P{n:06d}", f"Resistor {n} ohm 1%", "0402", "Yageo"]


def make_files(directory: Path, sizes: list[int]) -> dict[tuple[str, int], Path]:
    import openpyxl

    made = {}
    for size in sizes:
        path = directory / f"bom-{size}.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows(size))
        made[("csv", size)] = path
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("BOM")
        for row in rows(size):
            sheet.append(row)
        path = directory / f"bom-{size}.xlsx"
        book.save(path)
        made[("xlsx", size)] = path
    return made


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the measured children ----------------------------------------------------------------


def child_baseline(path: Path) -> dict[str, float]:
    import openpyxl

    started = time.perf_counter()
    count = 0
    if path.suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        for _row in book["BOM"].iter_rows(values_only=True):
            count += 1
        book.close()
    else:
        with path.open(newline="", encoding="utf-8") as handle:
            for _row in csv.reader(handle):
                count += 1
    return {"seconds": time.perf_counter() - started, "rows": count, "peak_mb": peak_rss_mb()}


def child_import(path: Path, database_url: str, revision: str) -> dict[str, float]:
    from kosh.bom import service as bom_service
    from kosh.bom.runner import ImportRunner
    from kosh.core.config import Settings
    from kosh.core.db import create_engine, create_session_factory

    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        database_url=database_url,
        data_dir=Path(tempfile.mkdtemp(prefix="kosh-bench-")),
        migrate_on_start=False,
        bom_max_upload_bytes=200 << 20,
        max_upload_bytes=200 << 20,
    )

    async def run() -> dict[str, float]:
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        runner = ImportRunner(sessions, settings)
        upload = settings.data_dir / "upload"
        shutil.copy(path, upload)
        started = time.perf_counter()
        async with sessions() as session:
            row = await bom_service.start_import(
                session,
                path=upload,
                request=bom_service.ImportRequest(
                    file_name=path.name,
                    dry_run=False,
                    assembly_part_number="BENCH-ASSY",
                    revision=revision,
                ),
                settings=settings,
                start=runner.start,
                user_id=None,
            )
        await runner.wait_idle()
        elapsed = time.perf_counter() - started
        async with sessions() as session:
            done = await bom_service.get_import(session, import_id=row.id, stale_after=_forever())
            outcome = (done.status, done.lines_count, done.error_count, done.message)
        await engine.dispose()
        if outcome[0] != "succeeded":
            raise SystemExit(f"import failed: {outcome}")
        return {"seconds": elapsed, "lines": float(outcome[1] or 0), "peak_mb": peak_rss_mb()}

    return asyncio.run(run())


def _forever():  # type: ignore[no-untyped-def]
    from datetime import timedelta

    return timedelta(days=1)


# --- the parent ---------------------------------------------------------------------------


async def prepare_database(url: str, parts: int) -> None:
    from sqlalchemy import insert

    from kosh.catalog.models import Part
    from kosh.core.config import Settings
    from kosh.core.db import create_engine
    from kosh.core.migrate import upgrade

    settings = Settings(_env_file=None, database_url=url)  # type: ignore[call-arg]
    engine = create_engine(settings)
    await upgrade(engine)
    async with engine.begin() as conn:
        now = __import__("datetime").datetime.now(__import__("datetime").UTC)
        batch = []
        for n in [-1, *range(parts)]:
            batch.append(
                {
                    "number": "BENCH-ASSY" if n < 0 else f"P{n:06d}",
                    "description": "bench part",
                    "unit": "pcs",
                    "reorder_point": 0,
                    "active": True,
                    "version": 1,
                    "created_at": now,
                    "updated_at": now,
                }
            )
            if len(batch) == 10_000:
                await conn.execute(insert(Part), batch)
                batch = []
        if batch:
            await conn.execute(insert(Part), batch)
    await engine.dispose()


def run_child(*args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "KOSH_LOG_LEVEL": "WARNING"},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--sqlite", action="store_true", help="use SQLite instead of PostgreSQL")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        kind, *rest = args.child
        if kind == "baseline":
            result = child_baseline(Path(rest[0]))
        else:
            result = child_import(Path(rest[0]), rest[1], rest[2])
        print(json.dumps(result))
        return

    workdir = Path(tempfile.mkdtemp(prefix="kosh-bom-bench-"))
    database = None
    try:
        if args.sqlite:
            url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
            engine_name = "SQLite"
        else:
            import asyncpg

            database = f"kosh_bench_{uuid.uuid4().hex[:8]}"
            plain = PG_SERVER.replace("postgresql+asyncpg://", "postgresql://")

            async def create() -> None:
                conn = await asyncpg.connect(plain)
                await conn.execute(f'CREATE DATABASE "{database}"')
                await conn.close()

            asyncio.run(create())
            url = PG_SERVER.rsplit("/", 1)[0] + "/" + database
            engine_name = "PostgreSQL"
        print(f"preparing {engine_name} with {max(args.sizes):,} parts and the test files…")
        asyncio.run(prepare_database(url, max(args.sizes)))
        files = make_files(workdir, args.sizes)
        print(
            f"\n{'rows':>8} {'format':>6} {'size MB':>8} | {'import s':>8} {'peak MB':>8} | "
            f"{'baseline':>9} {'base s':>7} {'peak MB':>8} | {'time ratio':>10}"
        )
        for size in args.sizes:
            for kind in ("xlsx", "csv"):
                path = files[(kind, size)]
                imported = run_child("import", str(path), url, f"{kind}-{size}")
                base = run_child("baseline", str(path))
                name = "openpyxl" if kind == "xlsx" else "csv mod"
                print(
                    f"{size:>8,} {kind:>6} {path.stat().st_size / 1_048_576:>8.1f} | "
                    f"{imported['seconds']:>8.2f} {imported['peak_mb']:>8.0f} | "
                    f"{name:>9} {base['seconds']:>7.2f} {base['peak_mb']:>8.0f} | "
                    f"{imported['seconds'] / base['seconds']:>9.2f}x"
                )
        print(
            "\nimport s: upload checks + read + validate + resolve parts + one commit of the "
            "BOM (background task);\nbaseline: reading the same rows only. Peak MB: the "
            "process's peak resident memory."
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
