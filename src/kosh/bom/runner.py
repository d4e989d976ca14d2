"""The background side of imports: one asyncio task per import, started after commit.

The task reads the file in a worker thread (python-calamine releases the GIL while it
parses), writes progress (rows done / total, heartbeat) about twice a second in short
transactions of its own, then finishes the import in one transaction. Whatever happens
the temp file is removed; an exception fails the import with a message, and a
cancellation (the app shutting down) fails it with a message saying so. Imports left
`queued`/`running` by a process that died are failed at the next start (and whenever
they are read) once their heartbeat is older than KOSH_BOM_IMPORT_STALE_SECONDS.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import structlog
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh.bom import service as bom_service
from kosh.bom.bomfile import BomRead, Progress, ReadOptions, read_bom
from kosh.bom.errors import FileTooLargeError, SpreadsheetError
from kosh.bom.filetype import CheckedFile
from kosh.bom.metrics import IMPORT_DURATION, IMPORTS
from kosh.core.config import Settings
from kosh.core.errors import DomainError
from kosh.core.request_context import current_request_id

log = structlog.get_logger(__name__)

PROGRESS_SECONDS = 0.5
SHUTDOWN_MESSAGE = "KOSH was shut down during the import; nothing was imported. Upload again."


class ImportRunner:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.tasks: set[asyncio.Task[None]] = set()

    def start(
        self, import_id: int, checked: CheckedFile, request: bom_service.ImportRequest
    ) -> None:
        """Run the import as a task (kept referenced until it ends). Owns `checked.path`."""
        task = asyncio.create_task(
            self._run(import_id, checked, request), name=f"bom-import-{import_id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def wait_idle(self) -> None:
        """Wait for every running import (tests, shutdown)."""
        while self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def shutdown(self) -> None:
        # An import started just now may not have run its first step yet; cancelled before
        # that, a task never enters `_run`'s handler and its import would stay queued.
        await asyncio.sleep(0)
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _run(
        self, import_id: int, checked: CheckedFile, request: bom_service.ImportRequest
    ) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = "failed"
        try:
            outcome = await self._work(import_id, checked, request)
        except asyncio.CancelledError:
            await self._fail(import_id, SHUTDOWN_MESSAGE)
            raise
        except (SpreadsheetError, FileTooLargeError, DomainError) as exc:
            await self._fail(import_id, exc.message)
        except Exception:
            log.exception("bom_import_crashed", import_id=import_id)
            await self._fail(
                import_id,
                "The import failed because of an error on our side; nothing was imported. "
                f"Quote request id {current_request_id() or '-'} when reporting it.",
            )
        finally:
            with contextlib.suppress(OSError):
                checked.path.unlink(missing_ok=True)
            IMPORTS.labels(outcome=outcome).inc()
            IMPORT_DURATION.observe(loop.time() - started)

    async def _work(
        self, import_id: int, checked: CheckedFile, request: bom_service.ImportRequest
    ) -> str:
        async with self.sessions() as session:
            if not await bom_service.mark_running(session, import_id=import_id):
                return "abandoned"
        progress = Progress()
        options = ReadOptions(
            sheet=request.sheet,
            header_row=request.header_row,
            mapping=request.mapping,
            duplicates=request.duplicates,
        )
        reading = asyncio.ensure_future(
            asyncio.to_thread(
                read_bom, checked, options, max_rows=self.settings.bom_max_rows, progress=progress
            )
        )
        try:
            while True:
                done, _pending = await asyncio.wait({reading}, timeout=PROGRESS_SECONDS)
                if done:
                    break
                await self._progress(import_id, progress, "reading")
        except asyncio.CancelledError:
            reading.cancel()
            raise
        read: BomRead = reading.result()
        await self._progress(import_id, progress, "saving" if not request.dry_run else "checking")
        async with self.sessions() as session:
            row = await bom_service.finish_import(
                session, import_id=import_id, read=read, request=request
            )
        return row.status if row is not None else "abandoned"

    async def _progress(self, import_id: int, progress: Progress, phase: str) -> None:
        async with self.sessions() as session:
            await bom_service.record_progress(
                session,
                import_id=import_id,
                rows_done=progress.rows_done,
                rows_total=progress.rows_total,
                phase=phase,
            )

    async def _fail(self, import_id: int, message: str) -> None:
        try:
            async with self.sessions() as session:
                await bom_service.mark_failed(session, import_id=import_id, message=message)
        except Exception:
            log.exception("bom_import_fail_not_recorded", import_id=import_id)


def get_runner(app: FastAPI) -> ImportRunner:
    runner: ImportRunner | None = getattr(app.state, "bom_runner", None)
    if runner is None:
        runner = ImportRunner(app.state.sessions, app.state.settings)
        app.state.bom_runner = runner
    return runner


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Fail imports a dead process left behind; on shutdown, stop running ones cleanly."""
    settings: Settings = app.state.settings
    try:
        async with app.state.sessions() as session:
            failed = await bom_service.fail_abandoned_imports(
                session, older_than=timedelta(seconds=settings.bom_import_stale_seconds)
            )
        if failed:
            log.warning("bom_imports_abandoned", count=failed)
    except Exception:
        log.exception("bom_abandoned_check_failed")
    yield
    await get_runner(app).shutdown()
