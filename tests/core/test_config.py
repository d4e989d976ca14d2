"""Configuration: validated at start, refuses unsafe production values, masked when shown."""

from __future__ import annotations

from pathlib import Path

import pydantic
import pytest

from kosh.core.config import Settings
from tests.support.platform import app_client, run_cli

GOOD_SECRET = "k" * 48


def _settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "secret",
    [None, "change-me", "short-but-not-default", "x" * 31],
    ids=["missing", "default", "short", "one-too-short"],
)
def test_production_refuses_weak_secret(secret: str | None) -> None:
    values: dict[str, object] = {"env": "production"}
    if secret is not None:
        values["secret_key"] = secret
    with pytest.raises(pydantic.ValidationError) as caught:
        _settings(**values)
    assert "KOSH_SECRET_KEY" in str(caught.value)
    assert "at least 32 characters" in str(caught.value)


def test_production_refuses_debug() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _settings(env="production", secret_key=GOOD_SECRET, debug=True)
    assert "KOSH_DEBUG" in str(caught.value)
    assert "KOSH_SECRET_KEY" not in str(caught.value)


def test_production_accepts_safe_values_and_development_allows_defaults() -> None:
    assert _settings(env="production", secret_key=GOOD_SECRET).is_production
    development = _settings(debug=True)
    assert development.secret_key.get_secret_value() == "change-me"
    assert development.effective_log_format == "console"


def test_settings_come_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KOSH_CORS_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("KOSH_RATE_LIMIT", "5/second")
    monkeypatch.setenv("KOSH_DB_POOL_SIZE", "7")
    settings = _settings()
    assert settings.cors_origins == ["https://a.example", "https://b.example"]
    assert settings.rate_limit == "5/second"
    assert settings.db_pool_size == 7


def test_dotenv_file_is_read_and_environment_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        "KOSH_SITE_TIMEZONE=Europe/Berlin\nKOSH_LOGIN_RATE_LIMIT=3/minute\nKOSH_LOG_FORMAT=json\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("KOSH_LOG_FORMAT", "console")
    settings = Settings()
    assert settings.site_timezone == "Europe/Berlin"
    assert settings.login_rate_limit == "3/minute"
    assert settings.log_format == "console"


@pytest.mark.parametrize(
    ("name", "value", "hint"),
    [
        ("rate_limit", "lots", "100/minute"),
        ("database_url", "mysql://x/y", "sqlite+aiosqlite"),
        ("site_timezone", "Mars/Olympus", "Europe/Berlin"),
        ("log_format", "xml", "json"),
    ],
)
def test_invalid_values_say_what_to_fix(name: str, value: str, hint: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _settings(**{name: value})
    assert hint in str(caught.value)


def test_default_database_is_sqlite_under_data_dir(tmp_path: Path) -> None:
    settings = _settings(data_dir=tmp_path)
    assert settings.effective_database_url == f"sqlite+aiosqlite:///{tmp_path / 'kosh.db'}"
    assert settings.is_sqlite


# --- kosh check-config -------------------------------------------------------------------

SECRETS_ENV = {
    "KOSH_ENV": "production",
    "KOSH_SECRET_KEY": "s3cr3t-" + "v" * 40,
    "KOSH_DATABASE_URL": "postgresql+asyncpg://kosh:hunter2pass@db.example:5432/kosh",
    "KOSH_REDIS_URL": "redis://:redispass99@cache.example:6379/0",
    "KOSH_ADMIN_PASSWORD": "admin-pass-123456",
}


async def test_check_config_masks_secrets() -> None:
    result = await run_cli(["check-config"], SECRETS_ENV)
    assert result.exit_code == 0, result.output
    out = result.stdout
    for secret in ("s3cr3t-", "hunter2pass", "redispass99", "admin-pass-123456"):
        assert secret not in result.output
    assert "KOSH_SECRET_KEY" in out
    assert "KOSH_DATABASE_URL" in out
    assert "postgresql+asyncpg://kosh:***@db.example:5432/kosh" in out
    assert "configuration OK" in out


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"KOSH_ENV": "production", "KOSH_SECRET_KEY": "short"}, "KOSH_SECRET_KEY"),
        ({"KOSH_ENV": "production", "KOSH_DEBUG": "true"}, "KOSH_DEBUG"),
        ({"KOSH_RATE_LIMIT": "many"}, "KOSH_RATE_LIMIT"),
        ({"KOSH_DB_POOL_SIZE": "0"}, "KOSH_DB_POOL_SIZE"),
    ],
)
async def test_check_config_fails_and_names_the_variable(env: dict[str, str], named: str) -> None:
    if env.get("KOSH_DEBUG"):
        env = {**env, "KOSH_SECRET_KEY": "k" * 40}
    result = await run_cli(["check-config"], env)
    assert result.exit_code != 0
    assert named in result.stderr
    assert "configuration OK" not in result.output


# --- CORS --------------------------------------------------------------------------------


async def test_cors_allows_only_configured_origins(settings: Settings) -> None:
    async with app_client(settings, cors_origins=["https://shop.example"]) as (_, client):
        allowed = await client.options(
            "/api/v1/auth/me",
            headers={
                "origin": "https://shop.example",
                "access-control-request-method": "GET",
                "access-control-request-headers": "authorization",
            },
        )
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == "https://shop.example"
        assert allowed.headers["access-control-allow-credentials"] == "true"

        refused = await client.options(
            "/api/v1/auth/me",
            headers={"origin": "https://evil.example", "access-control-request-method": "GET"},
        )
        assert refused.status_code == 400
        assert "access-control-allow-origin" not in refused.headers

        simple = await client.get("/health/live", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in simple.headers


async def test_no_cors_headers_without_configured_origins(settings: Settings) -> None:
    async with app_client(settings, cors_origins=[]) as (_, client):
        response = await client.options(
            "/api/v1/auth/me",
            headers={"origin": "https://shop.example", "access-control-request-method": "GET"},
        )
        assert "access-control-allow-origin" not in response.headers
        simple = await client.get("/health/live", headers={"origin": "https://shop.example"})
        assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("origin", ["*", "https://shop.example/path", "shop.example", "null"])
def test_cors_origins_must_be_exact(origin: str) -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        _settings(cors_origins=[origin])
    assert "not an origin" in str(caught.value)


def test_cors_origins_accept_exact_origins() -> None:
    origins = ["https://shop.example", "http://localhost:3000"]
    assert _settings(cors_origins=origins).cors_origins == origins
