"""Storefront throughput on PostgreSQL: webhook intake, applying staged orders, and how long
the shop takes to agree with KOSH after many movements.

    .venv/bin/python bench/storefront_bench.py [--orders 10000] [--concurrency 64]
        [--seconds 10] [--movements 10000] [--shop-parts 1000] [--push-seconds 15]

Everything runs on 127.0.0.1 and stops by itself (every phase is bounded in count and time).

1. Creates a scratch database (KOSH_BENCH_PG_URL, default the local server), a warehouse,
   50 parts with stock for the orders, 1,000 more parts for the shop, a WooCommerce store
   pointing at the stand-in shop of tests/storefront/fakestore.py (served in this process).
2. Intake: starts KOSH under gunicorn with 2 uvicorn workers (the production entry point) and
   measures, with the same client and concurrency, the yardstick GET /health/live and then
   signed webhook deliveries of distinct orders built from a real WooCommerce payload:
   req/s, p50 / p95 / p99 and the ratio. The client is wrk (Debian's C load generator, a Lua
   script sending pre-signed deliveries) when installed, else a minimal Python HTTP/1.1 client
   (which then competes with the server for the 2 cores). Every acknowledged delivery must be
   stored exactly once.
3. Apply: times `kosh worker --once` applying every staged order, then stages as many again
   and times two `kosh worker --once` processes sharing the queue; every order applied once.
   The time a worker needs to start and stop with nothing to do is measured and reported.
4. Convergence (stock push): turns the store's stock push on, waits for the first full push,
   then makes `--movements` receipts spread over the shop's parts while a `kosh worker` runs,
   and reports how long after the last movement the shop's `stock_quantity` equals KOSH's
   availability for every product, and how many HTTP calls the shop received.

Prints the figures; drops the database at the end. On a shared machine the figures move
with the neighbours' load: compare a phase with its yardstick from the same run.
"""

# ruff: noqa: ASYNC220 - a benchmark driver: blocking calls
# happen between the measured phases, never inside them.

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests.storefront import fakestore  # noqa: E402
from tests.storefront.fakestore import delivery, load, wc_json  # noqa: E402
from tests.support.stock import a_part, a_site, stock_in  # noqa: E402

import kosh.wiring  # noqa: E402, F401 - the event subscribers (the stock push), as in the app
from kosh.core.config import Settings  # noqa: E402
from kosh.core.db import create_engine, create_session_factory  # noqa: E402
from kosh.core.migrate import upgrade  # noqa: E402
from kosh.storefront import intake, stockpush  # noqa: E402
from kosh.storefront import service as storefront_service  # noqa: E402
from kosh.storefront import woocommerce as wc  # noqa: E402

PG = os.environ.get("KOSH_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
SECRET_KEY = "bench-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"  # noqa: S105
WEBHOOK_SECRET = "bench-webhook-secret"  # noqa: S105
STORE = "BENCH"
PARTS = [f"BENCH-{n:03d}" for n in range(50)]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


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
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))] if ordered else 0.0


