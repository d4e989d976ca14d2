"""Stock throughput and latency benchmark on PostgreSQL, with pgbench as the yardstick.

    .venv/bin/python bench/stock_bench.py                 # 100k parts, 1M ledger rows
    .venv/bin/python bench/stock_bench.py --parts 20000 --ledger-rows 200000 --duration 5

What it does, all against 127.0.0.1 only, and it stops by itself:
1. creates its own KOSH database, migrates it and fills it with `kosh demo-data --scale`;
2. starts KOSH under gunicorn with uvicorn workers (kosh.gunicorn_conf) and a bearer token;
3. drives picks of one unit through POST /api/v1/stock/pick (with a fresh Idempotency-Key
   each, as every scanner page sends) at each concurrency for a fixed time, (a) all on one
   hot part and (b) spread over `--spread` parts (200), recording ops/s and p50/p95/p99,
   and the CPU each pick cost the app's workers, PostgreSQL and the load generator
   (bench/cpu_share.py: on 2 cores they share, the sum is what bounds the rate).
   The load comes from wrk (Debian's `wrk`, a C load generator, with a Lua script) when it
   is installed, else from a Python httpx client (`--client` chooses); wrk also measures
   the framework ceiling (GET /health/live);
4. measures PCN-history and part-search latency on the large data set;
5. runs two yardsticks with pgbench against the same PostgreSQL server, in its own
   database, at the same concurrencies: tpcb-like, and the raw one-row movement a pick
   boils down to (one guarded UPDATE of a balance row and one ledger INSERT, one
   transaction). Each case runs in `--rounds` slices, each followed at once by a slice of
   both yardsticks (KOSH idle meanwhile), and the ratio printed is the median of the
   rounds' KOSH-over-neighbour ratios (spread picks over tpcb-like, hot picks over the raw
   movement, as issue 9's targets): a shared VM's speed drifts by 2x within minutes, and
   neighbours drift together;
6. checks correctness: `kosh verify` finds no drift, and the storage stock of the bench
   parts went down by exactly the units in the run's pick ledger rows, the floor went up
   by them, and they equal the successful (200) answers: 0 lost units;
7. drops both databases.

`--sqlite` runs the picks against the SQLite default instead (a database file of its own,
one process: SQLite has one writer at a time), with the same correctness checks and no
yardstick.

The machine this runs on also runs the load generator, so KOSH, PostgreSQL and the client
share the cores; wrk's and pgbench's clients are C and light, the Python fallback is not.
A short run on a shared machine:

    .venv/bin/python bench/stock_bench.py --parts 20000 --ledger-rows 200000 \
        --duration 5 --concurrency 1,64 --samples 100
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import cpu_share  # bench/, beside this script
import httpx

VENV_BIN = Path(sys.executable).parent
HOT_PART = "S-0000001"
HOT_STOCK = 5_000_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Run:
    """The outcome of one timed phase."""

    name: str
    concurrency: int
    seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    ok: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    # percentiles reported by a load generator that keeps no per-request list (wrk)
    fixed_percentiles: dict[int, float] = field(default_factory=dict)
    # CPU-ms per op by who spent them (cpu_share.per_op), when measured
    cpu: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        if int(p) in self.fixed_percentiles:
            return self.fixed_percentiles[int(p)]
        return percentile(self.latencies_ms, p)


@dataclass
class Case:
    """One pick case at one concurrency: its rounds, each a KOSH slice with the tpcb-like
    and raw-movement slices run next to it."""

    name: str
    concurrency: int
    rounds: list[tuple[Run, Run, Run]]

    @property
    def rate(self) -> float:
        seconds = sum(run.seconds for run, _, _ in self.rounds)
        return sum(run.ok for run, _, _ in self.rounds) / seconds if seconds else 0.0

    def ratio(self, yardstick: int) -> float:
        """The median over the rounds of KOSH's rate over its neighbour yardstick's
        (1: tpcb-like, 2: raw movement)."""
        ratios = [r[0].rate / r[yardstick].rate for r in self.rounds if r[yardstick].rate]
        return statistics.median(ratios) if ratios else float("nan")

    def yardstick_rate(self, yardstick: int) -> float:
        return statistics.mean(r[yardstick].rate for r in self.rounds)

    def percentile(self, p: float) -> float:
        """p50 and p95: the median of the slices'; p99: the worst slice's (wrk keeps no
        per-request list to merge)."""
        values = [run.percentile(p) for run, _, _ in self.rounds]
        return max(values) if p >= 99 else statistics.median(values)

    @property
    def errors(self) -> int:
        return sum(sum(run.failed.values()) for run, _, _ in self.rounds)

    @property
    def cpu(self) -> dict[str, float]:
        ops = sum(run.ok for run, _, _ in self.rounds)
        if not ops:
            return {}
        return {
            who: sum(run.cpu.get(who, 0.0) * run.ok for run, _, _ in self.rounds) / ops
            for who in self.rounds[0][0].cpu
        }

    def summary(self) -> str:
        rates = ", ".join(
            f"{run.rate:.0f} p99 {run.percentile(99):.0f} ms" for run, _, _ in self.rounds
        )
        return (
            f"{self.name} c={self.concurrency}: {self.rate:.1f} picks/s (rounds {rates}), "
            f"p99 {self.percentile(99):.1f} ms, errors {self.errors}; "
            f"/tpcb {self.ratio(1):.3f}, /raw {self.ratio(2):.3f}"
        )


def percentile(values: Sequence[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- databases --------------------------------------------------------------------------


def check_local(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOCAL_HOSTS:
        raise SystemExit(f"refusing to benchmark a non-local server: {host!r}")


async def create_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def drop_database(server: str, name: str) -> None:
    conn = await asyncpg.connect(server)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def with_database(server: str, name: str) -> str:
    parts = urlsplit(server)
    return parts._replace(path=f"/{name}").geturl()


# --- KOSH processes -----------------------------------------------------------------------


def kosh(env: dict[str, str], *args: str, timeout: float = 1800) -> str:
    started = time.perf_counter()
    done = subprocess.run(
        [str(VENV_BIN / "kosh"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"kosh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    log(f"kosh {args[0]} done in {time.perf_counter() - started:.1f} s")
    return done.stdout


def start_gunicorn(
    env: dict[str, str], port: int, workers: int, logfile: Path
) -> subprocess.Popen[bytes]:
    with logfile.open("wb") as out:
        process = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "-c",
                "python:kosh.gunicorn_conf",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "kosh.app:create_app()",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("gunicorn exited:\n" + logfile.read_text(errors="replace")[-3000:])
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop(process)
    raise RuntimeError("gunicorn was not ready after 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- load -------------------------------------------------------------------------------


async def drive_picks(
    base: str,
    token: str,
    *,
    name: str,
    parts: list[str],
    warehouse_id: int,
    concurrency: int,
    duration: float,
) -> Run:
    """`concurrency` clients pick one unit each, back to back, for `duration` seconds."""
    run = Run(name=name, concurrency=concurrency, seconds=duration)
    headers = {"authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    rng = random.Random(concurrency)
    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=60) as http:
        deadline = time.perf_counter() + duration

        async def client() -> None:
            while time.perf_counter() < deadline:
                body = {
                    "part_number": parts[rng.randrange(len(parts))],
                    "qty": 1,
                    "warehouse_id": warehouse_id,
                    "reference": f"BENCH-{name}-{concurrency}",
                }
                started = time.perf_counter()
                response = await http.post(
                    "/api/v1/stock/pick",
                    json=body,
                    headers={"idempotency-key": uuid.uuid4().hex},
                )
                elapsed = (time.perf_counter() - started) * 1000
                if response.status_code == 200:
                    run.ok += 1
                    run.latencies_ms.append(elapsed)
                else:
                    run.failed[response.status_code] = run.failed.get(response.status_code, 0) + 1

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        run.seconds = time.perf_counter() - began
    return run


WRK_SCRIPT = r"""
-- one-unit FIFO picks, a fresh Idempotency-Key each; filled in by stock_bench.py
local parts = {PARTS}
local token = "TOKEN"
local warehouse = WAREHOUSE
local prefix = "PREFIX"
local reference = "REFERENCE"
local threads = {}
local counter = 0
ok = 0  -- global: done() reads it from each thread

