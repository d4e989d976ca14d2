"""The API explorer page is served with its Swagger UI assets from KOSH itself."""

from __future__ import annotations

import hashlib
import re

import httpx

from kosh.web.api_docs import ASSET_ROOT

EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


async def test_docs_page_loads_only_local_assets_under_the_strict_csp(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/docs")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "http" not in csp  # no CDN exception any more
    assert EXTERNAL.findall(response.text) == []
    scripts = re.findall(r'<script src="([^"]+)"', response.text)
    assert any(s.startswith("/api/docs/assets/") for s in scripts)
    assert 'data-spec="/api/openapi.json"' in response.text


async def test_assets_are_the_packaged_swagger_ui_and_cached_by_content_hash(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/api/docs")
    bundle_url = re.search(r'src="(/api/docs/assets/[^"]+/swagger-ui-bundle\.js)"', page.text)
    css_url = re.search(r'href="(/api/docs/assets/[^"]+/swagger-ui\.css)"', page.text)
    assert bundle_url is not None
    assert css_url is not None

    bundle = await client.get(bundle_url.group(1))
    css = await client.get(css_url.group(1))

    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "immutable" in bundle.headers["cache-control"]
    assert bundle.content == (ASSET_ROOT / "swagger-ui-bundle.js").read_bytes()
    digest = hashlib.sha256(bundle.content).hexdigest()[:12]
    assert f"/{digest}/" in bundle_url.group(1)
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")


async def test_only_the_listed_assets_are_served(client: httpx.AsyncClient) -> None:
    stale = await client.get("/api/docs/assets/000000000000/swagger-ui.css")
    unlisted = await client.get("/api/docs/assets/x/redoc.standalone.js")
    escape = await client.get("/api/docs/assets/x/..%2F__init__.py")

    assert stale.status_code == 200
    assert stale.headers["cache-control"] == "no-cache"
    assert unlisted.status_code == 404
    assert escape.status_code == 404
