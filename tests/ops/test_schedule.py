"""Scheduled backups in kosh worker: due at KOSH_BACKUP_TIME, caught up after a missed slot,
taken once, pruned to N daily / weekly / monthly; the `backups` health section; the alerts
backup_stale and backup_failed raised and resolved through the alerts feature."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.alerts.models import Alert
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.ops import backup, schedule
from kosh.ops.models import BackupRun
from kosh.worker import Worker
from tests.support.platform import app_client

Sessions = async_sessionmaker[AsyncSession]
T0 = datetime(2026, 11, 30, 2, 30, tzinfo=UTC)  # a Monday


@pytest.fixture
def scheduled(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"backup_dir": tmp_path / "backups", "backup_time": "02:30"})


def test_slot_is_the_latest_scheduled_moment() -> None:
    assert schedule.slot(T0, "02:30") == T0
    assert schedule.slot(T0 - timedelta(seconds=1), "02:30") == T0 - timedelta(days=1)
    assert schedule.slot(T0 + timedelta(hours=23), "02:30") == T0


def test_retention_keeps_newest_per_day_week_and_month() -> None:
    # given: one archive every 12 hours for 120 days
    stamps = [T0 - timedelta(hours=12 * i) for i in range(240)]
    # when
    kept = schedule.to_keep(stamps, daily=7, weekly=4, monthly=3)
    # then
    assert max(stamps) in kept
    days = {t.date() for t in kept if t > T0 - timedelta(days=7)}
    assert len(days) == 7
    # one per bucket: the newest of each day, never two of a day
    assert len({t.date() for t in kept}) == len(kept)
    weeks = {tuple(t.isocalendar())[:2] for t in kept}
    months = {(t.year, t.month) for t in kept}
    assert len(months) == 3
    assert len(weeks) >= 4
    assert len(kept) <= 7 + 4 + 3
    assert schedule.to_keep([], daily=7, weekly=4, monthly=3) == set()
    assert schedule.to_keep(stamps, daily=0, weekly=0, monthly=0) == {max(stamps)}


def test_prune_deletes_only_archives_not_kept(scheduled: Settings, tmp_path: Path) -> None:
    # given
    directory = tmp_path / "prune"
    directory.mkdir()
    names = [
        backup.archive_name("sqlite", T0 - timedelta(days=i), encrypted=i % 2 == 0)
        for i in range(20)
    ]
    for name in names:
        (directory / name).write_bytes(b"x")
    (directory / "notes.txt").write_text("not an archive")
    (directory / (names[-1] + ".partial")).write_bytes(b"x")
    keep3 = scheduled.model_copy(
        update={"backup_keep_daily": 3, "backup_keep_weekly": 0, "backup_keep_monthly": 0}
    )
    # when
    removed = schedule.prune(directory, keep3)
    # then
    left = sorted(p.name for p in directory.iterdir())
    assert len(removed) == 17
    assert set(names[:3]) <= set(left)
    assert "notes.txt" in left
    assert names[-1] + ".partial" in left


async def _run(session: AsyncSession, kind: str, status: str, finished: datetime) -> None:
    session.add(
        BackupRun(
            kind=kind,
            status=status,
            started_at=finished - timedelta(minutes=1),
            finished_at=finished,
            engine="sqlite",
            size_bytes=1234 if status == "ok" else None,
            error=None if status == "ok" else "disk full",
        )
    )
    await session.commit()


async def test_due_after_the_slot_once_and_retried_an_hour_after_a_failure(
    session: AsyncSession, scheduled: Settings
) -> None:
    # given / then: nothing yet: due (a missed slot is caught up)
    assert await schedule.is_due(session, scheduled, T0 + timedelta(minutes=5))
    # a good one since the slot: not due until the next slot
    await _run(session, "scheduled", "ok", T0 + timedelta(minutes=1))
    assert not await schedule.is_due(session, scheduled, T0 + timedelta(hours=23))
    assert await schedule.is_due(session, scheduled, T0 + timedelta(days=1, minutes=1))
    # a failure: retried an hour later
    await _run(session, "scheduled", "failed", T0 + timedelta(days=1, minutes=2))
    assert not await schedule.is_due(session, scheduled, T0 + timedelta(days=1, minutes=30))
    assert await schedule.is_due(session, scheduled, T0 + timedelta(days=1, minutes=63))
    # no schedule: never due
    off = scheduled.model_copy(update={"backup_time": None})
    assert not await schedule.is_due(session, off, T0 + timedelta(days=5))


async def test_worker_takes_the_scheduled_backup_once_and_prunes(
    sessions: Sessions, scheduled: Settings
) -> None:
    # given: the slot has passed today (02:30 or, before it, yesterday's)
    # when
    await Worker(scheduled, sessions, worker_id="w-ops").run(once=True)
    await Worker(scheduled, sessions, worker_id="w-ops").run(once=True)
    # then
    directory = scheduled.effective_backup_dir / schedule.SCHEDULED_DIR
    archives = await asyncio.to_thread(lambda: sorted(directory.glob("kosh-backup-*")))
    assert len(archives) == 1
    async with sessions() as session:
        runs = list(await session.scalars(select(BackupRun)))
        assert [(r.kind, r.status) for r in runs] == [("scheduled", "ok")]
        found = await schedule.status(session, scheduled)
    assert found.ok
    assert found.detail["last_backup"]["kind"] == "scheduled"
    assert found.detail["last_backup"]["size_bytes"] == archives[0].stat().st_size


async def test_failed_and_stale_backups_raise_alerts_that_resolve(
    sessions: Sessions, scheduled: Settings, tmp_path: Path
) -> None:
    # given: the backup directory cannot be created
    blocker = tmp_path / "a-file"
    blocker.write_text("in the way")
    broken = scheduled.model_copy(update={"backup_dir": blocker / "backups"})
    # when
    await Worker(broken, sessions, worker_id="w-ops").run(once=True)
    # then
    async with sessions() as session:
        runs = list(await session.scalars(select(BackupRun)))
        assert [(r.kind, r.status) for r in runs] == [("scheduled", "failed")]
        alerts = {a.kind: a.state for a in await session.scalars(select(Alert))}
        assert alerts == {"backup_failed": "open", "backup_stale": "open"}
        found = await schedule.status(session, broken)
        assert not found.ok
        assert found.detail["last_failure"]["error"]
    # when: a good scheduled backup arrives
    async with sessions() as session:
        await _run(session, "scheduled", "ok", utcnow())
        active = await schedule.check_alerts(session, scheduled)
    # then
    assert active == {"backup_stale": False, "backup_failed": False}
    async with sessions() as session:
        alerts = {a.kind: a.state for a in await session.scalars(select(Alert))}
    assert alerts == {"backup_failed": "resolved", "backup_stale": "resolved"}


async def test_stale_backup_fails_the_section_only_with_a_schedule(
    session: AsyncSession, scheduled: Settings
) -> None:
    # given: the last good backup is 30 hours old
    await _run(session, "manual", "ok", utcnow() - timedelta(hours=30))
    # then
    stale = await schedule.status(session, scheduled)
    assert not stale.ok
    assert stale.detail["stale"] is True
    assert stale.detail["last_backup"]["age_seconds"] >= 30 * 3600 - 5
    unscheduled = await schedule.status(session, scheduled.model_copy(update={"backup_time": None}))
    assert unscheduled.ok


async def test_detailed_health_has_a_backups_section(
    settings: Settings, admin_headers: dict[str, str], session: AsyncSession
) -> None:
    # given
    await _run(session, "restore", "ok", utcnow())
    await _run(session, "manual", "ok", utcnow())
    # when
    async with app_client(settings) as (_, client):
        response = await client.get("/health/detailed", headers=admin_headers)
    # then
    section = response.json()["checks"]["backups"]
    assert section["ok"] is True
    assert section["last_backup"]["size_bytes"] == 1234
    assert section["last_restore"]["status"] == "ok"
    assert isinstance(response, httpx.Response)
