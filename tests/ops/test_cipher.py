"""The archive encryption round-trips any content, and refuses every truncation, every
flipped byte, an appended chunk and a wrong passphrase (hypothesis, with small chunks so the
chunk boundaries are exercised)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kosh.ops import cipher
from kosh.ops.cipher import ArchiveError

SMALL = 64
PASS = "a test passphrase"


@pytest.fixture(autouse=True)
def _small_chunks_and_cheap_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    monkeypatch.setattr(cipher, "CHUNK", SMALL)
    monkeypatch.setattr(
        cipher,
        "_key",
        lambda passphrase, salt: Scrypt(salt=salt, length=32, n=2, r=1, p=1).derive(
            passphrase.encode()
        ),
    )


def _sealed(tmp: Path, data: bytes, passphrase: str = PASS) -> Path:
    plain, sealed = tmp / "plain", tmp / "sealed"
    plain.write_bytes(data)
    cipher.encrypt_file(plain, sealed, passphrase=passphrase)
    return sealed


def _opened(sealed: Path, passphrase: str = PASS) -> bytes:
    out = sealed.with_name("opened")
    cipher.decrypt_file(sealed, out, passphrase=passphrase)
    return out.read_bytes()


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=5 * SMALL + 3))
def test_round_trip(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    tmp = tmp_path_factory.mktemp("c")
    sealed = _sealed(tmp, data)
    assert cipher.is_encrypted(sealed)
    assert _opened(sealed) == data


@settings(max_examples=60, deadline=None)
@given(data=st.binary(min_size=1, max_size=4 * SMALL), cut=st.integers(min_value=1))
def test_any_truncation_is_refused(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, cut: int
) -> None:
    tmp = tmp_path_factory.mktemp("c")
    sealed = _sealed(tmp, data)
    raw = sealed.read_bytes()
    sealed.write_bytes(raw[: cut % len(raw)])
    with pytest.raises(ArchiveError):
        _opened(sealed)


@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=4 * SMALL),
    where=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=7),
)
def test_any_flipped_bit_is_refused(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, where: int, bit: int
) -> None:
    tmp = tmp_path_factory.mktemp("c")
    sealed = _sealed(tmp, data)
    raw = bytearray(sealed.read_bytes())
    raw[where % len(raw)] ^= 1 << bit
    sealed.write_bytes(bytes(raw))
    with pytest.raises(ArchiveError):
        _opened(sealed)


def test_appended_chunk_and_wrong_passphrase_are_refused(tmp_path: Path) -> None:
    data = bytes(range(256)) * 2
    sealed = _sealed(tmp_path, data)
    raw = sealed.read_bytes()
    last_chunk = raw[-(len(data) % SMALL or SMALL) - cipher.TAG :]
    sealed.write_bytes(raw + last_chunk)
    with pytest.raises(ArchiveError):
        _opened(sealed)
    sealed.write_bytes(raw)
    with pytest.raises(ArchiveError, match="wrong KOSH_BACKUP_ENCRYPTION_KEY"):
        _opened(sealed, "other")
    assert _opened(sealed) == data
