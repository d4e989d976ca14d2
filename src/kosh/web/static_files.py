"""Static files under a content-hash path, so they can be cached for a year and still change."""

from __future__ import annotations

import hashlib
import mimetypes
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter
from starlette.responses import FileResponse, RedirectResponse, Response

STATIC_ROOT = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False)


@lru_cache(maxsize=256)
def content_hash(relative: str) -> str:
    path = _resolve(relative)
    if path is None:
        return "missing"
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def static_url(relative: str) -> str:
    return f"/static/{content_hash(relative)}/{relative}"


def _resolve(relative: str) -> Path | None:
    candidate = (STATIC_ROOT / relative).resolve()
    if not candidate.is_relative_to(STATIC_ROOT.resolve()) or not candidate.is_file():
        return None
    return candidate


@router.get("/favicon.ico")
async def favicon() -> Response:
    """For clients that ask before reading the page's <link rel="icon">."""
    return RedirectResponse(static_url("img/favicon.svg"), status_code=302)


@router.get("/static/{version}/{relative:path}")
async def serve_static(version: str, relative: str) -> Response:
    path = _resolve(relative)
    if path is None:
        return Response("Not found", status_code=404, media_type="text/plain")
    fresh = version == content_hash(relative)
    cache = "public, max-age=31536000, immutable" if fresh else "no-cache"
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if path.suffix == ".js":
        media_type = "text/javascript"
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": cache})
