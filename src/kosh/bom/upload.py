"""Uploaded files saved to a private temp file with a byte budget (never held whole)."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from starlette.datastructures import UploadFile

from kosh.bom.errors import FileTooLargeError
from kosh.core.config import Settings

_CHUNK = 1 << 20


def upload_dir(settings: Settings) -> Path:
    directory = settings.data_dir / "tmp" / "bom-imports"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    return directory


async def save_upload(upload: UploadFile, settings: Settings, *, max_bytes: int) -> Path:
    """Copy the upload to a new temp file; 413 past `max_bytes` (the file is removed)."""
    path = upload_dir(settings) / f"{uuid.uuid4().hex}.upload"
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := await upload.read(_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise FileTooLargeError(
                        f"The file is larger than {max_bytes:,} bytes (KOSH_BOM_MAX_UPLOAD_BYTES)."
                    )
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
