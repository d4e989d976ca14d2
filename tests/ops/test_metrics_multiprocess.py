"""Under gunicorn one /metrics scrape sees every worker (Prometheus multiprocess mode)."""

from __future__ import annotations

import os
import shutil
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, multiprocess
from prometheus_client.parser import text_string_to_metric_families

from kosh import gunicorn_conf
from tests.support.live_server import (
    free_port,
    kosh_command,
    server_env,
    start_server,
    stop_server,
)
from tests.support.platform import scratch_database_url

__all__ = ["scratch_database_url"]

LIVE = {"method": "GET", "route": "/health/live", "status": "200"}


def _live_count(families: object) -> float:
    total = 0.0
    for family in families:  # type: ignore[attr-defined]
        for sample in family.samples:
            if sample.name == "kosh_http_requests_total" and all(
                sample.labels.get(k) == v for k, v in LIVE.items()
            ):
                total += sample.value
    return total


def _per_process_counts(metrics_dir: Path, scratch: Path) -> dict[str, float]:
    """/health/live answers counted in each process's own file, read one file at a time."""
    counts: dict[str, float] = {}
    for db in sorted(metrics_dir.glob("counter_*.db")):
        alone = scratch / db.stem
        alone.mkdir()
        shutil.copy(db, alone / db.name)
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        counts[db.stem.removeprefix("counter_")] = _live_count(registry.collect())
    return counts


def test_prepare_metrics_dir_empties_a_configured_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "counter_1.db").write_bytes(b"stale")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    assert gunicorn_conf.prepare_metrics_dir() == tmp_path

    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def test_prepare_metrics_dir_makes_a_private_one_when_unset(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)

    path = gunicorn_conf.prepare_metrics_dir()
    try:
        assert os.environ["PROMETHEUS_MULTIPROC_DIR"] == str(path)
        assert path.is_dir()
        assert list(path.iterdir()) == []
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)  # monkeypatch recorded no value
        path.rmdir()


def _gunicorn(port: int) -> list[str]:
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        "python:kosh.gunicorn_conf",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "kosh.app:create_app()",
    ]


def _kosh_serve(port: int) -> list[str]:
    return [*kosh_command(), "serve", "--port", str(port), "--workers", "2"]


@pytest.mark.slow
@pytest.mark.parametrize("server_command", [_gunicorn, _kosh_serve], ids=["gunicorn", "serve"])
def test_one_scrape_adds_up_both_workers(
    scratch_database_url: str, tmp_path: Path, server_command: Callable[[int], list[str]]
) -> None:
    # given gunicorn (or kosh serve) with two workers and its metrics directory
    port = free_port()
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()  # like systemd's RuntimeDirectory: `kosh` imports the metrics at once
    command = server_command(port)
    env = server_env(scratch_database_url, tmp_path / "data")
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    server = start_server(command, port=port, env=env, workdir=tmp_path)
    try:
        # when requests arrive on fresh connections, in parallel, until both workers served some
        sent = 0
        counts: dict[str, float] = {}
        deadline = time.monotonic() + 30
        with ThreadPoolExecutor(max_workers=8) as pool:
            while time.monotonic() < deadline:
                answers = list(
                    pool.map(lambda _: httpx.get(f"{server.url}/health/live", timeout=5), range(40))
                )
                assert {a.status_code for a in answers} == {200}
                sent += len(answers)
                scratch = tmp_path / f"read-{sent}"
                scratch.mkdir()
                counts = _per_process_counts(metrics_dir, scratch)
                if sum(1 for c in counts.values() if c > 0) >= 2:
                    break
        scrape = httpx.get(f"{server.url}/metrics", timeout=5)
    finally:
        stop_server(server)

    # then each worker counted only its own share, and the one scrape holds them all
    served = {pid: c for pid, c in counts.items() if c > 0}
    assert len(served) == 2, counts
    assert all(c < sent for c in served.values())
    assert sum(served.values()) == sent
    assert scrape.status_code == 200
    assert _live_count(text_string_to_metric_families(scrape.text)) == sent
    assert 'kosh_build_info{version="' in scrape.text
    assert "kosh_http_requests_in_flight" in scrape.text
    # and the process metrics of both workers (and the master), one series per process
    memory = [
        sample
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "process_resident_memory_bytes"
    ]
    assert set(served) <= {sample.labels["pid"] for sample in memory}
    assert all(sample.value > 0 for sample in memory)


def test_process_metrics_come_from_live_processes_only(tmp_path: Path) -> None:
    from kosh.core.metrics import WorkerProcessCollector

    (tmp_path / f"counter_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / f"gauge_livesum_{os.getpid()}.db").write_bytes(b"")
    (tmp_path / "counter_999999999.db").write_bytes(b"")  # a process long gone

    collector = WorkerProcessCollector(tmp_path)
    families = {family.name: family for family in collector.collect()}

    assert collector.live_pids() == [os.getpid()]
    memory = families["process_resident_memory_bytes"].samples
    assert [s.labels for s in memory] == [{"pid": str(os.getpid())}]
    assert memory[0].value > 0