@dataclass
class Load:
    """One timed load phase: requests answered, seconds, statuses, latency percentiles (ms)."""

    requests: int
    seconds: float
    statuses: dict[int, int]
    p50: float
    p95: float
    p99: float
    errors: dict[str, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def line(self, name: str) -> str:
        return (
            f"{name:<28}{self.rate:8.0f} req/s  p50 {self.p50:6.1f} ms  p95 {self.p95:6.1f} ms"
            f"  p99 {self.p99:6.1f} ms  {self.statuses} {self.errors or ''}"
        )


# --- the Python client (fallback) ---------------------------------------------------------


def http_request(method: str, path: str, body: bytes | None, headers: dict[str, str]) -> bytes:
    """One pre-serialised HTTP/1.1 request (keep-alive)."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


_LENGTH = re.compile(rb"(?i)\r\ncontent-length: *(\d+)")


async def python_load(port: int, requests: list[bytes], concurrency: int) -> Load:
    """Send the pre-serialised requests once each over `concurrency` kept-alive connections
    (-1 counts reconnects after the server closed a connection; the request is sent again,
    as WooCommerce redelivers)."""
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
                latencies.append((time.perf_counter() - started) * 1000)
                status = int(head[9:12])
                statuses[status] = statuses.get(status, 0) + 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(run() for _ in range(concurrency))), timeout=600)
    return Load(
        len(latencies),
        time.perf_counter() - started,
        statuses,
        percentile(latencies, 50),
        percentile(latencies, 95),
        percentile(latencies, 99),
    )


# --- wrk ------------------------------------------------------------------------------------

WRK_SCRIPT = r"""
-- Sends the requests of REQUESTS_FILE (one per line: path TAB signature-or-dash TAB body),
-- each thread its own share, each once; a thread whose share ran out stops (its last
-- request, the yardstick path, may or may not be answered). With no lines it sends the
-- yardstick path until the time is up. Answers are told apart by their body: a delivery
-- stored ("accepted"), a delivery already stored ("duplicate"), anything else with 200
-- (the yardstick), and refusals. (The counters are globals: done() reads them with
-- thread:get.)
threads = {}
local lines = {}
local index, step = 0, 1
ok, dup, idle, other = 0, 0, 0, 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines("REQUESTS_FILE") do
    if line ~= "" then table.insert(lines, line) end
  end
  step = THREADS
  index = tid + 1
end

function request()
  local line = lines[index]
  if line == nil then
    if #lines > 0 then wrk.thread:stop() end
    return wrk.format("GET", "/health/live")
  end
  index = index + step
  local path, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
  if signature == "-" then
    return wrk.format("GET", path)
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["X-WC-Webhook-Topic"] = "order.created",
    ["X-WC-Webhook-Source"] = "https://shop.example.com/",
    ["X-WC-Webhook-Signature"] = signature,
  }, body)
end

function response(status, headers, body)
  if status ~= 200 then
    other = other + 1
  elseif body:find('"accepted"', 1, true) then
    ok = ok + 1
  elseif body:find('"duplicate"', 1, true) then
    dup = dup + 1
  else
    idle = idle + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_dup, total_idle, total_other = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_dup = total_dup + thread:get("dup")
    total_idle = total_idle + thread:get("idle")
    total_other = total_other + thread:get("other")
  end
  io.write(string.format(
    "KOSHWRK ok=%d dup=%d idle=%d other=%d requests=%d seconds=%.3f p50=%.3f p95=%.3f "
    .. "p99=%.3f connect=%d read=%d write=%d timeout=%d\n",
    total_ok, total_dup, total_idle, total_other, summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout))
end
"""


def wrk_load(
    port: int, lines: list[str], *, concurrency: int, seconds: float, workdir: Path
) -> Load:
    """wrk sends `lines` (see WRK_SCRIPT) for `seconds` over `concurrency` connections."""
    threads = 2
    requests_file = workdir / f"requests-{uuid.uuid4().hex[:6]}.tsv"
    requests_file.write_text("".join(line + "\n" for line in lines))
    script = workdir / "load.lua"
    script.write_text(
        WRK_SCRIPT.replace("REQUESTS_FILE", str(requests_file)).replace("THREADS", str(threads))
    )
    done = subprocess.run(
        [
            "wrk",
            *("-t", str(threads), "-c", str(concurrency), "-d", f"{max(1, round(seconds))}s"),
            *("--timeout", "30s", "-s", str(script), f"http://127.0.0.1:{port}"),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 120,
        check=False,
    )
    found = re.search(r"KOSHWRK (.*)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    fields = {k: float(v) for k, v in (item.split("=") for item in found.group(1).split())}
    errors = {k: int(fields[k]) for k in ("connect", "read", "write", "timeout") if fields[k]}
    if lines:
        # Deliveries: only a stored delivery counts as acknowledged (and as a request for the
        # rate); a duplicate (each line is sent once, so there should be none) is reported
        # apart, and the yardstick request a thread may send as it stops is not counted.
        ok, requests = int(fields["ok"]), int(fields["ok"] + fields["dup"] + fields["other"])
        if fields["dup"]:
            errors["duplicate"] = int(fields["dup"])
    else:
        ok, requests = int(fields["idle"] + fields["ok"]), int(fields["requests"])
    return Load(
        requests,
        fields["seconds"],
        {200: ok, 0: int(fields["other"])} if fields["other"] else {200: ok},
        fields["p50"],
        fields["p95"],
        fields["p99"],
        errors,
    )


# --- KOSH processes -------------------------------------------------------------------------


def worker_env(database_url: str, data_dir: Path, push_seconds: float) -> dict[str, str]:
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
        KOSH_STOREFRONT_STOCK_PUSH_SECONDS=str(push_seconds),
        KOSH_STOREFRONT_RECONCILE_HOURS="0",
    )
    return env


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if the process does not stop in time."""
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=15)


