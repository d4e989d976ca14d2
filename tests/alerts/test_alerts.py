"""Alerts: raised, deduplicated, acknowledged, auto-resolved, re-opened, counted, mailed as
one digest to a real SMTP server (aiosmtpd) started in the test."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from email import message_from_bytes
from email.message import Message

import httpx
import pytest
from aiosmtpd.controller import Controller
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts import notify
from kosh.alerts import service as alert_service
from kosh.alerts.models import Alert, AlertNotification
from kosh.core.config import Settings
from kosh.core.errors import ConflictError
from kosh.stock import service as stock_service
from tests.support.platform import run_cli
from tests.support.stock import a_location, a_part, a_warehouse


def metric(name: str, kind: str) -> float:
    return REGISTRY.get_sample_value(name, {"kind": kind}) or 0.0


async def alerts(session: AsyncSession) -> list[Alert]:
    session.expire_all()
    return list(await session.scalars(select(Alert).order_by(Alert.id)))


@dataclass(frozen=True)
class Low:
    part_id: int
    number: str
    warehouse_id: int
    bin_id: int


async def low_part(
    session: AsyncSession, number: str = "LOW-1", reorder: int = 10, qty: int = 3
) -> Low:
    """A part below its reorder point, as plain values (alerts() expires loaded objects)."""
    warehouse = await a_warehouse(session)
    bin_ = await a_location(session, warehouse.id)
    part = await a_part(session, number, reorder_point=reorder)
    low = Low(part.id, number, warehouse.id, bin_.id)
    if qty:
        await stock_service.receive(session, part_number=number, qty=qty, location_id=low.bin_id)
    return low


async def test_low_stock_raise_dedupe_resolve_reopen(session: AsyncSession) -> None:
    raised_before = metric("kosh_alerts_raised_total", "low_stock")
    resolved_before = metric("kosh_alerts_resolved_total", "low_stock")
    low = await low_part(session, reorder=10, qty=3)
    part_id = low.part_id

    # raised once, however often it is evaluated
    await alert_service.evaluate_alerts(session)
    await alert_service.evaluate_alerts(session)
    (alert,) = await alerts(session)
    assert (alert.kind, alert.state, alert.severity) == ("low_stock", "open", "warning")
    assert alert.details == {"part_number": "LOW-1", "on_hand": 3, "reorder_point": 10}

    # resolved when stock arrives
    await stock_service.receive(session, part_number="LOW-1", qty=20, location_id=low.bin_id)
    await alert_service.evaluate_alerts(session, part_ids=[part_id])
    (alert,) = await alerts(session)
    assert alert.state == "resolved"
    assert alert.resolved_at is not None

    # re-opened (same row) when it drops below again: picked to the MFG floor
    await stock_service.pick(
        session, part_number="LOW-1", qty=23, warehouse_id=low.warehouse_id, reference="J-1"
    )
    await alert_service.evaluate_alerts(session, part_ids=[part_id])
    (alert,) = await alerts(session)
    assert (alert.state, alert.reopened_count, alert.severity) == ("open", 1, "critical")
    assert metric("kosh_alerts_raised_total", "low_stock") - raised_before == 2
    assert metric("kosh_alerts_resolved_total", "low_stock") - resolved_before == 1


async def test_acknowledge_through_the_api(
    client: httpx.AsyncClient,
    session: AsyncSession,
    manager_headers: dict[str, str],
    operator_headers: dict[str, str],
) -> None:
    before = metric("kosh_alerts_acknowledged_total", "low_stock")
    await low_part(session)
    await alert_service.evaluate_alerts(session)
    (alert,) = await alerts(session)
    url = f"/api/v1/alerts/{alert.id}/acknowledge"

    by_operator = await client.post(url, json={"note": "ordered"}, headers=operator_headers)
    empty = await client.post(url, json={"note": ""}, headers=manager_headers)
    done = await client.post(
        url, json={"note": "PO 4711 placed", "action": "reorder"}, headers=manager_headers
    )
    twice = await client.post(url, json={"note": "again"}, headers=manager_headers)
    listed = await client.get(
        "/api/v1/alerts?status=acknowledged&kind=low_stock", headers=operator_headers
    )
    counts = await client.get("/api/v1/alerts/counts", headers=operator_headers)

    assert by_operator.status_code == 403
    assert empty.status_code == 422
    assert done.status_code == 200
    body = done.json()
    assert (body["state"], body["ack_note"], body["ack_action"]) == (
        "acknowledged",
        "PO 4711 placed",
        "reorder",
    )
    assert body["acknowledged_by"].startswith("manager")
    assert (twice.status_code, twice.json()["code"]) == (409, "already_acknowledged")
    assert [item["id"] for item in listed.json()["items"]] == [alert.id]
    assert counts.json() == {"critical": 0, "warning": 0, "info": 0, "total": 0}
    assert metric("kosh_alerts_acknowledged_total", "low_stock") - before == 1


async def test_acknowledged_alert_still_resolves_and_reopens_fresh(session: AsyncSession) -> None:
    low = await low_part(session)
    await alert_service.evaluate_alerts(session)
    (alert,) = await alerts(session)
    await alert_service.acknowledge(session, alert_id=alert.id, note="on order")

    await stock_service.receive(session, part_number=low.number, qty=50, location_id=low.bin_id)
    await alert_service.evaluate_alerts(session)
    state = (await alerts(session))[0].state
    alert_id = alert.id
    with pytest.raises(ConflictError) as late:
        await alert_service.acknowledge(session, alert_id=alert_id, note="late")

    assert state == "resolved"
    assert late.value.code == "alert_resolved"


async def test_counts_by_severity(
    client: httpx.AsyncClient, session: AsyncSession, operator_headers: dict[str, str]
) -> None:
    await low_part(session, "A-1", reorder=10, qty=0)  # critical
    await low_part(session, "A-2", reorder=10, qty=3)  # warning
    await low_part(session, "A-3", reorder=10, qty=8)  # info
    await alert_service.evaluate_alerts(session)

    counts = await client.get("/api/v1/alerts/counts", headers=operator_headers)
    listed = await client.get("/api/v1/alerts?status=open", headers=operator_headers)

    assert counts.json() == {"critical": 1, "warning": 1, "info": 1, "total": 3}
    assert [item["severity"] for item in listed.json()["items"]] == ["critical", "warning", "info"]


async def test_concurrent_evaluations_keep_one_alert_per_subject(
    session: AsyncSession, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await low_part(session)

    async def evaluate() -> None:
        async with sessions() as own:
            await alert_service.evaluate_alerts(own)

    await asyncio.gather(*(evaluate() for _ in range(4)))

    assert await session.scalar(select(func.count()).select_from(Alert)) == 1


async def test_other_features_raise_and_resolve_their_own_kinds(session: AsyncSession) -> None:
    await alert_service.raise_alert(
        session, kind="stale_web_order", key="storefront:stale", message="3 orders waiting"
    )
    await alert_service.raise_alert(
        session, kind="stale_web_order", key="storefront:stale", message="4 orders waiting"
    )
    resolved = await alert_service.resolve_alerts(session, keys=["storefront:stale"])

    (alert,) = await alerts(session)
    assert (alert.message, alert.state, resolved) == ("4 orders waiting", "resolved", 1)


# --- e-mail digest -----------------------------------------------------------------------------


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(settings: Settings, port: int) -> Settings:
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_tls": "off",
            "smtp_from": "kosh@example.test",
            "alert_recipients": ["planner@example.test", "boss@example.test"],
        }
    )


async def test_many_alerts_make_one_digest_mail(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    config = mail_settings(settings, port)
    for n in range(12):
        await low_part(session, f"LOW-{n:02d}", reorder=10, qty=n % 3)
    await alert_service.evaluate_alerts(session)

    first = await notify.send_digest(sessions, config)
    second = await notify.send_digest(sessions, config)

    assert first is not None
    assert (first.status, first.alert_count) == ("sent", 12)
    assert second is None  # nothing new: no second mail
    (mail,) = inbox.messages
    assert mail["To"] == "planner@example.test, boss@example.test"
    assert mail["Subject"].startswith("KOSH alerts: 12 new")
    text = mail.get_payload()
    assert isinstance(text, str)
    assert text.count("is below its reorder point") == 12
    notification = await session.scalar(select(AlertNotification))
    assert notification is not None
    assert (notification.status, notification.alert_count) == ("sent", 12)


async def test_failed_mail_keeps_alerts_for_the_next_digest(
    session: AsyncSession,
    sessions: async_sessionmaker[AsyncSession],
    settings: Settings,
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    await low_part(session)
    await alert_service.evaluate_alerts(session)

    down = await notify.send_digest(sessions, mail_settings(settings, free_port()))
    up = await notify.send_digest(sessions, mail_settings(settings, port))

    assert down is not None
    assert down.status == "failed"
    assert up is not None
    assert (up.status, up.alert_count) == ("sent", 1)
    assert len(inbox.messages) == 1


async def test_cli_evaluate(session: AsyncSession, settings: Settings) -> None:
    await low_part(session)

    result = await run_cli(
        ["alerts", "evaluate"],
        {
            "KOSH_DATABASE_URL": settings.database_url,
            "KOSH_SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
            "KOSH_MIGRATE_ON_START": "false",
        },
    )

    assert result.exit_code == 0, result.output
    assert "1 open or acknowledged" in result.output
    assert len(await alerts(session)) == 1
