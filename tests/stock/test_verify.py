"""`kosh verify`: ledger replay against balances, stored result, health section, CLI."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from kosh.cli import app as cli
from kosh.core.config import Settings, get_settings
from kosh.ops.health import DETAILED_SECTIONS
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from kosh.stock.models import StockBalance
from tests.support.stock import LotRef, Site, a_site, stock_in


@pytest.fixture
async def worked(session: AsyncSession) -> tuple[Site, LotRef]:
    site = await a_site(session)
    lot = await stock_in(session, site.part_number, site.bin_ids[0], 50)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=20,
        warehouse_id=site.warehouse_id,
        reference="J",
    )
    return site, lot


async def _tamper(session: AsyncSession, lot: LotRef, location_id: int, qty: int) -> None:
    await session.execute(
        update(StockBalance)
        .where(StockBalance.lot_id == lot.id, StockBalance.location_id == location_id)
        .values(qty=qty)
    )
    await session.commit()


async def test_no_drift_after_normal_work(session: AsyncSession, worked) -> None:  # type: ignore[no-untyped-def]
    report = await stock_verify.verify(session)
    assert report.ok
    assert (report.ledger_rows, report.balance_rows, report.drift_count) == (2, 2, 0)
    run = await stock_verify.last_run(session)
    assert run is not None
    assert run.ok
    check = await stock_verify.health_section(session)
    assert check.ok
    assert check.detail["drift"] == 0


async def test_drift_is_found_and_reported(session: AsyncSession, worked) -> None:  # type: ignore[no-untyped-def]
    site, lot = worked
    # given a balance changed behind the ledger's back
    await _tamper(session, lot, site.bin_ids[0], 31)
    # when
    report = await stock_verify.verify(session)
    # then
    assert not report.ok
    assert [(d.lot_id, d.location_id, d.ledger_qty, d.balance_qty) for d in report.differences] == [
        (lot.id, site.bin_ids[0], 30, 31)
    ]
    check = await stock_verify.health_section(session)
    assert not check.ok
    assert check.detail["drift"] == 1


async def test_health_before_any_run_and_registration(session: AsyncSession) -> None:
    assert DETAILED_SECTIONS["stock_ledger"] is stock_verify.health_section
    check = await stock_verify.health_section(session)
    assert check.ok
    assert check.detail["last_run"] is None


async def test_health_detailed_shows_the_section(
    client: httpx.AsyncClient, admin_headers, session: AsyncSession, worked
) -> None:  # type: ignore[no-untyped-def]
    ran = await client.post("/api/v1/stock/verify", headers=admin_headers)
    assert ran.status_code == 200
    assert ran.json()["ok"] is True
    response = await client.get("/health/detailed", headers=admin_headers)
    assert response.json()["checks"]["stock_ledger"]["ok"] is True
    assert response.json()["checks"]["stock_ledger"]["drift"] == 0


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    monkeypatch.setenv("KOSH_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("KOSH_DATA_DIR", str(settings.data_dir))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


async def test_cli_exit_codes(session: AsyncSession, worked, cli_env) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    site, lot = worked
    runner = CliRunner()
    # the CLI runs its own event loop: run it in a thread
    ok = await asyncio.to_thread(runner.invoke, cli, ["verify"])
    assert ok.exit_code == 0, ok.output
    assert "OK" in ok.output
    await _tamper(session, lot, site.floor_id, 7)
    bad = await asyncio.to_thread(runner.invoke, cli, ["verify"])
    assert bad.exit_code == 1
    assert "ledger 20 != balance 7" in bad.output