def bin_of(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def run_workers(count: int, env: dict[str, str], workdir: Path) -> float:
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            [bin_of("kosh"), "worker", "--once"],
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


def start_gunicorn(env: dict[str, str], workdir: Path, port: int) -> subprocess.Popen[bytes]:
    server = subprocess.Popen(
        [
            bin_of("gunicorn"),
            *("-c", "python:kosh.gunicorn_conf", "--bind", f"127.0.0.1:{port}"),
            *("--workers", "2", "--max-requests", "0", "kosh.app:create_app()"),
        ],
        cwd=workdir,
        env=env,
        stdout=(workdir / "server.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop(server)
    raise SystemExit("the server did not start; see " + str(workdir / "server.log"))


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


async def settled_counts(dsn: str, *, seconds: float = 20.0) -> dict[str, int]:
    """`counts` once the server has finished what was in flight when the client stopped
    (the stored rows stop changing), so every staged delivery is counted (bounded)."""
    found = await counts(dsn)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(1.0)
        again = await counts(dsn)
        if again == found:
            break
        found = again
    return found


# --- phases ---------------------------------------------------------------------------------


async def intake_phase(args: argparse.Namespace, port: int, workdir: Path, dsn: str) -> int:
    """The yardstick, then the deliveries; returns how many orders were staged."""
    path = f"/api/v1/storefront/woocommerce/{STORE}/webhook"
    c = args.concurrency
    use_wrk = shutil.which("wrk") is not None and not args.python_client
    client = "wrk (C, 2 threads)" if use_wrk else "a Python client in this process"
    print(f"intake: gunicorn, 2 uvicorn workers, PostgreSQL, concurrency {c}, load from {client}")
    count = args.deliveries if use_wrk else args.orders
    made = [delivery(o, secret=WEBHOOK_SECRET, topic="order.created") for o in orders(1, count, 1)]
    if use_wrk:
        wrk_load(port, [], concurrency=c, seconds=2, workdir=workdir)  # warm up
        yardstick = wrk_load(port, [], concurrency=c, seconds=args.seconds, workdir=workdir)
        lines = [
            f"{path}\t{headers['x-wc-webhook-signature']}\t{body.decode()}"
            for body, headers in made
        ]
        load_ = wrk_load(port, lines, concurrency=c, seconds=args.seconds, workdir=workdir)
    else:
        live = http_request("GET", "/health/live", None, {})
        await python_load(port, [live] * 500, c)  # warm up
        yardstick = await python_load(port, [live] * count, c)
        load_ = await python_load(
            port, [http_request("POST", path, body, headers) for body, headers in made], c
        )
    stored = await settled_counts(dsn)
    accepted = stored.get("pending", 0)
    acknowledged = load_.statuses.get(200, 0)
    if use_wrk and accepted + c >= count:
        # wrk's threads stopped as their shares ran out, but wrk reports the whole duration
        print(
            f"  the {count} deliveries ran out before the {args.seconds:g} s did: the rates"
            " below are lower bounds; raise --deliveries"
        )
    print(yardstick.line("yardstick GET /health/live"))
    print(load_.line("webhook intake"))
    print(
        f"  accepted (stored) {accepted / load_.seconds:8.0f} /s = {accepted} in"
        f" {load_.seconds:.1f} s; {acknowledged} acknowledged; ratio to the yardstick"
        f" {load_.rate / yardstick.rate:.2f}"
    )
    # nothing acknowledged is lost (a request in flight when the client stopped may be stored
    # unacknowledged), nothing refused
    assert acknowledged <= accepted <= acknowledged + c, (acknowledged, stored)
    assert set(load_.statuses) == {200}, load_.statuses
    assert "duplicate" not in load_.errors, load_.errors
    return accepted


def apply_phase(staged: int, env: dict[str, str], workdir: Path, idle: float) -> float:
    one = run_workers(1, env, workdir)
    rate = staged / max(one - idle, 0.001)
    print(
        f"apply, 1 worker:  {staged} orders in {one:.1f} s: {staged / one:.0f} orders/s"
        f" ({rate:.0f}/s without start-up)"
    )
    return rate


async def stage_more(sessions: Any, store_id: int, count: int) -> None:
    batch = []
    for order in orders(2_000_000, count, seed=2):
        body = wc_json(order)
        key = wc.delivery_key(order, topic="order.created", delivery_id=None, body=body)
        assert key is not None
        batch.append((key, body))
    for start in range(0, len(batch), 1000):
        async with sessions() as session:
            await intake.stage_many(
                session, store_id=store_id, deliveries=batch[start : start + 1000], source="bench"
            )


async def shop_levels_match(
    sessions: Any, shop: fakestore.FakeStore, warehouse_id: int, parts: dict[str, int]
) -> int:
    """How many of the shop's products differ from KOSH's availability."""
    async with sessions() as session:
        free = await stockpush.sales_service.available(
            session, part_ids=list(parts.values()), warehouse_id=warehouse_id
        )
    in_shop = {p["sku"]: p["stock_quantity"] for p in list(shop.products.values())}
    return sum(in_shop.get(number) != max(0, free.get(pid, 0)) for number, pid in parts.items())


async def until_converged(
    sessions: Any, shop: fakestore.FakeStore, warehouse_id: int, parts: dict[str, int], limit: float
) -> float | None:
    started = time.perf_counter()
    while time.perf_counter() - started < limit:
        if await shop_levels_match(sessions, shop, warehouse_id, parts) == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.2)
    return None


async def convergence_phase(
    args: argparse.Namespace,
    *,
    sessions: Any,
    settings: Settings,
    env: dict[str, str],
    workdir: Path,
    shop: fakestore.FakeStore,
    warehouse_id: int,
    bin_id: int,
    parts: dict[str, int],
) -> None:
    async with sessions() as session:
        store = await storefront_service.get_store_by_code_or_raise(session, STORE)
        await storefront_service.update_store(
            session, settings=settings, code=STORE, version=store.version, stock_push=True
        )
    limit = 4 * args.push_seconds + 180
    worker = subprocess.Popen(
        [bin_of("kosh"), "worker"],
        cwd=workdir,
        env=env,
        stdout=(workdir / "worker.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        first = await until_converged(sessions, shop, warehouse_id, parts, limit)
        print(
            f"stock push: first full push of {len(parts)} products: "
            + (f"{first:.1f} s, {len(shop.received)} HTTP calls" if first else "did not converge")
        )
        shop.received.clear()
        rng = random.Random(3)
        numbers = list(parts)
        todo = iter(range(args.movements))

        async def mover() -> None:
            for _ in todo:
                async with sessions() as session:
                    await stock_in(session, rng.choice(numbers), bin_id, rng.randint(1, 5))

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(mover() for _ in range(4))), timeout=1800)
        moved = time.perf_counter() - started
        converged = await until_converged(sessions, shop, warehouse_id, parts, limit)
        calls = len(shop.received)
        batches = len(shop.batches)
        lookups = sum(r.method == "GET" for r in shop.received)
        if converged is None:
            differ = await shop_levels_match(sessions, shop, warehouse_id, parts)
            print(
                f"stock push: {args.movements} receipts in {moved:.1f} s; the shop did not"
                f" converge within {limit:.0f} s after the last one: {differ} of {len(parts)}"
                f" products differ, {calls} HTTP calls ({batches} batch POSTs)"
            )
            tail = (workdir / "worker.log").read_text(errors="replace").splitlines()[-15:]
            print("\n".join("    " + line[:300] for line in tail))
        else:
            print(
                f"stock push: {args.movements} receipts over {len(parts)} parts in {moved:.1f} s"
                f" ({args.movements / moved:.0f}/s, 4 sessions); the shop matched KOSH"
                f" {converged:.1f} s after the last one (push interval {args.push_seconds:g} s),"
                f" {moved + converged:.1f} s after the first; {calls} HTTP calls"
                f" ({batches} batch POSTs, {lookups} GET look-ups)"
            )
    finally:
        stop(worker)


async def main(args: argparse.Namespace) -> None:
    host = PG.split("@", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing to benchmark a non-local server: {host!r}")
    name = f"kosh_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(PG.replace("+asyncpg", ""))
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    database_url = PG.rsplit("/", 1)[0] + f"/{name}"
    dsn = database_url.replace("+asyncpg", "")
    workdir = Path(tempfile.mkdtemp(prefix=name))
    server = None
    serving = contextlib.contextmanager(fakestore.serve)()
    shop = serving.__enter__()
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
        shop_parts: dict[str, int] = {}
        async with sessions() as session:
            site = await a_site(session, bins=1)
            for number in PARTS:
                await a_part(session, number, unit_cost=Decimal("5.00"))
                await stock_in(session, number, site.bin_ids[0], 1_000_000)
            for n in range(args.shop_parts):
                part = await a_part(session, f"SHOP-{n:05d}", list_price=Decimal("9.00"))
                shop_parts[part.number] = part.id
                shop.add_product(part.number, stock=7)  # KOSH has none: the first push fixes it
            store = await storefront_service.create_store(
                session,
                settings=settings,
                code=STORE,
                kind="woocommerce",
                base_url=shop.url,
                webhook_secret=WEBHOOK_SECRET,
                warehouse_id=site.warehouse_id,
                consumer_key=fakestore.CONSUMER_KEY,
                consumer_secret=fakestore.CONSUMER_SECRET,
            )
            store_id = store.id

        env = worker_env(database_url, workdir / "data", args.push_seconds)
        idle = run_workers(1, env, workdir)
        print(f"worker start + stop with an empty queue: {idle:.2f} s")
        if not args.skip_intake:
            port = 18000 + random.randrange(1000)
            server = start_gunicorn(env, workdir, port)
            staged = await intake_phase(args, port, workdir, dsn)
            stop(server)
            server = None
        if not args.skip_intake and not args.intake_only:
            one = apply_phase(staged, env, workdir, idle)
            await stage_more(sessions, store_id, staged)
            two_seconds = run_workers(2, env, workdir)
            two = staged / max(two_seconds - idle, 0.001)
            print(
                f"apply, 2 workers: {staged} orders in {two_seconds:.1f} s:"
                f" {staged / two_seconds:.0f} orders/s ({two:.0f}/s without start-up);"
                f" ratio to 1 worker {two / one:.2f}"
            )
            final = await counts(dsn)
            assert final.get("applied") == 2 * staged, final
            assert final["sales_orders"] == final["distinct_web_orders"] == 2 * staged, final
        if args.movements and not args.intake_only:
            await convergence_phase(
                args,
                sessions=sessions,
                settings=settings,
                env=env,
                workdir=workdir,
                shop=shop,
                warehouse_id=site.warehouse_id,
                bin_id=site.bin_ids[0],
                parts=shop_parts,
            )
        await engine.dispose()
    finally:
        if server is not None:
            stop(server)
        serving.__exit__(None, None, None)
        admin = await asyncpg.connect(PG.replace("+asyncpg", ""))
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=10_000, help="Python client: deliveries")
    parser.add_argument("--deliveries", type=int, default=30_000, help="wrk: deliveries ready")
    parser.add_argument("--seconds", type=float, default=10.0, help="wrk: seconds per phase")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--python-client", action="store_true", help="do not use wrk")
    parser.add_argument("--skip-intake", action="store_true", help="only the stock push")
    parser.add_argument("--intake-only", action="store_true", help="no apply, no stock push")
    parser.add_argument("--movements", type=int, default=10_000)
    parser.add_argument("--shop-parts", type=int, default=1_000)
    parser.add_argument("--push-seconds", type=float, default=15.0)
    asyncio.run(main(parser.parse_args()))
