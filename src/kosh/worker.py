"""`kosh worker`: the background process. It claims staged web orders and applies them,
delivers the sync-back outbox, writes a heartbeat and raises storefront alerts.

Run as many as you like against PostgreSQL: claims use FOR UPDATE SKIP LOCKED and leases,
so each staged order is applied exactly once; a worker killed mid-order leaves its rows
claimable again when the lease (KOSH_STOREFRONT_LEASE_SECONDS) runs out. On SQLite run one.
SIGTERM / SIGINT finish the current order, hand back unworked leases and exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kosh import __version__, wiring  # noqa: F401 - event subscribers (docs/adr/0002)
from kosh.core.actor import set_actor
from kosh.core.config import Settings
from kosh.core.db import utcnow
from kosh.core.error_tracking import report_job_error
from kosh.core.models import WorkerHeartbeat
from kosh.ops.jobs import OpsJobs
from kosh.quality.jobs import QualityJobs
from kosh.storefront import alerting, batch, outbox, processing, reconcile, refunds, stockpush
from kosh.storefront.metrics import (
    QUEUE_DEPTH,
    REFUNDS,
    STOCK_PUSH,
    STOCK_PUSH_BATCHES,
    STOCK_PUSH_ITEMS,
    SYNC_BACK,
)
from kosh.storefront.woocommerce import StoreApiError, update_order_status

log = structlog.get_logger("kosh.worker")

HEARTBEAT_SECONDS = 10.0
ALERT_SECONDS = 60.0


@dataclass
class Stats:
    applied: int = 0
    review: int = 0
    ignored: int = 0
    retried: int = 0
    failed: int = 0
    lost: int = 0
    synced: int = 0
    sync_failed: int = 0
    stock_pushed: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: str) -> None:
        if hasattr(self, outcome) and outcome != "outcomes":
            setattr(self, outcome, getattr(self, outcome) + 1)

    def as_dict(self) -> dict[str, int]:
        return {
            name: getattr(self, name)
            for name in ("applied", "review", "ignored", "retried", "failed", "lost", "synced")
        } | {"sync_failed": self.sync_failed, "stock_pushed": self.stock_pushed}


def make_worker_id() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        worker_id: str | None = None,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.worker_id = worker_id or make_worker_id()
        self.http = http
        self.stats = Stats()
        self.stop = asyncio.Event()
        self.started_at = utcnow()
        self._last_heartbeat = 0.0
        self._last_alerts = 0.0
        self._last_reconcile_check = 0.0
        self.ops = OpsJobs(settings, sessions)  # scheduled backups, retention
        # preventive maintenance tickets and SLA alerts (kosh.quality)
        self.quality = QualityJobs(sessions, every_seconds=settings.quality_sla_check_seconds)

    # --- the loop -----------------------------------------------------------------------

    async def run(self, *, once: bool = False) -> Stats:
        """Work until stopped (or, with `once`, until nothing is due)."""
        set_actor(processing.worker_actor(self.worker_id))
        own_http = self.http is None
        if own_http:
            self.http = httpx.AsyncClient(
                timeout=self.settings.storefront_http_timeout, follow_redirects=False
            )
        log.info("worker_started", worker_id=self.worker_id, once=once)
        try:
            await self.heartbeat(force=True)
            while not self.stop.is_set():
                worked = await self.step()
                await self.heartbeat()
                await self.maybe_alert()
                await self.maybe_reconcile()
                await self.ops.tick(wait=once)
                await self.quality.tick()
                if worked:
                    continue
                if once:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        self.stop.wait(), timeout=self.settings.storefront_poll_seconds
                    )
            await self.heartbeat(force=True)
        finally:
            await self.ops.stop()
            if own_http and self.http is not None:
                await self.http.aclose()
                self.http = None
            log.info("worker_stopped", worker_id=self.worker_id, **self.stats.as_dict())
        return self.stats

    async def step(self) -> int:
        """One round: a batch of staged orders, then a batch of outbox events."""
        return await self.staged_batch() + await self.outbox_batch()

    async def staged_batch(self) -> int:
        async with self.sessions() as session:
            ids = await processing.claim(
                session,
                worker_id=self.worker_id,
                limit=self.settings.storefront_batch_size,
                lease_seconds=self.settings.storefront_lease_seconds,
            )
            # The new, paid orders together (kosh.storefront.batch), the rest one by one.
            done, rest = await batch.apply_together(
                session, staged_ids=ids, worker_id=self.worker_id, settings=self.settings
            )
            for result in done.values():
                self.stats.count(result.outcome)
            for index, staged_id in enumerate(rest):
                if self.stop.is_set():
                    await processing.release(
                        session, staged_ids=rest[index:], worker_id=self.worker_id
                    )
                    break
                result = await processing.process(
                    session, staged_id=staged_id, worker_id=self.worker_id, settings=self.settings
                )
                self.stats.count(result.outcome)
                if index % 50 == 49:
                    session.expunge_all()
        return len(ids)

    async def outbox_batch(self) -> int:
        async with self.sessions() as session:
            ids = await outbox.claim(
                session,
                worker_id=self.worker_id,
                limit=self.settings.storefront_batch_size,
                lease_seconds=self.settings.storefront_lease_seconds,
                coalesce_seconds=self.settings.storefront_stock_push_seconds,
            )
        for event_id in ids:
            if self.stop.is_set():
                break
            await self.deliver(event_id)
        return len(ids)

    async def deliver(self, event_id: int) -> str:
        """Send one outbox event; a failure is retried later with backoff."""
        if self.http is None:
            raise RuntimeError("deliver() runs inside run()")
        async with self.sessions() as session:
            kind = await outbox.kind_of(session, event_id)
        if kind == outbox.STOCK_KIND:
            return await self.push_stock(event_id)
        if kind == reconcile.KIND:
            return await self.reconcile(event_id)
        if kind == refunds.KIND:
            return await self.fetch_refunds(event_id)
        retryable = True
        try:
            async with self.sessions() as session:
                delivery = await outbox.prepare(
                    session, self.settings, event_id=event_id, worker_id=self.worker_id
                )
            if delivery is None:
                return "lost"
            await update_order_status(
                self.http,
                delivery.credentials,
                order_id=delivery.external_id,
                status=delivery.status,
                note=delivery.note,
                customer_note=delivery.customer_note,
                meta_data=delivery.meta_data,
            )
        except StoreApiError as exc:
            error, retryable = str(exc), exc.retryable
        except outbox.MissingCredentialsError as exc:
            error, retryable = str(exc), False
        except Exception as exc:
            log.exception("sync_back_error", event_id=event_id)
            report_job_error("sync_back")
            error = f"{type(exc).__name__}: {exc}"
        else:
            async with self.sessions() as session:
                await outbox.mark_sent(session, event_id=event_id, worker_id=self.worker_id)
            SYNC_BACK.labels("sent").inc()
            self.stats.synced += 1
            return "sent"
        status = await self._mark_failed(event_id, error=error, retryable=retryable)
        SYNC_BACK.labels("failed" if status == "failed" else "retried").inc()
        self.stats.sync_failed += 1
        log.warning("sync_back_failed", event_id=event_id, error=error, status=status)
        return status

    async def _mark_failed(self, event_id: int, *, error: str, retryable: bool) -> str:
        """Record a failed outbox delivery: retried with backoff, or failed for good."""
        async with self.sessions() as session:
            return await outbox.mark_failed(
                session,
                event_id=event_id,
                worker_id=self.worker_id,
                error=error,
                settings=self.settings,
                retryable=retryable,
            )

    async def push_stock(self, event_id: int) -> str:
        """Send one store's stock levels, read now; a failure is retried with backoff."""
        if self.http is None:
            raise RuntimeError("push_stock() runs inside run()")
        retryable = True
        try:
            async with self.sessions() as session:
                push = await stockpush.prepare(
                    session, self.settings, event_id=event_id, worker_id=self.worker_id
                )
            if push is None:
                return "lost"
            outcome = await stockpush.send(self.http, push)
        except StoreApiError as exc:
            error, retryable = str(exc), exc.retryable
        except outbox.MissingCredentialsError as exc:
            error, retryable = str(exc), False
        except Exception as exc:
            log.exception("stock_push_error", event_id=event_id)
            error = f"{type(exc).__name__}: {exc}"
        else:
            async with self.sessions() as session:
                await outbox.mark_sent(session, event_id=event_id, worker_id=self.worker_id)
            STOCK_PUSH.labels("sent").inc()
            STOCK_PUSH_BATCHES.inc(outcome.batches)
            STOCK_PUSH_ITEMS.labels("updated").inc(outcome.updated)
            STOCK_PUSH_ITEMS.labels("not_in_shop").inc(len(outcome.not_in_shop))
            STOCK_PUSH_ITEMS.labels("refused").inc(len(outcome.refused))
            self.stats.stock_pushed += 1
            log.info(
                "stock_pushed",
                event_id=event_id,
                store=push.store_code,
                updated=outcome.updated,
                batches=outcome.batches,
                not_in_shop=outcome.not_in_shop[:20],
                refused=outcome.refused[:20],
            )
            return "sent"
        status = await self._mark_failed(event_id, error=error, retryable=retryable)
        STOCK_PUSH.labels("failed" if status == "failed" else "retried").inc()
        self.stats.sync_failed += 1
        log.warning("stock_push_failed", event_id=event_id, error=error, status=status)
        return status

    async def reconcile(self, event_id: int) -> str:
        """Compare the shop's stock with KOSH and fix drift; a failure is retried."""
        return await self._run_store_job(event_id, reconcile.run, "stock_reconcile")

    async def fetch_refunds(self, event_id: int) -> str:
        """Read a web order's refunds from its store and take them; a failure is retried."""
        status = await self._run_store_job(event_id, refunds.run, "store_refunds")
        if status not in ("sent", "lost"):
            REFUNDS.labels("failed" if status == "failed" else "retried").inc()
        return status

    async def _run_store_job(self, event_id: int, job: Any, name: str) -> str:
        """Run an outbox event's store job: "sent", "lost" (the job found no event), or the
        status `_mark_failed` gave it (store errors as the store says, anything else retried)."""
        if self.http is None:
            raise RuntimeError(f"{name} runs inside run()")
        retryable = True
        try:
            result = await job(
                self.http,
                self.sessions,
                self.settings,
                event_id=event_id,
                worker_id=self.worker_id,
            )
        except StoreApiError as exc:
            error, retryable = str(exc), exc.retryable
        except outbox.MissingCredentialsError as exc:
            error, retryable = str(exc), False
        except Exception as exc:
            log.exception(f"{name}_error", event_id=event_id)
            error = f"{type(exc).__name__}: {exc}"
        else:
            return "lost" if result is None else "sent"
        status = await self._mark_failed(event_id, error=error, retryable=retryable)
        log.warning(f"{name}_failed", event_id=event_id, error=error, status=status)
        return status

    async def maybe_reconcile(self) -> None:
        now = time.monotonic()
        if now - self._last_reconcile_check < ALERT_SECONDS:
            return
        self._last_reconcile_check = now
        try:
            async with self.sessions() as session:
                await reconcile.schedule_due(session, settings=self.settings)
        except Exception:
            log.exception("stock_reconcile_schedule_failed")
            report_job_error("stock_reconcile")

    # --- liveness and alerts --------------------------------------------------------------

    async def heartbeat(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_heartbeat < HEARTBEAT_SECONDS:
            return
        self._last_heartbeat = now
        info: dict[str, Any] = {
            "kind": "storefront",
            "version": __version__,
            **self.stats.as_dict(),
        }
        values = {
            "worker_id": self.worker_id,
            "hostname": socket.gethostname()[:255],
            "pid": os.getpid(),
            "started_at": self.started_at,
            "last_seen_at": utcnow(),
            "info": info,
        }
        try:
            async with self.sessions() as session:
                insert = (
                    postgresql.insert
                    if session.get_bind().dialect.name == "postgresql"
                    else sqlite.insert
                )
                statement = insert(WorkerHeartbeat).values(values)
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["worker_id"],
                        set_={"last_seen_at": values["last_seen_at"], "info": info},
                    )
                )
                counts = await processing.queue_counts(session)
                await session.commit()
            for status, count in counts.items():
                QUEUE_DEPTH.labels(status).set(count)
        except Exception:  # a missed heartbeat must not stop the work
            log.exception("heartbeat_failed")
            report_job_error("heartbeat")

    async def maybe_alert(self) -> None:
        now = time.monotonic()
        if now - self._last_alerts < ALERT_SECONDS:
            return
        self._last_alerts = now
        try:
            async with self.sessions() as session:
                await alerting.check(session, settings=self.settings)
        except Exception:
            log.exception("storefront_alerts_failed")
            report_job_error("storefront_alerts")
