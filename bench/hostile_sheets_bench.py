"""Hostile spreadsheets against a real server: time to refuse each and the server's growth.

Starts `kosh serve` (SQLite in a temp directory, one process), uploads through HTTP what
issue 8 names and what python-calamine would turn into a rectangle of 32-byte cells:

- a CSV with 1,000,000 columns (17 MB), dry run;
- an xlsx of 16,384 columns x ~1,000 rows: 240 MiB of XML in 1.4 MB, under the 200:1 ratio
  guard; the same 240 MiB as 1,000 columns x ~16,700 rows;
- two tiny xlsx whose only cells are A1 and XFD1048576 (a 512 GiB rectangle: the process
  aborts) or A1 and ALL250000 (8 GB); an 800-byte ods repeating one cell 99,000,000 times
  (3 GB, under calamine's own limit); an xls with cells A1 and IV65536 (537 MB);
- the three big ones at once;

and a real BOM (10,000 rows) as the control that must still import. The server's memory
is its process RSS from /proc/<pid>/status, sampled every 5 ms in a thread while a request
runs (never tracemalloc); "+RSS" is the highest sample minus the RSS just before.

    .venv/bin/python bench/hostile_sheets_bench.py            # a table
    .venv/bin/python bench/hostile_sheets_bench.py --json     # one JSON object (the test)

The machine may be shared: run it when it is quiet, and say so with the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

from tests.bom import files  # noqa: E402 - the test suite's file factory
from tests.support.live_server import free_port, kosh_command, server_env  # noqa: E402

PASSWORD = "bench-password-0123456789"  # noqa: S105 - a throwaway database


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Sampler:
    """The highest RSS of `pid` while the block runs."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(0.005)

    def __enter__(self) -> Sampler:
        self.before = rss_mib(self.pid)
        self.peak = self.before
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        time.sleep(0.05)  # what the server does right after answering counts too
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_mib(self.pid))


def make_files(directory: Path) -> dict[str, Path]:
    return {
        "csv_1M_columns": files.wide_csv(directory / "wide.csv", columns=1_000_000),
        "xlsx_240MiB_16384_columns": files.dense_xlsx(
            directory / "wide.xlsx", columns=16_384, uncompressed=240 << 20
        ),
        "xlsx_240MiB_1000_columns": files.dense_xlsx(
            directory / "tall.xlsx", columns=1000, uncompressed=240 << 20
        ),
        "xlsx_A1_XFD1048576": files.sparse_xlsx(directory / "bomb1.xlsx", "A1", "XFD1048576"),
        "xlsx_A1_ALL250000": files.sparse_xlsx(directory / "bomb2.xlsx", "A1", "ALL250000"),
        "ods_99M_repeated_cells": files.ods_raw(
            directory / "bomb.ods",
            '<table:table-row table:number-rows-repeated="99000"><table:table-cell '
            'table:number-columns-repeated="1000" office:value-type="float" office:value="1">'
            "<text:p>1</text:p></table:table-cell></table:table-row>",
        ),
        "xls_A1_IV65536": _xls_bomb(directory / "bomb.xls"),
    }


def _xls_bomb(path: Path) -> Path:
    import xlwt

    book = xlwt.Workbook()
    sheet = book.add_sheet("BOM")
    sheet.write(0, 0, 1)
    sheet.write(65535, 255, 1)
    book.save(str(path))
    return path


def control_bom(directory: Path, rows: int = 10_000) -> Path:
    data: list[list[Any]] = [["Reference", "Qty", "Part Number", "Description"]]
    data += [[f"R{n + 1}", 1, f"P{n:06d}", f"Resistor {n}"] for n in range(rows)]
    return files.xlsx(directory / "control.xlsx", data)


