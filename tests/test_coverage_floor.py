"""The CI coverage floor (.ci/coverage_floor.py) fails, naming the modules, when service
modules fall below it; a module that never ran counts as 0 %."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from coverage import CoverageData

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / ".ci" / "coverage_floor.py"


def _run(data_file: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our interpreter and script
        [sys.executable, str(SCRIPT), "--data-file", str(data_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_modules_below_the_floor_fail_the_check_and_are_named(tmp_path: Path) -> None:
    # given coverage data in which the stock service ran only its first line
    service = ROOT / "src" / "kosh" / "stock" / "service.py"
    data = CoverageData(basename=str(tmp_path / ".coverage"))
    data.add_arcs({str(service): {(-1, 1), (1, -1)}})
    data.write()

    # when the floor is checked
    done = _run(tmp_path / ".coverage")

    # then it fails and lists the stock service (and the modules that never ran) first
    assert done.returncode == 1, done.stdout + done.stderr
    head = done.stdout.split("branch coverage of", 1)[0]
    assert "SERVICE MODULES BELOW THE 95 % BRANCH-COVERAGE FLOOR" in head
    assert "src/kosh/stock/service.py" in head
    assert "src/kosh/catalog/service.py:   0.0 %" in head


def test_missing_data_is_an_error(tmp_path: Path) -> None:
    done = _run(tmp_path / "nothing")
    assert done.returncode == 2
    assert "no coverage data" in done.stderr
