"""Configuration: one validated Settings object read from KOSH_* variables and `.env`."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_SECRET = "change-me"  # noqa: S105 - the value production mode refuses
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KOSH_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    env: Literal["development", "production"] = "development"
    debug: bool = False
    data_dir: Path = Path("./var")
    database_url: str = ""
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    admin_password: SecretStr | None = None
    redis_url: str | None = None
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    rate_limit: str = "600/minute"
    login_rate_limit: str = "10/minute"
    user_rate_limit: str = "1200/minute"

    log_format: Literal["json", "console"] | None = None
    log_level: str = "INFO"
    log_file: Path | None = None
    log_file_max_bytes: int = Field(default=20_000_000, gt=0)
    log_file_backups: int = Field(default=5, ge=0)

    db_pool_size: int = Field(default=10, ge=1, le=500)
    db_max_overflow: int = Field(default=10, ge=0, le=500)
    db_pool_timeout: float = Field(default=10.0, gt=0)
    db_pool_recycle: int = Field(default=1800, ge=-1)
    db_connect_timeout: float = Field(default=5.0, gt=0)
    db_statement_timeout_ms: int = Field(default=15_000, ge=0)
    db_lock_timeout_ms: int = Field(default=5_000, ge=0)
    db_busy_timeout_ms: int = Field(default=5_000, ge=0)
    db_retry_attempts: int = Field(default=5, ge=1, le=20)
    migrate_on_start: bool = True

    request_timeout: float = Field(default=30.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, gt=0)
    max_upload_bytes: int = Field(default=50 * 1_048_576, gt=0)

    # Bills of materials: spreadsheet uploads and background imports.
    bom_max_upload_bytes: int = Field(default=25 * 1_048_576, gt=0)
    bom_max_uncompressed_bytes: int = Field(default=256 * 1_048_576, gt=0)
    bom_max_compression_ratio: int = Field(default=200, gt=1)
    bom_max_rows: int = Field(default=250_000, gt=0)
    bom_import_stale_seconds: int = Field(default=120, ge=10)

    # Alerts: e-mail digest through SMTP (no host = no mail).
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, gt=0, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_from: str = "kosh@localhost"
    smtp_tls: Literal["off", "starttls", "tls"] = "starttls"
    smtp_timeout: float = Field(default=10.0, gt=0)
    alert_recipients: Annotated[list[str], NoDecode] = Field(default_factory=list)
    alert_digest_minutes: int = Field(default=15, ge=0)
    alert_due_soon_days: int = Field(default=3, ge=0)
    # Kitting: "kit all" goes through a pick list confirmed by scanning each line's PCN.
    kit_scan_confirm: bool = False

    # Web stores (storefront): webhook intake, the worker's retries, validation, sync back.
    storefront_max_payload_bytes: int = Field(default=512 * 1024, gt=0)
    storefront_webhook_rate_limit: str = "12000/minute"
    storefront_max_attempts: int = Field(default=8, ge=1, le=100)
    storefront_retry_base_seconds: float = Field(default=2.0, gt=0)
    storefront_retry_max_seconds: float = Field(default=900.0, gt=0)
    storefront_lease_seconds: int = Field(default=120, ge=1)
    storefront_batch_size: int = Field(default=100, ge=1, le=1000)
    storefront_poll_seconds: float = Field(default=1.0, gt=0)
    storefront_price_tolerance: float = Field(default=0.25, ge=0)
    storefront_currencies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    storefront_backorders: bool = True
    storefront_http_timeout: float = Field(default=15.0, gt=0)
    storefront_stale_minutes: int = Field(default=15, ge=1)

    session_idle_minutes: int = Field(default=60, gt=0)
    session_max_hours: int = Field(default=12, gt=0)
    idempotency_ttl_hours: int = Field(default=24, gt=0)
    metrics_allow: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"]
    )
    site_timezone: str = "UTC"
    pcn_prefix: str = "PCN"
    # Failed logins per account from all addresses together: slower than the per (account,
    # IP) KOSH_LOGIN_RATE_LIMIT, so one guesser cannot lock the owner out on another address.
    login_account_rate_limit: str = "100/hour"
    bom_max_columns: int = Field(default=1_000, ge=10, le=16_384)
    bom_max_cells: int = Field(default=2_000_000, ge=1_000)
    bom_max_concurrent_imports: int = Field(default=2, ge=1, le=64)
    storefront_unknown_store_rate_limit: str = "30/minute"
    purchasing_po_prefix: str = Field(default="PO-", pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,15}$")
    purchasing_over_receipt_tolerance: Decimal = Field(default=Decimal(0), ge=0, le=10)

    # Operations: backups (kosh backup / restore, scheduled in kosh worker) and retention.
    backup_dir: Path | None = None
    backup_encryption_key: SecretStr | None = None
    backup_time: str | None = Field(default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")
    backup_keep_daily: int = Field(default=7, ge=0, le=1000)
    backup_keep_weekly: int = Field(default=4, ge=0, le=1000)
    backup_keep_monthly: int = Field(default=6, ge=0, le=1000)
    backup_stale_hours: int = Field(default=26, ge=1)
    retention_audit_days: int = Field(default=0, ge=0)
    retention_resolved_alert_days: int = Field(default=90, ge=0)
    retention_staged_payload_days: int = Field(default=365, ge=0)
    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = Field(default=None, max_length=64)
    sentry_release: str | None = Field(default=None, max_length=200)

    # Stock levels pushed to web stores that opt in (kosh.storefront.stockpush).
    storefront_stock_push_seconds: float = Field(default=15.0, ge=0, le=3600)
    storefront_stock_buffer: int = Field(default=0, ge=0, le=1_000_000)
    # quality (issue 14): photo attachments on tickets, SLA checks by the worker
    quality_attachment_max_bytes: int = Field(default=10_000_000, ge=1024, le=100_000_000)
    quality_sla_check_seconds: float = Field(default=60.0, ge=1, le=3600)

    # Single sign-on (OpenID Connect, kosh.auth.oidc) and two-factor login (kosh.auth.twofactor).
    oidc_issuer: str | None = Field(default=None, max_length=500)
    oidc_client_id: str | None = Field(default=None, max_length=200)
    oidc_client_secret: SecretStr | None = None
    oidc_scopes: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["openid", "email", "profile"]
    )
    oidc_redirect_uris: Annotated[list[str], NoDecode] = Field(default_factory=list)
    oidc_role_claim: str = Field(default="groups", max_length=100)
    oidc_role_map: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    oidc_default_role: Literal["", "viewer", "operator", "manager", "admin"] = "viewer"
    oidc_create_users: bool = True
    oidc_link_by_email: bool = True
    oidc_provider_name: str = Field(default="single sign-on", max_length=60)
    oidc_timeout: float = Field(default=10.0, gt=0)
    password_login: Literal["all", "admins"] = "all"  # noqa: S105 - who may, not a password
    totp_required_for_admins: bool = False
    totp_issuer: str = Field(default="KOSH", max_length=60)
    # Least privilege on PostgreSQL: `kosh migrate` connects as the schema's owner here while
    # the app and worker use KOSH_DATABASE_URL, a role without DDL rights (docs/runbook.md).
    migrate_database_url: str = ""

    @field_validator("oidc_scopes", "oidc_redirect_uris", mode="before")
    @classmethod
    def _split_oidc_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("oidc_role_map", mode="before")
    @classmethod
    def _parse_role_map(cls, value: object) -> object:
        """'kosh-admins=admin,warehouse=operator': claim value = KOSH role."""
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for part in value.split(","):
            if not part.strip():
                continue
            claim, sep, role = part.partition("=")
            if not sep or not claim.strip():
                raise ValueError(f"{part!r} is not claim=role, e.g. kosh-admins=admin")
            pairs[claim.strip()] = role.strip()
        return pairs

    @field_validator("oidc_role_map")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        known = ("viewer", "operator", "manager", "admin")
        for claim, role in value.items():
            if role not in known:
                raise ValueError(f"{claim}={role}: the role must be one of {', '.join(known)}")
        return value

    @model_validator(mode="after")
    def _complete_oidc(self) -> Settings:
        if not self.oidc_issuer:
            return self
        missing = [
            name
            for name, value in (
                ("KOSH_OIDC_CLIENT_ID", self.oidc_client_id),
                ("KOSH_OIDC_REDIRECT_URIS", self.oidc_redirect_uris),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"KOSH_OIDC_ISSUER is set, so set {' and '.join(missing)} too")
        if "openid" not in self.oidc_scopes:
            raise ValueError("KOSH_OIDC_SCOPES must include 'openid'")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return bool(self.oidc_issuer)

    # Warehouse documents (kosh.documents): opening-stock imports, the cycle-count plan.
    opening_import_inline_bytes: int = Field(default=262_144, ge=0)
    opening_import_stale_seconds: int = Field(default=120, ge=10)
    cycle_count_a_share: Decimal = Field(default=Decimal("0.80"), gt=0, lt=1)
    cycle_count_b_share: Decimal = Field(default=Decimal("0.15"), ge=0, lt=1)
    cycle_count_value_days: int = Field(default=365, ge=1, le=3660)
    cycle_count_days_a: int = Field(default=30, ge=1, le=3660)
    cycle_count_days_b: int = Field(default=90, ge=1, le=3660)
    cycle_count_days_c: int = Field(default=180, ge=1, le=3660)

    @field_validator("cycle_count_b_share")
    @classmethod
    def _shares_below_one(cls, value: Decimal, info: ValidationInfo) -> Decimal:
        a_share = info.data.get("cycle_count_a_share")
        if a_share is not None and a_share + value >= 1:
            raise ValueError("KOSH_CYCLE_COUNT_A_SHARE + KOSH_CYCLE_COUNT_B_SHARE must be below 1")
        return value

    # Compare the shop's stock with KOSH and fix drift this often per pushing store (0: never).
    storefront_reconcile_hours: float = Field(default=24.0, ge=0, le=24 * 365)
    # The address the web shop reaches KOSH on (its webhook URL), e.g. https://kosh.example.com
    public_url: str | None = Field(default=None, max_length=300, pattern=r"^https?://[^\s]+$")

    @field_validator(
        "cors_origins", "metrics_allow", "alert_recipients", "storefront_currencies", mode="before"
    )
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, value: list[str]) -> list[str]:
        import re

        for origin in value:
            # Credentials are allowed cross-origin, so a wildcard would let any site act
            # with a logged-in user's session.
            if not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:\d{1,5})?", origin):
                raise ValueError(
                    f"{origin!r} is not an origin like https://shop.example or "
                    "http://localhost:3000 (no '*', no path)"
                )
        return value

    @field_validator(
        "rate_limit",
        "login_rate_limit",
        "user_rate_limit",
        "storefront_webhook_rate_limit",
        "login_account_rate_limit",
        "storefront_unknown_store_rate_limit",
    )
    @classmethod
    def _valid_rate_limit(cls, value: str) -> str:
        try:
            parse_rate_limit(value)
        except ValueError as exc:
            raise ValueError(f"not a rate limit like '100/minute': {value!r}") from exc
        return value

    @field_validator("database_url", "migrate_database_url")
    @classmethod
    def _supported_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError(
                "use sqlite+aiosqlite:///path/to/file.db or postgresql+asyncpg://user@host/db"
            )
        return value

    @field_validator("pcn_prefix")
    @classmethod
    def _sane_pcn_prefix(cls, value: str) -> str:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,15}", value):
            raise ValueError("1-16 of A-Z, a-z, 0-9, '.', '_', '-' starting with a letter or digit")
        return value

    @field_validator("site_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}, e.g. Europe/Berlin") from exc
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.env != "production":
            return self
        secret = self.secret_key.get_secret_value()
        problems = []
        if secret == DEFAULT_SECRET or len(secret) < MIN_SECRET_LENGTH:
            problems.append(
                f"KOSH_SECRET_KEY must be set to a random value of at least "
                f"{MIN_SECRET_LENGTH} characters (python -c 'import secrets; "
                f"print(secrets.token_urlsafe(48))')"
            )
        if self.debug:
            problems.append("KOSH_DEBUG must be false in production")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def effective_backup_dir(self) -> Path:
        return self.backup_dir if self.backup_dir is not None else self.data_dir / "backups"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'kosh.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @property
    def effective_log_format(self) -> str:
        if self.log_format:
            return self.log_format
        return "json" if self.is_production else "console"

    def masked(self) -> dict[str, object]:
        """The effective configuration with every secret replaced by '***'."""
        shown: dict[str, object] = {}
        for name, value in self.model_dump().items():
            if isinstance(getattr(self, name), SecretStr) and value is not None:
                shown[name] = "***"
            elif isinstance(value, Path):
                shown[name] = str(value)
            else:
                shown[name] = value
        shown["database_url"] = _mask_url(self.effective_database_url)
        if self.redis_url:
            shown["redis_url"] = _mask_url(self.redis_url)
        return shown


def _mask_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "***"


@lru_cache
def get_settings() -> Settings:
    return Settings()
