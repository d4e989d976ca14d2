"""The API explorer at `/api/docs`: Swagger UI served by KOSH itself, so it works offline.

Swagger UI's files come from the `fastapi-offline` package (a copy of the swagger-ui-dist
release, pinned in constraints.txt), not from a CDN, so the page keeps the strict CSP
(`script-src 'self'`, no inline script): the page loads the bundle and `js/api-docs.js`, which
starts it. The assets are served under a content-hash path and cached for a year, like
`/static/`.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response

from kosh.web.templating import Pages

ASSET_ROOT = Path(str(files("fastapi_offline").joinpath("static")))
# Only these files of the package are served (an allow-list, not a directory).
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
    "favicon.png": "image/png",
}
ASSET_PREFIX = "/api/docs/assets"

router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=len(ASSETS))
def asset_hash(name: str) -> str:
    return hashlib.sha256((ASSET_ROOT / name).read_bytes()).hexdigest()[:12]


def asset_url(name: str) -> str:
    return f"{ASSET_PREFIX}/{asset_hash(name)}/{name}"


@router.get("/api/docs")
async def api_docs(request: Request) -> Response:
    pages: Pages = request.app.state.pages
    return pages.render(
        request,
        "web/api_docs.html",
        {
            "swagger_js": asset_url("swagger-ui-bundle.js"),
            "swagger_css": asset_url("swagger-ui.css"),
            "openapi_url": request.app.openapi_url,
        },
    )


@router.get(ASSET_PREFIX + "/{version}/{name}")
async def api_docs_asset(version: str, name: str) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    fresh = version == asset_hash(name)
    cache = "public, max-age=31536000, immutable" if fresh else "no-cache"
    return FileResponse(ASSET_ROOT / name, media_type=media_type, headers={"Cache-Control": cache})
