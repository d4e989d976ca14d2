"""Where one webhook delivery and one applied web order spend their time: SQL statements and
CPU per delivery and per order, in process.

    .venv/bin/python bench/storefront_profile.py                 # PostgreSQL, 500 of each
    .venv/bin/python bench/storefront_profile.py --sqlite
    .venv/bin/python bench/storefront_profile.py --pyinstrument  # also print the call trees

Builds a scratch database (its own, dropped at the end), 50 parts with stock and a store,
then sends `--orders` signed deliveries of distinct orders through the whole ASGI app
(middleware, the intake route) with httpx's ASGI transport (no network, no load
generator: the server's own cost), and then applies them with one in-process worker
(`Worker.run(once=True)`). Counts every SQL statement sent, commits, and the CPU time of the
process per delivery and per applied order.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.storefront_bench import PARTS, STORE, WEBHOOK_SECRET, orders  # noqa: E402
from tests.storefront.fakestore import delivery  # noqa: E402
from tests.support.stock import a_part, a_site, stock_in  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


class Counting:
    """Statements (by their first words), commits and rollbacks sent through an engine."""

    def __init__(self, engine: Any) -> None:
        self.statements: Counter[str] = Counter()
        sync = engine.sync_engine
        event.listen(sync, "before_cursor_execute", self._statement)
        event.listen(sync, "commit", lambda *a: self._add("<COMMIT>"))
        event.listen(sync, "rollback", lambda *a: self._add("<ROLLBACK (or reset on return)>"))

    def _statement(self, *args: Any) -> None:
        self._add(" ".join(str(args[2]).split())[:70])

    def _add(self, key: str) -> None:
        self.statements[key] += 1

    def report(self, title: str, count: int, cpu: float, wall: float) -> None:
        sql = sum(n for key, n in self.statements.items() if not key.startswith("<"))
        print(
            f"{title}: {count}, {sql / count:.1f} SQL statements and"
            f" {self.statements['<COMMIT>'] / count:.2f} commits each,"
            f" {cpu / count * 1000:.2f} ms CPU and {wall / count * 1000:.2f} ms wall each"
        )
        for key, n in self.statements.most_common(25):
            print(f"  {n / count:6.2f}  {key}")
        self.statements.clear()


def profiler_for(enabled: bool) -> Any:
    if not enabled:
        return None
    from pyinstrument import Profiler

    profiler = Profiler(async_mode="enabled")
    profiler.start()
    return profiler


def show(profiler: Any) -> None:
    if profiler is not None:
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


async def main(args: argparse.Namespace) -> int:
    from kosh.app import create_app
    from kosh.core.config import Settings
    from kosh.core.migrate import upgrade
    from kosh.storefront import service as storefront_service
    from kosh.worker import Worker

    workdir = Path(tempfile.mkdtemp(prefix="kosh-profile-"))
    name = f"shopprofile_{secrets.token_hex(4)}"
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
            storefront_webhook_rate_limit="100000000/minute",
            log_format="json",
            log_level="WARNING",
            migrate_on_start=False,
            storefront_reconcile_hours=0.0,
        )
        app = create_app(settings)
        engine = app.state.engine
        await upgrade(engine)
        async with app.state.sessions() as session:
            site = await a_site(session, bins=1)
            for number in PARTS:
                await a_part(session, number, unit_cost=Decimal("5.00"))
                await stock_in(session, number, site.bin_ids[0], 1_000_000)
            await storefront_service.create_store(
                session,
                settings=settings,
                code=STORE,
                kind="woocommerce",
                base_url="http://127.0.0.1:9",
                webhook_secret=WEBHOOK_SECRET,
                warehouse_id=site.warehouse_id,
            )
        path = f"/api/v1/storefront/woocommerce/{STORE}/webhook"
        warm = [delivery(o, secret=WEBHOOK_SECRET, topic="order.created") for o in orders(1, 30, 9)]
        made = [
            delivery(o, secret=WEBHOOK_SECRET, topic="order.created")
            for o in orders(100_000, args.orders, 1)
        ]
        counting = Counting(engine)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kosh") as http:
            for body, headers in warm:  # route preparation, statement caches, the store cache
                assert (await http.post(path, content=body, headers=headers)).status_code == 200
            await Worker(settings, app.state.sessions, worker_id="warm").run(once=True)
            counting.statements.clear()
            profiler = profiler_for(args.pyinstrument)
            cpu0, wall0 = time.process_time(), time.perf_counter()
            for body, headers in made:
                response = await http.post(path, content=body, headers=headers)
                if response.status_code != 200:
                    raise SystemExit(f"delivery refused: {response.status_code} {response.text}")
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
            show(profiler)
        engine_name = "SQLite" if args.sqlite else "PostgreSQL"
        counting.report(f"{engine_name}, webhook deliveries", args.orders, cpu, wall)

        worker = Worker(settings, app.state.sessions, worker_id="profile")
        profiler = profiler_for(args.pyinstrument)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        stats = await worker.run(once=True)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        show(profiler)
        applied = stats.as_dict().get("applied", 0)
        if applied != args.orders:
            raise SystemExit(f"applied {applied} of {args.orders}: {stats.as_dict()}")
        counting.report(f"{engine_name}, applied web orders (one worker)", applied, cpu, wall)
        await engine.dispose()
    finally:
        if not args.sqlite:
            conn = await asyncpg.connect(SERVER)
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    return 0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--sqlite", action="store_true")
    parser.add_argument("--pyinstrument", action="store_true")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
