"""The `kosh` command: serve, migrate, users, tokens, configuration."""

from __future__ import annotations

import asyncio
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
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
) -> None:
    """Apply (or with --down, revert) database migrations."""
    from kosh.core import migrate as migrations

    settings = load_settings()

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
            return await auth_service.create_token(
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


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
