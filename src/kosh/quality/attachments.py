"""Photo attachments on tickets, stored safely.

- The type is sniffed from the first bytes (JPEG, PNG, WebP, HEIC); the uploader's
  content type and file name are never trusted (422 attachment_type otherwise: an HTML or
  SVG file is refused however it is named). Empty or larger than
  KOSH_QUALITY_ATTACHMENT_MAX_BYTES is 413 / 422.
- Bytes live under `<data dir>/attachments/`, outside the web root, named by a random
  token (no user text reaches a path); the row keeps the sniffed type and a SHA-256.
- Downloads are served by the route with `Content-Disposition: attachment` and
  `X-Content-Type-Options: nosniff`, so a browser never renders one as a page.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from kosh.core import audit
from kosh.core.actor import current_actor
from kosh.core.db import transactional
from kosh.core.errors import NotFoundError, PayloadTooLargeError, ValidationError, field_error
from kosh.quality import tickets
from kosh.quality.models import Attachment

SUBDIR = "attachments"


def sniff(head: bytes) -> str | None:
    """The image type the bytes really are, or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in (b"heic", b"heix", b"mif1", b"heif"):
        return "image/heic"
    return None


def storage_dir(data_dir: Path) -> Path:
    return data_dir / SUBDIR


def safe_name(filename: str) -> str:
    """A display name: the last path part, printable, at most 200 characters."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "photo"


@transactional
async def add_attachment(
    session: AsyncSession,
    *,
    ticket_id: int,
    filename: str,
    data: bytes,
    data_dir: Path,
    max_bytes: int,
) -> Attachment:
    """Attach a photo to a ticket. Rules: the ticket exists (404); 1 byte to `max_bytes`
    (422 attachment_empty / 413 attachment_too_large); the content is an image by its
    bytes (422 attachment_type). The file is written before the row and removed again
    if the row cannot be written (a failed commit may leave an unreferenced file). Audited."""
    ticket = await tickets.lock_ticket(session, ticket_id)
    if not data:
        raise ValidationError(
            "The file is empty.", code="attachment_empty", errors=[field_error(["file"], "empty")]
        )
    if len(data) > max_bytes:
        raise PayloadTooLargeError(
            f"The file is larger than {max_bytes} bytes.", code="attachment_too_large"
        )
    content_type = sniff(data[:16])
    if content_type is None:
        raise ValidationError(
            "Only photos (JPEG, PNG, WebP, HEIC) can be attached.",
            code="attachment_type",
            errors=[field_error(["file"], "not a JPEG, PNG, WebP or HEIC image")],
        )
    directory = storage_dir(data_dir)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    stored = secrets.token_hex(16)
    path = directory / stored
    path.write_bytes(data)
    attachment = Attachment(
        ticket_id=ticket.id,
        filename=safe_name(filename),
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        stored_name=stored,
        created_by=current_actor().name,
    )
    session.add(attachment)
    try:
        await session.flush()
        await audit.record(
            session,
            action="quality.ticket.attach",
            entity_type="ticket",
            entity_id=ticket.number,
            after={"filename": attachment.filename, "type": content_type, "size": len(data)},
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return attachment


async def attachments_of(session: AsyncSession, ticket_id: int) -> list[Attachment]:
    return list(
        await session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
        )
    )


async def open_attachment(
    session: AsyncSession, *, attachment_id: int, data_dir: Path
) -> tuple[Attachment, Path]:
    """The attachment and its file (404 attachment_not_found when either is missing)."""
    attachment = await session.get(Attachment, attachment_id)
    path = storage_dir(data_dir) / attachment.stored_name if attachment else None
    if attachment is None or path is None or not path.is_file():
        raise NotFoundError(f"No attachment {attachment_id}.", code="attachment_not_found")
    return attachment, path
