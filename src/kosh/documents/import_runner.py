"""Running opening-stock imports: one code path (`run`) for a small file the request waits
for and a large one run as a background task after the request answered 202 (the BOM
import's pattern: an in-process asyncio task reporting through its `opening_imports`
row; any app node answers the status from that row).

`run` marks the import running, reads the file in a worker thread (progress: rows read),
then checks and, unless a dry run, receives every row in ONE transaction
(kosh.documents.opening), which also marks the import succeeded. Anything that goes
wrong fails the import with the problem the API would have answered, and nothing is
received (the receipt's transaction rolled back). The temp file is always removed.

Progress while receiving (rows written / total) is kept in memory for this process and,
on PostgreSQL, written to the row in short transactions of its own between chunks (the
row is not touched by the receipt's transaction until its last statement, so these
writes never wait for it). On SQLite the receipt holds the single write lock, so the row
shows the phase only and this process answers the live numbers from memory.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.bom import service as bom_service
from kosh.core.config import Settings
from kosh.core.errors import DomainError
from kosh.core.request_context import current_request_id
from kosh.documents import imports, opening
from kosh.documents.metrics import OPENING_IMPORTS_RUNNING
from kosh.documents.opening_file import ReadProgress, read_opening_file

log = structlog.get_logger(__name__)

PROGRESS_SECONDS = 0.5
SHUTDOWN_MESSAGE = "KOSH was shut down during the import; nothing was received. Upload again."


@dataclass(frozen=True)
class ImportRequest:
    path: Path
    file_name: str
    warehouse_id: int
    dry_run: bool
    create_parts: bool = False
    sheet: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)


@dataclass
class Live:
    phase: str = "reading"
    rows_done: int = 0
    rows_total: int | None = None


class OpeningImportRunner:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.tasks: set[asyncio.Task[None]] = set()
        self.live: dict[int, Live] = {}

    def start(self, import_id: int, request: ImportRequest) -> None:
        """Run the import as a task (kept referenced until it ends). Owns `request.path`."""
        task = asyncio.create_task(
            self._background(import_id, request), name=f"opening-import-{import_id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait_idle(self) -> None:
        """Wait for every running import (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def shutdown(self) -> None:
        await asyncio.sleep(0)  # let a task started just now enter `run`'s handler
        for task in list(self.tasks):
            task.cancel()
        await self.wait_idle()

    async def _background(self, import_id: int, request: ImportRequest) -> None:
        # recorded on the import row (and logged) by `run`
        with contextlib.suppress(Exception):
            await self.run(import_id, request)

    async def run(self, import_id: int, request: ImportRequest) -> opening.ImportReport:
        """Read, check and (unless a dry run) receive; raise the DomainError of a refused
        import after recording it on the import row. Owns `request.path`."""
        OPENING_IMPORTS_RUNNING.inc()
        self.live[import_id] = Live()
        try:
            return await self._work(import_id, request)
        except asyncio.CancelledError:
            await self._fail(import_id, SHUTDOWN_MESSAGE)
            raise
        except DomainError as exc:
            await self._fail(import_id, exc.message, imports.problem_of(exc))
            raise
        except Exception:
            log.exception("opening_import_crashed", import_id=import_id)
            await self._fail(
                import_id,
                "The import failed because of an error on our side; nothing was received. "
                f"Quote request id {current_request_id() or '-'} when reporting it.",
            )
            raise
        finally:
            OPENING_IMPORTS_RUNNING.dec()
            self.live.pop(import_id, None)
            with contextlib.suppress(OSError):
                request.path.unlink(missing_ok=True)

    async def _work(self, import_id: int, request: ImportRequest) -> opening.ImportReport:
        async with self.sessions() as session:
            if not await imports.mark_running(session, import_id=import_id):
                raise DomainError("The import was abandoned.", code="import_abandoned")
        counter = ReadProgress()
        reading = asyncio.ensure_future(
            asyncio.to_thread(
                read_opening_file,
                request.path,
                limits=bom_service.file_limits(self.settings),
                max_rows=self.settings.bom_max_rows,
                sheet=request.sheet,
                mapping=request.mapping,
                progress=counter,
            )
        )
        try:
            while True:
                done, _ = await asyncio.wait({reading}, timeout=PROGRESS_SECONDS)
                if done:
                    break
                await self._progress(import_id, "reading", counter.rows_read, None, write=True)
        except asyncio.CancelledError:
            reading.cancel()
            raise
        parsed = reading.result()
        total = len(parsed.rows)
        phase = "checking" if request.dry_run else "receiving"
        await self._progress(import_id, phase, 0, total, write=True)
        async with self.sessions() as session:
            # while the receipt's transaction runs, only PostgreSQL takes other writes
            concurrent = session.get_bind().dialect.name == "postgresql"

            async def received(done: int) -> None:
                await self._progress(import_id, phase, done, total, write=concurrent)

            return await opening.import_opening_stock(
                session,
                parsed=parsed,
                file_name=request.file_name,
                warehouse_id=request.warehouse_id,
                dry_run=request.dry_run,
                create_parts=request.create_parts,
                import_id=import_id,
                progress=received,
            )

    async def _progress(
        self, import_id: int, phase: str, done: int, total: int | None, *, write: bool
    ) -> None:
        live = self.live.setdefault(import_id, Live())
        live.phase, live.rows_done, live.rows_total = phase, done, total
        if not write:
            return
        async with self.sessions() as session:
            await imports.record_progress(
                session, import_id=import_id, phase=phase, rows_done=done, rows_total=total
            )

    async def _fail(
        self, import_id: int, message: str, problem: dict[str, Any] | None = None
    ) -> None:
        try:
            async with self.sessions() as session:
                await imports.mark_failed(
                    session, import_id=import_id, message=message, problem=problem
                )
        except Exception:
            log.exception("opening_import_fail_not_recorded", import_id=import_id)


def get_runner(app: FastAPI) -> OpeningImportRunner:
    runner: OpeningImportRunner | None = getattr(app.state, "opening_import_runner", None)
    if runner is None:
        runner = OpeningImportRunner(app.state.sessions, app.state.settings)
        app.state.opening_import_runner = runner
    return runner


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Fail imports a dead process left behind; on shutdown, stop running ones cleanly."""
    settings: Settings = app.state.settings
    try:
        async with app.state.sessions() as session:
            failed = await imports.fail_abandoned(
                session, older_than=timedelta(seconds=settings.opening_import_stale_seconds)
            )
        if failed:
            log.warning("opening_imports_abandoned", count=failed)
    except Exception:
        log.exception("opening_abandoned_check_failed")
    yield
    await get_runner(app).shutdown()