def start(workdir: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    env = server_env(
        f"sqlite+aiosqlite:///{workdir / 'kosh.db'}",
        workdir / "data",
        KOSH_LOG_LEVEL="WARNING",
    )
    run = [*kosh_command()]
    subprocess.run([*run, "migrate"], env=env, cwd=workdir, check=True, capture_output=True)
    subprocess.run(
        [*run, "create-user", "--username", "bench", "--password", PASSWORD],
        env=env,
        cwd=workdir,
        check=True,
        capture_output=True,
    )
    token = (
        subprocess.run(
            [
                *run,
                "create-token",
                "--username",
                "bench",
                "--name",
                "bench",
                "--scopes",
                "read,write",
            ],
            env=env,
            cwd=workdir,
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    port = free_port()
    log = (workdir / "server.log").open("wb")
    process = subprocess.Popen(
        [*run, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env={**env, "KOSH_MIGRATE_ON_START": "false"},
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit((workdir / "server.log").read_text()[-3000:])
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return process, url, token
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    process.kill()
    raise SystemExit("the server did not start")


def upload(url: str, token: str, path: Path) -> dict[str, Any]:
    started = time.perf_counter()
    with path.open("rb") as handle:
        answer = httpx.post(
            f"{url}/api/v1/boms/imports",
            headers={"authorization": f"Bearer {token}"},
            files={"file": (path.name, handle)},
            data={"dry_run": "true"},
            timeout=300,
        )
    elapsed = time.perf_counter() - started
    body = answer.json()
    return {
        "status": answer.status_code,
        "code": body.get("code"),
        "seconds": elapsed,
        "body": body,
    }


def wait_import(url: str, token: str, import_id: int) -> dict[str, Any]:
    while True:
        state = httpx.get(
            f"{url}/api/v1/boms/imports/{import_id}",
            headers={"authorization": f"Bearer {token}"},
            timeout=30,
        ).json()
        if state["status"] in ("succeeded", "failed"):
            return dict(state)
        time.sleep(0.1)


def measure(pid: int, action: Callable[[], Any]) -> tuple[Any, float, float, float]:
    with Sampler(pid) as sampler:
        started = time.perf_counter()
        result = action()
        seconds = time.perf_counter() - started
    return result, seconds, sampler.peak - sampler.before, sampler.before


def run() -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="kosh-hostile-"))
    try:
        hostile = make_files(workdir)
        control = control_bom(workdir)
        process, url, token = start(workdir)
        results: dict[str, Any] = {"files": {}, "server_pid": process.pid}
        try:
            # warm up: the first import loads the readers' modules
            for warm in (control, files.csv_file(workdir / "w.csv", [["Part Number", "Qty"]])):
                accepted = upload(url, token, warm)
                if accepted["status"] == 202:
                    wait_import(url, token, accepted["body"]["id"])
            results["rss_start_mib"] = rss_mib(process.pid)
            for name, path in hostile.items():
                answer, seconds, grew, before = measure(
                    process.pid, lambda path=path: upload(url, token, path)
                )
                results["files"][name] = {
                    "bytes": path.stat().st_size,
                    "status": answer["status"],
                    "code": answer["code"],
                    "seconds": round(seconds, 3),
                    "rss_before_mib": round(before, 1),
                    "rss_growth_mib": round(grew, 1),
                }
            big = [p for n, p in hostile.items() if "240MiB" in n or n.startswith("csv")]

            def three() -> list[dict[str, Any]]:
                with ThreadPoolExecutor(len(big)) as pool:
                    return list(pool.map(lambda p: upload(url, token, p), big))

            answers, seconds, grew, before = measure(process.pid, three)
            results["three_at_once"] = {
                "statuses": [a["status"] for a in answers],
                "codes": [a["code"] for a in answers],
                "seconds": round(seconds, 3),
                "rss_before_mib": round(before, 1),
                "rss_growth_mib": round(grew, 1),
            }

            def control_import() -> dict[str, Any]:
                accepted = upload(url, token, control)
                return wait_import(url, token, accepted["body"]["id"])

            state, seconds, grew, before = measure(process.pid, control_import)
            results["control_10k_rows"] = {
                "status": state["status"],
                "lines": state["lines_count"],
                "seconds": round(seconds, 3),
                "rss_growth_mib": round(grew, 1),
            }
            results["server_alive"] = process.poll() is None
            results["rss_end_mib"] = rss_mib(process.pid)
        finally:
            process.terminate()
            process.wait(timeout=20)
        return results
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    results = run()
    if args.json:
        print(json.dumps(results))
        return
    print(f"server RSS after warm-up: {results['rss_start_mib']:.0f} MiB")
    print(f"{'file':28} {'bytes':>11} {'answer':>22} {'seconds':>8} {'+RSS MiB':>9}")
    for name, row in results["files"].items():
        answer = f"{row['status']} {row['code']}"
        print(
            f"{name:28} {row['bytes']:>11,} {answer:>22} {row['seconds']:>8.3f} "
            f"{row['rss_growth_mib']:>9.1f}"
        )
    three = results["three_at_once"]
    print(
        f"{'three at once':28} {'':>11} {' '.join(map(str, three['statuses'])):>22} "
        f"{three['seconds']:>8.3f} {three['rss_growth_mib']:>9.1f}"
    )
    control = results["control_10k_rows"]
    print(
        f"{'control, 10k-row BOM':28} {'':>11} {control['status']:>22} "
        f"{control['seconds']:>8.3f} {control['rss_growth_mib']:>9.1f}"
    )
    print(
        f"server alive at the end: {results['server_alive']}, RSS {results['rss_end_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    main()
