"""The alerts page (filters; alerts grouped by job, else by kind, one expandable row per group;
acknowledge one, a group, or everything the filter shows) and the dashboard tiles and chart."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AfterValidator
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from kosh.alerts import queries as alert_queries
from kosh.alerts.models import Alert
from kosh.auth.deps import CurrentPrincipal
from kosh.catalog import queries as part_queries
from kosh.core.deps import SessionDep
from kosh.core.types import clean_query
from kosh.web import nav
from kosh.web.chart import BarChart, bar_chart
from kosh.web.pages import DASHBOARD_CHARTS, DASHBOARD_TILES, Tile
from kosh.web.sorting import SortParam, parse_sort
from kosh.web.templating import Pages, get_pages

router = APIRouter(include_in_schema=False)
PagesDep = Annotated[Pages, Depends(get_pages)]
STATES = ("open", "acknowledged", "resolved")
KINDS = ("job_shortage", "low_stock", "sla_warning", "sla_breached")  # sla_*: kosh.quality
SHOWN = 200
_RANK = {"critical": 0, "warning": 1, "info": 2}


@dataclass
class AlertGroup:
    """The alerts of one job (a release short of 45 parts is one row), else of one kind."""

    key: str
    label: str
    href: str | None
    alerts: list[Alert] = field(default_factory=list)

    @property
    def severity(self) -> str:
        return min((a.severity for a in self.alerts), key=lambda s: _RANK.get(s, 3))

    @property
    def open_ids(self) -> list[int]:
        return [a.id for a in self.alerts if a.state == "open"]

    @property
    def open_ids_json(self) -> str:
        return json.dumps(self.open_ids)


def group_alerts(alerts: list[Alert]) -> list[AlertGroup]:
    """Groups in the order of their first alert (the list's order: open, critical, newest)."""
    groups: dict[str, AlertGroup] = {}
    for alert in alerts:
        if alert.job_id is not None:
            number = (alert.details or {}).get("job_number") or f"#{alert.job_id}"
            key, label, href = f"job-{alert.job_id}", f"Job {number}", f"/jobs/{alert.job_id}"
        else:
            key, label, href = f"kind-{alert.kind}", alert.kind.replace("_", " ").capitalize(), None
        groups.setdefault(key, AlertGroup(key, label, href)).alerts.append(alert)
    return list(groups.values())


nav.register(nav.NavItem("Alerts", "/alerts", "viewer"))


async def alert_tiles(session: AsyncSession) -> list[Tile]:
    counts = await alert_queries.open_counts(session)
    return [
        Tile("Critical alerts", str(counts.critical), "/alerts?status=open&severity=critical"),
        Tile("Warning alerts", str(counts.warning), "/alerts?status=open&severity=warning"),
        Tile("Info alerts", str(counts.info), "/alerts?status=open&severity=info"),
    ]


if alert_tiles not in DASHBOARD_TILES:
    DASHBOARD_TILES.append(alert_tiles)


async def low_stock_chart(session: AsyncSession) -> list[BarChart]:
    """Parts with a reorder point: below it (an open low-stock alert, kept current by every
    movement) or not; two counts, so the dashboard stays cheap with 100k parts."""
    watched = await part_queries.count_with_reorder_point(session)
    if not watched:
        return []
    low = min(await alert_queries.open_count(session, kind="low_stock"), watched)
    return [
        bar_chart(
            "low-stock",
            title="Parts with a reorder point",
            description="How many parts are below their reorder point and how many have enough.",
            column="Stock level",
            rows=[("Low stock", low), ("Enough", watched - low)],
            hrefs={"Low stock": "/alerts?status=open&kind=low_stock"},
        )
    ]


if low_stock_chart not in DASHBOARD_CHARTS:
    DASHBOARD_CHARTS.append(low_stock_chart)


@router.get("/alerts")
async def alert_list(
    request: Request,
    principal: CurrentPrincipal,
    pages: PagesDep,
    session: SessionDep,
    status: Annotated[str | None, Query(max_length=20), AfterValidator(clean_query)] = "open",
    kind: Annotated[str | None, Query(max_length=32), AfterValidator(clean_query)] = None,
    severity: Annotated[str | None, Query(max_length=16), AfterValidator(clean_query)] = None,
    sort: SortParam = None,
) -> Response:
    status = status if status in STATES else None
    severity = severity if severity in ("critical", "warning", "info") else None
    order = parse_sort(
        sort,
        keys=alert_queries.ALERT_SORTS,
        default="severity",
        params={"status": status or "", "kind": kind or None, "severity": severity},
    )
    rows, total = await alert_queries.list_alerts(
        session,
        state=status,
        kind=kind or None,
        severity=severity,
        sort=order.key,
        descending=order.descending,
        limit=SHOWN,
    )
    return pages.render(
        request,
        "alerts/alert_list.html",
        {
            "groups": group_alerts(rows),
            "sort": order,
            "sort_labels": {"severity": "Severity", "raised": "Newest", "kind": "Kind"},
            "state_options": [(s, s) for s in STATES],
            "kind_options": [(k, k.replace("_", " ")) for k in KINDS],
            "severity_options": [(s, s) for s in ("critical", "warning", "info")],
            "shown": len(rows),
            "total": total,
            "counts": await alert_queries.open_counts(session),
            "status": status or "",
            "kind": kind or "",
            "severity": severity or "",
            "states": STATES,
            "kinds": KINDS,
            "can_ack": principal.has_role("manager"),
        },
    )
