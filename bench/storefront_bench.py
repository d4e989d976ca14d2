"""Storefront throughput on PostgreSQL: webhook intake, then applying the staged orders.

    .venv/bin/python bench/storefront_bench.py [--orders 10000] [--concurrency 32]

1. Creates a scratch database (KOSH_BENCH_PG_URL, default the local server), a warehouse,
   50 parts with stock, a WooCommerce store.
2. Starts `kosh serve` (one uvicorn process) and measures, at the same concurrency,
   a trivial endpoint (GET /health/live: the baseline of this machine, server and client)
   and then N signed webhook deliveries (distinct orders built from a real WooCommerce
   payload): rate, p50, p99; every delivery must be accepted and stored exactly once.
3. Times `kosh worker --once` applying all N staged orders, then stages N more and times
   two `kosh worker --once` processes sharing the queue; checks each order applied once.
   The time a worker needs to start and stop with nothing to do is measured and reported.

Prints the figures; drops the database at the end.
"""

# ruff: noqa: ASYNC210, ASYNC220, ASYNC251 - a benchmark driver: blocking calls
# happen between the measured phases, never inside them.

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.storefront.fakestore import delivery, load, wc_json  # noqa: E402
from tests.support.stock import a_part, a_site, stock_in  # noqa: E402

from kosh.core.config import Settings  # noqa: E402
from kosh.core.db import create_engine, create_session_factory  # noqa: E402
from kosh.core.migrate import upgrade  # noqa: E402
from kosh.storefront import intake  # noqa: E402
from kosh.storefront import service as storefront_service  # noqa: E402
from kosh.storefront import woocommerce as wc  # noqa: E402

PG = os.environ.get("KOSH_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105
STORE = "BENCH"
PARTS = [f"BENCH-{n:03d}" for n in range(50)]


def orders(first_id: int, count: int, seed: int) -> list[dict[str, Any]]:
    """`count` consistent WooCommerce orders (2 lines each from 50 SKUs)."""
    rng = random.Random(seed)
    template = load("order_727_processing_guest_docs_create_response.json")
    made = []
    for n in range(count):
        order = copy.deepcopy(template)
        order["id"] = order["number"] = first_id + n
        order["billing"]["email"] = f"buyer{rng.randrange(2000)}@example.com"
        lines_total = Decimal(0)
        for item, sku in zip(order["line_items"], rng.sample(PARTS, 2), strict=True):
            qty = rng.randint(1, 3)
            price = Decimal("5.00")
            item.update(
                sku=sku,
                quantity=qty,
                price=5,
                subtotal=f"{price * qty:.2f}",
                total=f"{price * qty:.2f}",
                subtotal_tax="0.00",
                total_tax="0.00",
            )
            lines_total += price * qty
        order["total_tax"] = order["cart_tax"] = "0.00"
        order["total"] = f"{lines_total + Decimal('10.00'):.2f}"
        made.append(order)
    return made


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def http_request(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    """One pre-serialised HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


async def load_test(
    port: int, requests: list[bytes], concurrency: int
) -> tuple[float, list[float], dict[int, int]]:
    """Send the pre-serialised requests over `concurrency` kept-alive connections (a minimal
    HTTP/1.1 client, so the load generator costs little CPU next to the server): wall
    seconds, latencies, statuses (-1 counts reconnects after the server closed a connection,
    whose request was then sent again, as WooCommerce redelivers)."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    queue = list(reversed(requests))

    async def run() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while queue:
                request = queue.pop()
                started = time.perf_counter()
                for attempt in range(5):
                    try:
                        writer.write(request)
                        head = await reader.readuntil(b"\r\n\r\n")
                        match = _LENGTH.search(head)
                        await reader.readexactly(int(match.group(1)) if match else 0)
                        break
                    except (ConnectionError, asyncio.IncompleteReadError):
                        statuses[-1] = statuses.get(-1, 0) + 1
                        writer.close()
                        if attempt == 4:
                            raise
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                latencies.append(time.perf_counter() - started)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(run() for _ in range(concurrency)))
    return time.perf_counter() - started, latencies, statuses


def worker_env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOSH_")}
    env.update(
        KOSH_DATABASE_URL=database_url,
        KOSH_DATA_DIR=str(data_dir),
        KOSH_SECRET_KEY=SECRET_KEY,
        KOSH_ADMIN_PASSWORD="bench-admin-password",  # noqa: S106
        KOSH_MIGRATE_ON_START="false",
        KOSH_LOG_LEVEL="INFO" if os.environ.get("BENCH_VERBOSE") else "WARNING",
        KOSH_LOG_FORMAT="json",
        KOSH_STOREFRONT_WEBHOOK_RATE_LIMIT="1000000/minute",
        KOSH_RATE_LIMIT="1000000/minute",
        KOSH_DB_POOL_SIZE="40",
    )
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the server does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def kosh() -> list[str]:
    script = Path(sys.executable).with_name("kosh")
    return [str(script)] if script.exists() else [sys.executable, "-m", "kosh.cli"]


def run_workers(count: int, env: dict[str, str], workdir: Path) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [*kosh(), "worker", "--once"],
            cwd=workdir,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for _ in range(count)
    ]
    for proc in procs:
        out, _ = proc.communicate(timeout=3600)
        if proc.returncode != 0:
            raise SystemExit(f"worker failed:\n{out.decode(errors='replace')[-3000:]}")
        lines = out.decode(errors="replace").strip().splitlines()
        shown = lines if os.environ.get("BENCH_VERBOSE") else lines[-1:]
        for line in shown:
            print("   ", line[:300])
    return time.perf_counter() - started


