"""Encryption of backup archives: AES-256-GCM in authenticated chunks (the STREAM
construction), with the key derived from a passphrase by scrypt.

Layout: MAGIC, salt (16 bytes), nonce prefix (7 bytes), then chunks of at most CHUNK bytes of
plaintext, each followed by its 16-byte tag. A chunk's nonce is prefix + counter (4 bytes) +
a last-chunk flag (1 byte), and the header is the associated data of every chunk, so a
reordered, altered, truncated or extended file fails to decrypt (`ArchiveError`), as does a
wrong passphrase. Memory stays at one chunk whatever the size of the database.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"KOSHENC1"
CHUNK = 1 << 20
TAG = 16
_SALT = 16
_PREFIX = 7
HEADER_SIZE = len(MAGIC) + _SALT + _PREFIX


class ArchiveError(Exception):
    """The archive is unreadable: corrupted, truncated, wrongly keyed or not a KOSH backup."""


def _key(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


def is_encrypted(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(len(MAGIC)) == MAGIC


def encrypt_file(source: Path, target: Path, *, passphrase: str) -> None:
    salt, prefix = os.urandom(_SALT), os.urandom(_PREFIX)
    header = MAGIC + salt + prefix
    aead = AESGCM(_key(passphrase, salt))
    with source.open("rb") as plain, target.open("wb") as out:
        out.write(header)
        counter = 0
        chunk = plain.read(CHUNK)
        while True:
            following = plain.read(CHUNK)
            last = not following
            out.write(aead.encrypt(_nonce(prefix, counter, last), chunk, header))
            if last:
                break
            chunk, counter = following, counter + 1


def decrypt_file(source: Path, target: Path, *, passphrase: str) -> None:
    """Decrypt all of `source` into `target`; raise ArchiveError on any damage."""
    with source.open("rb") as sealed, target.open("wb") as out:
        header = sealed.read(HEADER_SIZE)
        if len(header) != HEADER_SIZE or not header.startswith(MAGIC):
            raise ArchiveError("not an encrypted KOSH backup (header missing or short)")
        salt = header[len(MAGIC) : len(MAGIC) + _SALT]
        prefix = header[len(MAGIC) + _SALT :]
        aead = AESGCM(_key(passphrase, salt))
        counter = 0
        chunk = sealed.read(CHUNK + TAG)
        while True:
            following = sealed.read(CHUNK + TAG)
            last = not following
            try:
                out.write(aead.decrypt(_nonce(prefix, counter, last), chunk, header))
            except InvalidTag:
                raise ArchiveError(
                    f"the archive does not decrypt at chunk {counter}: wrong "
                    "KOSH_BACKUP_ENCRYPTION_KEY, or the file is corrupted or truncated"
                ) from None
            if last:
                return
            chunk, counter = following, counter + 1
