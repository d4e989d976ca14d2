"""Static files: content-hashed URLs cached for a year, anything else revalidated, nothing
outside the static folder served."""

from __future__ import annotations

import hashlib

import httpx
import pytest

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
async def test_path_traversal_is_refused(client: httpx.AsyncClient, path: str) -> None:
    # httpx would normalise "..", so the raw path is sent as written
    response = await client.get(httpx.URL("http://testserver").copy_with(raw_path=path.encode()))

    assert response.status_code == 404
    assert b"KOSH_" not in response.content
    assert b"root:" not in response.content


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
