"""Retention at a fixed moment (every step takes `now`): ended sessions, expired idempotency
keys, old audit events exported then deleted, old resolved alerts pruned; logged and counted."""

from __future__ import annotations

import asyncio
import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.alerts.models import Alert
from kosh.auth.models import UserSession
from kosh.core.config import Settings
from kosh.core.models import AuditEvent, IdempotencyKey
from kosh.ops import retention
from kosh.sales.models import Customer
from tests.storefront import fakestore
from tests.storefront.conftest import Shop, staged_rows
from tests.support.fixtures import MakeUser
from tests.support.platform import run_cli

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)


@pytest.fixture
def kept(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(
        update={
            "backup_dir": tmp_path / "backups",
            "retention_audit_days": 30,
            "retention_resolved_alert_days": 90,
            "session_idle_minutes": 60,
        }
    )


def _deleted(what: str) -> float:
    return REGISTRY.get_sample_value("kosh_retention_deleted_total", {"what": what}) or 0.0


async def test_ended_sessions_and_expired_keys_are_deleted(
    session: AsyncSession, make_user: MakeUser, kept: Settings
) -> None:
    # given
    user = await make_user("operator")

    def a_session(name: str, **times: datetime | None) -> UserSession:
        values: dict[str, datetime | None] = {
            "created_at": NOW - timedelta(hours=1),
            "last_seen_at": NOW - timedelta(minutes=5),
            "expires_at": NOW + timedelta(hours=8),
            "revoked_at": None,
            **times,
        }
        return UserSession(token_hash=name * 8, user_id=user.id, csrf_token="c", **values)

    session.add_all(
        [
            a_session("live"),
            a_session("gone", expires_at=NOW - timedelta(seconds=1)),
            a_session("shut", revoked_at=NOW - timedelta(minutes=1)),
            a_session("idle", last_seen_at=NOW - timedelta(minutes=61)),
        ]
    )
    for key, expires in (("fresh", NOW + timedelta(hours=1)), ("stale", NOW - timedelta(hours=1))):
        session.add(
            IdempotencyKey(
                scope="s",
                key=key,
                request_hash="h",
                created_at=NOW - timedelta(hours=2),
                expires_at=expires,
            )
        )
    await session.commit()
    before = _deleted("sessions")
    # when
    report = await retention.run(session, kept, now=NOW)
    # then
    assert (report.sessions, report.idempotency_keys) == (3, 1)
    assert [s.token_hash for s in await session.scalars(select(UserSession))] == ["live" * 8]
    assert [k.key for k in await session.scalars(select(IdempotencyKey))] == ["fresh"]
    assert _deleted("sessions") == before + 3


async def test_old_audit_events_are_exported_then_deleted(
    session: AsyncSession, kept: Settings
) -> None:
    # given: events 40, 31, 29 and 1 days old
    for days in (40, 31, 29, 1):
        session.add(
            AuditEvent(
                at=NOW - timedelta(days=days),
                actor_type="user",
                actor_name="jane",
                action="part.updated",
                entity_type="part",
                entity_id=str(days),
                before={"price": "1.00"},
                after={"price": "2.00"},
            )
        )
    await session.commit()
    # when
    report = await retention.run(session, kept, now=NOW)
    # then
    assert report.audit_events == 2
    assert report.audit_export is not None
    export = Path(report.audit_export)
    assert export.parent == kept.effective_backup_dir / "audit"
    lines = await asyncio.to_thread(lambda: gzip.decompress(export.read_bytes()).splitlines())
    exported = [json.loads(line) for line in lines]
    assert [e["entity_id"] for e in exported] == ["40", "31"]
    assert exported[0]["before"] == {"price": "1.00"}
    left = [e.entity_id for e in await session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert left == ["29", "1"]
    # a second run finds nothing more to export
    again = await retention.run(session, kept, now=NOW)
    assert (again.audit_events, again.audit_export) == (0, None)


async def test_audit_is_kept_forever_by_default(session: AsyncSession, settings: Settings) -> None:
    session.add(
        AuditEvent(
            at=NOW - timedelta(days=4000),
            actor_type="user",
            actor_name="x",
            action="a",
            entity_type="e",
        )
    )
    await session.commit()
    report = await retention.run(session, settings, now=NOW)
    assert report.audit_events == 0
    assert len(list(await session.scalars(select(AuditEvent)))) == 1


async def test_only_old_resolved_alerts_are_pruned(session: AsyncSession, kept: Settings) -> None:
    # given
    def an_alert(key: str, state: str, resolved_days: int | None) -> Alert:
        return Alert(
            kind="low_stock",
            subject_key=key,
            title=key,
            state=state,
            first_raised_at=NOW - timedelta(days=200),
            last_raised_at=NOW - timedelta(days=200),
            resolved_at=None if resolved_days is None else NOW - timedelta(days=resolved_days),
        )

    session.add_all(
        [
            an_alert("old-resolved", "resolved", 91),
            an_alert("new-resolved", "resolved", 89),
            an_alert("old-open", "open", None),
            an_alert("old-acked", "acknowledged", None),
        ]
    )
    await session.commit()
    # when
    report = await retention.run(session, kept, now=NOW)
    # then
    assert report.resolved_alerts == 1
    left = sorted(a.subject_key for a in await session.scalars(select(Alert)))
    assert left == ["new-resolved", "old-acked", "old-open"]


async def test_cli_retention_prints_what_it_removed(settings: Settings, tmp_path: Path) -> None:
    env = {
        "KOSH_DATABASE_URL": settings.database_url,
        "KOSH_DATA_DIR": str(tmp_path),
        "KOSH_SECRET_KEY": settings.secret_key.get_secret_value(),
    }
    result = await run_cli(["retention"], env)
    assert result.exit_code == 0, result.output
    assert "sessions=0" in result.output
    assert "resolved_alerts=0" in result.output


async def test_finished_web_order_payloads_lose_their_personal_parts(
    client: httpx.AsyncClient, shop: Shop, session: AsyncSession, drain: Any, kept: Settings
) -> None:
    # given: one applied delivery, and one in review (an unknown SKU)
    applied = fakestore.load("order_727_processing_guest_docs_create_response.json")
    waiting = fakestore.load("order_211_processing_guest_prices_incl_tax.json")
    for line in waiting["line_items"]:
        line["sku"] = "NO-SUCH-SKU"
    for payload in (applied, waiting):
        body, headers = fakestore.delivery(payload, topic="order.created")
        assert (await fakestore.send(client, shop.code, body, headers)).status_code == 200
    await drain()
    rows = await staged_rows(session)
    assert sorted(r.status for r in rows) == ["applied", "review"]
    done = next(r for r in rows if r.status == "applied")
    assert done.processed_at is not None
    later = done.processed_at + timedelta(days=366)
    customers_before = [
        (c.name, c.email) for c in await session.scalars(select(Customer).order_by(Customer.id))
    ]
    # when
    report = await retention.run(session, kept, now=later)
    again = await retention.run(session, kept, now=later)
    # then
    assert (report.staged_payloads, again.staged_payloads) == (1, 0)
    after = {r.id: r for r in await staged_rows(session)}
    redacted = json.loads(after[done.id].body)
    assert redacted["billing"] == {}
    assert redacted["shipping"] == {}
    assert redacted["id"] == applied["id"]
    assert redacted["line_items"] == json.loads(done.body)["line_items"]
    assert "john.doe@example.com" not in after[done.id].body
    in_review = next(r for r in after.values() if r.status == "review")
    assert json.loads(in_review.body)["billing"]["email"] == waiting["billing"]["email"]
    session.expunge_all()
    customers_after = [
        (c.name, c.email) for c in await session.scalars(select(Customer).order_by(Customer.id))
    ]
    assert customers_after == customers_before
