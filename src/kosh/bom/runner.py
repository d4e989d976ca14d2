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
from kosh.bom.metrics import IMPORT_DURATION, IMPORTS, IMPORTS_RUNNING, IMPORTS_WAITING
from kosh.core.config import Settings
from kosh.core.errors import DomainError
from kosh.core.request_context import current_request_id

log = structlog.get_logger(__name__)

PROGRESS_SECONDS = 0.5
WAIT_SECONDS = 5.0  # a waiting import refreshes its heartbeat and place this often
SHUTDOWN_MESSAGE = "KOSH was shut down during the import; nothing was imported. Upload again."


class ImportRunner:
    """Runs imports as tasks, at most KOSH_BOM_MAX_CONCURRENT_IMPORTS reading at once in this
    process (each holds a parsed sheet in memory); the others wait in order, `queued` with
    phase `waiting` and a message saying how many are ahead, their heartbeat kept fresh so
    a long wait is not taken for a dead process."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], settings: Settings) -> None:
        self.sessions = sessions
        self.settings = settings
        self.tasks: set[asyncio.Task[None]] = set()
        self.slots = asyncio.Semaphore(settings.bom_max_concurrent_imports)
        self.waiting: list[int] = []  # import ids in the order they wait

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
            async with self._slot(import_id):
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

    @asynccontextmanager
    async def _slot(self, import_id: int) -> AsyncIterator[None]:
        """One of the reading slots; while none is free, the import shows it is waiting
        (the semaphore hands slots out first come, first served)."""
        if self.slots.locked():
            self.waiting.append(import_id)
            IMPORTS_WAITING.inc()
            log.info("bom_import_waiting", import_id=import_id, ahead=len(self.waiting) - 1)
            acquiring = asyncio.ensure_future(self.slots.acquire())
            try:
                while True:
                    await self._show_waiting(import_id)
                    done, _ = await asyncio.wait({acquiring}, timeout=WAIT_SECONDS)
                    if done:
                        break
            except BaseException:
                if acquiring.done() and not acquiring.cancelled():
                    self.slots.release()
                acquiring.cancel()
                raise
            finally:
                self.waiting.remove(import_id)
                IMPORTS_WAITING.dec()
        else:
            await self.slots.acquire()
        IMPORTS_RUNNING.inc()
        try:
            yield
        finally:
            IMPORTS_RUNNING.dec()
            self.slots.release()

    async def _show_waiting(self, import_id: int) -> None:
        ahead = self.waiting.index(import_id) if import_id in self.waiting else 0
        running = self.settings.bom_max_concurrent_imports
        message = f"Waiting: {running} import(s) are being read" + (
            f" and {ahead} wait ahead of this one." if ahead else "; this one is next."
        )
        try:
            async with self.sessions() as session:
                await bom_service.mark_waiting(session, import_id=import_id, message=message)
        except Exception:
            log.exception("bom_import_wait_not_recorded", import_id=import_id)

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
                read_bom,
                checked,
                options,
                max_rows=self.settings.bom_max_rows,
                progress=progress,
                shape=bom_service.shape_limits(self.settings),
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
