"""The backup archive: one file, a gzip-compressed tar of `manifest.json` and the database
(`database.sqlite`, a SQLite online-backup copy, or `database.pgdump`, a `pg_dump
--format=custom`), optionally encrypted as a whole (`cipher.py`).

Reading checks everything before a restore touches a database: the encryption's tags, the
gzip CRC and length (a truncated or corrupted file fails here), that the tar holds exactly the
two expected regular files, the manifest's format, and the payload's size and SHA-256 against
the manifest. Members are extracted to names chosen here, never to names from the tar.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kosh.ops import cipher
from kosh.ops.cipher import ArchiveError

__all__ = ["ArchiveError", "Unpacked", "pack", "scratch_dir", "sha256_of", "unpack"]

FORMAT = 1
MANIFEST = "manifest.json"
PAYLOADS = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
MAX_MANIFEST_BYTES = 16 * 1024 * 1024
_COPY = 1 << 20


@dataclass(frozen=True)
class Unpacked:
    manifest: dict[str, Any]
    payload: Path


def sha256_of(path: Path) -> str:
    hasher = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_COPY):
            hasher.update(block)
    return hasher.hexdigest()


def pack(target: Path, *, manifest: dict[str, Any], payload: Path, passphrase: str | None) -> Path:
    """Write the archive to `target` atomically (a partial file never has the final name)."""
    partial = target.with_name(target.name + ".partial")
    plain = partial if passphrase is None else target.with_name(target.name + ".plain.partial")
    try:
        with (
            open(plain, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            body = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(body), 0o600
            tar.addfile(info, io.BytesIO(body))
            info = tar.gettarinfo(str(payload), arcname=PAYLOADS[manifest["engine"]])
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mode = 0o600
            with payload.open("rb") as data:
                tar.addfile(info, data)
        if passphrase is not None:
            cipher.encrypt_file(plain, partial, passphrase=passphrase)
            plain.unlink()
        os.chmod(partial, 0o600)
        partial.replace(target)
    finally:
        for leftover in (partial, plain):
            leftover.unlink(missing_ok=True)
    return target


def unpack(archive: Path, into: Path, *, passphrase: str | None) -> Unpacked:
    """Decrypt, decompress and check the archive into the directory `into`; raise
    ArchiveError with the reason when anything is wrong."""
    if not archive.is_file():
        raise ArchiveError(f"{archive} is not a file")
    source = archive
    if cipher.is_encrypted(archive):
        if not passphrase:
            raise ArchiveError(
                "the archive is encrypted: set KOSH_BACKUP_ENCRYPTION_KEY to its passphrase"
            )
        source = into / "archive.tar.gz"
        cipher.decrypt_file(archive, source, passphrase=passphrase)
    manifest: dict[str, Any] | None = None
    payload: Path | None = None
    try:
        with tarfile.open(source, mode="r:gz") as tar:
            for member in tar:
                if not member.isfile() or member.name not in {MANIFEST, *PAYLOADS.values()}:
                    raise ArchiveError(f"unexpected member {member.name!r} in the archive")
                handle = tar.extractfile(member)
                if handle is None:  # pragma: no cover - regular files always have data
                    raise ArchiveError(f"member {member.name!r} has no data")
                if member.name == MANIFEST:
                    if member.size > MAX_MANIFEST_BYTES:
                        raise ArchiveError("the manifest is implausibly large")
                    manifest = json.loads(handle.read())
                    continue
                payload = into / member.name
                with payload.open("wb") as out:
                    while block := handle.read(_COPY):
                        out.write(block)
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as exc:
        raise ArchiveError(
            f"the archive is corrupted or truncated ({type(exc).__name__}: {exc})"
        ) from None
    finally:
        if source != archive:
            source.unlink(missing_ok=True)
    if manifest is None or payload is None:
        raise ArchiveError("the archive lacks its manifest or its database")
    _check_manifest(manifest, payload)
    return Unpacked(manifest=manifest, payload=payload)


def _check_manifest(manifest: dict[str, Any], payload: Path) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ArchiveError(f"unknown manifest format {manifest.get('format')!r}")
    for key in ("engine", "schema_revision", "tables", "payload", "kosh_version", "created_at"):
        if key not in manifest:
            raise ArchiveError(f"the manifest lacks {key!r}")
    expected = manifest["payload"]
    if PAYLOADS.get(manifest["engine"]) != payload.name:
        raise ArchiveError("the database in the archive does not match the manifest's engine")
    if payload.stat().st_size != expected.get("bytes") or sha256_of(payload) != expected.get(
        "sha256"
    ):
        raise ArchiveError("the database in the archive does not match its manifest checksum")


def scratch_dir(near: Path) -> tempfile.TemporaryDirectory[str]:
    """A private temporary directory beside the backups (same disk, room for a database)."""
    near.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(prefix=".kosh-restore-", dir=near)
