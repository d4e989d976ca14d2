"""Where a bench phase's CPU went: the app's worker processes, PostgreSQL's processes, the
load generator (a child of the bench, waited for) and what stayed idle, read from /proc
(Linux) around the phase. Divided by the operations done, it says what limits the figure:
on a machine whose cores the app, the database and the client share, an op costs the sum.
"""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:  # the process ended
        return []


def _process_seconds(pid: int) -> tuple[float, float]:
    """User and system CPU seconds of the process, and of its children it has waited for
    (PostgreSQL's postmaster reaps the backends of connections that closed)."""
    fields = _stat(pid)
    if not fields:
        return 0.0, 0.0
    user, system, children_user, children_system = (int(f) for f in fields[11:15])
    return (user + children_user) / TICK, (system + children_system) / TICK


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat(int(entry.name))
            if fields and int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _named(name: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _idle_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    return (int(fields[3]) + int(fields[4])) / TICK  # idle, iowait


@dataclass
class Snapshot:
    app: dict[int, tuple[float, float]]
    database: dict[int, tuple[float, float]]
    load: float
    idle: float


def snapshot(app_master_pid: int) -> Snapshot:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return Snapshot(
        app={pid: _process_seconds(pid) for pid in _children(app_master_pid)},
        database={pid: _process_seconds(pid) for pid in _named("postgres")},
        load=children.ru_utime + children.ru_stime,
        idle=_idle_seconds(),
    )


def _spent(
    before: dict[int, tuple[float, float]], after: dict[int, tuple[float, float]], part: int
) -> float:
    # a process that started during the phase counts from zero
    return sum(seconds[part] - before.get(pid, (0.0, 0.0))[part] for pid, seconds in after.items())


def per_op(before: Snapshot, after: Snapshot, ops: int) -> dict[str, float]:
    """Milliseconds of CPU per operation by who spent them (user + system, and the system
    share apart: on loopback TCP the sender's kernel does the receiver's network work),
    and the CPU-ms per op that stayed idle."""
    if ops <= 0:
        return {}
    per_worker = [
        sum(seconds) - sum(before.app.get(pid, (0.0, 0.0))) for pid, seconds in after.app.items()
    ]
    spent = {
        "app": _spent(before.app, after.app, 0) + _spent(before.app, after.app, 1),
        "app in kernel": _spent(before.app, after.app, 1),
        # a worker's connections stay with it: one busier than the rest caps the figure
        "busiest app worker": max(per_worker, default=0.0),
        "PostgreSQL": _spent(before.database, after.database, 0)
        + _spent(before.database, after.database, 1),
        "PostgreSQL in kernel": _spent(before.database, after.database, 1),
        "load generator": after.load - before.load,
        "idle": after.idle - before.idle,
    }
    return {who: 1000 * seconds / ops for who, seconds in spent.items()}


def describe(cpu: dict[str, float]) -> str:
    if not cpu:
        return "no operations"
    return ", ".join(f"{who} {ms:.2f}" for who, ms in cpu.items()) + " CPU-ms per op"
