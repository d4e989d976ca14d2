"""No inline script or style anywhere: the CSP forbids them, so any that slipped in would
silently not work. Checked on the rendered pages and on every template of every feature."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest

from kosh.auth.models import User
from tests.support.fixtures import LoggedIn, MakeUser

Login = Callable[[httpx.AsyncClient, User], Awaitable[LoggedIn]]

SRC = Path(__file__).resolve().parents[2] / "src" / "kosh"


class InlineCodeFinder(HTMLParser):
    """Collects <script> without src, <style>, style="..." and on*="..." handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name.lower() for name, _ in attrs}
        if tag == "script" and "src" not in names:
            self.found.append("<script> without src")
        if tag == "style":
            self.found.append("<style>")
        if "style" in names:
            self.found.append(f'<{tag} style="...">')
        self.found += [f"<{tag} {name}=...>" for name in sorted(names) if name.startswith("on")]
        for name, value in attrs:
            if name in {"href", "src", "action"} and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}=javascript:...>")


def inline_code(html: str) -> list[str]:
    finder = InlineCodeFinder()
    finder.feed(html)
    finder.close()
    return finder.found


def test_the_finder_finds_what_it_looks_for() -> None:
    html = (
        "<script>alert(1)</script><style>p{}</style><p style='color:red'>x</p>"
        "<button onclick='go()'>go</button><a href='javascript:void(0)'>a</a>"
        "<script type='module' src='/static/x/js/forms.js'></script>"
    )
    assert inline_code(html) == [
        "<script> without src",
        "<style>",
        '<p style="...">',
        "<button onclick=...>",
        "<a href=javascript:...>",
    ]


async def test_rendered_pages_have_no_inline_code(
    client: httpx.AsyncClient, make_user: MakeUser, login: Login
) -> None:
    anonymous = await client.get("/login")
    assert anonymous.status_code == 200
    pages = {"/login": anonymous.text}
    admin = await make_user("admin")
    await login(client, admin)
    paths = ["/", "/admin/users", f"/admin/users/{admin.id}", "/admin/audit", "/account"]
    for path in paths:
        response = await client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        pages[path] = response.text
    missing = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert missing.status_code == 404
    pages["404"] = missing.text
    docs = await client.get("/api/docs")
    pages["/api/docs"] = docs.text

    found = {path: inline_code(html) for path, html in pages.items()}

    assert {path: problems for path, problems in found.items() if problems} == {}
    assert all("<script" in html for html in pages.values())  # the scan saw real pages


TEMPLATES = sorted(SRC.glob("*/templates/**/*.html"))
# What the HTML parser cannot see through Jinja syntax, a plain look at the source catches.
INLINE_PATTERNS = {
    "<script> without src": re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "<style>": re.compile(r"<style\b", re.IGNORECASE),
    "style= attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "on* handler": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "javascript: URL": re.compile(r"""=\s*["']?\s*javascript:""", re.IGNORECASE),
}


@pytest.mark.parametrize("template", TEMPLATES, ids=lambda p: str(p.relative_to(SRC)))
def test_templates_have_no_inline_code(template: Path) -> None:
    source = template.read_text(encoding="utf-8")

    found = [name for name, pattern in INLINE_PATTERNS.items() if pattern.search(source)]

    assert found == []


def test_every_feature_template_is_scanned() -> None:
    assert SRC / "web" / "templates" / "web" / "base.html" in TEMPLATES
    assert SRC / "auth" / "templates" / "auth" / "login.html" in TEMPLATES
