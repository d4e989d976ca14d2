"""Server-rendered pages: one Jinja environment over web/ and every feature's templates/."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

from fastapi import Request
from itsdangerous import BadSignature, URLSafeSerializer
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from kosh.auth.models import ROLES
from kosh.core import messages
from kosh.core.config import Settings
from kosh.web.nav import NAV_ITEMS, QUICK_ACTIONS
from kosh.web.static_files import static_url

PACKAGE_ROOT = Path(__file__).parent.parent
FLASH_COOKIE = "kosh_flash"


def _template_dirs() -> list[str]:
    dirs = [str(PACKAGE_ROOT / "web" / "templates")]
    dirs += sorted(str(p) for p in PACKAGE_ROOT.glob("*/templates") if p.parent.name != "web")
    return dirs


class Pages:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.env = Environment(
            loader=FileSystemLoader(_template_dirs()),
            autoescape=select_autoescape(["html", "svg", "xml"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.tz = ZoneInfo(settings.site_timezone)
        self.env.globals["static_url"] = static_url
        self.env.globals["messages_json"] = messages.catalogue_json
        self.env.filters["number"] = messages.format_number
        self.env.filters["localtime"] = self.localtime
        self.flash_signer = URLSafeSerializer(settings.secret_key.get_secret_value(), salt="flash")

    def localtime(self, value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
        if value is None:
            return ""
        return value.astimezone(self.tz).strftime(fmt)

    def render(
        self,
        request: Request,
        template: str,
        context: dict[str, Any] | None = None,
        *,
        status: int = 200,
    ) -> HTMLResponse:
        principal = getattr(request.state, "principal", None)
        flashes = self._read_flashes(request)
        role_rank = ROLES.index(principal.user.role) if principal else -1
        nav = [i for i in NAV_ITEMS if principal and role_rank >= ROLES.index(i.min_role)]
        quick = [i for i in QUICK_ACTIONS if principal and role_rank >= ROLES.index(i.min_role)]
        page = self.env.get_template(template).render(
            request=request,
            principal=principal,
            nav=nav,
            quick_actions=quick,
            flashes=flashes,
            csrf_token=principal.csrf_token if principal else None,
            site_timezone=self.settings.site_timezone,
            **(context or {}),
        )
        response = HTMLResponse(page, status_code=status, headers={"Cache-Control": "no-store"})
        if flashes:
            response.delete_cookie(FLASH_COOKIE, path="/")
        return response

    def redirect(self, url: str, *, flash: str | None = None, level: str = "ok") -> Response:
        response = RedirectResponse(url, status_code=303)
        if flash:
            value = self.flash_signer.dumps([[level, flash]])
            response.set_cookie(
                FLASH_COOKIE,
                value,
                httponly=True,
                samesite="lax",
                secure=self.settings.is_production,
                path="/",
                max_age=60,
            )
        return response

    def _read_flashes(self, request: Request) -> list[list[str]]:
        raw = request.cookies.get(FLASH_COOKIE)
        if not raw:
            return []
        try:
            value = self.flash_signer.loads(raw)
        except BadSignature:
            return []
        return value if isinstance(value, list) else []

    def error_page(self, request: Request, problem: dict[str, Any]) -> Response:
        if problem["status"] == 401:
            return RedirectResponse(
                f"/login?{urlencode({'next': _come_back_to(request)})}", status_code=303
            )
        if problem.get("code") == "two_factor_enrolment_required":
            return RedirectResponse("/account/two-factor", status_code=303)
        return self.render(
            request, "web/error.html", {"problem": problem}, status=problem["status"]
        )


def _come_back_to(request: Request) -> str:
    """Where the login should return: the page itself for a GET; for a form posted after
    the session ended, the page that held the form (its same-site Referer), else home."""
    if request.method in ("GET", "HEAD"):
        target = request.url.path
        return target + ("?" + request.url.query if request.url.query else "")
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return "/"
    return referer.path + ("?" + referer.query if referer.query else "")


def get_pages(request: Request) -> Pages:
    pages: Pages = request.app.state.pages
    return pages
