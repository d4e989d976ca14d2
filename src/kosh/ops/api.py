"""Health, metrics and the audit trail."""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import JSONResponse, Response

from kosh import __version__
from kosh.auth.deps import Admin, MaybePrincipal
from kosh.core import audit
from kosh.core.config import Settings
from kosh.core.deps import SessionDep, SettingsDep
from kosh.core.errors import AuthenticationError, PermissionDeniedError
from kosh.core.metrics import DB_POOL, exposition
from kosh.core.pagination import PageDep, next_url
from kosh.core.types import PathId, clean_query
from kosh.ops import gdpr, health, schedule

router = APIRouter(tags=["operations"])
health.DETAILED_SECTIONS["backups"] = schedule.health_section


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request, settings: SettingsDep) -> Response:
    checks = await health.readiness(request.app.state.engine, settings)
    ok = all(c.ok for c in checks.values())
    body = {
        "status": "ok" if ok else "unavailable",
        "checks": {k: {"ok": c.ok, **c.detail} for k, c in checks.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/health")
async def summary(request: Request, settings: SettingsDep) -> Response:
    checks = await health.readiness(request.app.state.engine, settings)
    ok = all(c.ok for c in checks.values())
    body = {
        "status": "ok" if ok else "degraded",
        "version": __version__,
        "checks": {k: c.ok for k, c in checks.items()},
    }
    return JSONResponse(body, status_code=200 if ok else 503)


@router.get("/health/detailed")
async def detailed(
    request: Request, _: Admin, session: SessionDep, settings: SettingsDep
) -> Response:
    body = await health.detailed(request.app.state.engine, session, settings)
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503)


def _loopback_allowed(client: str | None, allowed: list[str]) -> bool:
    if client is None:
        return False
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return False
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep, principal: MaybePrincipal) -> Response:
    client = request.client.host if request.client else None
    if not _loopback_allowed(client, settings.metrics_allow):
        if principal is None:
            raise AuthenticationError("Metrics need an admin or metrics-scoped token.")
        scraper = principal.via == "token" and "metrics" in principal.scopes
        if not (scraper or principal.acts_as_admin):
            raise PermissionDeniedError("Metrics need an admin or metrics-scoped token.")
    for state, value in health.pool_stats(request.app.state.engine).items():
        if isinstance(value, int):
            DB_POOL.labels(state=state).set(value)
    return Response(exposition(), media_type=CONTENT_TYPE_LATEST)


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: int
    at: datetime
    actor_type: str
    actor_name: str
    action: str
    entity_type: str
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    ip: str | None


class AuditPage(BaseModel):
    items: list[AuditRead]
    total: int
    next: str | None


@router.get("/api/v1/audit", response_model=AuditPage)
async def audit_events(
    request: Request,
    _: Admin,
    session: SessionDep,
    page: PageDep,
    actor: Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)] = None,
    action: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    entity_type: Annotated[str | None, Query(max_length=64), AfterValidator(clean_query)] = None,
    entity_id: Annotated[str | None, Query(max_length=100), AfterValidator(clean_query)] = None,
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
) -> AuditPage:
    rows, total = await audit.search(
        session,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        since=since,
        until=until,
        limit=page.limit,
        offset=page.offset,
    )
    return AuditPage(
        items=[AuditRead.model_validate(r) for r in rows],
        total=total,
        next=next_url(request, page, total),
    )


# --- GDPR: export and erasure of a person's data (kosh.ops.gdpr) ---------------------------


class PersonExport(BaseModel):
    format: int
    kind: str
    id: int
    exported_at: datetime
    data: dict[str, Any]


class PersonErasure(BaseModel):
    kind: str
    id: int
    changed: dict[str, int]


def _export_response(body: dict[str, Any]) -> Response:
    filename = f"kosh-{body['kind']}-{body['id']}-export.json"
    return JSONResponse(
        PersonExport.model_validate(body).model_dump(mode="json"),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def _erasure(
    session: AsyncSession, settings: Settings, *, kind: str, subject_id: int
) -> PersonErasure:
    """One erasure, logged in the backup directory's erasure log (kosh.ops.gdpr)."""
    done = await gdpr.erase(
        session, kind=kind, subject_id=subject_id, log_dir=settings.effective_backup_dir / "gdpr"
    )
    return PersonErasure(kind=done.kind, id=done.id, changed=done.changed)


@router.get("/api/v1/customers/{customer_id}/export", response_model=PersonExport, tags=["gdpr"])
async def export_customer(customer_id: PathId, _: Admin, session: SessionDep) -> Response:
    """Everything KOSH holds about the customer, as a JSON download (audited)."""
    return _export_response(await gdpr.export(session, kind="customer", subject_id=customer_id))


@router.post("/api/v1/customers/{customer_id}/erase", response_model=PersonErasure, tags=["gdpr"])
async def erase_customer(
    customer_id: PathId, _: Admin, session: SessionDep, settings: SettingsDep
) -> PersonErasure:
    """Anonymise the customer everywhere; 409 customer_has_open_orders lists the orders."""
    return await _erasure(session, settings, kind="customer", subject_id=customer_id)


@router.get("/api/v1/users/{user_id}/export", response_model=PersonExport, tags=["gdpr"])
async def export_user(user_id: PathId, _: Admin, session: SessionDep) -> Response:
    """Everything KOSH holds about the user, as a JSON download (audited)."""
    return _export_response(await gdpr.export(session, kind="user", subject_id=user_id))


@router.post("/api/v1/users/{user_id}/erase", response_model=PersonErasure, tags=["gdpr"])
async def erase_user(
    user_id: PathId, _: Admin, session: SessionDep, settings: SettingsDep
) -> PersonErasure:
    """Anonymise the user (account, sessions, tokens, audit names); 409 last_admin."""
    return await _erasure(session, settings, kind="user", subject_id=user_id)


@router.get("/api/v1/employees/{employee_id}/export", response_model=PersonExport, tags=["gdpr"])
async def export_employee(employee_id: PathId, _: Admin, session: SessionDep) -> Response:
    """Everything KOSH holds about the employee as a person, as a JSON download (audited)."""
    return _export_response(await gdpr.export(session, kind="employee", subject_id=employee_id))


@router.post("/api/v1/employees/{employee_id}/erase", response_model=PersonErasure, tags=["gdpr"])
async def erase_employee(
    employee_id: PathId, _: Admin, session: SessionDep, settings: SettingsDep
) -> PersonErasure:
    """Anonymise the employee (name, badge, user link; time logs stay by id)."""
    return await _erasure(session, settings, kind="employee", subject_id=employee_id)
