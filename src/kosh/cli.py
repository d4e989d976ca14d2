"""The `kosh` command: serve, migrate, users, tokens, configuration."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from pydantic import ValidationError as SettingsError

from kosh.core.config import Settings, get_settings

app = typer.Typer(help="KOSH stock control.", no_args_is_help=True, add_completion=False)
T = TypeVar("T")


def load_settings() -> Settings:
    """Settings, or a readable list of what to fix and exit code 2."""
    try:
        return get_settings()
    except SettingsError as exc:
        typer.echo("KOSH configuration problems:", err=True)
        for error in exc.errors():
            name = (
                "KOSH_" + "_".join(str(p) for p in error["loc"]).upper()
                if error["loc"]
                else "settings"
            )
            typer.echo(f"  - {name}: {error['msg'].removeprefix('Value error, ')}", err=True)
        raise typer.Exit(2) from None


def run_with_database(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    """Run `work(session_factory, engine)` on a fresh engine, disposing it afterwards."""
    from kosh.core.db import create_engine, create_session_factory

    async def main() -> T:
        engine = create_engine(settings)
        try:
            return await work(create_session_factory(engine), engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(message, err=True)
    return typer.Exit(code)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (uvicorn).")] = 1,
    reload: Annotated[bool, typer.Option(help="Reload on code change (development).")] = False,
) -> None:
    """Apply migrations, create the admin account on first start, and serve KOSH."""
    import uvicorn

    from kosh.core.logging import configure_logging

    settings = load_settings()
    configure_logging(settings)
    _bootstrap(settings)
    if workers > 1:
        # uvicorn spawns fresh worker processes: they read the variable at import, and
        # /metrics then adds them all up, as under gunicorn (docs/runbook.md)
        from kosh.gunicorn_conf import prepare_metrics_dir

        prepare_metrics_dir()
    uvicorn.run(
        "kosh.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        reload=reload,
        log_config=None,
        proxy_headers=True,
        server_header=False,
    )


def _bootstrap(settings: Settings) -> None:
    from kosh.auth import service as auth_service
    from kosh.core.migrate import upgrade

    generated = settings.admin_password is None
    password = (
        settings.admin_password.get_secret_value()
        if settings.admin_password
        else secrets.token_urlsafe(12)
    )

    async def work(sessions, engine):  # type: ignore[no-untyped-def]
        if settings.migrate_on_start:
            await upgrade(engine)
        async with sessions() as session:
            return await auth_service.ensure_admin(session, password=password)

    if run_with_database(settings, work):
        shown = password if generated else "(from KOSH_ADMIN_PASSWORD)"
        typer.echo("=" * 60)
        typer.echo("KOSH created the account 'admin'. Password, shown only once:")
        typer.echo(f"    {shown}")
        typer.echo("=" * 60)


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision.")] = "heads",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to the revision.")] = False,
    url: Annotated[
        str | None,
        typer.Option(
            "--url",
            help="Connect as this database URL (the schema owner); default "
            "KOSH_MIGRATE_DATABASE_URL, else KOSH_DATABASE_URL.",
        ),
    ] = None,
) -> None:
    """Apply (or with --down, revert) database migrations."""
    from kosh.core import migrate as migrations

    settings = load_settings()
    owner_url = url or settings.migrate_database_url
    if owner_url:
        try:
            settings = Settings.model_validate({**dict(settings), "database_url": owner_url})
        except ValueError as exc:
            raise _fail(f"error: --url: {exc}", 2) from exc

    async def work(_sessions, engine):  # type: ignore[no-untyped-def]
        if down:
            await migrations.downgrade(engine, revision)
        else:
            await migrations.upgrade(engine, revision)
        return sorted(await migrations.current_revisions(engine))

    typer.echo(f"database at revision {run_with_database(settings, work)}")


@app.command("create-user")
def create_user(
    username: Annotated[str, typer.Option()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True)],
    role: Annotated[str, typer.Option(help="viewer, operator, manager or admin")] = "operator",
) -> None:
    """Create a user."""
    from kosh.auth import service as auth_service
    from kosh.core.errors import DomainError

    settings = load_settings()

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await auth_service.create_user(
                session, username=username, password=password, role=role
            )

    try:
        user = run_with_database(settings, work)
    except DomainError as exc:
        details = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors)
        raise _fail(f"error: {exc.message} {details}".strip()) from None
    typer.echo(f"created user {user.username} ({user.role})")


@app.command("create-token")
def create_token(
    username: Annotated[str, typer.Option()],
    name: Annotated[str, typer.Option(help="What the token is for.")],
    scopes: Annotated[
        list[str] | None, typer.Option("--scopes", help="read, write, admin, metrics")
    ] = None,
    expires_days: Annotated[int, typer.Option(help="Days until it expires; 0 = never.")] = 90,
) -> None:
    """Create an API token and print only the token."""
    from kosh.auth import service as auth_service
    from kosh.auth import tokens as token_service
    from kosh.core.db import utcnow
    from kosh.core.errors import DomainError

    settings = load_settings()
    chosen = [s for part in (scopes or ["read", "write"]) for s in part.split(",") if s]

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            user = await auth_service.find_user(session, username)
            if user is None:
                raise _fail(f"error: no user named {username!r}")
            expires = utcnow() + timedelta(days=expires_days) if expires_days > 0 else None
            return await token_service.create_token(
                session, user_id=user.id, name=name, scopes=chosen, expires_at=expires
            )

    try:
        new = run_with_database(settings, work)
    except DomainError as exc:
        raise _fail(f"error: {exc.message}") from None
    typer.echo(new.raw_token)


@app.command("check-config")
def check_config() -> None:
    """Print the effective configuration (secrets masked); exit non-zero on problems."""
    settings = load_settings()
    width = max(len(k) for k in settings.masked())
    for key, value in sorted(settings.masked().items()):
        typer.echo(f"KOSH_{key.upper():<{width}}  {value}")
    typer.echo("configuration OK")


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Drain what is due, then exit.")] = False,
    metrics_port: Annotated[
        int, typer.Option(help="Serve Prometheus metrics on this port (0 = off).")
    ] = 0,
) -> None:
    """Apply staged web orders, send status updates back to the stores, write a heartbeat."""
    import contextlib
    import signal

    from kosh.core.db import create_engine, create_session_factory
    from kosh.core.error_tracking import init_error_tracking
    from kosh.core.logging import configure_logging
    from kosh.worker import Worker

    settings = load_settings()
    configure_logging(settings)
    init_error_tracking(settings)
    if metrics_port:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")

    async def main() -> None:
        engine = create_engine(settings)
        sessions = create_session_factory(engine)
        sessions.configure(
            info={"retry_attempts": settings.db_retry_attempts, "pcn_prefix": settings.pcn_prefix}
        )
        runner = Worker(settings, sessions)
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Not possible outside the main thread (embedded runs): no graceful stop then.
            with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
                loop.add_signal_handler(signum, runner.stop.set)
        try:
            stats = await runner.run(once=once)
        finally:
            await engine.dispose()
        if once:
            typer.echo(" ".join(f"{k}={v}" for k, v in stats.as_dict().items()))

    asyncio.run(main())


storefront_app = typer.Typer(help="Web stores (WooCommerce).", no_args_is_help=True)
app.add_typer(storefront_app, name="storefront")


@storefront_app.command("sync")
def storefront_sync(
    since: Annotated[str, typer.Option(help="Orders modified after this time (ISO, UTC).")],
    store: Annotated[
        list[str] | None, typer.Option("--store", help="Store code (default: every store).")
    ] = None,
) -> None:
    """Backfill: page through the store's orders and stage those whose webhook never came."""
    from datetime import UTC, datetime

    import httpx

    from kosh.core.errors import DomainError
    from kosh.storefront import backfill
    from kosh.storefront import service as storefront_service
    from kosh.storefront.woocommerce import StoreApiError

    settings = load_settings()
    try:
        moment = datetime.fromisoformat(since)
    except ValueError:
        raise _fail(f"error: --since {since!r} is not an ISO date or time") from None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            codes = store or [s.code for s in await storefront_service.list_stores(session)]
        async with httpx.AsyncClient(timeout=settings.storefront_http_timeout) as http:
            return [
                await backfill.sync_store(sessions, settings, http, store_code=code, since=moment)
                for code in codes
            ]

    try:
        results = run_with_database(settings, work)
    except (DomainError, StoreApiError) as exc:
        raise _fail(f"error: {exc}") from None
    for result in results:
        typer.echo(
            f"{result.store}: {result.seen} orders on {result.pages} page(s), "
            f"{result.staged} newly staged"
        )