async def counts(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        staged = dict(
            await conn.fetch("SELECT status, count(*) FROM storefront_staged_orders GROUP BY 1")
        )
        staged["sales_orders"] = await conn.fetchval("SELECT count(*) FROM sales_orders")
        staged["distinct_web_orders"] = await conn.fetchval(
            "SELECT count(DISTINCT external_id) FROM sales_orders"
        )
        return staged
    finally:
        await conn.close()


async def main(args: argparse.Namespace) -> None:
    name = f"kosh_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG.replace("+asyncpg", ""))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = PG.rsplit("/", 1)[0] + f"/{name}"
    dsn = database_url.replace("+asyncpg", "")
    workdir = Path(tempfile.mkdtemp(prefix=name))
    server = None
    try:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=database_url,
            secret_key=SECRET_KEY,  # type: ignore[arg-type]
            migrate_on_start=False,
        )
        engine = create_engine(settings)
        await upgrade(engine)
        sessions = create_session_factory(engine)
        async with sessions() as session:
            site = await a_site(session, bins=1)
            for number in PARTS:
                await a_part(session, number, unit_cost=Decimal("5.00"))
                await stock_in(session, number, site.bin_ids[0], 1_000_000)
            store = await storefront_service.create_store(
                session,
                settings=settings,
                code=STORE,
                kind="woocommerce",
                base_url="http://127.0.0.1:9",
                webhook_secret=WEBHOOK_SECRET,
                warehouse_id=site.warehouse_id,
            )
            store_id = store.id

        env = worker_env(database_url, workdir / "data")
        idle = run_workers(1, env, workdir)
        print(f"worker start + stop with an empty queue: {idle:.2f} s")
        port = 18000 + random.randrange(1000)
        url = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*kosh(), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=workdir,
            env=env,
            stdout=(workdir / "server.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                if httpx.get(f"{url}/health/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start; see " + str(workdir / "server.log"))

        n, c = args.orders, args.concurrency
        print(
            f"KOSH storefront bench: {n} orders, concurrency {c}, PostgreSQL, "
            "1 uvicorn process, load generator in this process"
        )
        live = http_request("GET", "/health/live", None, {})
        await load_test(port, [live] * 500, c)  # warm up
        wall, lat, statuses = await load_test(port, [live] * n, c)
        baseline = n / wall
        print(
            f"baseline GET /health/live: {baseline:8.0f} req/s"
            f"  p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {percentile(lat, 99) * 1000:6.1f} ms"
            f"  {statuses}"
        )

        path = f"/api/v1/storefront/woocommerce/{STORE}/webhook"
        deliveries = []
        for order in orders(1_000_000, n, seed=1):
            body, headers = delivery(order, secret=WEBHOOK_SECRET, topic="order.created")
            deliveries.append(http_request("POST", path, body, headers))
        wall, lat, statuses = await load_test(port, deliveries, c)
        rate = n / wall
        print(
            f"webhook intake:            {rate:8.0f} req/s"
            f"  p50 {percentile(lat, 50) * 1000:6.1f} ms  p99 {percentile(lat, 99) * 1000:6.1f} ms"
            f"  {statuses}"
            f"  ({rate / baseline:.2f} x baseline)"
        )
        stored = await counts(dsn)
        assert statuses.get(200) == n, statuses
        assert stored.get("pending") == n, stored
        stop(server)
        server = None

        one = run_workers(1, env, workdir)
        print(
            f"1 worker applied {n} orders in {one:.1f} s: {n / one:.0f} orders/s "
            f"({n / max(one - idle, 0.001):.0f}/s without start-up)"
        )
        after_one = await counts(dsn)
        assert after_one.get("applied") == n, after_one

        second_batch = []
        for order in orders(2_000_000, n, seed=2):
            body = wc_json(order)
            key = wc.delivery_key(order, topic="order.created", delivery_id=None, body=body)
            assert key is not None
            second_batch.append((key, body))
        async with sessions() as session:
            await intake.stage_many(
                session, store_id=store_id, deliveries=second_batch, source="backfill"
            )
        two = run_workers(2, env, workdir)
        print(
            f"2 workers applied {n} orders in {two:.1f} s: {n / two:.0f} orders/s "
            f"({n / max(two - idle, 0.001):.0f}/s without start-up)"
        )
        final = await counts(dsn)
        print("final:", json.dumps(final))
        assert final.get("applied") == 2 * n, final
        assert final["sales_orders"] == final["distinct_web_orders"] == 2 * n, final
        await engine.dispose()
    finally:
        if server is not None:
            stop(server)
        admin = await asyncpg.connect(PG.replace("+asyncpg", ""))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=32)
    asyncio.run(main(parser.parse_args()))
