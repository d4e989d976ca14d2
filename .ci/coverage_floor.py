"""Branch-coverage floor for KOSH's service modules, read from coverage data.

    python .ci/coverage_floor.py [--data-file .coverage] [--floor 95]

Reads the combined coverage data of both test passes (SQLite and PostgreSQL), takes the
service modules named by the globs in pyproject's `[tool.kosh.coverage] service_modules`
(every feature's `service.py` and the use-case modules beside it), and prints each one's
branch coverage (statements and branches, as `coverage report` counts them). It fails
when a module is below the floor, listing every such module first, so whoever merges sees
at once which feature's tests fall short. A module already below the floor when the floor
came in is listed in `[tool.kosh.coverage] below_floor` with the figure it had: it may not
fall further (a ratchet), and it is reported as debt until it reaches the floor.
"""

# ruff: noqa: T201 - a CI script reports on stdout
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import tomllib
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parents[1]


def service_modules(config: dict[str, object]) -> list[Path]:
    patterns = config.get("service_modules", ["src/kosh/*/service.py"])
    if not isinstance(patterns, list):
        raise SystemExit("[tool.kosh.coverage] service_modules must be a list of globs")
    found: set[Path] = set()
    for pattern in patterns:
        found.update(path.resolve() for path in ROOT.glob(str(pattern)))
    return sorted(found)


def percentages(data_file: Path, modules: list[Path]) -> dict[Path, float | None]:
    """Each module's total coverage (statements + branches); None when never imported."""
    cov = coverage.Coverage(data_file=str(data_file), config_file=str(ROOT / "pyproject.toml"))
    cov.load()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "coverage.json"
        cov.json_report(morfs=[str(m) for m in modules], outfile=str(out), ignore_errors=True)
        files = json.loads(out.read_text())["files"]
    by_path = {(ROOT / name).resolve(): info["summary"] for name, info in files.items()}
    return {m: by_path[m]["percent_covered"] if m in by_path else None for m in modules}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-file", type=Path, default=ROOT / ".coverage")
    parser.add_argument("--floor", type=float, default=None)
    args = parser.parse_args(argv)
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    kosh_cov = config.get("tool", {}).get("kosh", {}).get("coverage", {})
    floor = args.floor if args.floor is not None else float(kosh_cov.get("floor", 95))
    known: dict[str, float] = kosh_cov.get("below_floor", {})
    modules = service_modules(kosh_cov)
    if not args.data_file.exists():
        print(f"no coverage data at {args.data_file}", file=sys.stderr)
        return 2
    figures = percentages(args.data_file, modules)

    failing: list[str] = []
    debt: list[str] = []
    rows: list[str] = []
    for module, percent in figures.items():
        name = str(module.relative_to(ROOT))
        shown = "not run" if percent is None else f"{percent:5.1f} %"
        if percent is None or percent < floor:
            allowed = known.get(name)
            if allowed is not None and percent is not None and percent >= allowed - 0.05:
                debt.append(f"  {name}: {shown} (recorded {allowed:.1f} %, floor {floor:.0f} %)")
                status = "debt"
            else:
                why = f"recorded {allowed:.1f} %" if allowed is not None else f"floor {floor:.0f} %"
                failing.append(f"  {name}: {shown} ({why})")
                status = "BELOW"
        else:
            status = "ok"
        rows.append(f"  {shown:>8}  {status:<5}  {name}")

    if failing:
        print(f"SERVICE MODULES BELOW THE {floor:.0f} % BRANCH-COVERAGE FLOOR:")
        print("\n".join(failing))
        print()
    print(f"branch coverage of {len(modules)} service modules (floor {floor:.0f} %):")
    print("\n".join(rows))
    if debt:
        print()
        print("known debt (below the floor, not below their recorded figure):")
        print("\n".join(debt))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