@app.command()
def verify(
    show: Annotated[int, typer.Option(help="Differences to print at most.")] = 50,
) -> None:
    """Replay the stock ledger and compare it with the balances; exit 1 on any drift."""
    from kosh.stock import verify as stock_verify

    settings = load_settings()

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await stock_verify.verify(session)

    report = run_with_database(settings, work)
    typer.echo(
        f"ledger rows {report.ledger_rows}, balances {report.balance_rows}, "
        f"drift {report.drift_count} ({report.duration_ms} ms)"
    )
    for drift in report.differences[:show]:
        typer.echo(
            f"  lot {drift.lot_id} at location {drift.location_id}: "
            f"ledger {drift.ledger_qty} != balance {drift.balance_qty}"
        )
    if not report.ok:
        raise _fail(f"DRIFT: {report.drift_count} balance(s) differ from the ledger")
    typer.echo("OK: every balance matches the ledger")


@app.command("demo-data")
def demo_data(
    scale: Annotated[
        int, typer.Option(help="Generate N parts of bulk scale data (0: the small demo site).")
    ] = 0,
    lots_per_part: Annotated[int, typer.Option(help="PCNs per part (--scale).")] = 3,
    ledger_rows: Annotated[
        int | None, typer.Option(help="Ledger rows (--scale); default 10 per part.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 7,
) -> None:
    """Load a realistic small demo site, or with --scale N a large data set for benchmarks.

    Each refuses politely, changing nothing, when its warehouse (MAIN / SCALE) exists."""
    import time

    from kosh.core.migrate import upgrade
    from kosh.ops import demo as site_demo
    from kosh.stock import demo

    settings = load_settings()
    if scale < 0 or lots_per_part < 1 or (ledger_rows is not None and ledger_rows < 0):
        raise _fail("error: --scale, --lots-per-part and --ledger-rows must be positive", 2)

    async def work(sessions, engine):  # type: ignore[no-untyped-def]
        if settings.migrate_on_start:
            await upgrade(engine)
        if not scale:
            return await site_demo.load_demo(sessions, settings, seed=seed)
        async with sessions() as session:
            session.info["pcn_prefix"] = settings.pcn_prefix
            plan = demo.scale_plan(scale, lots_per_part=lots_per_part, ledger_rows=ledger_rows)
            result = await demo.load_scale_data(session, plan, seed=seed)
        if result.created:
            await demo.vacuum_analyze(engine)
        return result

    started = time.perf_counter()
    result = run_with_database(settings, work)
    typer.echo(f"{result.message} ({time.perf_counter() - started:.1f} s)")


alerts_app = typer.Typer(help="Shortage and low-stock alerts.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")


@alerts_app.command("evaluate")
def alerts_evaluate() -> None:
    """Re-check low stock and job shortages: raise, update, resolve alerts."""
    from kosh.alerts import service as alert_service

    settings = load_settings()

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            session.info["alert_due_soon_days"] = settings.alert_due_soon_days
            return await alert_service.evaluate_alerts(session)

    active = run_with_database(settings, work)
    typer.echo(f"alerts evaluated: {active} open or acknowledged")


@alerts_app.command("digest")
def alerts_digest() -> None:
    """Mail one digest of the alerts raised since the last one (needs KOSH_SMTP_HOST)."""
    from kosh.alerts import notify

    settings = load_settings()
    if not settings.smtp_host or not settings.alert_recipients:
        raise _fail("error: set KOSH_SMTP_HOST and KOSH_ALERT_RECIPIENTS to send mail", 2)

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        return await notify.send_digest(sessions, settings)

    result = run_with_database(settings, work)
    if result is None:
        typer.echo("no new alerts to mail")
        return
    if result.status != "sent":
        raise _fail(f"error: digest of {result.alert_count} alert(s) not sent: {result.error}")
    typer.echo(f"mailed {result.alert_count} alert(s) in one digest")


@app.command("backup")
def backup_command(
    to: Annotated[
        Path | None, typer.Option("--to", help="Directory for the archive (KOSH_BACKUP_DIR).")
    ] = None,
) -> None:
    """Write one archive of the whole database (consistent while KOSH runs); print its path."""
    from kosh.ops import backup as ops_backup

    settings = load_settings()

    async def work(_sessions, engine):  # type: ignore[no-untyped-def]
        return await ops_backup.take_backup(engine, settings, to=to)

    try:
        result = run_with_database(settings, work)
    except ops_backup.BackupError as exc:
        raise _fail(f"error: backup failed: {exc}") from None
    manifest = result.manifest
    typer.echo(
        f"{len(manifest['tables'])} tables, "
        f"{sum(t['rows'] for t in manifest['tables'].values())} rows, "
        f"{result.size_bytes} bytes, revision {','.join(manifest['schema_revision'])}"
        + (", encrypted" if manifest["encrypted"] else "")
    )
    typer.echo(str(result.path))


@app.command("restore")
def restore_command(
    archive: Annotated[Path, typer.Argument(help="The archive written by kosh backup.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a database that holds data (backed up first)."),
    ] = False,
) -> None:
    """Restore an archive into an empty database: check it, load it, migrate it, verify it."""
    import asyncio

    from kosh.ops import restore as ops_restore

    settings = load_settings()
    try:
        result = asyncio.run(ops_restore.restore(settings, archive, force=force))
    except ops_restore.RestoreError as exc:
        note = "" if exc.touched else " (the database was not changed)"
        raise _fail(f"error: {exc}{note}") from None
    for warning in result.warnings:
        typer.echo(f"warning: {warning}", err=True)
    if result.replaced_backup:
        typer.echo(f"the replaced database was backed up to {result.replaced_backup}")
    typer.echo(
        f"restored {result.tables} tables, {result.rows} rows from the backup of "
        f"{result.manifest['created_at']}" + (", migrated forward" if result.migrated else "")
    )
    if result.drift:
        raise _fail(f"DRIFT: {result.drift} balance(s) differ from the ledger after the restore")
    typer.echo("OK: every table matches the manifest, ledger drift 0")


@app.command("health")
def health_command(
    detailed: Annotated[
        bool, typer.Option("--detailed", help="Every check of /health/detailed, not readiness.")
    ] = False,
) -> None:
    """Run the readiness (or detailed) checks against the configured database and Redis and
    print them as JSON; exit 0 when all pass, 1 otherwise (for cron and support)."""
    import json

    import kosh.app  # noqa: F401 - the features register their /health/detailed sections
    from kosh.ops import health

    settings = load_settings()

    async def work(sessions, engine):  # type: ignore[no-untyped-def]
        if detailed:
            async with sessions() as session:
                return await health.detailed(engine, session, settings)
        checks = await health.readiness(engine, settings)
        ok = all(c.ok for c in checks.values())
        return {
            "status": "ok" if ok else "unavailable",
            "checks": {k: {"ok": c.ok, **c.detail} for k, c in checks.items()},
        }

    try:
        body = run_with_database(settings, work)
    except Exception as exc:  # cannot even build the engine: report it like a failed check
        body = {"status": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
    typer.echo(json.dumps(body, indent=2, sort_keys=True, default=str))
    if body["status"] != "ok":
        failing = sorted(k for k, c in body.get("checks", {}).items() if not c.get("ok"))
        raise _fail(f"NOT OK: {', '.join(failing) or body.get('error')}")


@app.command("retention")
def retention_command() -> None:
    """Delete what the retention rules say is no longer needed (kosh worker runs it hourly)."""
    from kosh.ops import retention

    settings = load_settings()

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await retention.run(session, settings)

    report = run_with_database(settings, work)
    typer.echo(" ".join(f"{k}={v}" for k, v in report.as_dict().items()))


gdpr_app = typer.Typer(help="GDPR: export and erase a person's data.", no_args_is_help=True)
app.add_typer(gdpr_app, name="gdpr")


def _person(customer: int | None, user: int | None, employee: int | None) -> tuple[str, int]:
    given = [(k, v) for k, v in (("customer", customer), ("user", user), ("employee", employee))]
    chosen = [(k, v) for k, v in given if v is not None]
    if len(chosen) != 1:
        raise _fail("error: give exactly one of --customer ID, --user ID or --employee ID", 2)
    return chosen[0]


@gdpr_app.command("export")
def gdpr_export(
    customer: Annotated[int | None, typer.Option(help="Customer id.")] = None,
    user: Annotated[int | None, typer.Option(help="User id.")] = None,
    employee: Annotated[int | None, typer.Option(help="Employee id.")] = None,
    out: Annotated[Path | None, typer.Option(help="Write to this file (default: stdout).")] = None,
) -> None:
    """Export everything KOSH holds about a customer, user or employee as JSON."""
    import json

    from kosh.core.errors import DomainError
    from kosh.ops import gdpr

    settings = load_settings()
    kind, subject_id = _person(customer, user, employee)

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await gdpr.export(session, kind=kind, subject_id=subject_id)

    try:
        body = run_with_database(settings, work)
    except DomainError as exc:
        raise _fail(f"error: {exc.message}") from None
    text = json.dumps(body, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    if out is None:
        typer.echo(text)
        return
    out.write_text(text + "\n", encoding="utf-8")
    out.chmod(0o600)
    typer.echo(str(out))


@gdpr_app.command("erase")
def gdpr_erase(
    customer: Annotated[int | None, typer.Option(help="Customer id.")] = None,
    user: Annotated[int | None, typer.Option(help="User id.")] = None,
    employee: Annotated[int | None, typer.Option(help="Employee id.")] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Anonymise a customer, user or employee everywhere (irreversible; a customer with
    open orders is refused)."""
    from kosh.core.errors import DomainError
    from kosh.ops import gdpr

    settings = load_settings()
    kind, subject_id = _person(customer, user, employee)
    if not yes:
        typer.confirm(
            f"Erase the personal data of {kind} {subject_id}? This cannot be undone", abort=True
        )

    async def work(sessions, _engine):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await gdpr.erase(
                session,
                kind=kind,
                subject_id=subject_id,
                log_dir=settings.effective_backup_dir / "gdpr",
            )

    try:
        done = run_with_database(settings, work)
    except DomainError as exc:
        details = f" {exc.details}" if exc.details else ""
        raise _fail(f"error: {exc.message}{details}") from None
    typer.echo(
        f"erased {kind} {subject_id}: " + " ".join(f"{k}={v}" for k, v in done.changed.items())
    )


def main() -> None:
    import kosh.wiring  # noqa: F401 - event subscribers, so CLI stock movements keep the rules

    app()


if __name__ == "__main__":
    main()