function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(tid * 7919)
end

function request()
  counter = counter + 1
  local part = parts[math.random(#parts)]
  local body = '{"part_number":"' .. part .. '","qty":1,"warehouse_id":' .. warehouse
    .. ',"reference":"' .. reference .. '"}'
  return wrk.format("POST", "/api/v1/stock/pick", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. "-" .. tid .. "-" .. counter,
  }, body)
end

function response(status, headers, body)
  if status == 200 then ok = ok + 1 end
end

function done(summary, latency, requests)
  local total_ok = 0
  for _, thread in ipairs(threads) do total_ok = total_ok + thread:get("ok") end
  io.write(string.format(
    "KOSHWRK ok=%d requests=%d seconds=%.3f p50=%.3f p95=%.3f p99=%.3f status=%d "
    .. "connect=%d read=%d write=%d timeout=%d\n",
    total_ok, summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, summary.errors.status, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout))
end
"""


def wrk_picks(
    base: str,
    token: str,
    *,
    name: str,
    parts: list[str],
    warehouse_id: int,
    concurrency: int,
    duration: float,
    workdir: Path,
) -> Run:
    """wrk (C) sends the picks: `concurrency` connections, one unit each, fresh keys."""
    script = workdir / "picks.lua"
    lua_parts = "{" + ",".join(f'"{p}"' for p in parts) + "}"
    script.write_text(
        WRK_SCRIPT.replace("{PARTS}", lua_parts)
        .replace("TOKEN", token)
        .replace("WAREHOUSE", str(warehouse_id))
        .replace("PREFIX", f"{name.replace(' ', '')}-{concurrency}-{secrets.token_hex(4)}")
        .replace("REFERENCE", f"BENCH-{name}-{concurrency}")
    )
    threads = max(1, min(concurrency, 2))
    done = subprocess.run(
        [
            "wrk",
            "-t",
            str(threads),
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(duration))}s",
            "--timeout",
            "30s",
            "-s",
            str(script),
            base,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    found = re.search(r"KOSHWRK (.*)", done.stdout)
    if done.returncode != 0 or found is None:
        raise RuntimeError(f"wrk failed:\n{done.stdout}\n{done.stderr}")
    fields = dict(item.split("=") for item in found.group(1).split())
    run = Run(name=name, concurrency=concurrency, seconds=float(fields["seconds"]))
    run.ok = int(fields["ok"])
    run.fixed_percentiles = {
        50: float(fields["p50"]),
        95: float(fields["p95"]),
        99: float(fields["p99"]),
    }
    refused = int(fields["requests"]) - run.ok
    if refused:
        run.failed[0] = refused  # non-200 answers and socket errors, as wrk counts them
    return run


async def pick_slice(
    use_wrk: bool,
    base: str,
    token: str,
    *,
    name: str,
    parts: list[str],
    warehouse_id: int,
    concurrency: int,
    duration: float,
    workdir: Path,
) -> Run:
    """One timed run of picks from wrk, or from the Python client without it."""
    if use_wrk:
        return wrk_picks(
            base,
            token,
            name=name,
            parts=parts,
            warehouse_id=warehouse_id,
            concurrency=concurrency,
            duration=duration,
            workdir=workdir,
        )
    return await drive_picks(
        base,
        token,
        name=name,
        parts=parts,
        warehouse_id=warehouse_id,
        concurrency=concurrency,
        duration=duration,
    )


def wrk_ceiling(base: str, *, concurrency: int, duration: float) -> Run:
    """The framework's ceiling: GET /health/live under wrk."""
    done = subprocess.run(
        [
            "wrk",
            "-t",
            "2",
            "-c",
            str(concurrency),
            "-d",
            f"{max(1, round(duration))}s",
            "--latency",
            f"{base}/health/live",
        ],
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    rate = re.search(r"Requests/sec:\s+([\d.]+)", done.stdout)
    run = Run(name="GET /health/live", concurrency=concurrency, seconds=duration)
    run.ok = round(float(rate.group(1)) * duration) if rate else 0
    run.fixed_percentiles = {p: _wrk_ms(done.stdout, f"{p}%") for p in (50, 99)}
    return run


def _wrk_ms(output: str, label: str) -> float:
    found = re.search(rf"^\s*{re.escape(label)}\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
    if not found:
        return float("nan")
    value, unit = float(found.group(1)), found.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


async def measure_reads(base: str, token: str, paths: list[str], *, name: str) -> Run:
    """Sequential GETs (one client), each timed; every answer must be 200."""
    run = Run(name=name, concurrency=1, seconds=0)
    async with httpx.AsyncClient(
        base_url=base, headers={"authorization": f"Bearer {token}"}, timeout=60
    ) as http:
        for path in paths[:20]:  # warm the connection and the caches a little
            await http.get(path)
        began = time.perf_counter()
        for path in paths:
            started = time.perf_counter()
            response = await http.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code == 200:
                run.ok += 1
                run.latencies_ms.append(elapsed)
            else:
                run.failed[response.status_code] = run.failed.get(response.status_code, 0) + 1
        run.seconds = time.perf_counter() - began
    return run


# --- pgbench ------------------------------------------------------------------------------


def pgbench_env(server: str) -> dict[str, str]:
    parts = urlsplit(server)
    env = dict(os.environ)
    env.update(
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=parts.username or "postgres",
    )
    if parts.password:
        env["PGPASSWORD"] = parts.password
    return env


def pgbench_init(server: str, database: str, *, scale: int) -> None:
    subprocess.run(
        ["pgbench", "-i", "-q", "-s", str(scale), database],
        env=pgbench_env(server),
        check=True,
        capture_output=True,
        timeout=900,
    )


def pgbench(server: str, database: str, *, concurrency: int, duration: float, workdir: Path) -> Run:
    """tpcb-like for `duration` seconds; latencies from pgbench's per-transaction log."""
    for old in workdir.glob("pgbench_log*"):
        old.unlink()
    threads = max(1, min(concurrency, os.cpu_count() or 1))
    done = subprocess.run(
        [
            "pgbench",
            "-b",
            "tpcb-like",
            "-c",
            str(concurrency),
            "-j",
            str(threads),
            "-T",
            str(round(duration)),
            "-l",
            "--log-prefix",
            str(workdir / "pgbench_log"),
            database,
        ],
        env=pgbench_env(server),
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    latencies: list[float] = []
    for path in workdir.glob("pgbench_log*"):
        for line in path.read_text().splitlines():
            fields = line.split()
            if len(fields) >= 3 and fields[2].isdigit():
                latencies.append(int(fields[2]) / 1000)
    run = Run(name="pgbench", concurrency=concurrency, seconds=duration, latencies_ms=latencies)
    run.ok = round(float(tps.group(1)) * duration) if tps else len(latencies)
    return run


RAW_SETUP = """
CREATE TABLE raw_balance (id integer PRIMARY KEY, qty bigint NOT NULL CHECK (qty >= 0));
INSERT INTO raw_balance VALUES (1, 1000000000000);
CREATE TABLE raw_ledger (
    id bigserial PRIMARY KEY, lot_id integer NOT NULL, from_location integer,
    to_location integer, qty integer NOT NULL, kind text NOT NULL, at timestamptz NOT NULL
);
"""
RAW_MOVEMENT = """BEGIN;
UPDATE raw_balance SET qty = qty - 1 WHERE id = 1 AND qty >= 1;
INSERT INTO raw_ledger (lot_id, from_location, to_location, qty, kind, at)
    VALUES (1, 1, 2, 1, 'pick', now());
END;
"""


async def raw_movement_init(server: str, database: str) -> None:
    conn = await asyncpg.connect(with_database(server, database))
    try:
        await conn.execute(RAW_SETUP)
    finally:
        await conn.close()


def pgbench_raw(
    server: str, database: str, *, concurrency: int, duration: float, workdir: Path
) -> Run:
    """The raw one-row movement (guarded UPDATE + ledger INSERT, one transaction), all
    clients on the same row: what a hot-part pick costs the database itself."""
    script = workdir / "raw_movement.sql"
    script.write_text(RAW_MOVEMENT)
    threads = max(1, min(concurrency, os.cpu_count() or 1))
    done = subprocess.run(
        [
            "pgbench",
            "-n",
            "-f",
            str(script),
            "-c",
            str(concurrency),
            "-j",
            str(threads),
            "-T",
            str(round(duration)),
            database,
        ],
        env=pgbench_env(server),
        capture_output=True,
        text=True,
        timeout=duration + 120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"pgbench (raw movement) failed:\n{done.stdout}\n{done.stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    latency = re.search(r"latency average = ([\d.]+) ms", done.stdout)
    run = Run(name="raw movement", concurrency=concurrency, seconds=duration)
    run.ok = round(float(tps.group(1)) * duration) if tps else 0
    if latency:
        run.fixed_percentiles = {50: float(latency.group(1))}
    return run


async def pick_paths(base: str) -> dict[str, float]:
    """How the picks went, from every worker's /metrics: alone (one statement committing on
    its own) or in the use case's transaction (`kosh_stock_picks_total`), and the requests
    that queued for a database connection (`pool waits`, `pool wait seconds`)."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        text = (await http.get("/metrics")).text
    found = re.findall(r'^kosh_stock_picks_total\{path="(\w+)"\} (\S+)$', text, re.MULTILINE)
    paths = {path: float(value) for path, value in found}
    for name, key in (("count", "pool waits"), ("sum", "pool wait seconds")):
        value = re.search(rf"^kosh_db_pool_wait_seconds_{name} (\S+)$", text, re.MULTILINE)
        paths[key] = float(value.group(1)) if value else 0.0
    return paths


async def ledger_picks(dsn: str, reference_prefix: str) -> int:
    """Units in the run's pick ledger rows (their references start with the prefix)."""
    conn = await asyncpg.connect(dsn)
    try:
        total = await conn.fetchval(
            "SELECT COALESCE(SUM(qty), 0) FROM stock_transactions "
            "WHERE kind = 'pick' AND reference LIKE $1",
            reference_prefix + "%",
        )
    finally:
        await conn.close()
    return int(total)


# --- the benchmark ---------------------------------------------------------------------


async def stock_totals(dsn: str, parts: list[str]) -> tuple[int, int]:
    """Units of these parts in storage and on the MFG floor of warehouse SCALE."""
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            """
            SELECT l.kind, COALESCE(SUM(b.qty), 0) AS qty
            FROM stock_balances b
            JOIN lots ON lots.id = b.lot_id
            JOIN parts p ON p.id = lots.part_id
            JOIN locations l ON l.id = b.location_id
            JOIN warehouses w ON w.id = l.warehouse_id
            WHERE p.number = ANY($1::text[]) AND w.code = 'SCALE'
            GROUP BY l.kind
            """,
            parts,
        )
    finally:
        await conn.close()
    by_kind = {r["kind"]: int(r["qty"]) for r in rows}
    return by_kind.get("storage", 0), by_kind.get("mfg_floor", 0)


def sqlite_totals(path: Path, parts: list[str], reference_prefix: str) -> tuple[int, int, int]:
    """`stock_totals` and `ledger_picks` of a SQLite database: storage, floor, pick units."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        marks = ",".join("?" * len(parts))
        rows = conn.execute(
            f"""
            SELECT l.kind, COALESCE(SUM(b.qty), 0)
            FROM stock_balances b
            JOIN lots ON lots.id = b.lot_id
            JOIN parts p ON p.id = lots.part_id
            JOIN locations l ON l.id = b.location_id
            JOIN warehouses w ON w.id = l.warehouse_id
            WHERE p.number IN ({marks}) AND w.code = 'SCALE'
            GROUP BY l.kind
            """,  # noqa: S608 - placeholders only
            parts,
        ).fetchall()
        picked = conn.execute(
            "SELECT COALESCE(SUM(qty), 0) FROM stock_transactions "
            "WHERE kind = 'pick' AND reference LIKE ?",
            (reference_prefix + "%",),
        ).fetchone()[0]
    finally:
        conn.close()
    by_kind = {kind: int(qty) for kind, qty in rows}
    return by_kind.get("storage", 0), by_kind.get("mfg_floor", 0), int(picked)


async def sample_reads(dsn: str, samples: int, seed: int) -> tuple[list[str], list[str]]:
    """PCN-history paths for random PCNs, and part searches of three kinds (number
    prefix, MPN fragment, description words)."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    try:
        max_lot = int(await conn.fetchval("SELECT max(id) FROM lots") or 0)
        ids = [rng.randint(1, max_lot) for _ in range(samples * 2)]
        pcns = [r["pcn"] for r in await conn.fetch("SELECT pcn FROM lots WHERE id = ANY($1)", ids)]
        parts = await conn.fetch(
            "SELECT number, mpn, description FROM parts TABLESAMPLE SYSTEM (5) LIMIT $1", samples
        )
    finally:
        await conn.close()
    rng.shuffle(pcns)
    history = [f"/api/v1/pcns/{pcn}/history" for pcn in pcns[:samples]]
    searches: list[str] = []
    for i, row in enumerate(parts):
        kind = i % 3
        if kind == 0:
            q = row["number"][:7]  # "S-00421": a number prefix, ~10 matches at 100k parts
        elif kind == 1:
            digits = re.sub(r"\D", "", row["mpn"] or "")[:6] or row["number"]
            q = digits[1:5]  # four digits from the middle of an MPN
        else:
            q = " ".join(row["description"].split()[-2:])  # "variant 4211"
        searches.append(str(httpx.URL("/api/v1/parts", params={"q": q})))
    return history, searches


@dataclass(frozen=True)
class TableRow:
    """One line of the results table; the yardstick columns are None without one."""

    name: str
    concurrency: int
    rate: float
    p50: float
    p95: float
    p99: float
    errors: int
    tpcb: tuple[float, float] | None = None  # yardstick tps, KOSH over it
    raw: tuple[float, float] | None = None

    @classmethod
    def of_run(cls, run: Run) -> TableRow:
        return cls(
            run.name,
            run.concurrency,
            run.rate,
            run.percentile(50),
            run.percentile(95),
            run.percentile(99),
            sum(run.failed.values()),
        )

    @classmethod
    def of_case(cls, case: Case) -> TableRow:
        return cls(
            case.name,
            case.concurrency,
            case.rate,
            case.percentile(50),
            case.percentile(95),
            case.percentile(99),
            case.errors,
            tpcb=(case.yardstick_rate(1), case.ratio(1)),
            raw=(case.yardstick_rate(2), case.ratio(2)),
        )


def report_table(rows: list[TableRow], ceiling: Run | None = None) -> None:
    def yardstick(columns: tuple[float, float] | None, width: int) -> str:
        if columns is None:
            return f"{'-':>{width}}{'-':>7}"
        return f"{columns[0]:>{width}.0f}{columns[1]:>7.3f}"

    print()
    header = (
        f"{'case':<14}{'conc':>5}{'KOSH ops/s':>11}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}{'tpcb tps':>10}{'/tpcb':>7}{'raw tps':>9}{'/raw':>7}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row.name:<14}{row.concurrency:>5}{row.rate:>11.1f}{row.p50:>8.1f}"
            f"{row.p95:>8.1f}{row.p99:>8.1f}{row.errors:>7}"
            f"{yardstick(row.tpcb, 10)}{yardstick(row.raw, 9)}"
        )
    if ceiling is not None:
        print(
            f"framework ceiling, {ceiling.name} at c={ceiling.concurrency}: "
            f"{ceiling.rate:.0f} req/s, p50 {ceiling.percentile(50):.1f} ms, "
            f"p99 {ceiling.percentile(99):.1f} ms"
        )
    print()


def report_cases(cases: list[Case], ceiling: Run | None, rounds: int) -> None:
    print()
    print(
        f"ratios: the median over {rounds} rounds of KOSH over the yardstick slice run "
        "next to it; p99: the worst slice's"
    )
    report_table([TableRow.of_case(case) for case in cases], ceiling)
    print("CPU per pick (bench/cpu_share.py; 2 cores shared: their sum bounds the rate)")
    for case in cases:
        print(f"  {case.name} c={case.concurrency}: {cpu_share.describe(case.cpu)}")
    print()


def print_reads(runs: list[Run]) -> None:
    for run in runs:
        errors = sum(run.failed.values())
        print(
            f"{run.name:<28} n={run.ok:<5} p50 {run.percentile(50):6.1f} ms  "
            f"p95 {run.percentile(95):6.1f} ms  p99 {run.percentile(99):6.1f} ms  "
            f"errors {errors}"
        )


async def main(args: argparse.Namespace) -> int:
    if args.sqlite:
        return await main_sqlite(args)
    check_local(args.pg)
    suffix = secrets.token_hex(4)
    # Names of our own, so no other benchmark's clean-up of "kosh_bench_*" can take them.
    kosh_db, pgbench_db = f"stockbench_kosh_{suffix}", f"stockbench_pgbench_{suffix}"
    asyncpg_server = args.pg
    workdir = Path(tempfile.mkdtemp(prefix="kosh-bench-"))
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    server: subprocess.Popen[bytes] | None = None
    await create_database(asyncpg_server, kosh_db)
    await create_database(asyncpg_server, pgbench_db)
    log(f"databases {kosh_db} and {pgbench_db} created; work files in {workdir}")
    try:
        kosh_dsn = with_database(asyncpg_server, kosh_db)
        env = {k: v for k, v in os.environ.items() if not k.startswith("KOSH_")}
        env.update(
            KOSH_ENV="development",
            KOSH_DATABASE_URL=kosh_dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
            KOSH_DATA_DIR=str(workdir / "data"),
            KOSH_SECRET_KEY=secrets.token_urlsafe(48),
            KOSH_ADMIN_PASSWORD=secrets.token_urlsafe(16),
            KOSH_RATE_LIMIT="10000000/minute",
            KOSH_USER_RATE_LIMIT="10000000/minute",
            KOSH_LOG_FORMAT="json",
            KOSH_DB_POOL_SIZE=str(args.pool_size),
            KOSH_DB_MAX_OVERFLOW=str(args.pool_overflow),
            WEB_CONCURRENCY=str(args.workers),
        )
        kosh(env, "migrate")
        started = time.perf_counter()
        print(
            kosh(
                env,
                "demo-data",
                "--scale",
                str(args.parts),
                "--ledger-rows",
                str(args.ledger_rows),
            ).strip()
        )
        load_seconds = time.perf_counter() - started
        password = secrets.token_urlsafe(16)
        kosh(
            env, "create-user", "--username", "bench", "--password", password, "--role", "operator"
        )
        token = kosh(env, "create-token", "--username", "bench", "--name", "bench").strip()

        port = free_port()
        server = start_gunicorn(env, port, args.workers, workdir / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        log(f"KOSH serving on {base} with {args.workers} workers")
        auth = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as http:
            warehouses = (await http.get("/api/v1/warehouses")).json()["items"]
            warehouse_id = next(w["id"] for w in warehouses if w["code"] == "SCALE")
            bins = (
                await http.get(
                    "/api/v1/locations",
                    params={"warehouse_id": warehouse_id, "kind": "storage", "limit": 1},
                )
            ).json()["items"]
            receipt = await http.post(
                "/api/v1/stock/receive",
                json={"part_number": HOT_PART, "qty": HOT_STOCK, "location_id": bins[0]["id"]},
            )
            receipt.raise_for_status()
        spread = [f"S-{i:07d}" for i in range(2, 2 + args.spread)]
        bench_parts = [HOT_PART, *spread]
        storage_before, floor_before = await stock_totals(kosh_dsn, bench_parts)
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        log(f"load generator: {'wrk' if use_wrk else 'Python httpx'}")

        # The yardsticks run beside each KOSH slice, KOSH idle meanwhile (its pool's idle
        # connections cost nothing): a shared VM's speed drifts within minutes, so a ratio
        # is taken between neighbours and the median of a case's rounds is reported.
        pgbench_init(asyncpg_server, pgbench_db, scale=args.pgbench_scale)
        await raw_movement_init(asyncpg_server, pgbench_db)
        slice_seconds = max(1, round(args.duration / args.rounds))
        pick_runs: list[Run] = []  # every KOSH slice, for the correctness checks
        cases: list[Case] = []
        for case, parts in (("hot part", [HOT_PART]), (f"spread {args.spread}", spread)):
            for concurrency in concurrencies:
                rounds: list[tuple[Run, Run, Run]] = []
                for _ in range(args.rounds):
                    cpu_before = cpu_share.snapshot(server.pid)
                    run = await pick_slice(
                        use_wrk,
                        base,
                        token,
                        name=case,
                        parts=parts,
                        warehouse_id=warehouse_id,
                        concurrency=concurrency,
                        duration=slice_seconds,
                        workdir=workdir,
                    )
                    run.cpu = cpu_share.per_op(cpu_before, cpu_share.snapshot(server.pid), run.ok)
                    pick_runs.append(run)
                    yardsticks = [
                        measure(
                            asyncpg_server,
                            pgbench_db,
                            concurrency=concurrency,
                            duration=slice_seconds,
                            workdir=workdir,
                        )
                        for measure in (pgbench, pgbench_raw)
                    ]
                    rounds.append((run, *yardsticks))
                cases.append(Case(case, concurrency, rounds))
                log(cases[-1].summary())
        ceiling = (
            wrk_ceiling(base, concurrency=max(concurrencies), duration=args.duration)
            if use_wrk
            else None
        )

        history_paths, search_paths = await sample_reads(kosh_dsn, args.samples, seed=5)
        read_runs = [
            await measure_reads(base, token, history_paths, name="PCN history (API)"),
            await measure_reads(base, token, search_paths, name="part search (API)"),
        ]
        by_kind = [search_paths[i::3] for i in range(3)]
        for label, paths in zip(
            ("  search: number prefix", "  search: MPN fragment", "  search: description"),
            by_kind,
            strict=True,
        ):
            read_runs.append(await measure_reads(base, token, paths, name=label))
        print_reads(read_runs)
        paths = await pick_paths(base)
        stop(server)
        server = None
        log("KOSH stopped")

        # correctness: every unit that left storage is on the floor and in the ledger, and
        # each is a pick that was answered 200
        storage_after, floor_after = await stock_totals(kosh_dsn, bench_parts)
        picked = sum(r.ok for r in pick_runs)
        in_ledger = await ledger_picks(kosh_dsn, "BENCH-")
        verify_out = kosh(env, "verify")
        checks = {
            "kosh verify: no drift": "OK: every balance matches the ledger" in verify_out,
            "storage decrease == pick units in the ledger": storage_before - storage_after
            == in_ledger,
            "floor increase == pick units in the ledger": floor_after - floor_before == in_ledger,
            # wrk stops at the deadline without reading the answers still in flight (at
            # most one per connection per case); those picks were done and are in the ledger
            "successful (200) picks <= pick units in the ledger <= those + in flight": picked
            <= in_ledger
            <= picked + (sum(r.concurrency for r in pick_runs) if use_wrk else 0),
        }

        print()
        print(
            f"data: {args.parts:,} parts, {args.ledger_rows:,} ledger rows "
            f"(generated in {load_seconds:.0f} s); KOSH: gunicorn {args.workers} uvicorn "
            f"workers, pool {args.pool_size}+{args.pool_overflow} per worker; "
            f"{args.duration:.0f} s per case; pgbench scale {args.pgbench_scale}; "
            f"load from {'wrk' if use_wrk else 'Python httpx'}; "
            f"{os.cpu_count()} CPUs shared by KOSH, PostgreSQL and the load generator"
        )
        report_cases(cases, ceiling, args.rounds)
        print_reads(read_runs)
        print()
        print(
            f"successful picks {picked:,}; pick units in the ledger {in_ledger:,}; "
            f"storage {storage_before:,} -> {storage_after:,}; "
            f"floor {floor_before:,} -> {floor_after:,}; "
            f"lost units {storage_before - storage_after - (floor_after - floor_before)}"
        )
        alone, transaction = paths.get("alone", 0.0), paths.get("transaction", 0.0)
        print(
            f"picks with a key: {alone:,.0f} alone (one statement, no transaction), "
            f"{transaction:,.0f} in the use case's transaction (kosh_stock_picks_total)"
        )
        waits = paths["pool waits"]
        print(
            f"requests that queued for a database connection: {waits:,.0f}, "
            f"{1000 * paths['pool wait seconds'] / max(waits, 1):.1f} ms on average "
            "(kosh_db_pool_wait_seconds; first come, first served)"
        )
        print(verify_out.strip())
        for name, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
        return 0 if all(checks.values()) else 1
    finally:
        if server is not None:
            stop(server)
        await drop_database(asyncpg_server, kosh_db)
        await drop_database(asyncpg_server, pgbench_db)
        log("databases dropped")


async def main_sqlite(args: argparse.Namespace) -> int:
    """The same picks against the SQLite default: one process (`kosh serve`, one uvicorn
    worker; SQLite has one writer at a time, so more processes only queue on its lock), no
    pgbench yardstick, the same correctness checks."""
    workdir = Path(tempfile.mkdtemp(prefix="kosh-bench-sqlite-"))
    db_path = workdir / "kosh.db"
    concurrencies = [int(c) for c in args.concurrency.split(",")]
    env = {k: v for k, v in os.environ.items() if not k.startswith("KOSH_")}
    env.update(
        KOSH_ENV="development",
        KOSH_DATABASE_URL=f"sqlite+aiosqlite:///{db_path}",
        KOSH_DATA_DIR=str(workdir / "data"),
        KOSH_SECRET_KEY=secrets.token_urlsafe(48),
        KOSH_ADMIN_PASSWORD=secrets.token_urlsafe(16),
        KOSH_RATE_LIMIT="10000000/minute",
        KOSH_USER_RATE_LIMIT="10000000/minute",
        KOSH_LOG_FORMAT="json",
        WEB_CONCURRENCY="1",
    )
    server: subprocess.Popen[bytes] | None = None
    try:
        kosh(env, "migrate")
        started = time.perf_counter()
        print(
            kosh(
                env, "demo-data", "--scale", str(args.parts), "--ledger-rows", str(args.ledger_rows)
            ).strip()
        )
        load_seconds = time.perf_counter() - started
        kosh(
            env,
            "create-user",
            "--username",
            "bench",
            "--password",
            secrets.token_urlsafe(16),
            "--role",
            "operator",
        )
        token = kosh(env, "create-token", "--username", "bench", "--name", "bench").strip()
        port = free_port()
        server = start_gunicorn(env, port, 1, workdir / "gunicorn.log")
        base = f"http://127.0.0.1:{port}"
        log(f"KOSH (SQLite) serving on {base} with 1 worker")
        auth = {"authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=60) as http:
            warehouses = (await http.get("/api/v1/warehouses")).json()["items"]
            warehouse_id = next(w["id"] for w in warehouses if w["code"] == "SCALE")
            bins = (
                await http.get(
                    "/api/v1/locations",
                    params={"warehouse_id": warehouse_id, "kind": "storage", "limit": 1},
                )
            ).json()["items"]
            receipt = await http.post(
                "/api/v1/stock/receive",
                json={"part_number": HOT_PART, "qty": HOT_STOCK, "location_id": bins[0]["id"]},
            )
            receipt.raise_for_status()
        spread = [f"S-{i:07d}" for i in range(2, 2 + args.spread)]
        bench_parts = [HOT_PART, *spread]
        storage_before, floor_before, _ = sqlite_totals(db_path, bench_parts, "BENCH-")
        use_wrk = args.client == "wrk" or (args.client == "auto" and shutil.which("wrk"))
        log(f"load generator: {'wrk' if use_wrk else 'Python httpx'}")
        pick_runs: list[Run] = []
        for case, parts in (("hot part", [HOT_PART]), (f"spread {args.spread}", spread)):
            for concurrency in concurrencies:
                run = await pick_slice(
                    use_wrk,
                    base,
                    token,
                    name=case,
                    parts=parts,
                    warehouse_id=warehouse_id,
                    concurrency=concurrency,
                    duration=args.duration,
                    workdir=workdir,
                )
                pick_runs.append(run)
                log(
                    f"{case} c={concurrency}: {run.rate:.1f} picks/s, p99 "
                    f"{run.percentile(99):.1f} ms, failures {run.failed or 0}"
                )
        stop(server)
        server = None
        storage_after, floor_after, in_ledger = sqlite_totals(db_path, bench_parts, "BENCH-")
        picked = sum(r.ok for r in pick_runs)
        verify_out = kosh(env, "verify")
        checks = {
            "kosh verify: no drift": "OK: every balance matches the ledger" in verify_out,
            "storage decrease == pick units in the ledger": storage_before - storage_after
            == in_ledger,
            "floor increase == pick units in the ledger": floor_after - floor_before == in_ledger,
            "successful (200) picks <= pick units in the ledger <= those + in flight": picked
            <= in_ledger
            <= picked + (sum(r.concurrency for r in pick_runs) if use_wrk else 0),
        }
        print()
        print(
            f"data: {args.parts:,} parts, {args.ledger_rows:,} ledger rows "
            f"(generated in {load_seconds:.0f} s); KOSH on SQLite: 1 uvicorn worker; "
            f"{args.duration:.0f} s per case; load from {'wrk' if use_wrk else 'Python httpx'}; "
            f"{os.cpu_count()} CPUs shared by KOSH and the load generator"
        )
        report_table([TableRow.of_run(run) for run in pick_runs])
        print(
            f"successful picks {picked:,}; pick units in the ledger {in_ledger:,}; "
            f"storage {storage_before:,} -> {storage_after:,}; "
            f"floor {floor_before:,} -> {floor_after:,}; "
            f"lost units {storage_before - storage_after - (floor_after - floor_before)}"
        )
        print(verify_out.strip())
        for name, ok in checks.items():
            print(f"{'PASS' if ok else 'FAIL'}  {name}")
        return 0 if all(checks.values()) else 1
    finally:
        if server is not None:
            stop(server)
        shutil.rmtree(workdir, ignore_errors=True)
        log("SQLite work files removed")


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--pg",
        default=os.environ.get(
            "KOSH_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server on this machine (an admin connection URL)",
    )
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="the SQLite default instead: one process, no pgbench yardstick",
    )
    parser.add_argument("--parts", type=int, default=100_000)
    parser.add_argument("--ledger-rows", type=int, default=1_000_000)
    parser.add_argument(
        "--duration", type=float, default=10.0, help="KOSH seconds per case (all rounds)"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="PostgreSQL: slices per case, each followed by its own yardstick slices",
    )
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    # A few connections per worker, as the runbook advises ("Waiting for a connection"): on
    # 2 cores more of them only share the cores, and the scans queue for them in order.
    parser.add_argument("--pool-size", type=int, default=8)
    parser.add_argument("--pool-overflow", type=int, default=0)
    parser.add_argument("--samples", type=int, default=600, help="reads per latency test")
    parser.add_argument("--pgbench-scale", type=int, default=10)
    parser.add_argument("--spread", type=int, default=200, help="parts the spread case uses")
    parser.add_argument(
        "--client",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or the Python httpx client",
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
