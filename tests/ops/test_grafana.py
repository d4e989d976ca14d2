"""The shipped Grafana dashboard: valid JSON, well-formed PromQL (promtool), and every KOSH
metric and label it names exists in the code (so a renamed metric cannot leave a blank panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import kosh.app
import kosh.worker  # noqa: F401 - both register every feature's metrics, as the processes do
from tests.ops.test_deploy import DEPLOY, _run, _tool

DASHBOARD = DEPLOY / "grafana" / "kosh.json"
_METRIC = re.compile(r"\bkosh_[a-z0-9_]+")
_SELECTOR = re.compile(r"\b(kosh_[a-z0-9_]+)\{([^}]*)\}")
_GROUPING = re.compile(r"\bby \(([^)]*)\)")
_SUFFIXES = {
    "counter": ("_total",),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count"),
    "summary": ("_sum", "_count"),
    "info": ("_info",),
}


def _kosh_series() -> dict[str, set[str]]:
    """Every series name KOSH exposes, with the labels it carries."""
    series: dict[str, set[str]] = {}
    for collector in list(REGISTRY._collector_to_names):
        for family in collector.describe() if hasattr(collector, "describe") else ():
            if not family.name.startswith("kosh_"):
                continue
            labels = set(getattr(collector, "_labelnames", ()))
            for suffix in _SUFFIXES[family.type]:
                extra = {"le"} if suffix == "_bucket" else set()
                series[family.name + suffix] = labels | extra
    return series


def _panels(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found.append(item)
        found += _panels(item.get("panels", []))
    return found


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _exprs() -> list[str]:
    return [t["expr"] for p in _panels(_dashboard()["panels"]) for t in p.get("targets", [])]


def test_dashboard_is_grafana_json_with_unique_panels() -> None:
    dashboard = _dashboard()
    panels = _panels(dashboard["panels"])

    assert dashboard["title"] == "KOSH"
    assert dashboard["uid"]
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids))
    graphs = [p for p in panels if p["type"] != "row"]
    assert len(graphs) >= 20
    for panel in graphs:
        assert panel["title"]
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
        assert panel["targets"], panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24


def _problems(expr: str, series: dict[str, set[str]]) -> list[str]:
    """Names and labels in `expr` that KOSH does not expose."""
    names = set(_METRIC.findall(expr))
    if not names:
        return [f"no KOSH metric in {expr}"]
    found = [f"{name} in {expr}" for name in sorted(names) if name not in series]
    for name, matchers in _SELECTOR.findall(expr):
        for matcher in filter(None, (m.strip() for m in matchers.split(","))):
            label = re.split(r"[=!~]", matcher, maxsplit=1)[0].strip()
            if label not in series.get(name, set()):
                found.append(f"label {label} of {name} in {expr}")
    labels_of_expr = set().union(*(series.get(n, set()) for n in names))
    for grouping in _GROUPING.findall(expr):
        for label in filter(None, (g.strip() for g in grouping.split(","))):
            if label not in labels_of_expr:
                found.append(f"by ({label}) in {expr}")
    return found


def test_every_metric_and_label_the_dashboard_names_exists() -> None:
    series = _kosh_series()
    assert "kosh_http_requests_total" in series  # the collection saw the real registry

    problems = [problem for expr in _exprs() for problem in _problems(expr, series)]

    assert problems == []


@pytest.mark.parametrize(
    "broken",
    [
        "rate(kosh_http_requests[5m])",  # the counter's name without _total
        'sum(kosh_storefront_queue_depth{state="pending"})',
        "sum by (store) (rate(kosh_storefront_orders_total[5m]))",
        "up == 0",
    ],
)
def test_the_check_catches_a_wrong_name_or_label(broken: str) -> None:
    assert _problems(broken, _kosh_series()) != []


def test_dashboard_covers_what_the_alert_rules_watch() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "kosh-rules.yml").read_text())
    watched = {
        name
        for group in rules["groups"]
        for rule in group["rules"]
        for name in _METRIC.findall(rule["expr"])
    }
    shown = {name for expr in _exprs() for name in _METRIC.findall(expr)}

    assert watched - shown == set()


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    promtool = _tool("promtool")
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"kosh:dashboard:{i}", "expr": expr}
                    for i, expr in enumerate(_exprs())
                ],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))

    checked = _run(promtool, "check", "rules", str(path))

    assert checked.returncode == 0, checked.stdout + checked.stderr
