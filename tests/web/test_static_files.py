"""Static files: content-hashed URLs cached for a year, anything else revalidated, nothing
outside the static folder served."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message

from kosh.web.static_files import STATIC_ROOT, _resolve, static_url

IMMUTABLE = "public, max-age=31536000, immutable"


@pytest.mark.parametrize(
    ("relative", "media_type"),
    [
        ("css/app.css", "text/css"),
        ("js/forms.js", "text/javascript"),
        ("img/favicon.svg", "image/svg+xml"),
    ],
)
async def test_hashed_url_is_cached_for_a_year(
    client: httpx.AsyncClient, relative: str, media_type: str
) -> None:
    url = static_url(relative)

    response = await client.get(url)

    assert response.status_code == 200
    assert response.headers["cache-control"] == IMMUTABLE
    assert response.headers["content-type"].split(";")[0] == media_type
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.content == (STATIC_ROOT / relative).read_bytes()
    digest = hashlib.sha256(response.content).hexdigest()[:12]
    assert url == f"/static/{digest}/{relative}"


async def test_stale_hash_still_serves_but_must_revalidate(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/000000000000/css/app.css")

    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-cache"
    assert response.content == (STATIC_ROOT / "css/app.css").read_bytes()


async def test_missing_file_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/static/000000000000/css/nothing-here.css")

    assert response.status_code == 404
    assert "immutable" not in response.headers.get("cache-control", "")


@pytest.mark.parametrize(
    "path",
    [
        "/static/x/..%2F..%2Fcore%2Fconfig.py",
        "/static/x/%2e%2e/%2e%2e/core/config.py",
        "/static/x/..%5C..%5Ccore%5Cconfig.py",
        "/static/x/%2Fetc%2Fpasswd",
        "/static/x//etc/passwd",
        "/static/x/css/../../templating.py",
        "/static/x/css/%2e%2e/%2e%2e/templating.py",
    ],
)
async def test_path_traversal_is_refused(app: FastAPI, path: str) -> None:
    # straight to the app as a server would pass it (httpx would normalise the "..")
    status, body = await raw_get(app, path)

    assert status == 404
    assert b"KOSH_" not in body
    assert b"root:" not in body


async def raw_get(app: FastAPI, raw_path: str) -> tuple[int, bytes]:
    """One GET with the path exactly as written, decoded the way uvicorn decodes it."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": unquote(raw_path),
        "raw_path": raw_path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body


@pytest.mark.parametrize(
    "relative",
    ["../templating.py", "../../kosh/core/config.py", "/etc/passwd", "css/../../pages.py", "css"],
)
def test_resolve_stays_inside_the_static_folder(relative: str) -> None:
    assert _resolve(relative) is None


async def test_favicon_points_at_the_hashed_icon(client: httpx.AsyncClient) -> None:
    response = await client.get("/favicon.ico")

    assert response.status_code == 302
    assert response.headers["location"] == static_url("img/favicon.svg")
