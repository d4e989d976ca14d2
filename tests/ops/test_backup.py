"""kosh backup / kosh restore on the engine under test: the restore drill (writes running
while the backup runs, restore into a fresh database, every table equal to the manifest,
ledger drift 0, a second backup with the same hashes), and every refusal before anything
is touched (corrupted, truncated, wrongly keyed, other engine, newer schema, non-empty)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kosh.core.config import Settings
from kosh.core.db import create_engine, create_session_factory
from kosh.core.migrate import head_revisions, upgrade
from kosh.core.models import WorkerHeartbeat
from kosh.ops import archive, backup, digest, restore
from kosh.ops.models import BackupRun
from kosh.stock import service as stock_service
from kosh.stock import verify as stock_verify
from kosh.stock.errors import InsufficientStockError
from tests.support.platform import run_cli
from tests.support.sales import a_customer
from tests.support.stock import a_site, stock_in

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def ops_settings(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"backup_dir": tmp_path / "backups"})


async def _some_data(session: AsyncSession) -> None:
    site = await a_site(session, bins=2)
    await stock_in(session, site.part_number, site.bin_ids[0], 100)
    await stock_in(session, site.part_number, site.bin_ids[1], 50)
    await stock_service.pick(
        session,
        part_number=site.part_number,
        qty=30,
        warehouse_id=site.warehouse_id,
        reference="J-1",
    )
    await a_customer(session, name="Ada Lovelace", phone="+44 20 7946 0000")


async def _digests_of(url: str) -> dict[str, digest.TableDigest]:
    engine = create_engine(Settings(_env_file=None), url=url)  # type: ignore[call-arg]
    try:
        async with engine.connect() as conn:
            return await digest.digests(conn)
    finally:
        await engine.dispose()


def _manifest_tables(result: backup.BackupResult) -> dict[str, tuple[int, str]]:
    return {name: (t["rows"], t["sha256"]) for name, t in result.manifest["tables"].items()}


async def _is_untouched(url: str) -> bool:
    """The scratch database is still empty: no KOSH table exists in it."""
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite+aiosqlite:///"))
        if not await asyncio.to_thread(path.exists):
            return True
    engine = create_engine(Settings(_env_file=None), url=url)  # type: ignore[call-arg]
    try:
        async with engine.connect() as conn:
            return await digest.existing_columns(conn) == {}
    finally:
        await engine.dispose()


async def test_restore_drill_with_writes_running_during_the_backup(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str
) -> None:
    # given: stock, and a writer receiving and picking while the backup runs
    async with sessions() as session:
        site = await a_site(session, bins=3)
        for bin_id in site.bin_ids:
            await stock_in(session, site.part_number, bin_id, 1000)
    stop, reached = asyncio.Event(), asyncio.Event()
    writes = {"receipts": 0, "picks": 0}
    goal = {"picks": 5}

    async def writer() -> None:
        async with sessions() as session:
            n = 0
            while not stop.is_set():
                n += 1
                await stock_in(session, site.part_number, site.bin_ids[n % 3], 5)
                writes["receipts"] += 1
                with contextlib.suppress(InsufficientStockError):
                    await stock_service.pick(
                        session,
                        part_number=site.part_number,
                        qty=7,
                        warehouse_id=site.warehouse_id,
                        reference=f"J-{n}",
                    )
                    writes["picks"] += 1
                if writes["picks"] >= goal["picks"]:
                    reached.set()
                await asyncio.sleep(0)

    task = asyncio.create_task(writer())
    await reached.wait()
    # when
    before = dict(writes)
    first = await backup.take_backup(engine, ops_settings)
    after = dict(writes)
    reached.clear()
    goal["picks"] = after["picks"] + 5
    await reached.wait()
    stop.set()
    await task
    result = await restore.restore(ops_settings, first.path, url=scratch_database_url)

    # then: the writes really overlapped the backup, and the restore equals the manifest
    assert after["receipts"] > before["receipts"], "no write happened while the backup ran"
    assert result.drift == 0
    assert result.replaced_backup is None
    restored = await _digests_of(scratch_database_url)
    assert {n: (d.rows, d.sha256) for n, d in restored.items()} == _manifest_tables(first)
    assert first.manifest["tables"]["stock_transactions"]["rows"] > 3
    # the live database moved on after the snapshot
    live = await _digests_of(str(engine.url.render_as_string(hide_password=False)))
    assert live["stock_transactions"].rows > restored["stock_transactions"].rows
    # a second backup of the restored database has the same content hashes
    restored_engine = create_engine(ops_settings, url=scratch_database_url)
    try:
        second = await backup.take_backup(restored_engine, ops_settings)
        async with create_session_factory(restored_engine)() as session:
            assert await stock_verify.replay_differences(session) == []
            kinds = list(await session.scalars(select(BackupRun.kind).order_by(BackupRun.id)))
    finally:
        await restored_engine.dispose()
    assert _manifest_tables(second) == _manifest_tables(first)
    assert kinds[-2:] == ["restore", "manual"]


async def test_manifest_describes_the_archive(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, tmp_path: Path
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    # when
    result = await backup.take_backup(engine, ops_settings, to=tmp_path / "elsewhere")
    # then
    manifest = result.manifest
    assert result.path.parent == (tmp_path / "elsewhere").resolve()
    assert result.path.name.startswith("kosh-backup-")
    assert result.path.name.endswith(f"-{engine.dialect.name}.tar.gz")
    assert manifest["engine"] == engine.dialect.name
    assert manifest["schema_revision"]
    assert manifest["kosh_version"]
    assert manifest["secret_key_fingerprint"] == backup.secret_fingerprint(ops_settings)
    assert ops_settings.secret_key.get_secret_value() not in json.dumps(manifest)
    assert manifest["tables"]["customers"]["rows"] == 1
    assert manifest["tables"]["stock_transactions"]["rows"] == 3
    assert "backup_runs" not in manifest["tables"]
    assert result.path.stat().st_mode & 0o777 == 0o600
    async with sessions() as session:
        run = await session.scalar(select(BackupRun))
    assert run is not None
    assert (run.kind, run.status, run.path) == ("manual", "ok", str(result.path))
    assert run.size_bytes == result.size_bytes


async def test_encrypted_archive_needs_the_key(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    keyed = ops_settings.model_copy(update={"backup_encryption_key": SecretStr("correct horse")})
    result = await backup.take_backup(engine, keyed)
    raw = result.path.read_bytes()
    assert result.path.name.endswith(".tar.gz.enc")
    assert raw.startswith(b"KOSHENC1")
    assert b"Ada Lovelace" not in raw
    # when / then: no key, a wrong key: refused, nothing touched
    with pytest.raises(restore.RestoreError, match="KOSH_BACKUP_ENCRYPTION_KEY"):
        await restore.restore(ops_settings, result.path, url=scratch_database_url)
    wrong = ops_settings.model_copy(update={"backup_encryption_key": SecretStr("wrong horse")})
    with pytest.raises(restore.RestoreError, match="does not decrypt"):
        await restore.restore(wrong, result.path, url=scratch_database_url)
    assert await _is_untouched(scratch_database_url)
    # the right key restores
    done = await restore.restore(keyed, result.path, url=scratch_database_url)
    assert done.drift == 0


@pytest.mark.parametrize("damage", ["flip", "truncate", "truncate-encrypted", "flip-encrypted"])
async def test_damaged_archive_is_refused_before_anything_is_touched(
    damage: str,
    sessions: Sessions,
    engine: AsyncEngine,
    ops_settings: Settings,
    scratch_database_url: str,
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    if damage.endswith("encrypted"):
        ops_settings = ops_settings.model_copy(
            update={"backup_encryption_key": SecretStr("k" * 20)}
        )
    result = await backup.take_backup(engine, ops_settings)
    data = bytearray(result.path.read_bytes())
    if damage.startswith("flip"):
        data[len(data) // 2] ^= 0x40
    else:
        del data[len(data) * 2 // 3 :]
    result.path.write_bytes(bytes(data))
    # when / then
    with pytest.raises(restore.RestoreError, match="refused") as refused:
        await restore.restore(ops_settings, result.path, url=scratch_database_url)
    assert not refused.value.touched
    assert await _is_untouched(scratch_database_url)


async def _forged(result: backup.BackupResult, tmp_path: Path, **changes: Any) -> Path:
    """The archive re-packed with a changed manifest (payload checksum kept valid)."""
    with archive.scratch_dir(tmp_path / "forge") as scratch:
        unpacked = archive.unpack(result.path, Path(scratch), passphrase=None)
        manifest = {**unpacked.manifest, **changes}
        target = tmp_path / "forged.tar.gz"
        archive.pack(target, manifest=manifest, payload=unpacked.payload, passphrase=None)
    return target


async def test_other_engine_and_newer_schema_are_refused(
    sessions: Sessions,
    engine: AsyncEngine,
    ops_settings: Settings,
    scratch_database_url: str,
    tmp_path: Path,
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    result = await backup.take_backup(engine, ops_settings)
    newer = await _forged(result, tmp_path, schema_revision=["9999"])
    # when / then
    with pytest.raises(restore.RestoreError, match="newer than this KOSH"):
        await restore.restore(ops_settings, newer, url=scratch_database_url)
    other = "postgresql" if engine.dialect.name == "sqlite" else "sqlite"
    with archive.scratch_dir(tmp_path / "forge2") as scratch:
        unpacked = archive.unpack(result.path, Path(scratch), passphrase=None)
        renamed = unpacked.payload.rename(Path(scratch) / archive.PAYLOADS[other])
        moved = tmp_path / "moved.tar.gz"
        archive.pack(
            moved, manifest={**unpacked.manifest, "engine": other}, payload=renamed, passphrase=None
        )
    with pytest.raises(restore.RestoreError, match="moving between engines is not supported"):
        await restore.restore(ops_settings, moved, url=scratch_database_url)
    assert await _is_untouched(scratch_database_url)


async def test_non_empty_database_is_refused_and_force_backs_it_up_first(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str
) -> None:
    # given: a backup, and a target that holds other data
    async with sessions() as session:
        await _some_data(session)
    result = await backup.take_backup(engine, ops_settings)
    target = create_engine(ops_settings, url=scratch_database_url)
    try:
        await upgrade(target)
        async with create_session_factory(target)() as session:
            await a_customer(session, name="Only in the target")
    finally:
        await target.dispose()
    # when / then: refused without --force, nothing changed
    with pytest.raises(restore.RestoreError, match="not empty") as refused:
        await restore.restore(ops_settings, result.path, url=scratch_database_url)
    assert not refused.value.touched
    assert (await _digests_of(scratch_database_url))["customers"].rows == 1
    # --force: the target is backed up first, then replaced
    done = await restore.restore(ops_settings, result.path, url=scratch_database_url, force=True)
    assert done.replaced_backup is not None
    assert done.replaced_backup.is_file()
    with archive.scratch_dir(ops_settings.effective_backup_dir) as scratch:
        kept = archive.unpack(done.replaced_backup, Path(scratch), passphrase=None)
    assert kept.manifest["kind"] == "pre_restore"
    assert kept.manifest["tables"]["customers"]["rows"] == 1
    restored = await _digests_of(scratch_database_url)
    assert {n: (d.rows, d.sha256) for n, d in restored.items()} == _manifest_tables(result)


async def test_older_archive_is_migrated_forward(
    engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str, tmp_path: Path
) -> None:
    # given: a database at the previous revision, backed up
    old_url = (
        f"sqlite+aiosqlite:///{tmp_path / 'old.db'}"
        if engine.dialect.name == "sqlite"
        else scratch_database_url
    )
    old = create_engine(ops_settings, url=old_url)
    try:
        await upgrade(old, "0005")
        result = await backup.take_backup(old, ops_settings)
    finally:
        await old.dispose()
    assert result.manifest["schema_revision"] == ["0005"]
    # (on PostgreSQL the old database is the scratch one: migrated but empty, so it counts as
    # empty and is restored over without --force)
    # when
    done = await restore.restore(ops_settings, result.path, url=scratch_database_url)
    # then
    assert done.migrated
    check = create_engine(ops_settings, url=scratch_database_url)
    try:
        async with check.connect() as conn:
            version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
            runs = await conn.scalar(select(func.count()).select_from(BackupRun))
    finally:
        await check.dispose()
    assert {version} == head_revisions()
    assert runs == 1


async def test_cli_backup_prints_the_path_last_and_restore_exits_non_zero_on_refusal(
    sessions: Sessions,
    ops_settings: Settings,
    scratch_database_url: str,
    tmp_path: Path,
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    env = {
        "KOSH_DATABASE_URL": ops_settings.database_url,
        "KOSH_DATA_DIR": str(tmp_path / "data"),
        "KOSH_SECRET_KEY": ops_settings.secret_key.get_secret_value(),
        "KOSH_BACKUP_DIR": str(tmp_path / "unused"),
    }
    # when
    made = await run_cli(["backup", "--to", str(tmp_path / "cli")], env)
    # then
    assert made.exit_code == 0, made.output
    path = Path(made.output.strip().splitlines()[-1])
    assert await asyncio.to_thread(path.is_file)
    assert path.parent == (tmp_path / "cli").resolve()
    refused = await run_cli(["restore", str(path)], env)  # into the same, non-empty database
    assert refused.exit_code == 1
    assert "not empty" in refused.output
    assert "was not changed" in refused.output
    missing = await run_cli(["restore", str(tmp_path / "nope.tar.gz")], env)
    assert missing.exit_code == 1
    restored = await run_cli(
        ["restore", str(path)], {**env, "KOSH_DATABASE_URL": scratch_database_url}
    )
    assert restored.exit_code == 0, restored.output
    assert "ledger drift 0" in restored.output


async def test_another_secret_key_restores_with_a_warning(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str
) -> None:
    # given
    async with sessions() as session:
        await _some_data(session)
    result = await backup.take_backup(engine, ops_settings)
    other = ops_settings.model_copy(update={"secret_key": SecretStr("another-key-" + "x" * 40)})
    # when
    done = await restore.restore(other, result.path, url=scratch_database_url)
    # then
    assert done.drift == 0
    [warning] = done.warnings
    assert result.manifest["secret_key_fingerprint"] in warning
    assert backup.secret_fingerprint(other) != result.manifest["secret_key_fingerprint"]


async def test_force_is_refused_while_a_worker_uses_the_target(
    sessions: Sessions, engine: AsyncEngine, ops_settings: Settings, scratch_database_url: str
) -> None:
    # given: a target with data and a worker heartbeat from a moment ago
    async with sessions() as session:
        await _some_data(session)
    result = await backup.take_backup(engine, ops_settings)
    target = create_engine(ops_settings, url=scratch_database_url)
    try:
        await upgrade(target)
        async with create_session_factory(target)() as session:
            session.add(WorkerHeartbeat(worker_id="w-live", hostname="h", pid=1))
            await session.commit()
    finally:
        await target.dispose()
    # when / then
    with pytest.raises(restore.RestoreError, match="w-live") as refused:
        await restore.restore(ops_settings, result.path, url=scratch_database_url, force=True)
    assert not refused.value.touched
    # no pre_restore backup was taken either
    left = await asyncio.to_thread(lambda: list(result.path.parent.glob("kosh-backup-*")))
    assert left == [result.path]
