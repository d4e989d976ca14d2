"""Where one pick (or receipt, or transfer) request spends its time: statements and CPU per
request, in process.

    .venv/bin/python bench/pick_profile.py                      # PostgreSQL, 300 picks
    .venv/bin/python bench/pick_profile.py --sqlite --picks 300
    .venv/bin/python bench/pick_profile.py --pyinstrument       # also print the call tree
    .venv/bin/python bench/pick_profile.py --operation receive  # or transfer

Builds a scratch database (its own, dropped at the end), one warehouse with 20 bins and
20 lots of one part, a bearer token with the write scope, then sends `--picks` one-unit
FIFO picks (`--operation receive`: receipts of one unit, each a new lot, to one bin;
`transfer`: one unit of a PCN between two bins, back and forth) with a fresh
Idempotency-Key each through the whole ASGI app (middleware,
authentication, the use case) with httpx's ASGI transport: no network, no load generator,
so the figures are the server's own cost. Counts every SQL statement the app sends
(pool pre-pings included) and the CPU time of the process per pick.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


async def main(args: argparse.Namespace) -> int:
    from kosh.app import create_app
    from kosh.auth import service as auth_service
    from kosh.auth import tokens as token_service
    from kosh.catalog import service as part_service
    from kosh.catalog.schemas import PartCreate
    from kosh.core.config import Settings
    from kosh.core.migrate import upgrade
    from kosh.locations import service as location_service
    from kosh.stock import service as stock_service

    workdir = Path(tempfile.mkdtemp(prefix="kosh-profile-"))
    name = f"pickprofile_{secrets.token_hex(4)}"
    if args.sqlite:
        url = f"sqlite+aiosqlite:///{workdir / 'kosh.db'}"
    else:
        conn = await asyncpg.connect(SERVER)
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()
        url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    try:
        settings = Settings(
            database_url=url,
            data_dir=workdir,
            secret_key=secrets.token_urlsafe(48),
            rate_limit="100000000/minute",
            user_rate_limit="100000000/minute",
            log_format="json",
            log_level="WARNING",
            migrate_on_start=False,
        )
        app = create_app(settings)
        engine = app.state.engine
        await upgrade(engine)
        async with app.state.sessions() as session:
            user = await auth_service.create_user(
                session, username="prof", password=secrets.token_urlsafe(16), role="operator"
            )
            token = (
                await token_service.create_token(
                    session, user_id=user.id, name="prof", scopes=["read", "write"], expires_at=None
                )
            ).raw_token
            await part_service.create_part(
                session, data=PartCreate(number="PROF-1", description="profiled part")
            )
            warehouse = await location_service.create_warehouse(session, code="PW", name="P")
            bins = [
                await location_service.create_location(
                    session, warehouse_id=warehouse.id, code=f"B{i}", kind="storage"
                )
                for i in range(20)
            ]
            receipts = [
                await stock_service.receive(
                    session, part_number="PROF-1", qty=100_000 + i, location_id=location.id
                )
                for i, location in enumerate(bins)
            ]
            warehouse_id = warehouse.id
            first_bin, second_bin, pcn = bins[0].id, bins[1].id, receipts[0].lot.pcn
        sent = Counter[str]()

        def request() -> tuple[str, dict[str, Any]]:
            """The next request of `--operation`."""
            sent[args.operation] += 1
            if args.operation == "receive":
                return "/api/v1/stock/receive", {
                    "part_number": "PROF-1",
                    "qty": 1,
                    "location_id": first_bin,
                }
            if args.operation == "transfer":
                there = sent[args.operation] % 2 == 0
                return "/api/v1/stock/transfer", {
                    "pcn": pcn,
                    "qty": 1,
                    "from_location_id": second_bin if there else first_bin,
                    "to_location_id": first_bin if there else second_bin,
                }
            return "/api/v1/stock/pick", {
                "part_number": "PROF-1",
                "qty": 1,
                "warehouse_id": warehouse_id,
                "reference": "PROFILE",
            }

        statements: Counter[str] = Counter()

        @event.listens_for(engine.sync_engine, "before_cursor_execute")
        def _count(*a: Any) -> None:
            sql = " ".join(str(a[2]).split())[:60]
            statements[sql] += 1
            if a[4] is not None and getattr(a[4], "compiled", None) is not None:
                stats = a[4]._get_cache_stats()
                if not stats.startswith("cached"):
                    statements[
                        f"<not from the statement cache: {stats.split(' ')[0]}> {sql[:30]}"
                    ] += 1

        @event.listens_for(engine.sync_engine.pool, "checkout")
        def _checkout(*a: Any) -> None:
            statements["<pool checkout (a pre-ping each when enabled)>"] += 1

        @event.listens_for(engine.sync_engine, "commit")
        def _commit(*a: Any) -> None:
            statements["<COMMIT>"] += 1

        @event.listens_for(engine.sync_engine, "rollback")
        def _rollback(*a: Any) -> None:
            statements["<ROLLBACK (or reset on return)>"] += 1

        transport = httpx.ASGITransport(app=app)
        headers = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(
            transport=transport, base_url="http://kosh", headers=headers
        ) as http:

            async def one() -> None:
                path, body = request()
                response = await http.post(
                    path, json=body, headers={"idempotency-key": uuid.uuid4().hex}
                )
                if response.status_code not in (200, 201):
                    raise SystemExit(f"{path} failed: {response.status_code} {response.text}")

            for _ in range(30):  # warm up: route preparation, statement caches
                await one()
            statements.clear()
            profiler = None
            if args.pyinstrument:
                from pyinstrument import Profiler

                profiler = Profiler(async_mode="enabled")
                profiler.start()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for _ in range(args.picks):
                await one()
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            if profiler is not None:
                profiler.stop()
        total = sum(n for sql, n in statements.items() if not sql.startswith("<"))
        engine_name = "SQLite" if args.sqlite else "PostgreSQL"
        what = {"pick": "pick", "receive": "receipt", "transfer": "transfer"}[args.operation]
        print(
            f"{engine_name}: {args.picks} {what}s, {total / args.picks:.1f} SQL statements per "
            f"{what}, {cpu / args.picks * 1000:.2f} ms CPU and {wall / args.picks * 1000:.2f} ms "
            f"wall per {what} (one client, in process)"
        )
        for sql, n in statements.most_common():
            print(f"  {n / args.picks:5.2f}  {sql}")
        if profiler is not None:
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        await engine.dispose()
    finally:
        if not args.sqlite:
            conn = await asyncpg.connect(SERVER)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--picks", type=int, default=300, help="requests to send")
    parser.add_argument("--operation", choices=("pick", "receive", "transfer"), default="pick")
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pyinstrument", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
