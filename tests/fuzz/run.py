"""The fuzzing gate: schemathesis over the whole OpenAPI against a live KOSH, per engine.

    python -m tests.fuzz.run [--engine sqlite|postgres|both] [--max-time SECONDS]

For each engine: a fresh database (SQLite file, or a new PostgreSQL database on
KOSH_TEST_PG_URL's server, dropped afterwards), migrations, the demo site (`kosh demo-data`),
then `kosh serve` on a free loopback port. Through the API it seeds what the demo lacks (a
customer and sales orders, a BOM and a production job, a web store with a SKU mapping and a
staged web order, decoy users and tokens) and hands every id it knows to schemathesis as a
dictionary, so most generated requests reach real rows while the rest stay random.

Schemathesis then runs every operation with an admin token (`tests/fuzz/hooks.py` keeps that
token and its user alive), in its coverage and fuzzing phases, until the time budget is spent,
with the checks not_a_server_error, status_code_conformance, content_type_conformance and
response_schema_conformance. The run fails on any failure of those checks, and on any 5xx in
the server's log. The closing lines give, per engine, the requests the server answered and
the failures found.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import csv
import hashlib
import hmac
import io
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import services
from tests.support.live_server import free_port, kosh_command, server_env
from tests.support.shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
WEBHOOK_SECRET = "fuzz-webhook-secret-0123456789"
STORE = "FUZZ"


@dataclass
class Seeds:
    """Known values per parameter name, handed to schemathesis as dictionaries."""

    values: dict[str, list[Any]] = field(default_factory=dict)
    protected: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, *found: Any) -> None:
        known = self.values.setdefault(name, [])
        known.extend(v for v in found if v is not None and v not in known)


def say(line: str = "") -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def log(message: str) -> None:
    say(f"[fuzz] {message}")


def run_kosh(args: list[str], env: dict[str, str], workdir: Path) -> str:
    done = subprocess.run(  # noqa: S603 - our own command line
        [*kosh_command(), *args], env=env, cwd=workdir, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"kosh {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def start(env: dict[str, str], workdir: Path, port: int) -> subprocess.Popen[bytes]:
    logfile = (workdir / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - our own command line
        [*kosh_command(), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=workdir,
        stdout=logfile,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the server exited early:\n" + (workdir / "server.log").read_text())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=2).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("the server did not become ready in 60 s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _ids(client: httpx.Client, url: str, key: str = "id", **params: Any) -> list[Any]:
    response = client.get(url, params={"limit": 200, **params})
    if response.status_code != 200:
        log(f"seed: GET {url} answered {response.status_code}")
        return []
    body = response.json()
    items = body["items"] if isinstance(body, dict) else body
    return [item[key] for item in items if key in item][:40]


def _post(client: httpx.Client, url: str, **kwargs: Any) -> dict[str, Any]:
    response = client.post(url, **kwargs)
    if response.status_code >= 300:
        log(f"seed: POST {url} answered {response.status_code}: {response.text[:300]}")
        return {}
    return response.json() if response.content else {}


def seed(base: str, token: str, env: dict[str, str], workdir: Path) -> Seeds:
    """Rows of every kind the API can address, and the ids of all of them."""
    seeds = Seeds()
    auth = {"authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=auth, timeout=30) as client:
        me = client.get("/api/v1/auth/me").json()["user"]
        tokens = client.get("/api/v1/tokens").json()
        seeds.protected = {"KOSH_FUZZ_USER_ID": str(me["id"]), "KOSH_FUZZ_TOKEN_ID": "0"}
        seeds.protected["KOSH_FUZZ_TOKEN_ID"] = str(max(t["id"] for t in tokens))
        # decoys: users and tokens the fuzzer may deactivate, demote and revoke
        for n, role in enumerate(("viewer", "operator", "manager", "admin")):
            user = _post(
                client,
                "/api/v1/users",
                json={"username": f"decoy{n}", "password": "decoy-password-1", "role": role},
            )
            seeds.add("user_id", user.get("id"))
            made = _post(
                client,
                "/api/v1/tokens",
                json={"name": f"decoy{n}", "scopes": ["read"], "username": f"decoy{n}"},
            )
            seeds.add("token_id", made.get("id"))
        seeds.protected["KOSH_FUZZ_DECOY_USER"] = str(seeds.values["user_id"][0])
        seeds.protected["KOSH_FUZZ_DECOY_TOKEN"] = str(seeds.values["token_id"][0])

        warehouses = _ids(client, "/api/v1/warehouses")
        warehouse_id = warehouses[0]
        seeds.add("warehouse_id", *warehouses)
        locations = client.get("/api/v1/locations", params={"limit": 200}).json()["items"]
        storage = [loc["id"] for loc in locations if loc["kind"] == "storage"]
        seeds.add("location_id", *[loc["id"] for loc in locations][:40])
        parts = client.get("/api/v1/parts", params={"limit": 200}).json()["items"]
        seeds.add("part_id", *[p["id"] for p in parts][:40])
        seeds.add("pcn", *_ids(client, f"/api/v1/parts/{parts[0]['id']}/history", key="pcn"))
        for part in parts[:10]:
            stock = client.get(f"/api/v1/parts/{part['id']}/stock").json()
            seeds.add("pcn", *[line["pcn"] for line in stock["lots"]][:3])

        # sales: a customer, a draft and a confirmed order
        customer = _post(
            client,
            "/api/v1/customers",
            json={"name": "Fuzz Shop", "email": "fuzz@example.com", "notes": "seeded"},
        )
        seeds.add("customer_id", customer.get("id"))
        for confirm in (False, True):
            order = _post(
                client,
                "/api/v1/sales-orders",
                json={
                    "customer_id": customer.get("id"),
                    "warehouse_id": warehouse_id,
                    "lines": [{"part_number": parts[0]["number"], "qty": 1}],
                    "confirm": confirm,
                    "backorder": True,
                },
            )
            seeds.add("order_id", order.get("id"))
            seeds.add("sales_order_id", order.get("id"))
            seeds.add("line_id", *[line["id"] for line in order.get("lines", [])])

        # a BOM (imported from a small CSV) and a job building it
        assembly = _post(client, "/api/v1/parts", json={"number": "ASSY-FUZZ", "unit": "pcs"})
        seeds.add("part_id", assembly.get("id"))
        seeds.add("assembly_part_id", assembly.get("id"))
        sheet = io.StringIO()
        writer = csv.writer(sheet)
        writer.writerow(["Reference", "Quantity", "Part Number"])
        for n, part in enumerate(parts[:5]):
            writer.writerow([f"R{n + 1}", 2, part["number"]])
        started = _post(
            client,
            "/api/v1/boms/imports",
            files={"file": ("fuzz.csv", sheet.getvalue().encode(), "text/csv")},
            data={"assembly_part_number": "ASSY-FUZZ", "revision": "A"},
        )
        seeds.add("import_id", started.get("id"))
        bom_id = None
        for _ in range(100):
            if not started:
                break
            state = client.get(started["url"]).json()
            if state["status"] in ("succeeded", "failed"):
                bom_id = state.get("bom_id")
                if state["status"] == "failed":
                    log(f"seed: the BOM import failed: {state.get('message')}")
                break
            time.sleep(0.2)
        if bom_id is not None:
            seeds.add("bom_id", bom_id)
            seeds.add("base", bom_id)
            seeds.add("other", bom_id)
            detail = client.get(f"/api/v1/boms/{bom_id}").json()
            seeds.add("line_id", *[line["id"] for line in detail["lines"]])
            activated = client.patch(
                f"/api/v1/boms/{bom_id}", json={"version": detail["version"], "status": "active"}
            )
            if activated.status_code != 200:
                log(f"seed: activating the BOM answered {activated.status_code}")
            job = _post(
                client,
                "/api/v1/jobs",
                json={
                    "number": "J-FUZZ-1",
                    "assembly_part_number": "ASSY-FUZZ",
                    "bom_id": bom_id,
                    "qty": 2,
                    "warehouse_id": warehouse_id,
                },
            )
            seeds.add("job_id", job.get("id"))
        seeds.add("alert_id", *_ids(client, "/api/v1/alerts"))

        # a web store, a SKU mapping and a staged web order delivered by its webhook
        store = _post(
            client,
            "/api/v1/storefront/stores",
            json={
                "code": STORE,
                "base_url": "http://127.0.0.1:9/",  # nothing listens: no call leaves the box
                "webhook_secret": WEBHOOK_SECRET,
                "warehouse_id": warehouse_id,
            },
        )
        if store:
            seeds.add("code", STORE)
            mapping = _post(
                client,
                "/api/v1/storefront/sku-map",
                json={"store_code": STORE, "sku": "FUZZ-SKU", "part_number": parts[0]["number"]},
            )
            seeds.add("mapping_id", mapping.get("id"))
            _deliver_web_order(client)
        seeds.add("staged_id", *_ids(client, "/api/v1/storefront/staged"))
        seeds.add("event_id", 1)
    if not storage:
        log("seed: no storage location found")
    return seeds


def _deliver_web_order(client: httpx.Client) -> None:
    sample = SHARED_DATA / "woocommerce" / "order_211_processing_guest_prices_incl_tax.json"
    body = sample.read_bytes() if sample.exists() else json.dumps({"id": 1}).encode()
    signature = base64.b64encode(
        hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).digest()
    ).decode()
    response = client.post(
        f"/api/v1/storefront/woocommerce/{STORE}/webhook",
        content=body,
        headers={
            "content-type": "application/json",
            "x-wc-webhook-signature": signature,
            "x-wc-webhook-topic": "order.created",
            "x-wc-webhook-resource": "order",
            "x-wc-webhook-event": "created",
            "x-wc-webhook-delivery-id": "1",
        },
    )
    if response.status_code >= 300:
        log(f"seed: the webhook answered {response.status_code}: {response.text[:200]}")


def write_config(seeds: Seeds, path: Path) -> None:
    """Dictionaries of the seeded values; each parameter draws from its own most of the time
    and is generated freely otherwise (out-of-range and hostile values included)."""
    lines = []
    for name, values in sorted(seeds.values.items()):
        if values:
            lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    for name, values in sorted(seeds.values.items()):
        if values:
            # part_id is a list in /availability's query: there the fuzzer generates freely
            for location in ("path",) if name == "part_id" else ("path", "query"):
                binding = f'{{ dictionary = "{name}", probability = 0.7 }}'
                lines.append(f'"{location}.{name}" = {binding}')
    path.write_text("\n".join(lines) + "\n")


# Where a 401 is a right answer to a generated request; anywhere else it means the fuzzer's
# own token stopped working (the hooks failed to protect it) and the run tested nothing.
_ANONYMOUS = ("/api/v1/auth/login", "/webhook")


def count_requests(server_log: Path) -> tuple[int, list[str]]:
    total, errors = 0, []
    for line in server_log.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") != "request":
            continue
        total += 1
        status, path = int(event.get("status", 0)), str(event.get("path", ""))
        if status >= 500 or (status == 401 and not path.endswith(_ANONYMOUS)):
            errors.append(f"{status} {event.get('method')} {path}")
    return total, errors


@dataclass
class Outcome:
    engine: str
    requests: int
    server_errors: list[str]
    schemathesis_exit: int

    @property
    def ok(self) -> bool:
        return self.schemathesis_exit == 0 and not self.server_errors


def fuzz_engine(engine: str, *, max_time: int, workers: int, keep: bool) -> Outcome:
    workdir = Path(tempfile.mkdtemp(prefix=f"kosh-fuzz-{engine}-"))
    database = None
    if engine == "sqlite":
        url = f"sqlite+aiosqlite:///{workdir / 'fuzz.db'}"
    else:
        server = services.postgres_url()
        database = f"kosh_fuzz_{uuid.uuid4().hex[:10]}"
        asyncio.run(services.create_database(server, database))
        url = services.with_database(server, database)
    env = server_env(
        url,
        workdir / "data",
        KOSH_SECRET_KEY=secrets.token_urlsafe(48),
        KOSH_LOGIN_RATE_LIMIT="100000/minute",
        KOSH_LOGIN_ACCOUNT_RATE_LIMIT="100000/minute",
        KOSH_ALERT_DIGEST_MINUTES="0",
    )
    (workdir / "data").mkdir()
    process = None
    try:
        run_kosh(["migrate"], env, workdir)
        run_kosh(["demo-data"], env, workdir)
        port = free_port()
        process = start(env, workdir, port)
        base = f"http://127.0.0.1:{port}"
        token = run_kosh(
            [
                "create-token",
                "--username",
                "admin",
                "--name",
                "fuzz",
                "--scopes",
                "read,write,admin,metrics",
                "--expires-days",
                "0",
            ],
            env,
            workdir,
        ).strip()
        seeds = seed(base, token, env, workdir)
        config = workdir / "schemathesis.toml"
        write_config(seeds, config)
        log(f"{engine}: seeded {sum(len(v) for v in seeds.values.values())} values; fuzzing")
        command = [
            str(Path(sys.executable).with_name("schemathesis")),
            "--config-file",
            str(config),
            "run",
            f"{base}/api/openapi.json",
            "--checks",
            ",".join(CHECKS),
            "--phases",
            "examples,coverage,fuzzing",
            "--max-time",
            str(max_time),
            "--workers",
            str(workers),
            "--header",
            f"Authorization: Bearer {token}",
            "--request-timeout",
            "30",
            "--generation-database",
            "none",
            "--seed",
            os.environ.get("KOSH_FUZZ_SEED", str(secrets.randbelow(2**31))),
            "--continue-on-failure",
            "--suppress-health-check",
            "all",
            "--no-color",
        ]
        fuzz_env = {
            **os.environ,
            **seeds.protected,
            "SCHEMATHESIS_HOOKS": "tests.fuzz.hooks",
            "PYTHONPATH": str(ROOT),
        }
        started = time.monotonic()
        done = subprocess.run(command, cwd=ROOT, env=fuzz_env, check=False)  # noqa: S603
        took = time.monotonic() - started
        log(f"{engine}: schemathesis exited {done.returncode} after {took:.0f} s")
        stop(process)
        process = None
        requests, errors = count_requests(workdir / "server.log")
        return Outcome(engine, requests, errors, done.returncode)
    finally:
        if process is not None:
            stop(process)
        if database is not None:
            asyncio.run(services.drop_database(services.postgres_url(), database))
        if keep:
            log(f"{engine}: kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--max-time", type=int, default=150, help="seconds per engine")
    # One worker: hypothesis parses lambda sources with ast in its threads, which CPython 3.11
    # can break under concurrency (SystemError "AST constructor recursion depth mismatch").
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder and its logs")
    args = parser.parse_args()
    engines = ("sqlite", "postgres") if args.engine == "both" else (args.engine,)
    outcomes = [
        fuzz_engine(engine, max_time=args.max_time, workers=args.workers, keep=args.keep)
        for engine in engines
    ]
    say()
    for outcome in outcomes:
        say(
            f"fuzz {outcome.engine}: {outcome.requests} requests, "
            f"{len(outcome.server_errors)} server errors or lost logins, "
            f"schemathesis {'passed' if outcome.schemathesis_exit == 0 else 'FAILED'}"
        )
        for error in sorted(set(outcome.server_errors))[:30]:
            say(f"    {error}")
    failed = sum(not o.ok for o in outcomes)
    say(f"fuzz: {len(outcomes) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
