"""Acknowledging many alerts: a group's ids or the page's filter, one note, open ones only,
audited one by one, bounded; and the alerts page groups a job's shortages into one row."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts import acknowledgement
from kosh.alerts import service as alert_service
from kosh.alerts.models import Alert
from kosh.bom.models import Bom, BomLine
from kosh.core.errors import ConflictError, ValidationError
from kosh.core.models import AuditEvent
from kosh.production import service as job_service
from tests.support.fixtures import MakeUser
from tests.support.stock import a_part, a_warehouse
from tests.web.test_no_inline_code import inline_code

Login = Callable[..., Awaitable[Any]]
HTML = {"accept": "text/html"}


def acknowledged_metric(kind: str) -> float:
    return REGISTRY.get_sample_value("kosh_alerts_acknowledged_total", {"kind": kind}) or 0.0


async def two_jobs(session: AsyncSession) -> tuple[int, int]:
    warehouse = await a_warehouse(session)
    warehouse_id = warehouse.id
    assembly = await a_part(session, "ASM-AL")
    part = await a_part(session, "RES-AL")
    bom = Bom(assembly_part_id=assembly.id, revision="A", status="active", created_by="t")
    session.add(bom)
    await session.flush()
    session.add(BomLine(bom_id=bom.id, line_no=1, part_id=part.id, qty=1, refdes="R1"))
    await session.commit()
    ids = []
    for number in ("J-A", "J-B"):
        job = await job_service.create_job(
            session, number=number, assembly_part_number="ASM-AL", qty=1, warehouse_id=warehouse_id
        )
        ids.append(job.id)
    return ids[0], ids[1]


async def raise_alerts(session: AsyncSession) -> dict[str, int]:
    """Three shortages of job J-A (critical), one of J-B, and two SLA warnings."""
    job_a, job_b = await two_jobs(session)
    for n in range(3):
        await alert_service.raise_alert(
            session,
            kind="job_shortage",
            key=f"job_shortage:test:a:{n}",
            severity="critical",
            title=f"Job J-A: P-{n} short",
            message="short",
            details={"job_number": "J-A"},
        )
    await alert_service.raise_alert(
        session,
        kind="job_shortage",
        key="job_shortage:test:b",
        severity="warning",
        title="Job J-B: P-9 short",
        message="short",
        details={"job_number": "J-B"},
    )
    for n in range(2):
        await alert_service.raise_alert(
            session, kind="sla_warning", key=f"sla:{n}", severity="warning", message=f"SLA {n}"
        )
    # the shortage evaluation links its alerts to their job; raise_alert does not
    await session.execute(
        update(Alert).where(Alert.subject_key.like("job_shortage:test:a:%")).values(job_id=job_a)
    )
    await session.execute(
        update(Alert).where(Alert.subject_key == "job_shortage:test:b").values(job_id=job_b)
    )
    await session.commit()
    session.expire_all()
    rows = await session.execute(select(Alert.subject_key, Alert.id))
    return {str(key): int(alert_id) for key, alert_id in rows.all()}


async def states(session: AsyncSession) -> dict[str, str]:
    session.expire_all()
    return dict((await session.execute(select(Alert.subject_key, Alert.state))).all())


async def test_by_ids_acknowledges_the_open_ones_with_one_note(session: AsyncSession) -> None:
    # given six open alerts, one of the chosen three acknowledged already
    ids = await raise_alerts(session)
    chosen = [ids[f"job_shortage:test:a:{n}"] for n in range(3)]
    await alert_service.acknowledge(session, alert_id=chosen[0], note="first")
    before = acknowledged_metric("job_shortage")

    # when the three are acknowledged together
    count = await acknowledgement.acknowledge_many(
        session, ids=chosen, note="  reels ordered  ", action="reorder"
    )

    # then the two still open change, the first keeps its own note, the rest are untouched
    assert count == 2
    assert await states(session) == {
        "job_shortage:test:a:0": "acknowledged",
        "job_shortage:test:a:1": "acknowledged",
        "job_shortage:test:a:2": "acknowledged",
        "job_shortage:test:b": "open",
        "sla:0": "open",
        "sla:1": "open",
    }
    notes = dict(
        (await session.execute(select(Alert.id, Alert.ack_note).where(Alert.id.in_(chosen)))).all()
    )
    assert notes == {chosen[0]: "first", chosen[1]: "reels ordered", chosen[2]: "reels ordered"}
    audited = await session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == "alert.acknowledge",
            AuditEvent.entity_id.in_([str(i) for i in chosen[1:]]),
        )
    )
    assert audited == 2
    assert acknowledged_metric("job_shortage") - before == 2
    # a single acknowledgement of one of them now sees it taken
    with pytest.raises(ConflictError):
        await alert_service.acknowledge(session, alert_id=chosen[1], note="again")


async def test_by_filter_job_kind_and_severity(session: AsyncSession) -> None:
    ids = await raise_alerts(session)
    job_a = await session.scalar(
        select(Alert.job_id).where(Alert.id == ids["job_shortage:test:a:0"])
    )

    of_job = await acknowledgement.acknowledge_many(session, job_id=job_a, note="kitted")
    assert of_job == 3
    assert sorted(k for k, v in (await states(session)).items() if v == "acknowledged") == [
        f"job_shortage:test:a:{n}" for n in range(3)
    ]
    warned = await acknowledgement.acknowledge_many(
        session, kind="job_shortage", severity="warning", note="rescheduled"
    )
    assert warned == 1
    assert (await states(session))["job_shortage:test:b"] == "acknowledged"
    rest = await acknowledgement.acknowledge_many(session, note="all of it")
    assert rest == 2
    assert set((await states(session)).values()) == {"acknowledged"}
    assert await acknowledgement.acknowledge_many(session, note="nothing left") == 0


async def test_refuses_an_empty_note_and_too_many_changing_nothing(
    session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    await raise_alerts(session)
    with pytest.raises(ValidationError):
        await acknowledgement.acknowledge_many(session, note="   ")
    monkeypatch.setattr(acknowledgement, "MAX_AT_ONCE", 5)
    with pytest.raises(ValidationError) as refused:
        await acknowledgement.acknowledge_many(session, note="too broad")
    assert refused.value.code == "too_many_alerts"
    assert set((await states(session)).values()) == {"open"}


async def test_the_api_for_managers_only_with_problem_answers(
    client: httpx.AsyncClient,
    session: AsyncSession,
    manager_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    ids = await raise_alerts(session)
    url = "/api/v1/alerts/acknowledge"

    by_operator = await client.post(url, json={"note": "x"}, headers=operator_headers)
    bad_ids = await client.post(url, json={"note": "x", "ids": [0, "a"]}, headers=manager_headers)
    no_ids = await client.post(url, json={"note": "x", "ids": []}, headers=manager_headers)
    bad_severity = await client.post(
        url, json={"note": "x", "severity": "bad"}, headers=manager_headers
    )
    unknown = await client.post(url, json={"note": "x", "job": 1}, headers=manager_headers)
    done = await client.post(
        url,
        json={"note": "expedited", "ids": [ids["sla:0"], ids["sla:1"]], "kind": "sla_warning"},
        headers=manager_headers,
    )

    assert by_operator.status_code == 403
    for refused in (bad_ids, no_ids, bad_severity, unknown):
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert (done.status_code, done.json()) == (200, {"acknowledged": 2})


async def test_the_page_groups_a_jobs_alerts_into_one_row(
    client: httpx.AsyncClient, session: AsyncSession, make_user: MakeUser, login: Login
) -> None:
    # given three shortages of job J-A, one of J-B and two SLA warnings
    await raise_alerts(session)
    await login(client, await make_user("manager"))

    # when the alerts page is opened
    page = (await client.get("/alerts", headers=HTML)).text

    # then one row per group, the worst severity first, with a count and a group form
    groups = re.findall(
        r'data-group="([^"]+)".*?<strong>([^<]+)</strong>\s*'
        r'<span class="count"[^>]*>([^<]+)</span>',
        page,
        flags=re.S,
    )
    assert [(label, count) for _, label, count in groups] == [
        ("Job J-A", "3 alerts"),
        ("Sla warning", "2 alerts"),
        ("Job J-B", "1 alert"),
    ]
    assert page.count('data-testid="ack-group"') == 2  # the single one has its own form only
    assert 'data-testid="ack-filter"' in page
    assert "6 alerts in 3 groups." in page
    assert inline_code(page) == []
